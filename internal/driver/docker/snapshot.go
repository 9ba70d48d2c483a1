package docker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/docker/docker/api/types/container"
	dimage "github.com/docker/docker/api/types/image"

	"github.com/aquarium-fish/aquarium-fish/internal/driver"
	"github.com/aquarium-fish/aquarium-fish/internal/model"
)

// TaskSnapshot is the name of the snapshot task.
const TaskSnapshot = "snapshot"

// snapshotTimeFormat stamps snapshot versions; it only holds characters a docker tag allows.
const snapshotTimeFormat = "20060102.150405"

// notDone is the task result that makes the node try again later.
var notDone = json.RawMessage(`{}`)

// Task returns the snapshot task; its options {"full": bool} are accepted and have no effect
// (a commit always holds the whole container file system, never the volumes).
func (d *Driver) Task(name string, options json.RawMessage) (driver.Task, bool) {
	if name != TaskSnapshot {
		return nil, false
	}
	t := &snapshotTask{d: d}
	if trimmed := bytes.TrimSpace(options); len(trimmed) != 0 && !bytes.Equal(trimmed, []byte("null")) {
		if err := json.Unmarshal(trimmed, t); err != nil {
			return nil, false
		}
	}
	return t, true
}

type snapshotTask struct {
	d    *Driver
	Full bool `json:"full"`
}

// snapshotResult is the result of a successful snapshot.
type snapshotResult struct {
	Snapshots []string     `json:"snapshots"`
	When      model.Status `json:"when"`
}

// Run commits the container of res to <name>:<version>-snapshot-<timestamp> and saves it into
// the image cache. On failure the result is {} and the snapshot is attempted again later.
func (t *snapshotTask) Run(ctx context.Context, task model.ApplicationTask, res model.Resource) (json.RawMessage, error) {
	d := t.d
	c, err := d.ownContainer(ctx, res.Identifier)
	if err != nil {
		return notDone, fmt.Errorf("snapshot: %w", err)
	}
	base := c.Config.Labels[labelImage]
	k := strings.LastIndexByte(base, ':')
	if k < 0 {
		return notDone, fmt.Errorf("snapshot %s: the container has no %s label", res.Identifier, labelImage)
	}
	name, version := base[:k], base[k+1:]+"-snapshot-"+d.now().UTC().Format(snapshotTimeFormat)
	ref := name + ":" + version

	// Two snapshots within one second would share the reference: the later one waits.
	if present, err := d.hasImage(ctx, ref); err != nil {
		return notDone, fmt.Errorf("snapshot %s: %w", res.Identifier, err)
	} else if present {
		return notDone, fmt.Errorf("snapshot %s: %s exists already", res.Identifier, ref)
	}

	cfg, err := d.snapshotConfig(ctx, base, c.Config)
	if err != nil {
		return notDone, fmt.Errorf("snapshot %s: %w", res.Identifier, err)
	}
	if _, err := d.cli.ContainerCommit(ctx, c.ID, container.CommitOptions{
		Reference: ref,
		Comment:   "snapshot of " + res.Identifier + " by aquarium-fish",
		Pause:     true,
		Config:    cfg,
	}); err != nil {
		return notDone, fmt.Errorf("snapshot %s: commit: %w", res.Identifier, err)
	}
	if err := d.saveImage(ctx, ref, name, version); err != nil {
		if _, rerr := d.cli.ImageRemove(context.WithoutCancel(ctx), ref, dimage.RemoveOptions{}); rerr != nil {
			err = errors.Join(err, fmt.Errorf("remove %s: %w", ref, rerr))
		}
		return notDone, fmt.Errorf("snapshot %s: %w", res.Identifier, err)
	}
	d.log.Info("snapshot taken", "resource", res.Identifier, "image", ref)
	out, err := json.Marshal(snapshotResult{Snapshots: []string{ref}, When: task.When})
	if err != nil {
		return notDone, err
	}
	return out, nil
}

// snapshotConfig is the configuration of a snapshot image. A commit merges the container's own
// environment and labels into the image; the driver's variables (metadata, FISH_*) must not end
// up there, so every variable the base image does not define is reset to an empty value and the
// driver's labels are blanked.
func (d *Driver) snapshotConfig(ctx context.Context, base string, cc *container.Config) (*container.Config, error) {
	img, err := d.cli.ImageInspect(ctx, base)
	if err != nil {
		return nil, fmt.Errorf("inspect image %s: %w", base, err)
	}
	cfg := &container.Config{Labels: map[string]string{}}
	baseKeys := map[string]bool{}
	if img.Config != nil {
		cfg.Env = append(cfg.Env, img.Config.Env...)
		for _, kv := range img.Config.Env {
			k, _, _ := strings.Cut(kv, "=")
			baseKeys[k] = true
		}
		for k, v := range img.Config.Labels {
			cfg.Labels[k] = v
		}
	}
	for _, kv := range cc.Env {
		if k, _, _ := strings.Cut(kv, "="); !baseKeys[k] {
			baseKeys[k] = true
			cfg.Env = append(cfg.Env, k+"=")
		}
	}
	for k := range cc.Labels {
		if _, inBase := cfg.Labels[k]; !inBase && strings.HasPrefix(k, "aquarium-fish.") {
			cfg.Labels[k] = ""
		}
	}
	return cfg, nil
}

// saveImage writes ref in docker save format into the image cache as <name>-<version>/<name>/
// <name>.tar, the layout the driver loads images from. The directory appears complete or not at all.
func (d *Driver) saveImage(ctx context.Context, ref, name, version string) (err error) {
	final := filepath.Join(d.cache.Dir(), name+"-"+version)
	tmp, err := os.MkdirTemp(d.cache.Dir(), "."+name+"-"+version+".tmp-")
	if err != nil {
		return fmt.Errorf("save %s: %w", ref, err)
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(tmp)
		}
	}()
	if err := os.Mkdir(filepath.Join(tmp, name), 0o755); err != nil {
		return fmt.Errorf("save %s: %w", ref, err)
	}
	f, err := os.Create(filepath.Join(tmp, name, name+".tar"))
	if err != nil {
		return fmt.Errorf("save %s: %w", ref, err)
	}
	defer f.Close()
	rc, err := d.cli.ImageSave(ctx, []string{ref})
	if err != nil {
		return fmt.Errorf("save %s: %w", ref, err)
	}
	defer rc.Close()
	if _, err := io.Copy(f, rc); err != nil {
		return fmt.Errorf("save %s: %w", ref, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("save %s: %w", ref, err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("save %s: %w", ref, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("save %s: %w", ref, err)
	}
	return nil
}
