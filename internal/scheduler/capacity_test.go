package scheduler

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/aquarium-fish/aquarium-fish/internal/driver"
	_ "github.com/aquarium-fish/aquarium-fish/internal/driver/test"
	"github.com/aquarium-fish/aquarium-fish/internal/model"
)

var idents = []string{"FishName:node-1", "HostName:build/host", "OS:linux", "OSVersion:12", "Arch:x86_64", "Pool:a*b"}

func TestMatchFilter(t *testing.T) {
	tests := []struct {
		name     string
		patterns []string
		idents   []string
		want     bool
	}{
		{"nil filter passes", nil, idents, true},
		{"empty filter passes", []string{}, idents, true},
		{"empty filter passes without identifiers", nil, nil, true},
		{"no identifiers", []string{"*"}, nil, false},
		{"exact", []string{"OS:linux"}, idents, true},
		{"whole string only", []string{"OS:lin"}, idents, false},
		{"no implicit prefix", []string{"linux"}, idents, false},
		{"case sensitive", []string{"os:linux"}, idents, false},
		{"star", []string{"OS:*"}, idents, true},
		{"star matches empty", []string{"OS:linux*"}, idents, true},
		{"star inside", []string{"Fish*:node-*"}, idents, true},
		{"star does not cross slash", []string{"HostName:*"}, idents, false},
		{"star on each side of slash", []string{"HostName:*/*"}, idents, true},
		{"question mark", []string{"Arch:x86_6?"}, idents, true},
		{"question mark is one character", []string{"Arch:x86_?"}, idents, false},
		{"question mark does not match slash", []string{"HostName:build?host"}, idents, false},
		{"class", []string{"OS:[lm]inux"}, idents, true},
		{"class miss", []string{"OS:[mn]inux"}, idents, false},
		{"class range", []string{"OSVersion:1[0-9]"}, idents, true},
		{"class range miss", []string{"OSVersion:1[3-9]"}, idents, false},
		{"escaped star is literal", []string{`Pool:a\*b`}, idents, true},
		{"escaped star does not glob", []string{`Pool:a\*`}, []string{"Pool:ab"}, false},
		{"escaped question mark", []string{`a\?`}, []string{"ab"}, false},
		{"malformed: open class", []string{"OS:[linux"}, idents, false},
		{"malformed: open class with star", []string{"[*"}, idents, false},
		{"malformed pattern fails the filter", []string{"OS:linux", "OS:[linux"}, idents, false},
		{"every pattern must match", []string{"OS:linux", "Arch:arm64"}, idents, false},
		{"patterns match different identifiers", []string{"OS:linux", "Arch:x86_64", "FishName:*"}, idents, true},
		{"same identifier for two patterns", []string{"OS:*", "OS:linux"}, idents, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MatchFilter(tt.patterns, tt.idents); got != tt.want {
				t.Errorf("MatchFilter(%q, %q) = %v, want %v", tt.patterns, tt.idents, got, tt.want)
			}
		})
	}
}

// TestMatchFilterOnlySpecSyntax: behaviour.md §2.4 names '*', '?', '[...]' and '\' only, with
// '*' never crossing '/'. Other glob dialects' extras must not apply.
func TestMatchFilterOnlySpecSyntax(t *testing.T) {
	tests := []struct {
		pattern, ident string
		want           bool
	}{
		{"HostName:**", "HostName:build/host", false}, // two stars are two '*', neither crosses '/'
		{"OS:{linux,darwin}", "OS:linux", false},      // braces are literal
		{"OS:{linux,darwin}", "OS:{linux,darwin}", true},
		{"OS:[^m]inux", "OS:linux", true}, // '^' negates a class
	}
	for _, tt := range tests {
		if got := MatchFilter([]string{tt.pattern}, []string{tt.ident}); got != tt.want {
			t.Errorf("MatchFilter(%q, %q) = %v, want %v", tt.pattern, tt.ident, got, tt.want)
		}
	}
}

// newTestDriver makes a test driver instance name with config cfg.
func newTestDriver(t *testing.T, name, cfg string) driver.Driver {
	t.Helper()
	d, err := driver.New(context.Background(), driver.Env{WorkDir: t.TempDir()}, name, json.RawMessage(cfg))
	if err != nil {
		t.Fatalf("driver %s: %v", name, err)
	}
	return d
}

// def is a definition of drv needing cpu and ram.
func def(drv string, cpu, ram uint32) model.LabelDefinition {
	return model.LabelDefinition{Driver: drv, Resources: model.Resources{CPU: cpu, RAM: ram}}
}

func TestFitterFirst(t *testing.T) {
	ctx := context.Background()
	small := newTestDriver(t, "test", `{"cpu_limit":4,"ram_limit":8}`)
	remote := newTestDriver(t, "test/remote", `{"is_remote":true}`)
	drivers := map[string]driver.Driver{"test": small, "test/remote": remote}

	withFilter := func(d model.LabelDefinition, f ...string) model.LabelDefinition {
		d.Resources.NodeFilter = f
		return d
	}
	failing := def("test", 1, 1)
	failing.Options = json.RawMessage(`{"fail_available_capacity":255}`)
	badOptions := def("test", 1, 1)
	badOptions.Options = json.RawMessage(`"not an object"`)

	tests := []struct {
		name        string
		defs        []model.LabelDefinition
		usage       driver.Usage
		maintenance bool
		want        int
	}{
		// behaviour.md §2.5 examples, node limits cpu 4 / ram 8.
		{"first fits", []model.LabelDefinition{def("test", 4, 8), def("test", 2, 4), def("test", 8, 16)}, driver.Usage{}, false, 0},
		{"second fits", []model.LabelDefinition{def("test", 8, 16), def("test", 4, 8), def("test", 2, 4)}, driver.Usage{}, false, 1},
		{"6 cpu > 4", []model.LabelDefinition{def("test", 8, 16), def("test", 6, 6), def("test", 4, 8), def("test", 2, 4)}, driver.Usage{}, false, 2},
		{"usage counts", []model.LabelDefinition{def("test", 4, 8), def("test", 2, 4)}, driver.Usage{CPU: 2, RAM: 4}, false, 1},
		{"full node", []model.LabelDefinition{def("test", 1, 1)}, driver.Usage{CPU: 4, RAM: 8}, false, -1},
		{"maintenance", []model.LabelDefinition{def("test", 1, 1)}, driver.Usage{}, true, -1},
		{"missing driver is skipped", []model.LabelDefinition{def("docker", 1, 1), def("test/other", 1, 1), def("test", 1, 1)}, driver.Usage{}, false, 2},
		{"only missing drivers", []model.LabelDefinition{def("docker", 1, 1)}, driver.Usage{}, false, -1},
		{"instance by name", []model.LabelDefinition{def("test/remote", 64, 512)}, driver.Usage{CPU: 4, RAM: 8}, false, 0},
		{"node filter skips", []model.LabelDefinition{withFilter(def("test", 1, 1), "OS:darwin"), withFilter(def("test", 2, 2), "OS:*")}, driver.Usage{}, false, 1},
		{"capacity error skips", []model.LabelDefinition{failing, def("test", 2, 2)}, driver.Usage{}, false, 1},
		{"bad options skip", []model.LabelDefinition{badOptions, def("test", 2, 2)}, driver.Usage{}, false, 1},
		{"zero resources never fit a limited driver", []model.LabelDefinition{def("test", 0, 0)}, driver.Usage{}, false, -1},
		{"no definitions", nil, driver.Usage{}, false, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := Fitter{Drivers: drivers, Identifiers: []string{"OS:linux"}, Maintenance: tt.maintenance}
			if got := f.First(ctx, model.Label{Definitions: tt.defs}, tt.usage); got != tt.want {
				t.Errorf("First = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestFitterOverbook(t *testing.T) {
	d := newTestDriver(t, "test", `{"cpu_limit":4,"ram_limit":8,"cpu_overbook":4,"ram_overbook":8}`)
	f := Fitter{Drivers: map[string]driver.Driver{"test": d}}
	share := model.LabelDefinition{Driver: "test", Resources: model.Resources{CPU: 4, RAM: 8, Multitenancy: true, CPUOverbook: true, RAMOverbook: true}}
	alone := model.LabelDefinition{Driver: "test", Resources: model.Resources{CPU: 4, RAM: 8}}
	var u driver.Usage
	if !f.Fits(share, u) {
		t.Fatal("an empty node does not fit the first tenant")
	}
	u = u.Add(share.Resources)
	if !f.Fits(share, u) {
		t.Error("a second sharing tenant does not fit into the overbook")
	}
	if f.Fits(alone, u) {
		t.Error("a tenant that does not share fits a full node")
	}
	u = u.Add(share.Resources)
	if f.Fits(share, u) {
		t.Error("a third tenant fits past the overbook")
	}
}
