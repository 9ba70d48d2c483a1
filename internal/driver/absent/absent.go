// Package absent registers the driver types of the contract that this program does not carry
// (drivers.md: vmx for VMware Fusion/Workstation, aws for EC2). Their names are known, so a label
// may name them and a config may list them, as with the reference node; preparing one fails, so
// the node logs "Fish: Resource driver prepare failed: <name> <err>", disables it and starts
// (cli-config.md §2), and applications for it wait for a node that has it.
package absent

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aquarium-fish/aquarium-fish/internal/driver"
)

// Types are the driver types registered here.
var Types = []string{"vmx", "aws"}

func init() {
	for _, t := range Types {
		driver.Register(t, factory(t))
	}
}

func factory(typ string) driver.Factory {
	return func(context.Context, driver.Env, string, json.RawMessage) (driver.Driver, error) {
		return nil, fmt.Errorf("the %s driver is not part of this build of aquarium-fish", typ)
	}
}
