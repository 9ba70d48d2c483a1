package drivertest

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/aquarium-fish/aquarium-fish/internal/driver"
)

// testName: the instance answers to the name label definitions use.
func (s *suite) testName(t *testing.T) {
	d := s.c.New(t)
	if d.Name() == "" {
		t.Fatal("Name is empty")
	}
	if want := s.c.Definition.Driver; want != "" && d.Name() != want {
		t.Errorf("Name = %q, want the definition's driver %q", d.Name(), want)
	}
	if !driver.Known(d.Name()) {
		t.Errorf("driver type of %q is not registered", d.Name())
	}
}

// testCapacity: an idle node can run the definition at least once.
func (s *suite) testCapacity(t *testing.T) {
	d := s.c.New(t)
	n, err := d.AvailableCapacity(driver.Usage{}, s.c.Definition)
	if err != nil {
		t.Fatalf("AvailableCapacity: %v", err)
	}
	if n < 1 {
		t.Fatalf("AvailableCapacity with empty usage = %d, want >= 1", n)
	}
}

// testLifecycle: allocate, see it, deallocate, see it gone; a second deallocate never panics.
func (s *suite) testLifecycle(t *testing.T) {
	d := s.c.New(t)
	res, a := s.allocate(t, d)
	s.wantStatus(t, d, res, driver.ResourceAllocated)
	s.wantExists(t, a, true)
	s.deallocate(t, d, res, a)

	noPanic(t, "second Deallocate", func() {
		if err := d.Deallocate(s.ctx(t), res); err != nil {
			t.Logf("second Deallocate: %v (an error is allowed)", err)
		}
	})
	s.wantStatus(t, d, res, driver.ResourceNone)
}

// testRestart: a new instance on the same backing store sees and deallocates an allocation
// made by the previous one.
func (s *suite) testRestart(t *testing.T) {
	before := s.c.New(t)
	res, a := s.allocate(t, before)

	after := s.c.New(t)
	s.wantStatus(t, after, res, driver.ResourceAllocated)
	s.deallocate(t, after, res, a)
	s.wantStatus(t, before, res, driver.ResourceNone)
}

// testInventory: an allocation is listed, and Destroy removes it.
func (s *suite) testInventory(t *testing.T) {
	d := s.c.New(t)
	inv, ok := d.(driver.Inventory)
	if !ok {
		t.Skip("driver does not implement driver.Inventory")
	}
	res, a := s.allocate(t, d)
	if ids := s.list(t, inv); !slices.Contains(ids, a.Identifier) {
		t.Fatalf("Resources = %v, want it to list %s", ids, a.Identifier)
	}
	if err := inv.Destroy(s.ctx(t), a.Identifier); err != nil {
		t.Fatalf("Destroy %s: %v", a.Identifier, err)
	}
	s.wantStatus(t, d, res, driver.ResourceNone)
	s.wantExists(t, a, false)
	if ids := s.list(t, inv); slices.Contains(ids, a.Identifier) {
		t.Fatalf("Resources after Destroy = %v, still lists %s", ids, a.Identifier)
	}
}

func (s *suite) list(t *testing.T, inv driver.Inventory) []string {
	t.Helper()
	ids, err := inv.Resources(s.ctx(t))
	if err != nil {
		t.Fatalf("Resources: %v", err)
	}
	return ids
}

// testUnknownTask: a task name the driver does not have is reported as missing.
func (s *suite) testUnknownTask(t *testing.T) {
	d := s.c.New(t)
	tasker, ok := d.(driver.Tasker)
	if !ok {
		t.Skip("driver does not implement driver.Tasker")
	}
	for _, opts := range []string{``, `{}`, `null`} {
		if task, ok := tasker.Task("drivertest-no-such-task", []byte(opts)); ok {
			t.Errorf("Task(unknown, %q) = %v, true; want false", opts, task)
		}
	}
}

// testCancelledAllocate: Allocate with a cancelled context fails without leaving anything
// behind, or succeeds with a resource that deallocates normally.
func (s *suite) testCancelledAllocate(t *testing.T) {
	d := s.c.New(t)
	inv, hasInventory := d.(driver.Inventory)
	var before []string
	if hasInventory {
		before = s.list(t, inv)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	req := s.request()
	a, err := d.Allocate(ctx, req)
	if err == nil {
		t.Logf("Allocate with a cancelled context succeeded (%s); it must deallocate normally", a.Identifier)
		if a.Identifier == "" {
			t.Fatalf("Allocate returned an empty identifier: %+v", a)
		}
		res := s.resource(t, req, a)
		s.cleanup(t, d, res)
		s.deallocate(t, d, res, a)
		return
	}
	if !hasInventory {
		return
	}
	for _, id := range s.list(t, inv) {
		if !slices.Contains(before, id) {
			t.Errorf("failed Allocate (%v) left %s behind", err, id)
		}
	}
}

// testConcurrentAllocate: allocations made at once all succeed with distinct identifiers.
func (s *suite) testConcurrentAllocate(t *testing.T) {
	d := s.c.New(t)
	type result struct {
		req driver.AllocateRequest
		a   driver.Allocation
		err error
	}
	results := make([]result, s.c.Concurrency)
	var wg sync.WaitGroup
	for i := range results {
		results[i].req = s.request()
		ctx := s.ctx(t)
		wg.Go(func() {
			results[i].a, results[i].err = d.Allocate(ctx, results[i].req)
		})
	}
	wg.Wait()

	seen := map[string]bool{}
	var allocated []result
	for i, r := range results {
		if r.err != nil {
			t.Errorf("Allocate #%d: %v", i, r.err)
			continue
		}
		if r.a.Identifier != "" {
			s.cleanup(t, d, s.resource(t, r.req, r.a))
		}
		switch {
		case r.a.Identifier == "":
			t.Errorf("Allocate #%d returned an empty identifier", i)
		case seen[r.a.Identifier]:
			t.Errorf("Allocate #%d returned the identifier %s twice", i, r.a.Identifier)
		default:
			seen[r.a.Identifier] = true
			allocated = append(allocated, r)
		}
	}
	if t.Failed() {
		return
	}
	for _, r := range allocated {
		res := s.resource(t, r.req, r.a)
		s.wantStatus(t, d, res, driver.ResourceAllocated)
		s.deallocate(t, d, res, r.a)
	}
}
