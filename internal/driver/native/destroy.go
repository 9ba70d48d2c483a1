package native

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// destroy removes user id and everything it has; see teardown.
func (d *Driver) destroy(ctx context.Context, id string) error {
	if !identifierRE.MatchString(id) {
		return fmt.Errorf("%w: %q", errNotOurs, id)
	}
	unlock := d.locks.lock(id)
	defer unlock()
	return d.teardown(ctx, id)
}

// teardown removes user id, in an order that holds after a crash at any step: first every
// process (so nothing can create files any more), then the user's temporary files (while its
// uid is still its own), its home, disks and cgroups, then the account, and last the record.
// A user without a record is gone when the account does not exist either, and is refused
// when it does (it is not ours to remove). The caller holds the identifier's lock.
func (d *Driver) teardown(ctx context.Context, id string) error {
	rec, err := d.recs.read(id)
	if errors.Is(err, fs.ErrNotExist) {
		if _, lerr := d.sys.lookupUser(id); lerr == nil {
			return fmt.Errorf("%w: user %s exists but this driver has no record of it", errNotOurs, id)
		}
		return nil
	}
	if err != nil {
		return err
	}
	if rec.NodeUID != d.nodeUID {
		return fmt.Errorf("%w: user %s belongs to node %s", errNotOurs, id, rec.NodeUID)
	}
	log := d.log.With("user", id)

	acct, err := d.sys.lookupUser(id)
	exists := err == nil
	if err != nil && !errors.Is(err, errNoUser) {
		return err
	}
	if exists {
		if err := d.sys.killAll(ctx, acct, rec.Layout); err != nil {
			return fmt.Errorf("stop processes of %s: %w", id, err)
		}
		d.forget(ctx, id, true)
		if err := d.sys.removeTemp(ctx, acct); err != nil {
			return fmt.Errorf("remove temporary files of %s: %w", id, err)
		}
	} else {
		d.forget(ctx, id, false)
	}
	if err := d.sys.removeResidue(ctx, id, rec.Layout); err != nil {
		return fmt.Errorf("remove files of %s: %w", id, err)
	}
	if rec.Layout.Log != "" && ownPath(rec.Layout.Log, id) {
		if err := os.Remove(rec.Layout.Log); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove output of %s: %w", id, err)
		}
	}
	if exists {
		if err := d.sys.deleteUser(ctx, id); err != nil {
			return fmt.Errorf("remove user %s: %w", id, err)
		}
	}
	if err := d.recs.remove(id); err != nil {
		return err
	}
	log.Info("resource removed")
	return nil
}
