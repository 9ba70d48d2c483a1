package test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// Options are the label definition options of the test driver (drivers.md §2.2). Unknown keys
// are ignored; empty or null options mean all knobs off.
type Options struct {
	FailOptionsApply      uint8 `json:"fail_options_apply"`
	FailOptionsValidate   uint8 `json:"fail_options_validate"`
	FailAvailableCapacity uint8 `json:"fail_available_capacity"`
	FailAllocate          uint8 `json:"fail_allocate"`
	// AllocateDelay (a Go duration, e.g. "1.5s"; not in the reference driver) makes Allocate
	// wait that long before it creates the marker, or until the allocation is cancelled. Cluster
	// tests use it to catch a node in the middle of an allocation.
	AllocateDelay string `json:"allocate_delay"`
}

// allocateDelay parses AllocateDelay; empty is no delay.
func (o Options) allocateDelay() (time.Duration, error) {
	if o.AllocateDelay == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(o.AllocateDelay)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("decode options: allocate_delay %q is not a positive Go duration", o.AllocateDelay)
	}
	return d, nil
}

// decodeOptions decodes raw. Options that are not a JSON object (or hold a value of the wrong
// type) are an error.
func decodeOptions(raw json.RawMessage) (Options, error) {
	var o Options
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return o, nil
	}
	if err := json.Unmarshal(raw, &o); err != nil {
		return Options{}, fmt.Errorf("decode options: %w", err)
	}
	if _, err := o.allocateDelay(); err != nil {
		return Options{}, err
	}
	return o, nil
}

// applyOptions decodes the options of a definition and runs their knobs, validation first,
// as every operation that reads options does (capacity, allocate, definition validation); site
// names the operation, which keeps its own knob schedule.
func (d *Driver) applyOptions(raw json.RawMessage, site string) (Options, error) {
	o, err := decodeOptions(raw)
	if err != nil {
		return Options{}, err
	}
	if err := d.knobs.checkAt(knobOptionsValidate, site, o.FailOptionsValidate, "OptionsValidate"); err != nil {
		return Options{}, err
	}
	if err := d.knobs.checkAt(knobOptionsApply, site, o.FailOptionsApply, "OptionsApply"); err != nil {
		return Options{}, err
	}
	return o, nil
}
