package driver

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

func TestApplyAlter(t *testing.T) {
	tests := []struct {
		name    string
		alter   int
		total   uint32
		want    uint32
		wantErr bool
	}{
		{"no alter", 0, 8, 8, false},
		{"add", 2, 8, 10, false},
		{"keep some for the host", -3, 4, 1, false},
		{"keeps nothing", -4, 4, 0, true},
		{"more than the host has", -1000, 4, 0, true},
		{"host has none", 0, 0, 0, true},
		{"added to none", 1, 0, 1, false},
		{"capped", math.MaxInt, 8, math.MaxUint32, false},
		{"capped at the top", 1, math.MaxUint32, math.MaxUint32, false},
		{"most negative", math.MinInt, math.MaxUint32, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ApplyAlter("cpu_alter", tc.alter, tc.total)
			if tc.wantErr {
				var ae *AlterError
				if !errors.As(err, &ae) || ae.Key != "cpu_alter" || ae.Alter != tc.alter || ae.Total != tc.total {
					t.Fatalf("ApplyAlter(%d, %d) = %d, %v; want an *AlterError with its arguments", tc.alter, tc.total, got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("ApplyAlter(%d, %d) = %d, %v; want %d", tc.alter, tc.total, got, err, tc.want)
			}
		})
	}
}

func TestAlterErrorMessage(t *testing.T) {
	err := error(&AlterError{Key: "ram_alter", Alter: -16, Total: 8})
	if got, want := err.Error(), "|ram_alter| (-16) must be less than the host total 8"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestCapacityConfigLimits(t *testing.T) {
	c := CapacityConfig{CPUAlter: -1, RAMAlter: 2, CPUOverbook: 3, RAMOverbook: 4}
	got, err := c.Limits(4, 8)
	if want := (Limits{CPU: 3, RAM: 10, CPUOverbook: 3, RAMOverbook: 4}); err != nil || got != want {
		t.Errorf("Limits(4, 8) = %+v, %v; want %+v", got, err, want)
	}
	for _, tc := range []struct {
		c   CapacityConfig
		key string
	}{
		{CapacityConfig{CPUAlter: -4}, "cpu_alter"},
		{CapacityConfig{RAMAlter: -8}, "ram_alter"},
		{CapacityConfig{CPUAlter: -4, RAMAlter: -8}, "cpu_alter"}, // CPU is checked first
	} {
		var ae *AlterError
		if _, err := tc.c.Limits(4, 8); !errors.As(err, &ae) || ae.Key != tc.key {
			t.Errorf("%+v.Limits(4, 8) = %v; want an *AlterError for %s", tc.c, err, tc.key)
		}
	}
}

// TestCapacityConfigEmbedded: embedded in a driver's config, the keys decode at the top level and
// strict decoding still names an unknown key.
func TestCapacityConfigEmbedded(t *testing.T) {
	type config struct {
		Path string `json:"path"`
		CapacityConfig
	}
	decode := func(raw string) (config, error) {
		var c config
		dec := json.NewDecoder(bytes.NewReader([]byte(raw)))
		dec.DisallowUnknownFields()
		err := dec.Decode(&c)
		return c, err
	}
	c, err := decode(`{"path":"p","cpu_alter":-1,"ram_alter":2,"cpu_overbook":3,"ram_overbook":4}`)
	want := config{Path: "p", CapacityConfig: CapacityConfig{CPUAlter: -1, RAMAlter: 2, CPUOverbook: 3, RAMOverbook: 4}}
	if err != nil || c != want {
		t.Errorf("decode = %+v, %v; want %+v", c, err, want)
	}
	for _, raw := range []string{`{"CapacityConfig":{}}`, `{"cpu_limit":1}`} {
		if _, err := decode(raw); err == nil || !strings.Contains(err.Error(), "unknown field") {
			t.Errorf("decode(%s) = %v; want an unknown field error", raw, err)
		}
	}
}
