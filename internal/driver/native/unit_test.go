package native

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/aquarium-fish/aquarium-fish/internal/model"
	"github.com/aquarium-fish/aquarium-fish/internal/testutil"
)

func TestMetadataEnv(t *testing.T) {
	var md map[string]any
	if err := json.Unmarshal([]byte(`{
		"A": "label", "B": {"c": 1, "d.e": true}, "1x": 1.5, "n": null, "list": ["a", "b"],
		"big": 1e6, "DISK": "{{ .Disks.data }}/x", "BROKEN": "{{ .Nope", "bad key!": "v",
		"nul": "a\u0000b", "": "skipped"
	}`), &md); err != nil {
		t.Fatal(err)
	}
	got := metadataEnv(md, templateData{Disks: map[string]string{"data": "/d"}})
	want := map[string]string{
		"A": "label", "B_c": "1", "B_d_e": "true", "x": "1.5", "n": "", "list": "[a b]",
		"big": "1e+06", "DISK": "/d/x", "BROKEN": "{{ .Nope", "badkey": "v", "nul": "ab",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("metadataEnv =\n%v\nwant\n%v", got, want)
	}
}

func TestEnviron(t *testing.T) {
	got := environ(map[string]string{"HOME": "/evil", "X": "1"}, map[string]string{"HOME": "/home/u", "USER": "u"})
	want := []string{"HOME=/home/u", "USER=u", "X=1"}
	if !slices.Equal(got, want) {
		t.Errorf("environ = %v, want %v", got, want)
	}
}

func TestMetaURL(t *testing.T) {
	for _, tc := range []struct{ api, want string }{
		{"127.0.0.1:8001", "https://127.0.0.1:8001/meta/v1/data/"},
		{"0.0.0.0:8001", "https://127.0.0.1:8001/meta/v1/data/"},
		{"[::]:8001", "https://[::1]:8001/meta/v1/data/"},
		{"[::ffff:10.0.0.1]:1", "https://10.0.0.1:1/meta/v1/data/"},
		{"", ""},
	} {
		var ap netip.AddrPort
		if tc.api != "" {
			ap = netip.MustParseAddrPort(tc.api)
		}
		if got := metaURL(ap); got != tc.want {
			t.Errorf("metaURL(%q) = %q, want %q", tc.api, got, tc.want)
		}
	}
}

func TestParseOptions(t *testing.T) {
	disks := map[string]model.ResourcesDisk{"data": {Type: "dir"}}
	for _, tc := range []struct {
		name, opts string
		disks      map[string]model.ResourcesDisk
		wantErr    string
		wantEntry  string
	}{
		{name: "empty", opts: ``, wantEntry: DefaultEntry},
		{name: "null", opts: `null`, wantEntry: DefaultEntry},
		{name: "entry", opts: `{"entry":"./run {{ .Disks.data }}"}`, disks: disks, wantEntry: "./run {{ .Disks.data }}"},
		{name: "unknown key", opts: `{"entrypoint":"x"}`, wantErr: `unknown field "entrypoint"`},
		{name: "not an object", opts: `[1]`, wantErr: "invalid options"},
		{name: "bad template", opts: `{"entry":"{{ .Disks"}`, wantErr: "entry"},
		{name: "root group", opts: `{"groups":["root"]}`, wantErr: "administrator"},
		{name: "bad group", opts: `{"groups":["a b"]}`, wantErr: "not a valid group"},
		{name: "image tag without disk", opts: `{"images":[{"url":"http://h/i-1.tar.xz","tag":"nope"}]}`, wantErr: "names no disk"},
		{name: "image tag", opts: `{"images":[{"url":"http://h/i-1.tar.xz","tag":"data"}]}`, disks: disks, wantEntry: DefaultEntry},
		{name: "image url", opts: `{"images":[{"url":"ftp://h/i-1.tar.xz"}]}`, wantErr: "Url schema is not supported"},
		{name: "disk name", opts: `{}`, disks: map[string]model.ResourcesDisk{"../x": {}}, wantErr: "disk name"},
		{name: "disk reuse", opts: `{}`, disks: map[string]model.ResourcesDisk{"d": {Reuse: true}}, wantErr: "reuse"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			def := model.LabelDefinition{Driver: Type, Options: json.RawMessage(tc.opts), Resources: model.Resources{Disks: tc.disks}}
			o, err := parseOptions(def)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("parseOptions error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseOptions: %v", err)
			}
			if o.Entry != tc.wantEntry {
				t.Errorf("Entry = %q, want %q", o.Entry, tc.wantEntry)
			}
		})
	}
}

func TestDecodeConfig(t *testing.T) {
	if _, err := decodeConfig([]byte(`{"images_path":"x","cpu_alter":-1,"dscl_path":"/x"}`)); err != nil {
		t.Errorf("decodeConfig: %v", err)
	}
	if _, err := decodeConfig([]byte(`{"image_path":"x"}`)); err == nil || !strings.Contains(err.Error(), "image_path") {
		t.Errorf("decodeConfig of an unknown key = %v, want an error naming it", err)
	}
}

func TestOwnPath(t *testing.T) {
	for p, want := range map[string]bool{
		"/home/fish-abcdef":             true,
		"/home/fish-abcdef-disk-data":   true,
		"/home/fish-abcdefg":            false,
		"/":                             false,
		"home/fish-abcdef":              false,
		"/home/../etc/fish-abcdef":      false,
		"/sys/fs/cgroup/fish/fish-abcd": false,
	} {
		if got := ownPath(p, "fish-abcdef"); got != want {
			t.Errorf("ownPath(%q) = %v, want %v", p, got, want)
		}
	}
}

func TestRecords(t *testing.T) {
	r := records{dir: t.TempDir()}
	node, other := uuid.New(), uuid.New()
	a := record{Identifier: newIdentifier(), NodeUID: node, Layout: layout{Home: "/h"}}
	b := record{Identifier: newIdentifier(), NodeUID: other}
	for _, rec := range []record{a, b} {
		if err := r.create(rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.create(a); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second create = %v, want fs.ErrExist", err)
	}
	a.UID = 1234
	if err := r.update(a); err != nil {
		t.Fatal(err)
	}
	got, err := r.read(a.Identifier)
	if err != nil || got.UID != 1234 || got.Layout.Home != "/h" {
		t.Errorf("read = %+v, %v", got, err)
	}
	ids, err := r.list(node)
	if err != nil || !slices.Equal(ids, []string{a.Identifier}) {
		t.Errorf("list = %v, %v; want [%s]", ids, err, a.Identifier)
	}
	if err := r.remove(a.Identifier); err != nil {
		t.Fatal(err)
	}
	if _, err := r.read(a.Identifier); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("read after remove = %v, want fs.ErrNotExist", err)
	}
	if !identifierRE.MatchString(newIdentifier()) {
		t.Error("newIdentifier does not match identifierRE")
	}
}

// TestFollow: every line appended to the output file is logged, long lines in pieces.
func TestFollow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.log")
	w, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	r, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var logged testutil.Buffer
	log := slog.New(slog.NewTextHandler(&logged, nil))
	e := &entry{log: path, done: make(chan struct{}), stop: make(chan struct{})}
	stopped := make(chan struct{})
	go func() { e.follow(r, log); close(stopped) }()

	w.WriteString("first\nsec")
	w.WriteString("ond\n" + strings.Repeat("x", outputLine+10) + "\n")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	err = poll(ctx, func() (bool, error) {
		return strings.Count(logged.String(), "entry output") == 4, nil
	})
	close(e.stop)
	<-stopped
	out := logged.String()
	if err != nil || !strings.Contains(out, "line=first") || !strings.Contains(out, "line=second") {
		t.Errorf("logged (%v):\n%s", err, out)
	}
	if got := tailFile(path, 5); got != "xxxxx" && got != "xxxx" {
		t.Errorf("tailFile = %q", got)
	}
}
