package test_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/aquarium-fish/aquarium-fish/internal/driver"
	"github.com/aquarium-fish/aquarium-fish/internal/driver/drivertest"
	testdriver "github.com/aquarium-fish/aquarium-fish/internal/driver/test"
	"github.com/aquarium-fish/aquarium-fish/internal/model"
)

func TestConformance(t *testing.T) {
	for _, tc := range []struct{ name, cfg string }{
		{"test", ``},
		{"test/limited", `{"cpu_limit":4,"ram_limit":8,"workspace_path":"markers"}`},
		{"test/remote", `{"is_remote":true}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			workDir := t.TempDir()
			var workspace string
			drivertest.Run(t, drivertest.Config{
				New: func(t *testing.T) driver.Driver {
					t.Helper()
					// Through the registry, as the node builds its drivers.
					d, err := driver.New(context.Background(), driver.Env{WorkDir: workDir}, tc.name, []byte(tc.cfg))
					if err != nil {
						t.Fatalf("driver.New: %v", err)
					}
					workspace = d.(*testdriver.Driver).Workspace()
					return d
				},
				Definition: model.LabelDefinition{
					Driver:    tc.name,
					Options:   []byte(`{"fail_allocate":0}`),
					Resources: model.Resources{CPU: 1, RAM: 1},
				},
				Metadata: map[string]any{"KEY": "value"},
				Exists: func(t *testing.T, a driver.Allocation) bool {
					t.Helper()
					_, err := os.Stat(filepath.Join(workspace, a.Identifier))
					if err != nil && !errors.Is(err, fs.ErrNotExist) {
						t.Fatalf("stat marker: %v", err)
					}
					return err == nil
				},
			})
		})
	}
}
