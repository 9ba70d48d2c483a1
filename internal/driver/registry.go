package driver

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Factory creates a driver instance named name (for example "test/slow") from its raw config.
// A factory error disables that instance; the node still starts.
type Factory func(ctx context.Context, env Env, name string, cfg json.RawMessage) (Driver, error)

var (
	registryMu sync.RWMutex
	registry   = map[string]Factory{}
)

// Register makes a driver type available. It is called from the driver package's init and
// panics on a duplicate type, which is a programming error.
func Register(typ string, f Factory) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[typ]; dup {
		panic("driver: duplicate registration of " + typ)
	}
	registry[typ] = f
}

// Types lists the registered driver types, sorted.
func Types() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	types := make([]string, 0, len(registry))
	for t := range registry {
		types = append(types, t)
	}
	sort.Strings(types)
	return types
}

// TypeOf returns the driver type of an instance name: the part before any "/suffix".
func TypeOf(name string) string {
	typ, _, _ := strings.Cut(name, "/")
	return typ
}

// Known reports whether the type of the instance name is registered.
func Known(name string) bool {
	registryMu.RLock()
	defer registryMu.RUnlock()
	_, ok := registry[TypeOf(name)]
	return ok
}

// New creates the driver instance name with cfg.
func New(ctx context.Context, env Env, name string, cfg json.RawMessage) (Driver, error) {
	registryMu.RLock()
	f, ok := registry[TypeOf(name)]
	registryMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("unknown driver type %q (known: %s)", TypeOf(name), strings.Join(Types(), ", "))
	}
	return f(ctx, env, name, cfg)
}
