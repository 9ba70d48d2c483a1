package native

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aquarium-fish/aquarium-fish/internal/driver"
	"github.com/aquarium-fish/aquarium-fish/internal/image"
)

// defaultPath is the PATH of the entry.
const defaultPath = "/usr/local/bin:/usr/bin:/bin"

// maxNameTries bounds the search for a free user name.
const maxNameTries = 16

// Allocate creates a user, unpacks the images into its home and disks, and starts the entry as
// that user. Whatever fails after the user's record exists is cleaned up before returning.
func (d *Driver) Allocate(ctx context.Context, req driver.AllocateRequest) (driver.Allocation, error) {
	if err := ctx.Err(); err != nil {
		return driver.Allocation{}, err
	}
	opts, err := parseOptions(req.Definition)
	if err != nil {
		return driver.Allocation{}, err
	}
	// Images first: a failed download leaves nothing behind.
	dirs, err := d.fetchImages(ctx, opts.Images)
	if err != nil {
		return driver.Allocation{}, err
	}
	disks := make([]string, 0, len(req.Definition.Resources.Disks))
	for name := range req.Definition.Resources.Disks {
		disks = append(disks, name)
	}
	sort.Strings(disks)

	rec := record{
		NodeUID:        d.nodeUID,
		ApplicationUID: req.ApplicationUID,
		ResourceUID:    req.ResourceUID,
	}
	rec, unlock, err := d.reserve(rec, disks)
	if err != nil {
		return driver.Allocation{}, err
	}
	defer unlock()
	log := d.log.With("user", rec.Identifier, "app", req.ApplicationUID)

	if err := d.build(ctx, &rec, opts, dirs, req); err != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		if cerr := d.teardown(cctx, rec.Identifier); cerr != nil {
			log.Error("clean up after failed allocation", "err", cerr)
		}
		return driver.Allocation{}, err
	}
	log.Info("resource allocated")
	return driver.Allocation{Identifier: rec.Identifier}, nil
}

// reserve picks a free user name and writes its record; from then on the name is ours. The
// name comes back locked (see keyedLocks), so no Destroy can interleave with its creation.
func (d *Driver) reserve(rec record, disks []string) (record, func(), error) {
	for range maxNameTries {
		rec.Identifier = newIdentifier()
		unlock := d.locks.lock(rec.Identifier)
		if _, err := d.sys.lookupUser(rec.Identifier); !errors.Is(err, errNoUser) {
			unlock()
			continue
		}
		rec.Layout = d.sys.layout(rec.Identifier, disks)
		rec.Layout.Log = logPath(d.recs.dir, rec.Identifier)
		rec.CreatedAt = time.Now().UTC()
		err := d.recs.create(rec)
		if err == nil {
			return rec, unlock, nil
		}
		unlock()
		if !errors.Is(err, fs.ErrExist) {
			return record{}, nil, fmt.Errorf("record user: %w", err)
		}
	}
	return record{}, nil, fmt.Errorf("no free user name after %d tries", maxNameTries)
}

// build creates everything of the resource described by rec and starts its entry.
func (d *Driver) build(ctx context.Context, rec *record, opts Options, dirs []string, req driver.AllocateRequest) error {
	acct, err := d.sys.createUser(ctx, rec.Identifier, rec.Layout.Home, opts.Groups)
	if err != nil {
		return err
	}
	rec.UID = acct.UID
	if err := d.recs.update(*rec); err != nil {
		return err
	}
	data := templateData{Disks: map[string]string{}, Home: acct.Home, User: acct.Name}
	for name, path := range rec.Layout.Disks {
		if err := d.sys.makeDisk(ctx, acct, name, path, req.Definition.Resources.Disks[name]); err != nil {
			return fmt.Errorf("disk %s: %w", name, err)
		}
		data.Disks[name] = path
	}
	for i, img := range opts.Images {
		dst := acct.Home
		if img.Tag != "" {
			dst = data.Disks[img.Tag]
		}
		if err := d.sys.install(ctx, acct, dirs[i], dst); err != nil {
			return fmt.Errorf("install image %s-%s: %w", img.Name, img.Version, err)
		}
	}
	script, err := render("entry", opts.Entry, data)
	if err != nil {
		return fmt.Errorf("%w: entry: %w", errOptions, err)
	}
	env := environ(metadataEnv(req.Metadata, data), d.baseEnv(acct))
	lim := limits{CPU: req.Definition.Resources.CPU, RAM: req.Definition.Resources.RAM}
	l, err := d.sys.prepare(ctx, acct, rec.Layout, script, env, lim)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		if l.release != nil {
			l.release()
		}
		return err
	}
	e, err := d.startEntry(l, acct.Name, rec.Layout.Log)
	if err != nil {
		return err
	}
	return e.watch(ctx, d.entryWait)
}

// baseEnv is the environment every entry gets besides the metadata.
func (d *Driver) baseEnv(acct account) map[string]string {
	env := map[string]string{
		"HOME":    acct.Home,
		"USER":    acct.Name,
		"LOGNAME": acct.Name,
		"PATH":    defaultPath,
	}
	if d.endpoints != nil {
		if u := metaURL(d.endpoints().API); u != "" {
			env[MetaURLVar] = u
		}
	}
	return env
}

// fetchImages downloads (or finds in the cache) every image at once and returns their
// unpacked directories in order.
func (d *Driver) fetchImages(ctx context.Context, imgs []image.Image) ([]string, error) {
	dirs := make([]string, len(imgs))
	errs := make([]error, len(imgs))
	var wg sync.WaitGroup
	for i := range imgs {
		wg.Go(func() {
			dirs[i], errs[i] = d.images.Get(ctx, imgs[i])
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return dirs, nil
}

// selfTest proves the driver works here: it creates a user, runs `id -u` as it and removes it.
func (d *Driver) selfTest(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, selfTestTimeout)
	defer cancel()
	rec, unlock, err := d.reserve(record{NodeUID: d.nodeUID}, nil)
	if err != nil {
		return err
	}
	defer unlock()
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		if cerr := d.teardown(cctx, rec.Identifier); cerr != nil {
			d.log.Error("self-test clean-up", "user", rec.Identifier, "err", cerr)
		}
	}()
	acct, err := d.sys.createUser(ctx, rec.Identifier, rec.Layout.Home, nil)
	if err != nil {
		return err
	}
	rec.UID = acct.UID
	if err := d.recs.update(rec); err != nil {
		return err
	}
	l, err := d.sys.prepare(ctx, acct, rec.Layout, "id -u", environ(nil, d.baseEnv(acct)), limits{})
	if err != nil {
		return err
	}
	var out bytes.Buffer
	l.cmd.Stdout, l.cmd.Stderr = &out, &out
	err = l.cmd.Start()
	if err == nil && l.started != nil {
		err = l.started(l.cmd.Process.Pid)
	}
	if l.release != nil {
		l.release()
	}
	if err == nil {
		stop := context.AfterFunc(ctx, func() { l.cmd.Process.Kill() })
		err = l.cmd.Wait()
		stop()
	} else if l.cmd.Process != nil {
		l.cmd.Process.Kill()
		l.cmd.Wait()
	}
	if err != nil {
		return fmt.Errorf("run a command as %s: %w: %s", acct.Name, err, strings.TrimSpace(out.String()))
	}
	if got := strings.TrimSpace(out.String()); got != strconv.FormatUint(uint64(acct.UID), 10) {
		return fmt.Errorf("a command run as %s reports uid %q, want %d", acct.Name, got, acct.UID)
	}
	return nil
}
