// Package image fetches the image archives that image-based drivers (docker,
// native, vmx) run from, and keeps them unpacked in a per-driver cache
// directory.
//
// An image is a .tar.xz archive named by URL (see Image). Cache.Get streams it
// once: HTTP GET → checksum while reading → xz → tar, extracted into a private
// temporary directory that is renamed to <dir>/<name>-<version> only after the
// checksum matched. The final directory therefore only ever appears complete,
// and its existence is the "already downloaded" mark. Concurrent Gets of the
// same image in one process share one download; across processes a
// <name>-<version>.lock file holding the owner's PID serialises them.
package image

import (
	"encoding/hex"
	"fmt"
	"net/url"
	"path"
	"strings"
)

// Image is one entry of a label definition's options.images[].
type Image struct {
	URL     string `json:"url"`
	Sum     string `json:"sum"`
	Name    string `json:"name"`
	Version string `json:"version"`
	Tag     string `json:"tag"`
}

// ValidationError is returned by Image.Validate. Its text is the one clients
// know (for example `Image: Url is not provided`); errors.Is(err, ErrInvalid)
// reports true for it.
type ValidationError struct{ msg string }

func (e *ValidationError) Error() string { return e.msg }

// Is makes every ValidationError match ErrInvalid.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

func invalidf(format string, args ...any) error {
	return &ValidationError{msg: fmt.Sprintf(format, args...)}
}

// hexLen is the length of a hex digest for each supported algorithm.
var hexLen = map[string]int{"md5": 32, "sha1": 40, "sha256": 64, "sha512": 128}

// Validate checks the URL and the checksum format, and fills Name and Version
// from the URL's file name when they are empty:
// …/test-image-ci-20230210.190425_ff1cd1cf.tar.xz gives name "test-image-ci"
// and version "20230210.190425_ff1cd1cf"; a file name without '-' gives the
// name without its extension and an empty version.
//
// Name and version become a directory name in the cache, so they must not
// contain path separators, must not start with '.', and the name must not be
// empty.
func (i *Image) Validate() error {
	if i.URL == "" {
		return invalidf("Image: Url is not provided")
	}
	if !strings.HasPrefix(i.URL, "http://") && !strings.HasPrefix(i.URL, "https://") {
		return invalidf("Image: Url schema is not supported: %q", i.URL)
	}
	u, err := url.Parse(i.URL)
	if err != nil {
		return invalidf("Image: Url is not valid: %q", redactString(i.URL))
	}
	if i.Sum != "" {
		if _, _, err := parseSum(i.Sum); err != nil {
			return err
		}
	}
	if i.Name == "" || i.Version == "" {
		name, version := nameVersion(path.Base(u.Path))
		if i.Name == "" {
			i.Name = name
		}
		if i.Version == "" {
			i.Version = version
		}
	}
	if err := checkPart("Name", i.Name, false); err != nil {
		return err
	}
	return checkPart("Version", i.Version, true)
}

// nameVersion splits an archive file name: the extension (".tar.xz", any
// ".tar.<x>", or one plain extension) is dropped, then the rest is cut at the
// last '-'.
func nameVersion(file string) (name, version string) {
	if file == "/" || file == "." {
		return "", ""
	}
	base := file
	if ext := path.Ext(base); ext != "" {
		base = strings.TrimSuffix(strings.TrimSuffix(base, ext), ".tar")
	}
	if k := strings.LastIndexByte(base, '-'); k >= 0 {
		return base[:k], base[k+1:]
	}
	return base, ""
}

func checkPart(field, v string, mayBeEmpty bool) error {
	switch {
	case v == "" && mayBeEmpty:
		return nil
	case v == "",
		strings.HasPrefix(v, "."),
		strings.ContainsAny(v, "/\\\x00"):
		return invalidf("Image: %s is not valid: %q", field, v)
	}
	return nil
}

// parseSum splits "<algo>:<hex>" and checks the algorithm and the digest
// length. The digest is returned lower-cased.
func parseSum(sum string) (algo, digest string, err error) {
	algo, digest, ok := strings.Cut(sum, ":")
	if !ok {
		return "", "", invalidf("Image: Checksum format is not valid: %q (expected <algo>:<hex>)", sum)
	}
	n, known := hexLen[algo]
	if !known {
		return "", "", invalidf("Image: Checksum algorithm is not supported: %q (md5, sha1, sha256, sha512)", algo)
	}
	digest = strings.ToLower(digest)
	if _, err := hex.DecodeString(digest); err != nil || len(digest) != n {
		return "", "", invalidf("Image: Checksum is not a valid %s hex digest: %q", algo, digest)
	}
	return algo, digest, nil
}

// key is the cache directory name of a validated image.
func (i *Image) key() string { return i.Name + "-" + i.Version }

// redactURL returns the URL without user info, query or fragment, fit for
// logs and error messages (signed URLs carry tokens in the query).
func redactURL(u *url.URL) string {
	c := *u
	c.User = nil
	c.RawQuery = ""
	c.ForceQuery = false
	c.Fragment = ""
	c.RawFragment = ""
	return c.String()
}

func redactString(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparsable url>"
	}
	return redactURL(u)
}
