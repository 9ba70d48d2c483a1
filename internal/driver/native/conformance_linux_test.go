//go:build linux

package native

import (
	"os/user"
	"testing"

	"github.com/aquarium-fish/aquarium-fish/internal/driver"
	"github.com/aquarium-fish/aquarium-fish/internal/driver/drivertest"
	"github.com/aquarium-fish/aquarium-fish/internal/model"
)

func TestConformance(t *testing.T) {
	f := newFixture(t, nil)
	drivertest.Run(t, drivertest.Config{
		New: func(t *testing.T) driver.Driver {
			t.Helper()
			return f.newDriver(t)
		},
		Definition: f.definition(`./init.sh; sleep 1000 < /dev/null > /dev/null 2>&1 &`, model.Resources{CPU: 1, RAM: 1}),
		Metadata:   map[string]any{"KEY": "value"},
		Exists: func(t *testing.T, a driver.Allocation) bool {
			t.Helper()
			_, err := user.Lookup(a.Identifier)
			return err == nil
		},
	})
}
