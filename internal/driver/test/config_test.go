package test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aquarium-fish/aquarium-fish/internal/driver"
)

func TestConfigWorkspace(t *testing.T) {
	abs := filepath.Join(t.TempDir(), "abs", "ws")
	tests := []struct {
		name, cfg string
		want      func(workDir string) string
	}{
		{"empty", ``, func(w string) string { return filepath.Join(w, DefaultWorkspace) }},
		{"null", `null`, func(w string) string { return filepath.Join(w, DefaultWorkspace) }},
		{"empty object", `{}`, func(w string) string { return filepath.Join(w, DefaultWorkspace) }},
		{"relative", `{"workspace_path":"a/b"}`, func(w string) string { return filepath.Join(w, "a", "b") }},
		{"relative dots", `{"workspace_path":"./x/../y"}`, func(w string) string { return filepath.Join(w, "y") }},
		{"absolute", `{"workspace_path":"` + abs + `"}`, func(string) string { return abs }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			workDir := t.TempDir()
			d := newDriverIn(t, workDir, tt.cfg)
			if got, want := d.Workspace(), tt.want(workDir); got != want {
				t.Errorf("Workspace = %q, want %q", got, want)
			}
			if fi, err := os.Stat(d.Workspace()); err != nil || !fi.IsDir() {
				t.Errorf("workspace not created: %v", err)
			}
		})
	}
}

func TestConfigDecode(t *testing.T) {
	d := newDriver(t, `{"unknown":[1,2],"is_remote":true,"cpu_limit":4,"ram_limit":8,"cpu_overbook":2,"ram_overbook":3,"fail_status":9,"fail_snapshot":10,"fail_deallocate":11}`)
	want := Config{IsRemote: true, WorkspacePath: d.cfg.WorkspacePath, CPULimit: 4, RAMLimit: 8, CPUOverbook: 2, RAMOverbook: 3, FailStatus: 9, FailSnapshot: 10, FailDeallocate: 11}
	if d.cfg != want {
		t.Errorf("config = %+v, want %+v", d.cfg, want)
	}
	if !d.IsRemote() {
		t.Error("IsRemote = false with is_remote: true")
	}
	if newDriver(t, ``).IsRemote() {
		t.Error("IsRemote = true by default")
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []string{
		`{"cpu_limit":"4"}`,
		`{"is_remote":"yes"}`,
		`{"fail_status":256}`,
		`{"fail_status":-1}`,
		`{"ram_limit":1.5}`,
		`{"workspace_path":7}`,
		`[]`,
		`"test"`,
		`{`,
	} {
		d, err := New(context.Background(), driver.Env{WorkDir: t.TempDir()}, "test", []byte(cfg))
		if err == nil {
			t.Errorf("New(%s) = %v, want an error", cfg, d)
		}
	}
}

func TestConfigKnobs(t *testing.T) {
	tests := []struct {
		cfg     string
		wantErr string // "" = the factory succeeds
	}{
		{`{"fail_config_apply":0,"fail_config_validate":0}`, ""},
		{`{"fail_config_apply":255}`, "TEST: RandomFail: TEST: ConfigApply failed (255)"},
		{`{"fail_config_validate":255}`, "TEST: RandomFail: TEST: ConfigValidate failed (255)"},
		{`{"fail_config_apply":255,"fail_config_validate":255}`, "TEST: RandomFail: TEST: ConfigApply failed (255)"},
		// A new instance makes its first call: it fails from 127 on.
		{`{"fail_config_apply":126,"fail_config_validate":126}`, ""},
		{`{"fail_config_apply":127}`, "TEST: RandomFail: TEST: ConfigApply failed (127)"},
		{`{"fail_config_validate":200}`, "TEST: RandomFail: TEST: ConfigValidate failed (200)"},
	}
	for _, tt := range tests {
		t.Run(tt.cfg, func(t *testing.T) {
			workDir := t.TempDir()
			d, err := New(context.Background(), driver.Env{WorkDir: workDir}, "test", []byte(tt.cfg))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			wantError(t, "New", err, tt.wantErr)
			if d != nil {
				t.Errorf("New returned a driver with its error")
			}
			var f *Fault
			if !errors.As(err, &f) {
				t.Errorf("error %T is not a *Fault", err)
			}
			if _, err := os.Stat(filepath.Join(workDir, DefaultWorkspace)); err == nil {
				t.Error("a failed prepare created the workspace")
			}
		})
	}
}

func TestNewName(t *testing.T) {
	env := driver.Env{WorkDir: t.TempDir()}
	for _, name := range []string{"test", "test/slow", "test/a/b"} {
		if !driver.Known(name) {
			t.Errorf("Known(%q) = false", name)
		}
		d, err := driver.New(context.Background(), env, name, nil)
		if err != nil {
			t.Fatalf("driver.New(%q): %v", name, err)
		}
		if d.Name() != name {
			t.Errorf("Name = %q, want %q", d.Name(), name)
		}
	}
	if _, err := New(context.Background(), env, "docker", nil); err == nil || !strings.Contains(err.Error(), "docker") {
		t.Errorf("New with a foreign name: %v, want an error naming it", err)
	}
}

func TestNewCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := New(ctx, driver.Env{WorkDir: t.TempDir()}, "test", nil); !errors.Is(err, context.Canceled) {
		t.Errorf("New with a cancelled context: %v, want context.Canceled", err)
	}
}
