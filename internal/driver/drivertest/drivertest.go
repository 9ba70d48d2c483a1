// Package drivertest is the conformance suite every driver runs: the behaviour the node relies
// on whatever the driver creates (marker files, containers, users, instances). A driver's test
// calls Run with a Config that builds prepared instances on one shared backing store, so the
// suite can also simulate a node restart.
//
// Subtests run one after another; each cleans up what it allocated, even when it fails.
package drivertest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aquarium-fish/aquarium-fish/internal/driver"
	"github.com/aquarium-fish/aquarium-fish/internal/model"
	"github.com/google/uuid"
)

// DefaultTimeout bounds every single driver call of the suite unless Config.Timeout is set.
const DefaultTimeout = 2 * time.Minute

// DefaultConcurrency is the number of concurrent allocations unless Config.Concurrency is set.
const DefaultConcurrency = 5

// Config tells the suite how to exercise a driver.
type Config struct {
	// New returns a fresh, prepared instance. Every call must use the same backing store (the
	// same workspace, daemon or account), so that a second instance plays the restarted node.
	New func(t *testing.T) driver.Driver
	// Definition is a definition the driver can allocate on this machine, Concurrency times at
	// once. When its Driver is set, it must equal the instance name.
	Definition model.LabelDefinition
	// Metadata is passed to Allocate as the merged metadata.
	Metadata map[string]any
	// Exists, when set, checks from outside the driver whether the real resource exists.
	Exists func(t *testing.T, a driver.Allocation) bool
	// Timeout bounds each driver call; 0 means DefaultTimeout.
	Timeout time.Duration
	// Concurrency is the number of allocations made at once; 0 means DefaultConcurrency.
	Concurrency int
}

// Run runs the conformance suite against the driver c describes.
func Run(t *testing.T, c Config) {
	t.Helper()
	if c.New == nil {
		t.Fatal("drivertest: Config.New is required")
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultConcurrency
	}
	s := &suite{c: c}
	t.Run("Name", s.testName)
	t.Run("Capacity", s.testCapacity)
	t.Run("Lifecycle", s.testLifecycle)
	t.Run("Restart", s.testRestart)
	t.Run("Inventory", s.testInventory)
	t.Run("UnknownTask", s.testUnknownTask)
	t.Run("CancelledAllocate", s.testCancelledAllocate)
	t.Run("ConcurrentAllocate", s.testConcurrentAllocate)
}

type suite struct{ c Config }

// ctx returns a context for one driver call, cancelled when the test ends.
func (s *suite) ctx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), s.c.Timeout)
	t.Cleanup(cancel)
	return ctx
}

// request returns an allocation request for the configured definition.
func (s *suite) request() driver.AllocateRequest {
	return driver.AllocateRequest{
		ApplicationUID: uuid.New(),
		ResourceUID:    uuid.New(),
		LabelUID:       uuid.New(),
		Definition:     s.c.Definition,
		Metadata:       s.c.Metadata,
	}
}

// resource is the Resource the node would store for an allocation.
func (s *suite) resource(t *testing.T, req driver.AllocateRequest, a driver.Allocation) model.Resource {
	t.Helper()
	meta, err := json.Marshal(req.Metadata)
	if err != nil {
		t.Fatalf("encode metadata: %v", err)
	}
	if req.Metadata == nil {
		meta = []byte(`{}`)
	}
	now := time.Now().UTC()
	return model.Resource{
		UID:             req.ResourceUID,
		ApplicationUID:  req.ApplicationUID,
		CreatedAt:       now,
		DefinitionIndex: req.DefinitionIndex,
		HwAddr:          a.HwAddr,
		Identifier:      a.Identifier,
		IPAddr:          a.IPAddr,
		LabelUID:        req.LabelUID,
		Metadata:        meta,
		UpdatedAt:       now,
	}
}

// allocate allocates one resource with d, fails the test if it cannot, and makes sure the
// resource is gone when the test ends.
func (s *suite) allocate(t *testing.T, d driver.Driver) (model.Resource, driver.Allocation) {
	t.Helper()
	req := s.request()
	a, err := d.Allocate(s.ctx(t), req)
	if err != nil {
		t.Fatalf("Allocate: %v", err)
	}
	if a.Identifier == "" {
		t.Fatalf("Allocate returned an empty identifier: %+v", a)
	}
	res := s.resource(t, req, a)
	s.cleanup(t, d, res)
	return res, a
}

// cleanup deallocates res when the test ends if it still exists. It uses its own context: the
// test's context is already cancelled when cleanups run.
func (s *suite) cleanup(t *testing.T, d driver.Driver, res model.Resource) {
	t.Helper()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), s.c.Timeout)
		defer cancel()
		st, err := d.Status(ctx, res)
		if err != nil || st == driver.ResourceNone {
			return
		}
		if err := d.Deallocate(ctx, res); err != nil {
			t.Errorf("cleanup: Deallocate %s: %v", res.Identifier, err)
		}
	})
}

// wantStatus fails the test unless d reports want for res.
func (s *suite) wantStatus(t *testing.T, d driver.Driver, res model.Resource, want driver.ResourceStatus) {
	t.Helper()
	got, err := d.Status(s.ctx(t), res)
	if err != nil {
		t.Fatalf("Status %s: %v", res.Identifier, err)
	}
	if got != want {
		t.Fatalf("Status %s = %q, want %q", res.Identifier, got, want)
	}
}

// wantExists checks the real resource through the Exists hook, when there is one.
func (s *suite) wantExists(t *testing.T, a driver.Allocation, want bool) {
	t.Helper()
	if s.c.Exists == nil {
		return
	}
	if got := s.c.Exists(t, a); got != want {
		t.Fatalf("Exists(%s) = %v, want %v", a.Identifier, got, want)
	}
}

// deallocate deallocates res and checks that it is gone.
func (s *suite) deallocate(t *testing.T, d driver.Driver, res model.Resource, a driver.Allocation) {
	t.Helper()
	if err := d.Deallocate(s.ctx(t), res); err != nil {
		t.Fatalf("Deallocate %s: %v", res.Identifier, err)
	}
	s.wantStatus(t, d, res, driver.ResourceNone)
	s.wantExists(t, a, false)
}

// noPanic runs f and turns a panic into a test failure.
func noPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s panicked: %v", what, r)
		}
	}()
	f()
}
