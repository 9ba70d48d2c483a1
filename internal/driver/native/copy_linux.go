//go:build linux

package native

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// copyTree copies the content of src into the existing directory dst, giving every entry to
// uid:gid. Directories, regular files and symbolic links are copied (hard links become
// copies); set-id bits are dropped; other file types are skipped. An entry that exists in dst
// is replaced, except a directory that stays a directory (images overlay each other). The
// user owning dst has no process yet, so nothing races the copy.
func copyTree(ctx context.Context, src, dst string, uid, gid int) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		perm := info.Mode().Perm() | info.Mode()&fs.ModeSticky
		switch {
		case d.IsDir():
			if err := mkdirOwned(target, perm, uid, gid); err != nil {
				return err
			}
		case d.Type().IsRegular():
			if err := copyFile(path, target, perm, uid, gid); err != nil {
				return err
			}
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			if err := replace(target); err != nil {
				return err
			}
			if err := os.Symlink(link, target); err != nil {
				return err
			}
			if err := os.Lchown(target, uid, gid); err != nil {
				return err
			}
		}
		return nil
	})
}

// mkdirOwned makes target a directory owned by uid:gid with perm (plus owner rwx, so the
// copy can go on and the user can always clean up its own home).
func mkdirOwned(target string, perm fs.FileMode, uid, gid int) error {
	st, err := os.Lstat(target)
	if err == nil && !st.IsDir() {
		if err := os.Remove(target); err != nil {
			return err
		}
	}
	if err := os.Mkdir(target, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	if err := os.Lchown(target, uid, gid); err != nil {
		return err
	}
	return os.Chmod(target, perm|0o700)
}

// replace removes target when it exists and is not a directory.
func replace(target string) error {
	st, err := os.Lstat(target)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case st.IsDir():
		return fmt.Errorf("%s: a directory is in the way", target)
	}
	return os.Remove(target)
}

func copyFile(path, target string, perm fs.FileMode, uid, gid int) error {
	if err := replace(target); err != nil {
		return err
	}
	in, err := os.Open(path)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", target, err)
	}
	if err := out.Chown(uid, gid); err != nil {
		out.Close()
		return err
	}
	// After the chown, which clears set-id bits anyway: perm never holds them here.
	if err := out.Chmod(perm); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
