package docker

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/aquarium-fish/aquarium-fish/internal/image"
	"github.com/aquarium-fish/aquarium-fish/internal/model"
)

func TestNewPlan(t *testing.T) {
	const img = `{"images":[{"url":"https://h/test-image-ci-20230210.190425_ff1cd1cf.tar.xz"}]}`
	res := model.Resources{CPU: 2, RAM: 4}
	for _, c := range []struct {
		name     string
		opts     string
		res      func(*model.Resources)
		wantErr  string
		internal bool
		disks    []disk
	}{
		{name: "minimal", opts: img, internal: true},
		{name: "hostonly", opts: img, res: func(r *model.Resources) { r.Network = "hostonly" }, internal: true},
		{name: "nat", opts: img, res: func(r *model.Resources) { r.Network = "nat" }},
		{name: "unknown keys ignored", opts: `{"images":[{"url":"http://h/a-1.tar.xz"}],"other":1}`, internal: true},
		{name: "disks", opts: img, internal: true, res: func(r *model.Resources) {
			r.Disks = map[string]model.ResourcesDisk{"b": {Type: "dir", Label: "/data", Reuse: true}, "a": {Label: "x/y"}, "c": {}}
		}, disks: []disk{{"a", "/mnt/x/y", false}, {"b", "/data", true}, {"c", "/mnt/c", false}}},
		{name: "no images", opts: `{}`, wantErr: "options.images is empty"},
		{name: "null options", opts: `null`, wantErr: "options.images is empty"},
		{name: "options not an object", opts: `[1]`, wantErr: "options"},
		{name: "bad image", opts: `{"images":[{"url":"ftp://h/a.tar.xz"}]}`, wantErr: "Url schema is not supported"},
		{name: "bad sum", opts: `{"images":[{"url":"http://h/a-1.tar.xz","sum":"crc:1"}]}`, wantErr: "Checksum algorithm"},
		{name: "name not a docker reference", opts: `{"images":[{"url":"http://h/a-1.tar.xz","name":"a b"}]}`, wantErr: "not a valid docker reference"},
		{name: "version not a tag", opts: `{"images":[{"url":"http://h/a-1+2.tar.xz"}]}`, wantErr: "not a valid docker reference"},
		{name: "bad network", opts: img, res: func(r *model.Resources) { r.Network = "vpc-1" }, wantErr: `resources.network "vpc-1"`},
		{name: "no cpu", opts: img, res: func(r *model.Resources) { r.CPU = 0 }, wantErr: "at least 1"},
		{name: "disk type", opts: img, res: func(r *model.Resources) {
			r.Disks = map[string]model.ResourcesDisk{"d": {Type: "hfs+"}}
		}, wantErr: `type "hfs+" is not supported`},
		{name: "disk clone", opts: img, res: func(r *model.Resources) {
			r.Disks = map[string]model.ResourcesDisk{"d": {Clone: "snap-1"}}
		}, wantErr: "clone is not supported"},
		{name: "disk name", opts: img, res: func(r *model.Resources) {
			r.Disks = map[string]model.ResourcesDisk{"/dev/sdb": {}}
		}, wantErr: `disk name "/dev/sdb"`},
		{name: "disk on root", opts: img, res: func(r *model.Resources) {
			r.Disks = map[string]model.ResourcesDisk{"d": {Label: "/"}}
		}, wantErr: "cannot be mounted on /"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := res
			if c.res != nil {
				c.res(&r)
			}
			p, err := newPlan(model.LabelDefinition{Driver: "docker", Options: json.RawMessage(c.opts), Resources: r})
			if c.wantErr != "" {
				if !errors.Is(err, ErrInvalidDefinition) || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("newPlan = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("newPlan: %v", err)
			}
			if p.internal != c.internal || !slices.Equal(p.disks, c.disks) || len(p.images) != 1 {
				t.Errorf("plan = %+v, want internal %v disks %v", p, c.internal, c.disks)
			}
		})
	}
}

func TestImageRef(t *testing.T) {
	for _, c := range []struct {
		img  image.Image
		want string
	}{
		{image.Image{Name: "test-image-ci", Version: "20230210.190425_ff1cd1cf"}, "test-image-ci:20230210.190425_ff1cd1cf"},
		{image.Image{Name: "Ubuntu", Version: "22.04"}, "ubuntu:22.04"},
		{image.Image{Name: "base"}, "base:latest"},
	} {
		if got, err := imageRef(c.img); err != nil || got != c.want {
			t.Errorf("imageRef(%+v) = %q, %v; want %q", c.img, got, err, c.want)
		}
	}
}

func TestIdentifier(t *testing.T) {
	app := uuid.MustParse("6fe5131f-5b32-4a6f-9de4-2b4157f98c93")
	// The MAC: the UID's tail, unicast (bit 0 of the first byte off) and locally administered
	// (bit 1 on); the name is the MAC without colons (drivers.md §3.3).
	if got, want := macOf(app).String(), "2a:41:57:f9:8c:93"; got != want {
		t.Errorf("macOf = %q, want %q", got, want)
	}
	if got, want := identifier(app), "fish-2a4157f98c93"; got != want {
		t.Errorf("identifier = %q, want %q", got, want)
	}
	if got, want := bridgeName("fish-2b4157f98c93"), "fb-2b4157f98c93"; got != want || len(got) > 15 {
		t.Errorf("bridgeName = %q, want %q (at most 15 characters)", got, want)
	}
}

func TestParseConfig(t *testing.T) {
	work := t.TempDir()
	for _, c := range []struct {
		raw, images, wantErr string
	}{
		{raw: ``, images: filepath.Join(work, DefaultImagesPath)},
		{raw: `null`, images: filepath.Join(work, DefaultImagesPath)},
		{raw: `{"images_path":"imgs","docker_path":"docker","workspace_path":"ws","download_user":"u","download_password":"p"}`,
			images: filepath.Join(work, "imgs")},
		{raw: `{"images_path":"/var/cache/fish"}`, images: "/var/cache/fish"},
		{raw: `{"cpu_limit":1}`, wantErr: `unknown field "cpu_limit"`},
		{raw: `{"cpu_alter":"x"}`, wantErr: "docker config"},
		{raw: `{} {}`, wantErr: "trailing data"},
	} {
		cfg, err := parseConfig(json.RawMessage(c.raw), work)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("parseConfig(%s) = %v, want %q", c.raw, err, c.wantErr)
			}
			continue
		}
		if err != nil || cfg.ImagesPath != c.images {
			t.Errorf("parseConfig(%s) = %+v, %v; want images_path %s", c.raw, cfg, err, c.images)
		}
	}
}

func TestFindTarball(t *testing.T) {
	for _, c := range []struct {
		name    string
		files   []string
		want    string
		wantErr string
	}{
		{"documented layout", []string{"img/img.tar", "img/other.tar", "README"}, "img/img.tar", ""},
		{"top level", []string{"img.tar", "x/y.tar"}, "img.tar", ""},
		{"any single tarball", []string{"img-1/saved.tar", "img-1/notes.txt"}, "img-1/saved.tar", ""},
		{"none", []string{"img/img.vmx"}, "", "no docker image tarball"},
		{"ambiguous", []string{"a.tar", "b/b.tar"}, "", "2 tarballs"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range c.files {
				p := filepath.Join(dir, f)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := findTarball(dir, "img")
			if c.wantErr != "" {
				if !errors.Is(err, ErrImageLayout) || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("findTarball = %q, %v; want %q", got, err, c.wantErr)
				}
				return
			}
			if err != nil || got != filepath.Join(dir, c.want) {
				t.Fatalf("findTarball = %q, %v; want %s", got, err, c.want)
			}
		})
	}
}

func TestParseLoadOutput(t *testing.T) {
	for _, c := range []struct {
		name, out string
		want      []string
		wantErr   string
	}{
		{"ref", `{"stream":"Loaded image: a:1\n"}`, []string{"a:1"}, ""},
		{"id", `{"stream":"Loaded image ID: sha256:abc\n"}` + "\n" + `{"stream":"Loaded image: b:2\n"}`, []string{"sha256:abc", "b:2"}, ""},
		{"error", `{"errorDetail":{"message":"boom"},"error":"boom"}`, nil, "boom"},
		{"plain text", "Loaded image: c:3\n", []string{"c:3"}, ""},
		{"nothing", ``, nil, ""},
	} {
		got, err := parseLoadOutput(strings.NewReader(c.out))
		if c.wantErr != "" {
			if err == nil || err.Error() != c.wantErr {
				t.Errorf("%s: err = %v, want %q", c.name, err, c.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%s: = %q, %v; want %q", c.name, got, err, c.want)
		}
	}
}
