package image

import (
	"archive/tar"
	"bytes"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestMemberPath(t *testing.T) {
	tests := []struct {
		name, want string
		wantErr    error
	}{
		{name: "./", want: "."},
		{name: "a/b/", want: filepath.Join("a", "b")},
		{name: "./a//b", want: filepath.Join("a", "b")},
		{name: "a..b", want: "a..b"},
		{name: "", wantErr: ErrArchive},
		{name: "/etc/passwd", wantErr: ErrUnsafeArchive},
		{name: "../x", wantErr: ErrUnsafeArchive},
		{name: "a/../b", wantErr: ErrUnsafeArchive}, // stays inside, but ".." is refused outright
		{name: "a/..", wantErr: ErrUnsafeArchive},
	}
	for _, tt := range tests {
		got, err := memberPath(tt.name)
		if !errors.Is(err, tt.wantErr) || got != tt.want {
			t.Errorf("memberPath(%q) = %q, %v; want %q, %v", tt.name, got, err, tt.want, tt.wantErr)
		}
	}
}

func unpackBytes(t *testing.T, archive []byte) (string, error) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "root")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, unpack(bytes.NewReader(archive), dir, slog.New(slog.DiscardHandler))
}

func TestUnpackLinks(t *testing.T) {
	tests := []struct {
		name    string
		members []member
		wantErr error
	}{
		{name: "relative symlink inside", members: []member{{name: "d/", typ: tar.TypeDir}, {name: "d/l", link: "../f", typ: tar.TypeSymlink}}},
		{name: "symlink to a sibling dir", members: []member{{name: "s", link: "d/e/./", typ: tar.TypeSymlink}}},
		{name: "absolute symlink", members: []member{{name: "l", link: "/etc", typ: tar.TypeSymlink}}, wantErr: ErrUnsafeArchive},
		{name: "symlink climbs out", members: []member{{name: "d/l", link: "../../x", typ: tar.TypeSymlink}}, wantErr: ErrUnsafeArchive},
		{
			// Lexically "x/.." is ".", but x is the root itself, so a = root/..
			name:    "dot-dot after a symlink",
			members: []member{{name: "x", link: ".", typ: tar.TypeSymlink}, {name: "a", link: "x/..", typ: tar.TypeSymlink}},
			wantErr: ErrUnsafeArchive,
		},
		{
			// Lexically a/.. is the root, but a is the root so a/b/.. is above it.
			name:    "symlink under a symlinked parent",
			members: []member{{name: "a", link: ".", typ: tar.TypeSymlink}, {name: "a/b", link: "..", typ: tar.TypeSymlink}},
			wantErr: ErrUnsafeArchive,
		},
		{name: "empty symlink target", members: []member{{name: "l", typ: tar.TypeSymlink}}, wantErr: ErrArchive},
		{name: "hard link", members: []member{{name: "f", content: "x"}, {name: "d/h", link: "f", typ: tar.TypeLink}}},
		{name: "hard link out", members: []member{{name: "h", link: "../x", typ: tar.TypeLink}}, wantErr: ErrUnsafeArchive},
		{
			name:    "hard link to a symlink",
			members: []member{{name: "d/l", link: "../f", typ: tar.TypeSymlink}, {name: "h", link: "d/l", typ: tar.TypeLink}},
			wantErr: ErrArchive,
		},
		{name: "hard link to nothing", members: []member{{name: "h", link: "missing", typ: tar.TypeLink}}, wantErr: ErrArchive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := unpackBytes(t, rawArchive(t, tt.members...))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("unpack() = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestUnpackNeverWritesThroughAnEscapingLink(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "root")
	outside := t.TempDir()
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// A link the archive could not have made (defence in depth: os.Root).
	if err := os.Symlink(outside, filepath.Join(dir, "esc")); err != nil {
		t.Fatal(err)
	}
	err := unpack(bytes.NewReader(rawArchive(t, member{name: "esc/f", content: "x"})), dir, slog.New(slog.DiscardHandler))
	if err == nil {
		t.Fatal("unpack() wrote through an escaping symlink")
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Fatalf("wrote outside: %v", entries)
	}
}

func TestUnpackKeepsModesAndTimes(t *testing.T) {
	archive := rawArchive(t,
		member{name: "./", typ: tar.TypeDir},
		member{name: "ro/", typ: tar.TypeDir, mode: 0o555},
		member{name: "ro/run.sh", content: "#!/bin/sh\n", mode: 0o4750}, // setuid is dropped
		member{name: "implicit/parent/f", content: "y"},
		member{name: "dev", typ: tar.TypeChar},
		member{name: "fifo", typ: tar.TypeFifo},
		member{name: "dup", content: "old"},
		member{name: "dup", content: "new"}, // the later member wins
	)
	dir, err := unpackBytes(t, archive)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = removeTree(dir) })
	mtime := time.Unix(1700000000, 0)
	for name, mode := range map[string]fs.FileMode{"ro": fs.ModeDir | 0o555, "ro/run.sh": 0o750} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode() != mode || !st.ModTime().Equal(mtime) {
			t.Errorf("%s: mode %v mtime %v, want %v %v", name, st.Mode(), st.ModTime(), mode, mtime)
		}
	}
	for _, skipped := range []string{"dev", "fifo"} {
		if _, err := os.Lstat(filepath.Join(dir, skipped)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: %v, want skipped", skipped, err)
		}
	}
	if got := readFile(t, filepath.Join(dir, "dup")); got != "new" {
		t.Errorf("dup = %q", got)
	}
	if got := readFile(t, filepath.Join(dir, "implicit", "parent", "f")); got != "y" {
		t.Errorf("implicit/parent/f = %q", got)
	}
}

func TestBuildTarXzRoundTrip(t *testing.T) {
	src := t.TempDir()
	writeTree(t, src, map[string]string{"a/b/c": "deep", "a/l": "-> b/c", "empty/": "", "top": "t"})
	if err := os.Chmod(filepath.Join(src, "top"), 0o600); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := BuildTarXz(&buf, src); err != nil {
		t.Fatal(err)
	}
	dir, err := unpackBytes(t, buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dir, "a", "l")); got != "deep" {
		t.Errorf("a/l = %q", got)
	}
	if st, err := os.Stat(filepath.Join(dir, "empty")); err != nil || !st.IsDir() {
		t.Errorf("empty: %v", err)
	}
	if st, err := os.Stat(filepath.Join(dir, "top")); err != nil || st.Mode() != 0o600 {
		t.Errorf("top: %v %v", st.Mode(), err)
	}
}
