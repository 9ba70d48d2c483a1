// Package resolvetest provides an in-memory implementation of resolve.Lookup for the tests of
// the packages that identify resources by connection (resolve, meta, proxy).
package resolvetest

import (
	"context"
	"errors"
	"maps"
	"sync"

	"github.com/aquarium-fish/aquarium-fish/internal/model"
)

// ErrNoResource is returned by the lookups when no resource matches.
var ErrNoResource = errors.New("no live resource")

// Lookup holds the live resources of a node. A resource is found by any of its non-empty
// attributes. It is safe for concurrent use.
type Lookup struct {
	mu    sync.Mutex
	live  []model.Resource
	setIP map[model.UID]string
}

// NewLookup returns a lookup holding live.
func NewLookup(live ...model.Resource) *Lookup {
	return &Lookup{live: live, setIP: map[model.UID]string{}}
}

// SetIPs returns the IPs recorded by SetResourceIP, by resource UID.
func (l *Lookup) SetIPs() map[model.UID]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.setIP)
}

func (l *Lookup) find(match func(model.Resource) bool) (model.Resource, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.live {
		if match(r) {
			return r, nil
		}
	}
	return model.Resource{}, ErrNoResource
}

// LiveResourceByIP implements resolve.Lookup.
func (l *Lookup) LiveResourceByIP(_ context.Context, ip string) (model.Resource, error) {
	return l.find(func(r model.Resource) bool { return r.IPAddr != "" && r.IPAddr == ip })
}

// LiveResourceByHwAddr implements resolve.Lookup.
func (l *Lookup) LiveResourceByHwAddr(_ context.Context, mac string) (model.Resource, error) {
	return l.find(func(r model.Resource) bool { return r.HwAddr != "" && r.HwAddr == mac })
}

// LiveResourceByIdentifier implements resolve.Lookup.
func (l *Lookup) LiveResourceByIdentifier(_ context.Context, id string) (model.Resource, error) {
	return l.find(func(r model.Resource) bool { return r.Identifier != "" && r.Identifier == id })
}

// SetResourceIP implements resolve.Lookup: it records the IP and updates the resource.
func (l *Lookup) SetResourceIP(_ context.Context, uid model.UID, ip string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range l.live {
		if l.live[i].UID == uid {
			l.live[i].IPAddr = ip
			l.setIP[uid] = ip
			return nil
		}
	}
	return ErrNoResource
}
