package test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/aquarium-fish/aquarium-fish/internal/driver"
	"github.com/aquarium-fish/aquarium-fish/internal/model"
)

var emptyUsage driver.Usage

// newDriver prepares a test driver with cfg in a fresh working directory.
func newDriver(t *testing.T, cfg string) *Driver {
	t.Helper()
	return newDriverIn(t, t.TempDir(), cfg)
}

// newDriverIn prepares a test driver with cfg in workDir.
func newDriverIn(t *testing.T, workDir, cfg string) *Driver {
	t.Helper()
	d, err := New(context.Background(), driver.Env{WorkDir: workDir}, "test", []byte(cfg))
	if err != nil {
		t.Fatalf("New(%s): %v", cfg, err)
	}
	return d.(*Driver)
}

// definition returns a 1 CPU / 1 GB definition with options.
func definition(options string) model.LabelDefinition {
	return model.LabelDefinition{Driver: "test", Options: []byte(options), Resources: model.Resources{CPU: 1, RAM: 1}}
}

// mustAllocate allocates with options and returns the resource.
func mustAllocate(t *testing.T, d *Driver, options string) model.Resource {
	t.Helper()
	a, err := d.Allocate(context.Background(), driver.AllocateRequest{Definition: definition(options)})
	if err != nil {
		t.Fatalf("Allocate: %v", err)
	}
	return model.Resource{Identifier: a.Identifier}
}

// markerExists reports whether the marker of id is in d's workspace.
func markerExists(t *testing.T, d *Driver, id string) bool {
	t.Helper()
	_, err := os.Stat(filepath.Join(d.Workspace(), id))
	return err == nil
}

// wantError fails unless err's text is exactly want.
func wantError(t *testing.T, what string, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error, want %q", what, want)
	}
	if err.Error() != want {
		t.Fatalf("%s: error %q, want %q", what, err, want)
	}
}
