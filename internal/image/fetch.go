package image

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// checksums maps a Sum algorithm to its hash and to the suffix of the
// X-Checksum-<Algo> response header (the Artifactory convention).
var checksums = map[string]struct {
	new    func() hash.Hash
	header string
}{
	"md5":    {md5.New, "Md5"},
	"sha1":   {sha1.New, "Sha1"},
	"sha256": {sha256.New, "Sha256"},
	"sha512": {sha512.New, "Sha512"},
}

// fetch makes img present in the cache, under the cross-process lock. It runs
// in the flight goroutine.
func (c *Cache) fetch(ctx context.Context, img Image) (string, error) {
	key := img.key()
	final := c.path(img)
	log := c.log.With("image", key)
	release, err := c.acquireLock(ctx, key, log)
	if err != nil {
		return "", err
	}
	defer release()
	if isDir(final) { // another process unpacked it while we waited
		return final, nil
	}
	c.cleanStaleTemps(key, log)

	tmp, err := c.makeTemp(key)
	if err != nil {
		return "", fmt.Errorf("image %s: %w", key, err)
	}
	keep := false
	defer func() {
		if keep {
			return
		}
		if err := removeTree(tmp); err != nil {
			log.Error("unable to remove temporary image directory", "dir", tmp, "err", err)
		}
	}()

	if err := c.download(ctx, img, tmp, log); err != nil {
		return "", err
	}
	if c.RequireNamedSubdir {
		if err := checkNamedSubdir(tmp, img.Name); err != nil {
			return "", fmt.Errorf("image %s: %w", key, err)
		}
	}
	if err := os.Rename(tmp, final); err != nil {
		if isDir(final) { // lost a race on a broken lock: theirs is as good
			return final, nil
		}
		return "", fmt.Errorf("image %s: %w", key, err)
	}
	keep = true
	log.Info("image ready", "path", final)
	return final, nil
}

// makeTemp creates <dir>/.tmp-<key>-<pid>-<random>; the PID lets a later
// owner of the lock recognise directories left by a dead process.
func (c *Cache) makeTemp(key string) (string, error) {
	prefix := filepath.Join(c.dir, tmpPrefix(key)+strconv.Itoa(os.Getpid())+"-")
	for range 100 {
		p := prefix + strconv.FormatUint(uint64(rand.Uint32()), 10)
		err := os.Mkdir(p, 0o755)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return "", err
		}
	}
	return "", fmt.Errorf("unable to create a temporary directory in %s", c.dir)
}

// download streams img into the empty directory tmp and verifies its sum.
func (c *Cache) download(ctx context.Context, img Image, tmp string, log *slog.Logger) error {
	key := img.key()
	u, err := url.Parse(img.URL)
	if err != nil { // Validate parsed it already
		return fmt.Errorf("image %s: %w", key, err)
	}
	shown := redactURL(u)
	downloadErr := func(detail error) error {
		return fmt.Errorf("image %s: %w: %s: %w", key, ErrDownload, shown, detail)
	}

	// Without a sum the sha256 is still computed, to be logged for pinning.
	algo, want := "sha256", ""
	if img.Sum != "" {
		if algo, want, err = parseSum(img.Sum); err != nil {
			return err
		}
		if algo == "md5" || algo == "sha1" {
			log.Warn("image checksum algorithm is insecure, prefer sha256 or sha512", "algo", algo)
		}
	}
	h := checksums[algo].new()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, img.URL, nil)
	if err != nil {
		return downloadErr(err)
	}
	if c.auth.User != "" || c.auth.Password != "" {
		req.SetBasicAuth(c.auth.User, c.auth.Password)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err // its text repeats the full URL
		}
		return downloadErr(err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return downloadErr(errors.New(resp.Status))
	}
	if want != "" {
		header := "X-Checksum-" + checksums[algo].header
		if got := strings.ToLower(strings.TrimSpace(resp.Header.Get(header))); got != "" && got != want {
			return fmt.Errorf("image %s: %w: expected %s:%s, server %s says %s:%s",
				key, ErrChecksum, algo, want, header, algo, got)
		}
	}

	log.Info("downloading image", "url", shown, "size", resp.ContentLength)
	body := newProgress(resp.Body, resp.ContentLength, c.ProgressEvery, log)
	r := io.TeeReader(body, h)
	uerr := unpack(r, tmp, log)
	if body.err != nil { // the network failed, not the archive
		return downloadErr(body.err)
	}
	if uerr != nil && !(errors.Is(uerr, ErrArchive) && want != "") {
		return fmt.Errorf("image %s: %w", key, uerr)
	}
	// The sum covers the whole file, bytes after the archive's end included.
	// A corrupt archive is read to the end too: a checksum mismatch explains
	// it better.
	if _, err := io.Copy(io.Discard, r); err != nil {
		return downloadErr(err)
	}
	got := hex.EncodeToString(h.Sum(nil))
	if want != "" && got != want {
		return fmt.Errorf("image %s: %w: expected %s:%s, got %s:%s", key, ErrChecksum, algo, want, algo, got)
	}
	if uerr != nil {
		return fmt.Errorf("image %s: %w", key, uerr)
	}
	body.finish(algo + ":" + got)
	return nil
}

// checkNamedSubdir checks the layout images are expected to have: a
// sub-directory whose name starts with the image name.
func checkNamedSubdir(dir, name string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), name) {
			return nil
		}
	}
	return fmt.Errorf("%w: no sub-directory named %s* in the archive", ErrLayout, name)
}
