package test

import (
	"fmt"
	"sync"
)

// period is the length of a knob's failure schedule: a knob of value v fails exactly v of
// every period consecutive calls.
const period = 254

// The knob names, used to keep one call counter per knob.
const (
	knobConfigApply       = "fail_config_apply"
	knobConfigValidate    = "fail_config_validate"
	knobStatus            = "fail_status"
	knobSnapshot          = "fail_snapshot"
	knobDeallocate        = "fail_deallocate"
	knobOptionsApply      = "fail_options_apply"
	knobOptionsValidate   = "fail_options_validate"
	knobAvailableCapacity = "fail_available_capacity"
	knobAllocate          = "fail_allocate"
)

// Fault is the error of an injected failure: "TEST: <Step> failed (<Value>)" (drivers.md §2.3),
// wrapped as the reference driver returned it, so that an application state reads for example
// "Driver allocate resource error:TEST: RandomFail: TEST: Allocate failed (255)".
type Fault struct {
	Step  string // ConfigApply, Allocate, "Status <id>", ...
	Value uint8  // the knob value that caused it
}

func (f *Fault) Error() string {
	return fmt.Sprintf("TEST: RandomFail: TEST: %s failed (%d)", f.Step, f.Value)
}

// FailsAt reports whether the call with zero-based index call of a knob set to value fails.
// 0 never fails and 255 (like 254) always fails. For 1..254 the number of failures among the
// first n calls is n*value/254 rounded to the nearest integer (halves up), and call n fails
// exactly when that number grows: failures are spread evenly, value of every 254 calls fail,
// and the first call fails exactly when value >= 127.
func FailsAt(call uint64, value uint8) bool {
	switch value {
	case 0:
		return false
	case 255:
		return true
	}
	n := call % period // the schedule repeats every period calls
	return failures(n+1, value) > failures(n, value)
}

// failures is the number of failures among the first n calls (n <= period), n*v/254 rounded.
func failures(n uint64, v uint8) uint64 {
	return (2*n*uint64(v) + period) / (2 * period)
}

// knobs counts the calls of every knob of one driver instance, so each knob follows its own
// reproducible schedule. The counter is kept per knob name and value: two labels that set the
// same knob to different values each get the fraction they asked for.
type knobs struct {
	mu    sync.Mutex
	calls map[knobKey]uint64
}

type knobKey struct {
	name  string
	site  string
	value uint8
}

// check counts one call of the knob name set to value and returns a *Fault for step when the
// schedule says this call fails.
func (k *knobs) check(name string, value uint8, step string) error {
	return k.checkAt(name, "", value, step)
}

// checkAt is check for a knob that several operations run (the options knobs: capacity and
// allocation): each site keeps its own schedule, so a knob of 127 fails every other allocation
// instead of the allocation of every application whose capacity check happened to pass.
func (k *knobs) checkAt(name, site string, value uint8, step string) error {
	if value == 0 {
		return nil // a knob that is off keeps no counter
	}
	k.mu.Lock()
	if k.calls == nil {
		k.calls = map[knobKey]uint64{}
	}
	key := knobKey{name, site, value}
	call := k.calls[key]
	k.calls[key] = (call + 1) % period
	k.mu.Unlock()
	if FailsAt(call, value) {
		return &Fault{Step: step, Value: value}
	}
	return nil
}
