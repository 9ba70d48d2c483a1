// Package test is the simulation driver used by every integration test (drivers.md §2). It does
// nothing real: a resource is an empty marker file named after its identifier in the workspace
// directory, so resources survive a restart of the node exactly like real ones.
//
// Instances are named "test" or "test/<suffix>". The config (Config) sets capacity limits, the
// remote flag and node-level failure knobs; label definition options (Options) set the
// per-definition knobs.
//
// # Failure knobs
//
// A knob is a uint8. The reference driver failed at random with probability value/254; this one
// is deterministic, so tests can rely on it. Each driver instance counts the calls of every knob
// (per knob name and value, and for the options knobs per operation: capacity check, allocation,
// definition validation; starting at 0), and call n fails as FailsAt(n, value) says:
//
//   - 0 never fails; 255 and 254 always fail;
//   - otherwise the failures among the first n calls are n*value/254 rounded to the nearest
//     integer (halves up), and a call fails exactly when that count grows. So value calls of
//     every 254 fail, evenly spread, and the same sequence of calls fails identically on two
//     instances. 127 fails the calls 0, 2, 4, ...; 1 fails the calls 126, 380, ...
//
// Prepare-time knobs (fail_config_apply, fail_config_validate) are checked once by a new
// instance, on its first call: the factory fails exactly when the value is at least 127.
//
// An injected failure is a *Fault whose text is "TEST: RandomFail: TEST: <Step> failed (<value>)",
// the knob's error wrapped as the reference driver returned it.
//
// # Slow allocations
//
// The definition option allocate_delay (a Go duration such as "2s"; an extension of ours) makes
// Allocate wait that long before it creates the marker, or return the context's error when the
// allocation is cancelled first. Cluster tests use it to stop a node in the middle of an
// allocation.
package test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aquarium-fish/aquarium-fish/internal/driver"
	"github.com/aquarium-fish/aquarium-fish/internal/model"
)

// Type is the driver type this package registers.
const Type = "test"

func init() { driver.Register(Type, New) }

// Compile-time guards of the capabilities the test driver offers.
var (
	_ driver.Factory   = New
	_ driver.Driver    = (*Driver)(nil)
	_ driver.Tasker    = (*Driver)(nil)
	_ driver.Inventory = (*Driver)(nil)
)

// unlimitedCapacity is the capacity reported when no limit is configured.
const unlimitedCapacity = 99999

// Identifiers are "test-" and idLen characters of idAlphabet (58 characters without the easily
// confused 0, O, I and l).
const (
	idPrefix   = "test-"
	idLen      = 6
	idAlphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ123456789"
)

// Driver is one test driver instance. It is safe for concurrent use.
type Driver struct {
	name  string
	cfg   Config
	log   *slog.Logger
	knobs knobs
	// linkSource is the marker new markers are linked to (see createMarker).
	linkSource atomic.Pointer[string]
}

// New is the driver.Factory of the test driver: it decodes cfg, runs the prepare-time knobs and
// creates the workspace.
func New(ctx context.Context, env driver.Env, name string, cfg json.RawMessage) (driver.Driver, error) {
	if driver.TypeOf(name) != Type {
		return nil, fmt.Errorf("instance name %q is not of type %q", name, Type)
	}
	c, err := decodeConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	log := env.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Driver{name: name, cfg: c, log: log}
	if err := d.knobs.check(knobConfigApply, c.FailConfigApply, "ConfigApply"); err != nil {
		return nil, err
	}
	if err := d.knobs.check(knobConfigValidate, c.FailConfigValidate, "ConfigValidate"); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := d.cfg.prepare(env.WorkDir); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return d, nil
}

// Name returns the instance name ("test" or "test/<suffix>").
func (d *Driver) Name() string { return d.name }

// IsRemote reports the configured is_remote flag.
func (d *Driver) IsRemote() bool { return d.cfg.IsRemote }

// Workspace returns the absolute directory holding the marker files.
func (d *Driver) Workspace() string { return d.cfg.WorkspacePath }

// ValidateDefinition applies the options of def with their knobs. The node does not call it
// (labels are accepted without driver validation); it exists for the contract of drivers.md §1.
func (d *Driver) ValidateDefinition(def model.LabelDefinition) error {
	_, err := d.applyOptions(def.Options, "validate")
	return err
}

// AvailableCapacity applies the options, runs fail_available_capacity and then answers 99999
// when no limit is configured, or the shared capacity arithmetic otherwise. When only one of
// the limits is 0 nothing fits.
func (d *Driver) AvailableCapacity(usage driver.Usage, def model.LabelDefinition) (int, error) {
	o, err := d.applyOptions(def.Options, "capacity")
	if err != nil {
		return 0, err
	}
	if err := d.knobs.check(knobAvailableCapacity, o.FailAvailableCapacity, "AvailableCapacity"); err != nil {
		return 0, err
	}
	if d.cfg.unlimited() {
		return unlimitedCapacity, nil
	}
	lim := driver.Limits{CPU: d.cfg.CPULimit, RAM: d.cfg.RAMLimit, CPUOverbook: d.cfg.CPUOverbook, RAMOverbook: d.cfg.RAMOverbook}
	return driver.Capacity(lim, usage, def.Resources), nil
}

// Allocate applies the options, runs fail_allocate and creates a marker file with a fresh
// identifier. Only the identifier is reported: a marker has no address.
func (d *Driver) Allocate(ctx context.Context, req driver.AllocateRequest) (driver.Allocation, error) {
	o, err := d.applyOptions(req.Definition.Options, "allocate")
	if err != nil {
		return driver.Allocation{}, err
	}
	if err := d.knobs.check(knobAllocate, o.FailAllocate, "Allocate"); err != nil {
		return driver.Allocation{}, err
	}
	if delay, _ := o.allocateDelay(); delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return driver.Allocation{}, ctx.Err()
		case <-t.C:
		}
	}
	for {
		if err := ctx.Err(); err != nil {
			return driver.Allocation{}, err
		}
		id := newIdentifier()
		err := d.createMarker(d.marker(id))
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return driver.Allocation{}, fmt.Errorf("create marker: %w", err)
		}
		d.log.Debug("allocated", "identifier", id, "application", req.ApplicationUID)
		return driver.Allocation{Identifier: id}, nil
	}
}

// createMarker creates the empty marker file path, failing with fs.ErrExist when it exists, so
// that "regenerate if the marker exists" is atomic between concurrent calls.
//
// A new marker is a hard link of the last marker this instance created while that one exists:
// creating an inode costs some filesystems (ext4 in a small VM) 0.2 ms of CPU, a link 5 µs,
// and every marker is the same empty file anyway. When the link fails (the source was
// deallocated, no hard links on this filesystem) it creates a new file, the next source.
func (d *Driver) createMarker(path string) error {
	if src := d.linkSource.Load(); src != nil {
		err := os.Link(*src, path)
		if err == nil || errors.Is(err, fs.ErrExist) {
			return err
		}
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	d.linkSource.Store(&path)
	return nil
}

// Status runs fail_status and reports ALLOCATED while the marker file exists.
func (d *Driver) Status(ctx context.Context, res model.Resource) (driver.ResourceStatus, error) {
	if err := d.knobs.check(knobStatus, d.cfg.FailStatus, "Status "+res.Identifier); err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	ok, err := d.exists(res.Identifier)
	if err != nil {
		return "", err
	}
	if ok {
		return driver.ResourceAllocated, nil
	}
	return driver.ResourceNone, nil
}

// Deallocate runs fail_deallocate and removes the marker file. A missing marker is an error
// (drivers.md §2.4) and, unlike for Destroy, not driver.ErrNotFound: the node retries it and
// ends in ERROR, as it does for any driver that cannot find what it is asked to remove.
func (d *Driver) Deallocate(ctx context.Context, res model.Resource) error {
	if err := d.knobs.check(knobDeallocate, d.cfg.FailDeallocate, "Deallocate "+res.Identifier); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := d.remove(res.Identifier); err != nil {
		if errors.Is(err, driver.ErrNotFound) {
			return errors.New(err.Error())
		}
		return err
	}
	d.log.Debug("deallocated", "identifier", res.Identifier)
	return nil
}

// Resources lists the identifiers of the markers in the workspace (files named "test-*"), sorted.
func (d *Driver) Resources(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(d.cfg.WorkspacePath)
	if err != nil {
		return nil, fmt.Errorf("list workspace: %w", err)
	}
	ids := []string{}
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasPrefix(e.Name(), idPrefix) {
			ids = append(ids, e.Name())
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// Destroy removes the marker of identifier. It runs no knob: it is the node's clean-up of
// resources its state does not know.
func (d *Driver) Destroy(ctx context.Context, identifier string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return d.remove(identifier)
}

// unavailableError is the error for a marker that does not exist.
type unavailableError struct{ op, id string }

func (e *unavailableError) Error() string {
	return fmt.Sprintf("TEST: Unable to %s unavailable resource '%s'", e.op, e.id)
}

func (e *unavailableError) Unwrap() error { return driver.ErrNotFound }

// remove deletes the marker of id.
func (d *Driver) remove(id string) error {
	if !validIdentifier(id) {
		return &unavailableError{"deallocate", id}
	}
	err := os.Remove(d.marker(id))
	if errors.Is(err, fs.ErrNotExist) {
		return &unavailableError{"deallocate", id}
	}
	if err != nil {
		return fmt.Errorf("remove marker: %w", err)
	}
	return nil
}

// exists reports whether the marker of id exists.
func (d *Driver) exists(id string) (bool, error) {
	if !validIdentifier(id) {
		return false, nil
	}
	_, err := os.Stat(d.marker(id))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("stat marker: %w", err)
	}
	return true, nil
}

// marker is the path of the marker file of a valid identifier.
func (d *Driver) marker(id string) string { return filepath.Join(d.cfg.WorkspacePath, id) }

// validIdentifier reports whether id can name a file directly inside the workspace. Anything
// else (empty, a path, "..") cannot be a marker, whatever a caller passes.
func validIdentifier(id string) bool {
	return id != "" && id != "." && id != ".." && !strings.ContainsAny(id, `/\`) && !strings.ContainsRune(id, 0)
}

// newIdentifier returns "test-" and idLen random characters of idAlphabet, drawn uniformly.
func newIdentifier() string {
	const limit = 256 - 256%len(idAlphabet) // bytes at or above limit would bias the draw
	var b [idLen]byte
	out := make([]byte, 0, len(idPrefix)+idLen)
	out = append(out, idPrefix...)
	for len(out) < cap(out) {
		rand.Read(b[:]) // never returns an error
		for _, c := range b {
			if int(c) < limit && len(out) < cap(out) {
				out = append(out, idAlphabet[int(c)%len(idAlphabet)])
			}
		}
	}
	return string(out)
}
