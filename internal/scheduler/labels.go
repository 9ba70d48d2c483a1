package scheduler

import (
	"context"
	"sync"

	"github.com/aquarium-fish/aquarium-fish/internal/model"
	"github.com/aquarium-fish/aquarium-fish/internal/state"
)

// Labels caches labels by UID: labels are immutable, so an entry never goes stale. An application
// whose label was deleted after it was created is still served from the cached copy.
type Labels struct {
	state func() *state.DB
	mu    sync.RWMutex
	m     map[model.UID]model.Label
}

// NewLabels makes an empty cache over the state.
func NewLabels(st func() *state.DB) *Labels {
	return &Labels{state: st, m: map[model.UID]model.Label{}}
}

// Get returns the label, reading it once.
func (c *Labels) Get(ctx context.Context, uid model.UID) (model.Label, error) {
	c.mu.RLock()
	l, ok := c.m[uid]
	c.mu.RUnlock()
	if ok {
		return l, nil
	}
	l, err := c.state().Label(ctx, uid)
	if err != nil {
		return l, err
	}
	c.mu.Lock()
	c.m[uid] = l
	c.mu.Unlock()
	return l, nil
}
