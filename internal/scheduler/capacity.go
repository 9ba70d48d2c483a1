package scheduler

import (
	"context"
	"path"

	"github.com/aquarium-fish/aquarium-fish/internal/driver"
	"github.com/aquarium-fish/aquarium-fish/internal/model"
)

// Fitter decides whether this node can run a definition now.
type Fitter struct {
	Drivers     map[string]driver.Driver
	Identifiers []string
	Maintenance bool
}

// First returns the index of the first definition of l that fits with usage, or -1.
func (f Fitter) First(ctx context.Context, l model.Label, usage driver.Usage) int {
	for i, d := range l.Definitions {
		if f.Fits(d, usage) {
			return i
		}
	}
	return -1
}

// Fits is behaviour.md §2.4: not in maintenance, driver enabled, node filter matched, and the
// driver has capacity for one more.
func (f Fitter) Fits(d model.LabelDefinition, usage driver.Usage) bool {
	if f.Maintenance {
		return false
	}
	drv, ok := f.Drivers[d.Driver]
	if !ok {
		return false
	}
	if !MatchFilter(d.Resources.NodeFilter, f.Identifiers) {
		return false
	}
	n, err := drv.AvailableCapacity(usage, d)
	return err == nil && n >= 1
}

// MatchFilter reports whether every pattern matches at least one identifier. Patterns are the
// globs of behaviour.md §2.4 (path.Match: '*' does not cross '/', '?', classes, '\' escapes,
// whole-string match); a malformed pattern matches nothing.
func MatchFilter(patterns, identifiers []string) bool {
	for _, p := range patterns {
		if _, err := path.Match(p, ""); err != nil {
			return false
		}
		matched := false
		for _, id := range identifiers {
			if ok, _ := path.Match(p, id); ok {
				matched = true
				break
			}
		}
		if !matched {
			return false
		}
	}
	return true
}
