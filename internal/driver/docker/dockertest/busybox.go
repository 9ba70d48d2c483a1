package dockertest

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	dimage "github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"

	"github.com/aquarium-fish/aquarium-fish/internal/image"
)

// BusyboxPath is the static busybox the test image is made of (Debian: busybox-static).
const BusyboxPath = "/bin/busybox"

// applets are the busybox applets linked into the test image's /bin: what the tests run in
// their containers.
var applets = []string{
	"cat", "echo", "env", "grep", "httpd", "id", "ip", "ls", "nc", "ping", "sh", "sleep", "wget",
}

// The test image is built once per test binary: the engine image is removed at once and only
// the bytes are kept, so every test loads it under a tag of its own.
var busybox struct {
	once    sync.Once
	tarball []byte // docker save of the test image, untagged
	err     error

	mu       sync.Mutex
	archives map[string]archive // by image name
}

type archive struct {
	data []byte
	sum  string
	err  error
}

// RequireBusybox skips the test when the static busybox the test image is made of is missing.
func RequireBusybox(tb testing.TB) {
	tb.Helper()
	if _, err := os.Stat(BusyboxPath); err != nil {
		tb.Skipf("skipped: %s is missing (apt-get install busybox-static): %v", BusyboxPath, err)
	}
}

// BusyboxTarball returns the test image in `docker save` format, saved by ID: it carries no
// tag, so the tag a driver gives it when it loads it is its only one. The image is busybox
// with its applets in /bin (PATH=/bin), an empty /mnt and /tmp, and "/bin/sleep 3600" as its
// main process. The test is skipped when busybox is missing.
func BusyboxTarball(tb testing.TB, cli *client.Client) []byte {
	tb.Helper()
	RequireBusybox(tb)
	busybox.once.Do(func() { busybox.tarball, busybox.err = saveBusybox(cli) })
	if busybox.err != nil {
		tb.Fatalf("build the busybox test image: %v", busybox.err)
	}
	return busybox.tarball
}

// BusyboxArchive returns the image archive (.tar.xz) of the test image, holding
// <name>/<name>.tar as a driver expects of an image called name, and its "sha256:<hex>" sum.
// It is built once per name and test binary.
func BusyboxArchive(tb testing.TB, cli *client.Client, name string) ([]byte, string) {
	tb.Helper()
	tarball := BusyboxTarball(tb, cli)
	busybox.mu.Lock()
	defer busybox.mu.Unlock()
	a, ok := busybox.archives[name]
	if !ok {
		a.data, a.sum, a.err = ImageArchive(map[string][]byte{name + "/" + name + ".tar": tarball})
		if busybox.archives == nil {
			busybox.archives = map[string]archive{}
		}
		busybox.archives[name] = a
	}
	if a.err != nil {
		tb.Fatalf("build the busybox test image archive: %v", a.err)
	}
	return a.data, a.sum
}

// ImageArchive packs files (slash-separated paths, mode 0644) into a .tar.xz image archive and
// returns it with its "sha256:<hex>" sum.
func ImageArchive(files map[string][]byte) ([]byte, string, error) {
	root, err := os.MkdirTemp("", "fish-docker-archive-")
	if err != nil {
		return nil, "", err
	}
	defer os.RemoveAll(root)
	for name, data := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, "", err
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return nil, "", err
		}
	}
	var buf bytes.Buffer
	if err := image.BuildTarXz(&buf, root); err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(buf.Bytes())
	return buf.Bytes(), "sha256:" + hex.EncodeToString(sum[:]), nil
}

// saveBusybox imports the test image's root file system into the engine under a temporary
// tag, saves it by ID and removes it.
func saveBusybox(cli *client.Client) ([]byte, error) {
	bb, err := os.ReadFile(BusyboxPath)
	if err != nil {
		return nil, err
	}
	links := make(map[string]string, len(applets))
	for _, a := range applets {
		links["bin/"+a] = "busybox"
	}
	rootfs, err := Tar(map[string]File{"bin/busybox": {bb, 0o755}}, links, "bin", "mnt", "tmp")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	src := "fish-busybox-src:" + randomHex(6)
	rc, err := cli.ImageImport(ctx, dimage.ImportSource{Source: bytes.NewReader(rootfs), SourceName: "-"}, src,
		dimage.ImportOptions{Changes: []string{`CMD ["/bin/sleep", "3600"]`, `ENV PATH=/bin`}})
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, rc)
	_ = rc.Close()
	defer func() { _, _ = cli.ImageRemove(context.Background(), src, dimage.RemoveOptions{Force: true}) }()
	img, err := cli.ImageInspect(ctx, src)
	if err != nil {
		return nil, err
	}
	save, err := cli.ImageSave(ctx, []string{img.ID})
	if err != nil {
		return nil, err
	}
	defer save.Close()
	return io.ReadAll(save)
}

// File is a regular file of a tar made by Tar.
type File struct {
	Data []byte
	Mode os.FileMode
}

// Tar is an uncompressed tar of the directories dirs (mode 0755, "tmp" 01777), then the files
// and the symbolic links (slash-separated paths inside those directories, each kind in name
// order), as the engine takes it for an image import or a copy into a container.
func Tar(files map[string]File, links map[string]string, dirs ...string) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, d := range dirs {
		mode := int64(0o755)
		if d == "tmp" {
			mode = 0o1777
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: mode}); err != nil {
			return nil, err
		}
	}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		f := files[name]
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: int64(f.Mode), Size: int64(len(f.Data))}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.Data); err != nil {
			return nil, err
		}
	}
	for _, name := range slices.Sorted(maps.Keys(links)) {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: links[name]}); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand panics instead)
	return hex.EncodeToString(b)
}
