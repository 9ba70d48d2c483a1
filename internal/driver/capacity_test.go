package driver

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/aquarium-fish/aquarium-fish/internal/model"
	"github.com/google/uuid"
)

// res builds the Resources of a definition; flags are "m" (multitenancy), "c" (cpu overbook)
// and "r" (ram overbook).
func res(cpu, ram uint32, flags string) model.Resources {
	return model.Resources{
		CPU:          cpu,
		RAM:          ram,
		Multitenancy: strings.Contains(flags, "m"),
		CPUOverbook:  strings.Contains(flags, "c"),
		RAMOverbook:  strings.Contains(flags, "r"),
	}
}

func TestCapacity(t *testing.T) {
	node := Limits{CPU: 4, RAM: 8}
	overbook := Limits{CPU: 4, RAM: 8, CPUOverbook: 4, RAMOverbook: 8}
	tests := []struct {
		name  string
		lim   Limits
		usage Usage
		r     model.Resources
		want  int
	}{
		// behaviour.md §2.5: node limits cpu 4 / ram 8.
		{"exact fit", node, Usage{}, res(4, 8, ""), 1},
		{"half fits twice", node, Usage{}, res(2, 4, ""), 2},
		{"too big both", node, Usage{}, res(8, 16, ""), 0},
		{"too many cpus", node, Usage{}, res(6, 6, ""), 0},
		{"ram bound", node, Usage{}, res(1, 3, ""), 2},
		{"cpu bound", node, Usage{}, res(3, 1, ""), 1},
		{"zero cpu", node, Usage{}, res(0, 1, ""), 0},
		{"zero ram", node, Usage{}, res(1, 0, ""), 0},
		{"zero limits", Limits{}, Usage{}, res(1, 1, ""), 0},
		{"one limit zero", Limits{CPU: 4}, Usage{}, res(1, 1, ""), 0},

		// Multitenancy false does not stop a second tenant: only the arithmetic does.
		{"second 2-cpu app shares", node, Usage{}.Add(res(2, 4, "")), res(2, 4, ""), 1},
		{"third 2-cpu app does not fit", node, Usage{}.Add(res(2, 4, "")).Add(res(2, 4, "")), res(2, 4, ""), 0},

		// Overbook counts only when the first tenant and the candidate both allow it.
		{"overbook both sides", overbook, Usage{}.Add(res(2, 4, "mcr")), res(4, 8, "mcr"), 1},
		{"overbook empty usage uses own flags", overbook, Usage{}, res(4, 8, "mcr"), 2},
		{"overbook only usage side", overbook, Usage{}.Add(res(2, 4, "mcr")), res(4, 8, ""), 0},
		{"overbook only candidate side", overbook, Usage{}.Add(res(2, 4, "")), res(4, 8, "mcr"), 0},
		{"overbook without multitenancy", overbook, Usage{}.Add(res(2, 4, "cr")), res(4, 8, "cr"), 0},
		{"candidate not multitenant", overbook, Usage{}.Add(res(2, 4, "mcr")), res(4, 8, "cr"), 0},
		{"cpu overbook only", overbook, Usage{}.Add(res(2, 4, "mc")), res(2, 2, "mc"), 2},
		{"ram overbook only", overbook, Usage{}.Add(res(2, 4, "mr")), res(1, 4, "mr"), 2},
		{"overbook does not raise the per-instance limit", overbook, Usage{}, res(5, 8, "mcr"), 0},

		// Usage above the totals never underflows.
		{"usage above totals", node, Usage{CPU: 10, RAM: 20}, res(1, 1, ""), 0},
		{"cpu above total", node, Usage{CPU: 5, RAM: 1}, res(1, 1, ""), 0},
		{"ram above total", node, Usage{CPU: 1, RAM: 9}, res(1, 1, ""), 0},
		{"usage equal totals", node, Usage{CPU: 4, RAM: 8}, res(1, 1, ""), 0},
		{"large values", Limits{CPU: 1 << 31, RAM: 1 << 31, CPUOverbook: 1 << 31, RAMOverbook: 1 << 31},
			Usage{}, res(1<<30, 1<<30, "mcr"), 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Capacity(tt.lim, tt.usage, tt.r); got != tt.want {
				t.Errorf("Capacity(%+v, %+v, cpu=%d ram=%d) = %d, want %d", tt.lim, tt.usage, tt.r.CPU, tt.r.RAM, got, tt.want)
			}
		})
	}
}

func TestUsageAdd(t *testing.T) {
	tests := []struct {
		name string
		adds []model.Resources
		want Usage
	}{
		{"nothing", nil, Usage{}},
		{"one tenant", []model.Resources{res(2, 4, "mcr")}, Usage{CPU: 2, RAM: 4, Multitenancy: true, CPUOverbook: true, RAMOverbook: true}},
		{"first tenant decides yes", []model.Resources{res(2, 4, "mc"), res(1, 1, "")}, Usage{CPU: 3, RAM: 5, Multitenancy: true, CPUOverbook: true}},
		{"first tenant decides no", []model.Resources{res(2, 4, ""), res(1, 1, "mcr")}, Usage{CPU: 3, RAM: 5}},
		{"empty resource leaves usage empty", []model.Resources{res(0, 0, ""), res(1, 1, "m")}, Usage{CPU: 1, RAM: 1, Multitenancy: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var u Usage
			for _, r := range tt.adds {
				u = u.Add(r)
			}
			if u != tt.want {
				t.Errorf("usage = %+v, want %+v", u, tt.want)
			}
		})
	}
}

func TestUsageEmpty(t *testing.T) {
	if !(Usage{Multitenancy: true}).Empty() {
		t.Error("usage with flags only is not empty")
	}
	if (Usage{CPU: 1}).Empty() || (Usage{RAM: 1}).Empty() {
		t.Error("usage with cpu or ram is empty")
	}
}

func TestTypeOf(t *testing.T) {
	tests := []struct{ name, want string }{
		{"test", "test"},
		{"test/slow", "test"},
		{"aws/dev/x", "aws"},
		{"/x", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := TypeOf(tt.name); got != tt.want {
			t.Errorf("TypeOf(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// uniqueType returns a driver type name no other test (or -count run) registers: the registry
// is process-wide and cannot forget a type.
func uniqueType(t *testing.T) string {
	t.Helper()
	return "registry-test-" + uuid.NewString()
}

// nopFactory is a factory for registry tests; it is never expected to build anything useful.
func nopFactory(context.Context, Env, string, json.RawMessage) (Driver, error) { return nil, nil }

func TestRegistry(t *testing.T) {
	typ := uniqueType(t)
	Register(typ, func(ctx context.Context, env Env, name string, cfg json.RawMessage) (Driver, error) {
		return nopFactory(ctx, env, name, cfg)
	})

	for _, name := range []string{typ, typ + "/suffix"} {
		if !Known(name) {
			t.Errorf("Known(%q) = false, want true", name)
		}
	}
	for _, name := range []string{"registry-test-missing", "registry-test-missing/" + typ, ""} {
		if Known(name) {
			t.Errorf("Known(%q) = true, want false", name)
		}
	}
	types := Types()
	if !slices.Contains(types, typ) || !slices.IsSorted(types) {
		t.Errorf("Types() = %v, want sorted and containing %q", types, typ)
	}
}

func TestRegisterDuplicatePanics(t *testing.T) {
	typ := uniqueType(t)
	Register(typ, nopFactory)
	defer func() {
		r := recover()
		if r == nil {
			t.Fatal("second Register did not panic")
		}
		if msg, _ := r.(string); !strings.Contains(msg, typ) {
			t.Errorf("panic %v does not name the type %q", r, typ)
		}
	}()
	Register(typ, nopFactory)
}

func TestNewUnknownType(t *testing.T) {
	d, err := New(context.Background(), Env{}, "registry-test-nope/x", nil)
	if err == nil {
		t.Fatalf("New of an unknown type = %v, want an error", d)
	}
	if !strings.Contains(err.Error(), `"registry-test-nope"`) {
		t.Errorf("error %q does not name the unknown type", err)
	}
}

func TestNewPassesNameAndConfig(t *testing.T) {
	typ := uniqueType(t)
	var gotName, gotCfg string
	Register(typ, func(_ context.Context, _ Env, name string, cfg json.RawMessage) (Driver, error) {
		gotName, gotCfg = name, string(cfg)
		return nil, nil
	})
	if _, err := New(context.Background(), Env{}, typ+"/dev", json.RawMessage(`{"a":1}`)); err != nil {
		t.Fatalf("New: %v", err)
	}
	if gotName != typ+"/dev" || gotCfg != `{"a":1}` {
		t.Errorf("factory got name %q cfg %q", gotName, gotCfg)
	}
}
