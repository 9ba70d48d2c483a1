package test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/aquarium-fish/aquarium-fish/internal/driver"
	"github.com/aquarium-fish/aquarium-fish/internal/model"
)

func TestFailsAt(t *testing.T) {
	tests := []struct {
		value uint8
		fails []uint64 // the failing calls among the first 254
	}{
		{0, nil},
		{1, []uint64{126}},
		{2, []uint64{63, 190}},
		{127, evens(254)},
		{254, all(254)},
		{255, all(254)},
	}
	for _, tt := range tests {
		var got []uint64
		for n := range uint64(period) {
			if FailsAt(n, tt.value) {
				got = append(got, n)
			}
		}
		if !slices.Equal(got, tt.fails) {
			t.Errorf("value %d fails at %v, want %v", tt.value, got, tt.fails)
		}
	}
}

func evens(n uint64) []uint64 {
	var out []uint64
	for i := uint64(0); i < n; i += 2 {
		out = append(out, i)
	}
	return out
}

func all(n uint64) []uint64 {
	var out []uint64
	for i := range n {
		out = append(out, i)
	}
	return out
}

// Every value fails exactly value of 254 calls, in every period, and the first call fails
// exactly from 127 on.
func TestFailsAtFraction(t *testing.T) {
	for v := 1; v <= 254; v++ {
		for _, start := range []uint64{0, period, 1000 * period} {
			count := 0
			for n := start; n < start+period; n++ {
				if FailsAt(n, uint8(v)) {
					count++
				}
			}
			if count != v {
				t.Errorf("value %d: %d failures in calls %d..%d, want %d", v, count, start, start+period-1, v)
			}
		}
		if first, want := FailsAt(0, uint8(v)), v >= 127; first != want {
			t.Errorf("value %d: first call fails = %v, want %v", v, first, want)
		}
	}
	if FailsAt(1<<63, 0) || !FailsAt(1<<63, 255) {
		t.Error("0 or 255 depend on the call number")
	}
}

func TestFaultError(t *testing.T) {
	var err error = &Fault{Step: "Status test-abcdef", Value: 7}
	if got, want := err.Error(), "TEST: RandomFail: TEST: Status test-abcdef failed (7)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestKnobsCountPerNameAndValue(t *testing.T) {
	var k knobs
	pattern := func(name string, v uint8, n int) []bool {
		out := make([]bool, n)
		for i := range out {
			out[i] = k.check(name, v, "Step") != nil
		}
		return out
	}
	// Interleaving other knobs and values does not shift a knob's schedule.
	var got []bool
	for range 10 {
		got = append(got, pattern("a", 127, 1)...)
		pattern("b", 127, 3)
		pattern("a", 200, 2)
		pattern("a", 0, 5)
	}
	want := []bool{true, false, true, false, true, false, true, false, true, false}
	if !slices.Equal(got, want) {
		t.Errorf("knob a=127 pattern %v, want %v", got, want)
	}
	if k.calls[knobKey{name: "a", value: 0}] != 0 {
		t.Error("a knob set to 0 keeps a counter")
	}
}

// The same sequence of calls fails identically on two instances, about value/254 of the time.
func TestScheduleReproducible(t *testing.T) {
	run := func() []bool {
		d := newDriver(t, `{"fail_status":127}`)
		ctx := context.Background()
		def := model.LabelDefinition{Options: []byte(`{"fail_available_capacity":100}`), Resources: model.Resources{CPU: 1, RAM: 1}}
		var out []bool
		for i := range 2 * period {
			_, err := d.Status(ctx, model.Resource{Identifier: "test-aaaaaa"})
			out = append(out, err != nil)
			var f *Fault
			if err != nil && (!errors.As(err, &f) || f.Value != 127) {
				t.Fatalf("Status call %d: %v, want a Fault of 127", i, err)
			}
			_, err = d.AvailableCapacity(emptyUsage, def)
			out = append(out, err != nil)
		}
		return out
	}
	first, second := run(), run()
	if !slices.Equal(first, second) {
		t.Fatal("two instances fail on different calls")
	}
	var status, capacity int
	for i, failed := range first {
		if !failed {
			continue
		}
		if i%2 == 0 {
			status++
		} else {
			capacity++
		}
	}
	if status != 254 || capacity != 200 {
		t.Errorf("failures in 508 calls: status %d (want 254), capacity %d (want 200)", status, capacity)
	}
}

// TestOptionsKnobPerOperation: the capacity check and the allocation run the options knobs on
// schedules of their own, so alternating them (as the node does for each application) fails
// half of the allocations at 127, not all or none of them.
func TestOptionsKnobPerOperation(t *testing.T) {
	d := newDriver(t, ``)
	def := definition(`{"fail_options_apply":127}`)
	allocFailed := 0
	for range 10 {
		_, _ = d.AvailableCapacity(emptyUsage, def)
		if _, err := d.Allocate(t.Context(), driver.AllocateRequest{Definition: def}); err != nil {
			allocFailed++
		}
	}
	if allocFailed != 5 {
		t.Errorf("%d of 10 allocations failed, want 5", allocFailed)
	}
}
