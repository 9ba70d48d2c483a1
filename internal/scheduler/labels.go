package scheduler

import (
	"context"
	"encoding/json"
	"sync"

	"github.com/aquarium-fish/aquarium-fish/internal/model"
	"github.com/aquarium-fish/aquarium-fish/internal/state"
)

// definitions decodes the definitions recorded with elected applications, once per distinct
// text (there are about as many as labels).
type definitions struct {
	m map[string]model.LabelDefinition
}

func (d *definitions) get(text string) (model.LabelDefinition, bool) {
	if def, ok := d.m[text]; ok {
		return def, true
	}
	var def model.LabelDefinition
	if text == "" || json.Unmarshal([]byte(text), &def) != nil {
		return def, false
	}
	if d.m == nil || len(d.m) > 10000 {
		d.m = map[string]model.LabelDefinition{}
	}
	d.m[text] = def
	return def, true
}

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
