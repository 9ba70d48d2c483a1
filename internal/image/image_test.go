package image

import (
	"errors"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	const sha = "sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	tests := []struct {
		name        string
		img         Image
		wantErr     string // exact text, "" = valid
		wantName    string
		wantVersion string
	}{
		{name: "no url", img: Image{}, wantErr: "Image: Url is not provided"},
		{name: "ftp", img: Image{URL: "ftp://h/x.tar.xz"}, wantErr: `Image: Url schema is not supported: "ftp://h/x.tar.xz"`},
		{name: "no scheme", img: Image{URL: "h/x.tar.xz"}, wantErr: `Image: Url schema is not supported: "h/x.tar.xz"`},
		{
			name:     "defaults from file name",
			img:      Image{URL: "https://h/a/test-image-ci-20230210.190425_ff1cd1cf.tar.xz"},
			wantName: "test-image-ci", wantVersion: "20230210.190425_ff1cd1cf",
		},
		{
			name:     "query ignored",
			img:      Image{URL: "https://h/a/img-1.2.tar.xz?token=abc-def"},
			wantName: "img", wantVersion: "1.2",
		},
		{name: "no dash", img: Image{URL: "http://h/plain.tar.xz"}, wantName: "plain", wantVersion: ""},
		{name: "no dash other extension", img: Image{URL: "http://h/plain.tgz"}, wantName: "plain", wantVersion: ""},
		{name: "no extension", img: Image{URL: "http://h/plain"}, wantName: "plain", wantVersion: ""},
		{
			name:     "explicit name and version kept",
			img:      Image{URL: "http://h/a-1.tar.xz", Name: "mine", Version: "v2"},
			wantName: "mine", wantVersion: "v2",
		},
		{
			name:     "explicit name, derived version",
			img:      Image{URL: "http://h/a-1.tar.xz", Name: "mine"},
			wantName: "mine", wantVersion: "1",
		},
		{name: "no file name", img: Image{URL: "http://h/"}, wantErr: `Image: Name is not valid: ""`},
		{name: "name with slash", img: Image{URL: "http://h/a-1.tar.xz", Name: "../x"}, wantErr: `Image: Name is not valid: "../x"`},
		{name: "hidden name", img: Image{URL: "http://h/a-1.tar.xz", Name: ".tmp"}, wantErr: `Image: Name is not valid: ".tmp"`},
		{name: "version with slash", img: Image{URL: "http://h/a-1.tar.xz", Version: "1/2"}, wantErr: `Image: Version is not valid: "1/2"`},
		{name: "sha256", img: Image{URL: "http://h/a-1.tar.xz", Sum: sha}, wantName: "a", wantVersion: "1"},
		{name: "missing algorithm", img: Image{URL: "http://h/a-1.tar.xz", Sum: sha[7:]}, wantErr: "Image: Checksum format is not valid"},
		{name: "upper-case digest", img: Image{URL: "http://h/a-1.tar.xz", Sum: "md5:" + strings.Repeat("AB", 16)}, wantName: "a", wantVersion: "1"},
		{name: "sha1", img: Image{URL: "http://h/a-1.tar.xz", Sum: "sha1:" + strings.Repeat("a", 40)}, wantName: "a", wantVersion: "1"},
		{name: "sha512", img: Image{URL: "http://h/a-1.tar.xz", Sum: "sha512:" + strings.Repeat("a", 128)}, wantName: "a", wantVersion: "1"},
		{name: "unknown algo", img: Image{URL: "http://h/a-1.tar.xz", Sum: "crc32:abcd"}, wantErr: `Image: Checksum algorithm is not supported: "crc32"`},
		{name: "short digest", img: Image{URL: "http://h/a-1.tar.xz", Sum: "sha256:abcd"}, wantErr: "Image: Checksum is not a valid sha256 hex digest"},
		{name: "not hex", img: Image{URL: "http://h/a-1.tar.xz", Sum: "md5:" + strings.Repeat("zz", 16)}, wantErr: "Image: Checksum is not a valid md5 hex digest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := tt.img
			err := img.Validate()
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("Validate() = %v, want %q", err, tt.wantErr)
				}
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("errors.Is(%v, ErrInvalid) = false", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Validate() = %v", err)
			}
			if img.Name != tt.wantName || img.Version != tt.wantVersion {
				t.Fatalf("name, version = %q, %q; want %q, %q", img.Name, img.Version, tt.wantName, tt.wantVersion)
			}
		})
	}
}

func TestRedactURL(t *testing.T) {
	got := redactString("https://user:secret@h:8080/p/img-1.tar.xz?sig=token#frag")
	if want := "https://h:8080/p/img-1.tar.xz"; got != want {
		t.Fatalf("redactString() = %q, want %q", got, want)
	}
}
