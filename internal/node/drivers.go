package node

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"

	"github.com/aquarium-fish/aquarium-fish/internal/config"
	"github.com/aquarium-fish/aquarium-fish/internal/driver"
)

// drivers holds this node's enabled driver instances by name.
type drivers struct {
	mu sync.RWMutex
	m  map[string]driver.Driver
}

func (d *drivers) all() map[string]driver.Driver {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.m
}

func (d *drivers) names() []string {
	m := d.all()
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// close releases what driver instances hold (engine clients...).
func (d *drivers) close() {
	for _, drv := range d.all() {
		if c, ok := drv.(io.Closer); ok {
			c.Close()
		}
	}
}

func (d *drivers) peers() []driver.PeerIdentifier {
	var out []driver.PeerIdentifier
	for _, drv := range d.all() {
		if p, ok := drv.(driver.PeerIdentifier); ok {
			out = append(out, p)
		}
	}
	return out
}

// unknownDriverError is a configured driver name of no known type; its text is the start-up
// line of cli-config.md §2.
type unknownDriverError struct{ name string }

func (e unknownDriverError) Error() string {
	return fmt.Sprintf("Fish: Unable to set drivers: unknown driver %q (this program has: %v)", e.name, driver.Types())
}

// enableDrivers prepares the configured drivers (every registered type when none is
// configured). An unknown name fails start-up; a driver that fails to prepare is disabled.
func enableDrivers(ctx context.Context, log *slog.Logger, env driver.Env, cfgs []config.DriverConfig) (*drivers, error) {
	if len(cfgs) == 0 {
		for _, t := range driver.Types() {
			cfgs = append(cfgs, config.DriverConfig{Name: t})
		}
	}
	for _, c := range cfgs {
		if !driver.Known(c.Name) {
			return nil, unknownDriverError{c.Name}
		}
	}
	d := &drivers{m: map[string]driver.Driver{}}
	for _, c := range cfgs {
		cfg := c.Cfg
		if len(cfg) == 0 {
			cfg = json.RawMessage("{}")
		}
		ienv := env
		ienv.Log = env.Log.With("driver", c.Name)
		drv, err := driver.New(ctx, ienv, c.Name, cfg)
		if err != nil {
			log.Warn(fmt.Sprintf("Fish: Resource driver prepare failed: %s %v", c.Name, err))
			log.Info("Fish: Resource driver disabled: " + c.Name)
			continue
		}
		d.m[c.Name] = drv
		log.Info("Fish: Resource driver enabled: " + c.Name)
	}
	for _, n := range d.names() {
		log.Info("Fish: Resource driver activated: " + n)
	}
	return d, nil
}
