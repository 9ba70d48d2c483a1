package image

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ulikunitz/xz"
)

// BuildTarXz packs the directory tree under root into dst as a .tar.xz image
// archive: members are named relative to root (root itself is not a
// member), in lexical order, with their modes and modification times;
// symlinks are stored as links. Meant for tests that serve images.
func BuildTarXz(dst io.Writer, root string) error {
	xw, err := xz.NewWriter(dst)
	if err != nil {
		return fmt.Errorf("build archive: %w", err)
	}
	tw := tar.NewWriter(xw)
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == "." {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if info.IsDir() {
			hdr.Name += "/"
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer func() { _ = f.Close() }()
		_, err = io.Copy(tw, f)
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if err == nil {
		err = xw.Close()
	}
	if err != nil {
		return fmt.Errorf("build archive of %s: %w", root, err)
	}
	return nil
}
