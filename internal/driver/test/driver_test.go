package test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/aquarium-fish/aquarium-fish/internal/driver"
	"github.com/aquarium-fish/aquarium-fish/internal/model"
)

func TestAvailableCapacity(t *testing.T) {
	const overbook = `{"cpu_limit":4,"ram_limit":8,"cpu_overbook":4,"ram_overbook":8}`
	mcr := model.Resources{CPU: 2, RAM: 4, Multitenancy: true, CPUOverbook: true, RAMOverbook: true}
	tests := []struct {
		name  string
		cfg   string
		usage driver.Usage
		r     model.Resources
		want  int
	}{
		{"unlimited", ``, emptyUsage, model.Resources{CPU: 1, RAM: 1}, 99999},
		{"unlimited huge", `{"cpu_overbook":3}`, driver.Usage{CPU: 1000, RAM: 1000}, model.Resources{CPU: 512, RAM: 4096}, 99999},
		{"fit 4/8", `{"cpu_limit":4,"ram_limit":8}`, emptyUsage, model.Resources{CPU: 4, RAM: 8}, 1},
		{"fit 2/4", `{"cpu_limit":4,"ram_limit":8}`, emptyUsage, model.Resources{CPU: 2, RAM: 4}, 2},
		{"too big 8/16", `{"cpu_limit":4,"ram_limit":8}`, emptyUsage, model.Resources{CPU: 8, RAM: 16}, 0},
		{"too many cpus 6/6", `{"cpu_limit":4,"ram_limit":8}`, emptyUsage, model.Resources{CPU: 6, RAM: 6}, 0},
		{"shared with usage", `{"cpu_limit":4,"ram_limit":8}`, emptyUsage.Add(model.Resources{CPU: 2, RAM: 4}), model.Resources{CPU: 2, RAM: 4}, 1},
		{"usage above limits", `{"cpu_limit":4,"ram_limit":8}`, driver.Usage{CPU: 9, RAM: 9}, model.Resources{CPU: 1, RAM: 1}, 0},
		{"only cpu limit", `{"cpu_limit":4}`, emptyUsage, model.Resources{CPU: 1, RAM: 1}, 0},
		{"only ram limit", `{"ram_limit":8}`, emptyUsage, model.Resources{CPU: 1, RAM: 1}, 0},
		{"overbook both sides", overbook, emptyUsage.Add(mcr), model.Resources{CPU: 4, RAM: 8, Multitenancy: true, CPUOverbook: true, RAMOverbook: true}, 1},
		{"overbook one side", overbook, emptyUsage.Add(mcr), model.Resources{CPU: 4, RAM: 8}, 0},
		{"remote counts the same", `{"is_remote":true,"cpu_limit":4,"ram_limit":8}`, emptyUsage, model.Resources{CPU: 2, RAM: 4}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDriver(t, tt.cfg)
			got, err := d.AvailableCapacity(tt.usage, model.LabelDefinition{Driver: "test", Resources: tt.r})
			if err != nil {
				t.Fatalf("AvailableCapacity: %v", err)
			}
			if got != tt.want {
				t.Errorf("AvailableCapacity = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestOptions(t *testing.T) {
	tests := []struct {
		options     string
		validateErr string // "" = no error; "*" = any error
		capacityErr string
		allocateErr string
	}{
		{``, "", "", ""},
		{`null`, "", "", ""},
		{`{}`, "", "", ""},
		{`{"unknown":{"x":1},"fail_options_apply":0}`, "", "", ""},
		{`{"fail_options_apply":255}`, "TEST: RandomFail: TEST: OptionsApply failed (255)", "TEST: RandomFail: TEST: OptionsApply failed (255)", "TEST: RandomFail: TEST: OptionsApply failed (255)"},
		{`{"fail_options_validate":255}`, "TEST: RandomFail: TEST: OptionsValidate failed (255)", "TEST: RandomFail: TEST: OptionsValidate failed (255)", "TEST: RandomFail: TEST: OptionsValidate failed (255)"},
		{`{"fail_options_validate":255,"fail_options_apply":255}`, "TEST: RandomFail: TEST: OptionsValidate failed (255)", "TEST: RandomFail: TEST: OptionsValidate failed (255)", "TEST: RandomFail: TEST: OptionsValidate failed (255)"},
		{`{"fail_available_capacity":255}`, "", "TEST: RandomFail: TEST: AvailableCapacity failed (255)", ""},
		{`{"fail_allocate":255}`, "", "", "TEST: RandomFail: TEST: Allocate failed (255)"},
		{`{"fail_allocate":255,"fail_options_apply":255}`, "TEST: RandomFail: TEST: OptionsApply failed (255)", "TEST: RandomFail: TEST: OptionsApply failed (255)", "TEST: RandomFail: TEST: OptionsApply failed (255)"},
		{`[]`, "*", "*", "*"},
		{`"x"`, "*", "*", "*"},
		{`5`, "*", "*", "*"},
		{`{"fail_allocate":"x"}`, "*", "*", "*"},
		{`{"fail_allocate":300}`, "*", "*", "*"},
	}
	check := func(t *testing.T, what string, err error, want string) {
		t.Helper()
		switch want {
		case "":
			if err != nil {
				t.Errorf("%s: %v", what, err)
			}
		case "*":
			if err == nil {
				t.Errorf("%s: no error", what)
			}
		default:
			if err == nil || err.Error() != want {
				t.Errorf("%s: error %v, want %q", what, err, want)
			}
		}
	}
	for _, tt := range tests {
		t.Run(tt.options, func(t *testing.T) {
			d := newDriver(t, ``)
			def := definition(tt.options)
			check(t, "ValidateDefinition", d.ValidateDefinition(def), tt.validateErr)
			n, err := d.AvailableCapacity(emptyUsage, def)
			check(t, "AvailableCapacity", err, tt.capacityErr)
			if err == nil && n != 99999 {
				t.Errorf("AvailableCapacity = %d, want 99999", n)
			}
			a, err := d.Allocate(context.Background(), driver.AllocateRequest{Definition: def})
			check(t, "Allocate", err, tt.allocateErr)
			ids, _ := d.Resources(context.Background())
			if err != nil && len(ids) != 0 {
				t.Errorf("failed Allocate left markers %v", ids)
			}
			if err == nil && !markerExists(t, d, a.Identifier) {
				t.Errorf("no marker for %s", a.Identifier)
			}
		})
	}
}

var identifierRE = regexp.MustCompile(`^test-[abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ1-9]{6}$`)

func TestAllocate(t *testing.T) {
	d := newDriver(t, ``)
	a, err := d.Allocate(context.Background(), driver.AllocateRequest{Definition: definition(`{}`), Metadata: map[string]any{"secret": "x"}})
	if err != nil {
		t.Fatalf("Allocate: %v", err)
	}
	if !identifierRE.MatchString(a.Identifier) {
		t.Errorf("identifier %q does not match %s", a.Identifier, identifierRE)
	}
	if a.IPAddr != "" || a.HwAddr != "" {
		t.Errorf("allocation %+v has addresses", a)
	}
	fi, err := os.Stat(filepath.Join(d.Workspace(), a.Identifier))
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != 0 {
		t.Errorf("marker: %v, %v; want an empty file", fi, err)
	}
}

// TestMarkersAreIndependent: markers share one empty file (hard links), yet each allocation has
// its own marker, and deallocating the one the others were linked to breaks nothing.
func TestMarkersAreIndependent(t *testing.T) {
	ctx := context.Background()
	d := newDriver(t, ``)
	first := mustAllocate(t, d, ``)
	second := mustAllocate(t, d, ``)
	if fi, err := os.Stat(filepath.Join(d.Workspace(), second.Identifier)); err != nil {
		t.Fatal(err)
	} else if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink != 2 {
		t.Errorf("second marker has %d links, want 2: one file for both", st.Nlink)
	}
	if err := d.Deallocate(ctx, first); err != nil {
		t.Fatalf("Deallocate first: %v", err)
	}
	if !markerExists(t, d, second.Identifier) {
		t.Fatalf("deallocating %s removed %s", first.Identifier, second.Identifier)
	}
	third := mustAllocate(t, d, ``) // its link source is gone
	fourth := mustAllocate(t, d, ``)
	ids, err := d.Resources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{second.Identifier, third.Identifier, fourth.Identifier}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Errorf("Resources = %v, want %v", ids, want)
	}
	entries, _ := os.ReadDir(d.Workspace())
	if len(entries) != len(want) {
		t.Errorf("workspace holds %d entries, want only the %d markers", len(entries), len(want))
	}
	for _, id := range want {
		if fi, err := os.Stat(filepath.Join(d.Workspace(), id)); err != nil || !fi.Mode().IsRegular() || fi.Size() != 0 {
			t.Errorf("marker %s: %v, %v; want an empty file", id, fi, err)
		}
	}
}

func TestIdentifierAlphabet(t *testing.T) {
	if len(idAlphabet) != 58 || strings.ContainsAny(idAlphabet, "0OIl") {
		t.Fatalf("alphabet %q: want 58 characters without 0, O, I, l", idAlphabet)
	}
	seen := map[byte]bool{}
	for range 2000 {
		id := newIdentifier()
		if !identifierRE.MatchString(id) {
			t.Fatalf("identifier %q does not match %s", id, identifierRE)
		}
		for i := len(idPrefix); i < len(id); i++ {
			seen[id[i]] = true
		}
	}
	if len(seen) != len(idAlphabet) {
		t.Errorf("2000 identifiers used %d of %d characters", len(seen), len(idAlphabet))
	}
}

func TestAllocateCancelled(t *testing.T) {
	d := newDriver(t, ``)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.Allocate(ctx, driver.AllocateRequest{Definition: definition(``)}); !errors.Is(err, context.Canceled) {
		t.Errorf("Allocate: %v, want context.Canceled", err)
	}
	if ids, _ := d.Resources(context.Background()); len(ids) != 0 {
		t.Errorf("cancelled Allocate left %v", ids)
	}
}

func TestStatusAndDeallocate(t *testing.T) {
	ctx := context.Background()
	d := newDriver(t, ``)
	res := mustAllocate(t, d, ``)
	if st, err := d.Status(ctx, res); err != nil || st != driver.ResourceAllocated {
		t.Fatalf("Status = %q, %v; want ALLOCATED", st, err)
	}
	if err := d.Deallocate(ctx, res); err != nil {
		t.Fatalf("Deallocate: %v", err)
	}
	if st, err := d.Status(ctx, res); err != nil || st != driver.ResourceNone {
		t.Fatalf("Status after Deallocate = %q, %v; want NONE", st, err)
	}
	err := d.Deallocate(ctx, res)
	wantError(t, "second Deallocate", err, "TEST: Unable to deallocate unavailable resource '"+res.Identifier+"'")
	if errors.Is(err, driver.ErrNotFound) {
		t.Errorf("error %v wraps driver.ErrNotFound: the node would take the missing marker for a deallocation", err)
	}
}

func TestStatusDeallocateKnobs(t *testing.T) {
	ctx := context.Background()
	d := newDriver(t, `{"fail_status":255,"fail_deallocate":255}`)
	res := mustAllocate(t, d, ``)
	_, err := d.Status(ctx, res)
	wantError(t, "Status", err, "TEST: RandomFail: TEST: Status "+res.Identifier+" failed (255)")
	err = d.Deallocate(ctx, res)
	wantError(t, "Deallocate", err, "TEST: RandomFail: TEST: Deallocate "+res.Identifier+" failed (255)")
	if !markerExists(t, d, res.Identifier) {
		t.Error("a failed Deallocate removed the marker")
	}

	// 127: the first call fails, the second succeeds.
	d = newDriver(t, `{"fail_status":127,"fail_deallocate":127}`)
	res = mustAllocate(t, d, ``)
	if _, err := d.Status(ctx, res); err == nil {
		t.Error("first Status with 127 succeeded")
	}
	if st, err := d.Status(ctx, res); err != nil || st != driver.ResourceAllocated {
		t.Errorf("second Status with 127 = %q, %v", st, err)
	}
	if err := d.Deallocate(ctx, res); err == nil {
		t.Error("first Deallocate with 127 succeeded")
	}
	if err := d.Deallocate(ctx, res); err != nil {
		t.Errorf("second Deallocate with 127: %v", err)
	}
}

func TestIdentifiersOutsideWorkspace(t *testing.T) {
	ctx := context.Background()
	workDir := t.TempDir()
	d := newDriverIn(t, workDir, ``)
	victim := filepath.Join(workDir, "test-victim")
	if err := os.WriteFile(victim, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"", ".", "..", "../test-victim", "a/b", `..\test-victim`, "x\x00y"} {
		res := model.Resource{Identifier: id}
		if st, err := d.Status(ctx, res); err != nil || st != driver.ResourceNone {
			t.Errorf("Status(%q) = %q, %v; want NONE", id, st, err)
		}
		if err := d.Deallocate(ctx, res); err == nil || !strings.HasPrefix(err.Error(), "TEST: Unable to deallocate unavailable resource") {
			t.Errorf("Deallocate(%q) = %v, want the unavailable resource error", id, err)
		}
		if err := d.Destroy(ctx, id); !errors.Is(err, driver.ErrNotFound) {
			t.Errorf("Destroy(%q) = %v, want ErrNotFound", id, err)
		}
	}
	if _, err := os.Stat(victim); err != nil {
		t.Errorf("file outside the workspace touched: %v", err)
	}
}

func TestInventory(t *testing.T) {
	ctx := context.Background()
	d := newDriver(t, ``)
	if ids, err := d.Resources(ctx); err != nil || ids == nil || len(ids) != 0 {
		t.Fatalf("Resources of an empty workspace = %#v, %v; want []", ids, err)
	}
	// Only regular files named test-* are markers.
	if err := os.WriteFile(filepath.Join(d.Workspace(), "other"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(d.Workspace(), "test-dir"), 0o700); err != nil {
		t.Fatal(err)
	}
	a, b := mustAllocate(t, d, ``), mustAllocate(t, d, ``)
	want := []string{a.Identifier, b.Identifier}
	slices.Sort(want)
	ids, err := d.Resources(ctx)
	if err != nil || !slices.Equal(ids, want) {
		t.Fatalf("Resources = %v, %v; want %v", ids, err, want)
	}
	if err := d.Destroy(ctx, a.Identifier); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	if err := d.Destroy(ctx, a.Identifier); !errors.Is(err, driver.ErrNotFound) {
		t.Errorf("second Destroy = %v, want ErrNotFound", err)
	}
	if ids, _ := d.Resources(ctx); !slices.Equal(ids, []string{b.Identifier}) {
		t.Errorf("Resources after Destroy = %v, want [%s]", ids, b.Identifier)
	}
}

func TestMarkersSurviveRestart(t *testing.T) {
	ctx := context.Background()
	workDir := t.TempDir()
	res := mustAllocate(t, newDriverIn(t, workDir, ``), ``)
	after := newDriverIn(t, workDir, `{"cpu_limit":1}`)
	if st, err := after.Status(ctx, res); err != nil || st != driver.ResourceAllocated {
		t.Fatalf("Status after restart = %q, %v", st, err)
	}
	if ids, _ := after.Resources(ctx); !slices.Equal(ids, []string{res.Identifier}) {
		t.Errorf("Resources after restart = %v", ids)
	}
	if err := after.Deallocate(ctx, res); err != nil {
		t.Errorf("Deallocate after restart: %v", err)
	}
}
