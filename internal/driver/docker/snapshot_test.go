package docker

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/aquarium-fish/aquarium-fish/internal/driver/docker/dockertest"
	"github.com/aquarium-fish/aquarium-fish/internal/image"
	"github.com/aquarium-fish/aquarium-fish/internal/model"
)

// TestSnapshot: the snapshot task commits the container without its metadata, saves it into the
// image cache, and a later label runs it from the engine or, once the engine lost it, from the cache.
func TestSnapshot(t *testing.T) {
	cli := dockertest.Engine(t)
	img := seededImage(t, cli)
	env := newTestEnv(t, uuid.New(), t.TempDir(), metaStandIn(t))
	d := newDriver(t, env.Env, "docker", "")
	stamp := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	d.now = func() time.Time { return stamp }

	a, res := allocate(t, d, request(definition(img), map[string]any{"SECRET": "hush-hush"}))
	if code, out := dockertest.Exec(t, cli, a.Identifier, "sh", "-c", "echo snapped > /tmp/marker"); code != 0 {
		t.Fatalf("write marker: exit %d: %s", code, out)
	}

	for _, opts := range []string{`{"full": "yes"}`, `[1]`} {
		if _, ok := d.Task(TaskSnapshot, json.RawMessage(opts)); ok {
			t.Errorf("Task(snapshot, %s) = ok, want false", opts)
		}
	}
	if _, ok := d.Task("backup", nil); ok {
		t.Error("Task(backup) = ok, want false")
	}
	task, ok := d.Task(TaskSnapshot, json.RawMessage(`{"full": true}`))
	if !ok {
		t.Fatal("Task(snapshot) = false")
	}
	version := img.Version + "-snapshot-20260102.030405"
	ref := "fishtest:" + version
	t.Cleanup(func() { removeImage(t, cli, ref) })
	out, err := task.Run(t.Context(), model.ApplicationTask{When: model.StatusAllocated}, res)
	if err != nil {
		t.Fatalf("snapshot: %v (result %s)", err, out)
	}
	if want := `{"snapshots":["` + ref + `"],"when":"ALLOCATED"}`; string(out) != want {
		t.Errorf("result = %s, want %s", out, want)
	}
	if out, err := task.Run(t.Context(), model.ApplicationTask{When: model.StatusAllocated}, res); err == nil || string(out) != "{}" {
		t.Errorf("second snapshot in the same second = %s, %v; want {} and an error", out, err)
	}

	snap, err := cli.ImageInspect(t.Context(), ref)
	if err != nil {
		t.Fatalf("inspect %s: %v", ref, err)
	}
	for _, kv := range snap.Config.Env {
		if k, v, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "FISH_") && v != "" || strings.Contains(v, "hush") {
			t.Errorf("snapshot image keeps the variable %q", kv)
		}
	}
	for k, v := range snap.Config.Labels {
		if strings.HasPrefix(k, "aquarium-fish.") && v != "" {
			t.Errorf("snapshot image keeps the label %s=%s", k, v)
		}
	}
	saved := filepath.Join(d.cfg.ImagesPath, "fishtest-"+version, "fishtest", "fishtest.tar")
	if st, err := os.Stat(saved); err != nil || st.Size() == 0 {
		t.Fatalf("saved snapshot %s: %v", saved, err)
	}

	// A label naming the snapshot needs no download: the engine has it, then the cache has it.
	snapImg := image.Image{URL: "http://127.0.0.1:1/unused.tar.xz", Name: "fishtest", Version: version}
	for _, fromCache := range []bool{false, true} {
		if fromCache {
			removeImage(t, cli, ref)
		}
		b, res := allocate(t, d, request(definition(snapImg), map[string]any{"SECRET": "other"}))
		code, out := dockertest.Exec(t, cli, b.Identifier, "sh", "-c", "cat /tmp/marker; env")
		if code != 0 || !strings.Contains(out, "snapped\n") || !strings.Contains(out, "SECRET=other\n") {
			t.Errorf("container from the snapshot (from cache %v): exit %d:\n%s", fromCache, code, out)
		}
		if err := d.Deallocate(t.Context(), res); err != nil {
			t.Fatalf("Deallocate: %v", err)
		}
	}
	if n := d.loads.Load(); n != 1 {
		t.Errorf("image loads = %d, want 1 (the snapshot from the cache)", n)
	}
}
