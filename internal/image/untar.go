package image

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/ulikunitz/xz"
)

// unpack extracts a .tar.xz stream into the existing directory dir.
//
// Safety: every write goes through os.Root, so nothing is created outside
// dir even through symlinks; on top of that, for a clear error, a member is
// rejected (ErrUnsafeArchive) when its name is absolute or has a ".."
// element, when it is a hard link to anything but a regular file already
// extracted, or when it is a symlink that could resolve outside dir (see
// checkSymlink). Regular files, directories, symlinks and hard links are
// extracted; device nodes, FIFOs and other types are skipped. Permission
// bits and modification times are kept (directories get theirs once
// everything is written); setuid/setgid/sticky bits and owners are dropped.
func unpack(r io.Reader, dir string, log *slog.Logger) error {
	xr, err := xz.NewReader(r)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrArchive, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer func() { _ = root.Close() }()

	var dirs []*tar.Header // with Name made local
	tr := tar.NewReader(xr)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%w: %w", ErrArchive, err)
		}
		name, err := memberPath(hdr.Name)
		if err != nil {
			return err
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			err = root.MkdirAll(name, 0o755)
			hdr.Name = name
			dirs = append(dirs, hdr)
		case tar.TypeReg, tar.TypeGNUSparse:
			err = writeFile(root, name, tr, hdr)
		case tar.TypeSymlink:
			err = writeSymlink(root, name, hdr)
		case tar.TypeLink:
			err = writeHardlink(root, name, hdr)
		default:
			log.Debug("skipping archive member of unsupported type", "member", hdr.Name, "type", string(hdr.Typeflag))
		}
		if err != nil {
			if errors.Is(err, ErrUnsafeArchive) || errors.Is(err, ErrArchive) {
				return err
			}
			return fmt.Errorf("extract %s: %w", hdr.Name, err)
		}
	}
	// Read the xz stream to its end so its own integrity checks run.
	if _, err := io.Copy(io.Discard, xr); err != nil {
		return fmt.Errorf("%w: %w", ErrArchive, err)
	}
	// Directories last: adding entries changed their mtimes, and a
	// read-only mode would have blocked those entries.
	for i := len(dirs) - 1; i >= 0; i-- {
		d := dirs[i]
		if err := root.Chmod(d.Name, fs.FileMode(d.Mode).Perm()); err != nil {
			return fmt.Errorf("extract %s: %w", d.Name, err)
		}
		if err := root.Chtimes(d.Name, accessTime(d), d.ModTime); err != nil {
			return fmt.Errorf("extract %s: %w", d.Name, err)
		}
	}
	return nil
}

// memberPath turns a member name into a path local to the target ("." for
// the target itself), or fails with ErrUnsafeArchive.
func memberPath(name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("%w: member without a name", ErrArchive)
	}
	if strings.HasPrefix(name, "/") || strings.HasPrefix(name, `\`) || filepath.VolumeName(name) != "" {
		return "", fmt.Errorf("%w: %s", ErrUnsafeArchive, name)
	}
	for _, e := range strings.Split(name, "/") {
		if e == ".." {
			return "", fmt.Errorf("%w: %s", ErrUnsafeArchive, name)
		}
	}
	clean := path.Clean(name)
	if clean == "." {
		return ".", nil
	}
	local := filepath.FromSlash(clean)
	if !filepath.IsLocal(local) {
		return "", fmt.Errorf("%w: %s", ErrUnsafeArchive, name)
	}
	return local, nil
}

// prepare makes name's parent directories and removes a non-directory that
// an earlier member left at name (tar semantics: the later member wins).
func prepare(root *os.Root, name string) error {
	if name == "." {
		return fmt.Errorf("%w: a non-directory member names the archive root", ErrArchive)
	}
	if parent := filepath.Dir(name); parent != "." {
		if err := root.MkdirAll(parent, 0o755); err != nil {
			return err
		}
	}
	if st, err := root.Lstat(name); err == nil && !st.IsDir() {
		return root.Remove(name)
	}
	return nil
}

func writeFile(root *os.Root, name string, r io.Reader, hdr *tar.Header) error {
	if err := prepare(root, name); err != nil {
		return err
	}
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := root.Chmod(name, fs.FileMode(hdr.Mode).Perm()); err != nil {
		return err
	}
	return root.Chtimes(name, accessTime(hdr), hdr.ModTime)
}

func writeSymlink(root *os.Root, name string, hdr *tar.Header) error {
	if err := checkSymlink(root, name, hdr.Linkname); err != nil {
		return fmt.Errorf("%w: %s -> %s", err, hdr.Name, hdr.Linkname)
	}
	if err := prepare(root, name); err != nil {
		return err
	}
	return root.Symlink(hdr.Linkname, name)
}

// checkSymlink accepts a symlink target only when it resolves inside the
// root whatever other links the archive holds: the target is relative, its
// ".." elements all come first and climb no higher than the root, and the
// link's own parent directories are real directories (not symlinks), so
// those leading ".." elements walk real directories. Every accepted link
// then resolves to a real directory inside the root plus a descent, and a
// descent through other accepted links stays inside by the same argument.
func checkSymlink(root *os.Root, name, target string) error {
	if target == "" {
		return fmt.Errorf("%w: empty symlink target", ErrArchive)
	}
	if strings.HasPrefix(target, "/") || strings.HasPrefix(target, `\`) || filepath.VolumeName(target) != "" {
		return ErrUnsafeArchive
	}
	parent := filepath.Dir(name)
	depth := 0
	if parent != "." {
		depth = len(strings.Split(parent, string(filepath.Separator)))
	}
	up, leading := 0, true
	for _, e := range strings.Split(target, "/") {
		switch {
		case e == "" || e == ".":
		case e == "..":
			up++
			if !leading || up > depth {
				return ErrUnsafeArchive
			}
		default:
			leading = false
		}
	}
	// The parents must be real directories; missing ones will be made so.
	p := ""
	for _, e := range strings.Split(parent, string(filepath.Separator)) {
		if e == "." {
			break
		}
		p = filepath.Join(p, e)
		st, err := root.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			break
		}
		if err != nil {
			return err
		}
		if st.Mode()&fs.ModeSymlink != 0 {
			return ErrUnsafeArchive
		}
	}
	return nil
}

func writeHardlink(root *os.Root, name string, hdr *tar.Header) error {
	target, err := memberPath(hdr.Linkname)
	if err != nil {
		return fmt.Errorf("%w (hard link %s)", err, hdr.Name)
	}
	st, err := root.Lstat(target)
	if err != nil || !st.Mode().IsRegular() {
		return fmt.Errorf("%w: hard link %s -> %s: target is not a regular file of the archive", ErrArchive, hdr.Name, hdr.Linkname)
	}
	if target == name {
		return nil
	}
	if err := prepare(root, name); err != nil {
		return err
	}
	return root.Link(target, name)
}

func accessTime(hdr *tar.Header) time.Time {
	if hdr.AccessTime.IsZero() {
		return hdr.ModTime
	}
	return hdr.AccessTime
}
