package docker

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/docker/docker/client"

	"github.com/aquarium-fish/aquarium-fish/internal/image"
)

// ErrImageLayout is returned (wrapped) when an unpacked image holds no single docker tarball.
var ErrImageLayout = errors.New("no docker image tarball")

// imageRef is the engine reference of an image archive: <name>:<version>, lowercase name,
// "latest" for an archive without version.
func imageRef(img image.Image) (string, error) {
	tag := img.Version
	if tag == "" {
		tag = "latest"
	}
	ref := strings.ToLower(img.Name) + ":" + tag
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return "", fmt.Errorf("image %s-%s is not a valid docker reference %q: %w", img.Name, img.Version, ref, err)
	}
	if _, ok := named.(reference.NamedTagged); !ok {
		return "", fmt.Errorf("image %s-%s: %q has no tag", img.Name, img.Version, ref)
	}
	return ref, nil
}

// prepareImages makes every image of the list present in the engine, downloading the missing
// ones in parallel and loading them in order, and returns the reference of the last one.
func (d *Driver) prepareImages(ctx context.Context, imgs []image.Image) (string, error) {
	refs := make([]string, len(imgs))
	missing := make([]bool, len(imgs))
	for i, img := range imgs {
		ref, err := imageRef(img)
		if err != nil {
			return "", err
		}
		present, err := d.hasImage(ctx, ref)
		if err != nil {
			return "", err
		}
		refs[i], missing[i] = ref, !present
	}
	dirs := make([]string, len(imgs))
	errs := make([]error, len(imgs))
	var wg sync.WaitGroup
	for i, img := range imgs {
		if !missing[i] {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			dirs[i], errs[i] = d.cache.Get(ctx, img)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	for i, img := range imgs {
		if dirs[i] == "" {
			continue
		}
		if err := d.loadImage(ctx, img, refs[i], dirs[i]); err != nil {
			return "", err
		}
	}
	return refs[len(refs)-1], nil
}

// hasImage reports whether the engine has the image ref.
func (d *Driver) hasImage(ctx context.Context, ref string) (bool, error) {
	_, err := d.cli.ImageInspect(ctx, ref)
	switch {
	case err == nil:
		return true, nil
	case cerrdefs.IsNotFound(err):
		return false, nil
	default:
		return false, fmt.Errorf("docker: inspect image %s: %w", ref, err)
	}
}

// loadImage loads the docker tarball of the unpacked image dir into the engine and tags it ref,
// unless the engine got ref meanwhile. Loads of one reference never overlap.
func (d *Driver) loadImage(ctx context.Context, img image.Image, ref, dir string) error {
	unlock, err := d.loading.lock(ctx, ref)
	if err != nil {
		return fmt.Errorf("image %s: %w", ref, err)
	}
	defer unlock()
	if present, err := d.hasImage(ctx, ref); err != nil || present {
		return err
	}
	tarball, err := findTarball(dir, img.Name)
	if err != nil {
		return err
	}
	f, err := os.Open(tarball)
	if err != nil {
		return fmt.Errorf("image %s: %w", ref, err)
	}
	defer f.Close()
	resp, err := d.cli.ImageLoad(ctx, f, client.ImageLoadWithQuiet(true))
	if err != nil {
		return fmt.Errorf("image %s: docker load %s: %w", ref, tarball, err)
	}
	defer resp.Body.Close()
	loaded, err := parseLoadOutput(resp.Body)
	if err != nil {
		return fmt.Errorf("image %s: docker load %s: %w", ref, tarball, err)
	}
	if len(loaded) == 0 {
		return fmt.Errorf("image %s: docker load %s: the engine reported no image", ref, tarball)
	}
	src := loaded[0]
	for _, l := range loaded {
		if l == ref {
			src = l
		}
	}
	if src != ref {
		if err := d.cli.ImageTag(ctx, src, ref); err != nil {
			return fmt.Errorf("image %s: tag %s: %w", ref, src, err)
		}
	}
	d.loads.Add(1)
	d.log.Info("image loaded into the engine", "image", ref, "from", tarball)
	return nil
}

// findTarball locates the docker save tarball of image name in dir (layout in the package doc).
func findTarball(dir, name string) (string, error) {
	for _, p := range []string{filepath.Join(dir, name, name+".tar"), filepath.Join(dir, name+".tar")} {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, nil
		}
	}
	var found []string
	for _, pattern := range []string{"*.tar", "*/*.tar"} {
		m, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			return "", fmt.Errorf("image %s: %w", name, err)
		}
		for _, p := range m {
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
				found = append(found, p)
			}
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return "", fmt.Errorf("image %s: %w in %s (expected %s/%s.tar)", name, ErrImageLayout, dir, name, name)
	default:
		return "", fmt.Errorf("image %s: %w: %d tarballs in %s, expected only %s/%s.tar",
			name, ErrImageLayout, len(found), dir, name, name)
	}
}

// loadMessage is one message of the engine's image load stream.
type loadMessage struct {
	Stream      string `json:"stream"`
	Error       string `json:"error"`
	ErrorDetail *struct {
		Message string `json:"message"`
	} `json:"errorDetail"`
}

// parseLoadOutput reads the image load stream (JSON messages, or plain text from old engines) and
// returns what was loaded: references ("Loaded image: x:y") or IDs ("Loaded image ID: sha256:…").
func parseLoadOutput(r io.Reader) ([]string, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var lines []string
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		var m loadMessage
		if err := dec.Decode(&m); err == io.EOF {
			break
		} else if err != nil {
			lines = strings.Split(string(data), "\n") // not JSON: plain text
			break
		}
		if m.Error != "" || m.ErrorDetail != nil {
			msg := m.Error
			if msg == "" {
				msg = m.ErrorDetail.Message
			}
			return nil, errors.New(msg)
		}
		lines = append(lines, strings.Split(m.Stream, "\n")...)
	}
	var loaded []string
	sc := bufio.NewScanner(strings.NewReader(strings.Join(lines, "\n")))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if v, ok := strings.CutPrefix(line, "Loaded image ID: "); ok {
			loaded = append(loaded, v)
		} else if v, ok := strings.CutPrefix(line, "Loaded image: "); ok {
			loaded = append(loaded, v)
		}
	}
	return loaded, nil
}

// keyedMutex serialises work per key; waiting honours the context.
type keyedMutex struct {
	mu sync.Mutex
	m  map[string]chan struct{}
}

func (k *keyedMutex) lock(ctx context.Context, key string) (unlock func(), err error) {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]chan struct{}{}
	}
	ch := k.m[key]
	if ch == nil {
		ch = make(chan struct{}, 1)
		k.m[key] = ch
	}
	k.mu.Unlock()
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
