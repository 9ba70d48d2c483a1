package test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aquarium-fish/aquarium-fish/internal/driver"
)

// TestAllocateDelay: allocate_delay makes Allocate wait before it creates the marker, and a
// cancelled allocation creates nothing.
func TestAllocateDelay(t *testing.T) {
	t.Parallel()
	d := newDriver(t, "")
	start := time.Now()
	res := mustAllocate(t, d, `{"allocate_delay": "100ms"}`)
	if took := time.Since(start); took < 100*time.Millisecond {
		t.Errorf("Allocate took %v, want at least the 100ms delay", took)
	}
	if !markerExists(t, d, res.Identifier) {
		t.Error("no marker after the delayed allocation")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := d.Allocate(ctx, driver.AllocateRequest{Definition: definition(`{"allocate_delay": "1h"}`)})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cancelled delayed Allocate: %v, want the context's error", err)
	}
	ids, err := d.Resources(context.Background())
	if err != nil || len(ids) != 1 {
		t.Errorf("markers after a cancelled allocation: %v (%v), want the first one only", ids, err)
	}
}

func TestAllocateDelayInvalid(t *testing.T) {
	t.Parallel()
	d := newDriver(t, "")
	for _, o := range []string{`{"allocate_delay": "soon"}`, `{"allocate_delay": "-1s"}`} {
		if err := d.ValidateDefinition(definition(o)); err == nil {
			t.Errorf("options %s validate", o)
		}
	}
}
