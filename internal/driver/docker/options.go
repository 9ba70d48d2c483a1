package docker

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"regexp"
	"sort"

	"github.com/aquarium-fish/aquarium-fish/internal/image"
	"github.com/aquarium-fish/aquarium-fish/internal/model"
)

// Options are the label definition options of the docker driver.
type Options struct {
	// Images are the image archives; the last one is run, earlier ones are its parents.
	Images []image.Image `json:"images"`
}

// ErrInvalidDefinition is returned (wrapped) for a label definition the driver cannot run.
var ErrInvalidDefinition = errors.New("invalid docker label definition")

// The accepted resources.network values.
const (
	networkHostOnly = "hostonly"
	networkNAT      = "nat"
)

// diskNameRe is what a disk name may be: it becomes part of a volume name.
var diskNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// disk is one validated resources.disks entry.
type disk struct {
	name   string
	target string // mount point in the container
	reuse  bool
}

// plan is a validated definition: what Allocate creates.
type plan struct {
	images   []image.Image // validated: Name and Version filled in
	internal bool
	disks    []disk // sorted by name
	res      model.Resources
}

// parseOptions decodes options; unknown keys are ignored, a value that is not an object is not.
func parseOptions(raw json.RawMessage) (Options, error) {
	var opts Options
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return opts, nil
	}
	if err := json.Unmarshal(trimmed, &opts); err != nil {
		return Options{}, fmt.Errorf("%w: options: %w", ErrInvalidDefinition, err)
	}
	return opts, nil
}

// newPlan validates def: options, images, network, cpu/ram and disks.
func newPlan(def model.LabelDefinition) (plan, error) {
	opts, err := parseOptions(def.Options)
	if err != nil {
		return plan{}, err
	}
	if len(opts.Images) == 0 {
		return plan{}, fmt.Errorf("%w: options.images is empty", ErrInvalidDefinition)
	}
	p := plan{res: def.Resources}
	for i := range opts.Images {
		img := opts.Images[i]
		if err := img.Validate(); err != nil {
			return plan{}, fmt.Errorf("%w: images[%d]: %w", ErrInvalidDefinition, i, err)
		}
		if _, err := imageRef(img); err != nil {
			return plan{}, fmt.Errorf("%w: images[%d]: %w", ErrInvalidDefinition, i, err)
		}
		p.images = append(p.images, img)
	}
	switch def.Resources.Network {
	case "", networkHostOnly:
		p.internal = true
	case networkNAT:
	default:
		return plan{}, fmt.Errorf("%w: resources.network %q (expected \"\", %q or %q)",
			ErrInvalidDefinition, def.Resources.Network, networkHostOnly, networkNAT)
	}
	if def.Resources.CPU == 0 || def.Resources.RAM == 0 {
		return plan{}, fmt.Errorf("%w: resources.cpu and resources.ram must be at least 1", ErrInvalidDefinition)
	}
	names := make([]string, 0, len(def.Resources.Disks))
	for name := range def.Resources.Disks {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		d, err := newDisk(name, def.Resources.Disks[name])
		if err != nil {
			return plan{}, err
		}
		p.disks = append(p.disks, d)
	}
	return p, nil
}

func newDisk(name string, spec model.ResourcesDisk) (disk, error) {
	if !diskNameRe.MatchString(name) {
		return disk{}, fmt.Errorf("%w: disk name %q (allowed: letters, digits, _ . -)", ErrInvalidDefinition, name)
	}
	if spec.Type != "" && spec.Type != "dir" {
		return disk{}, fmt.Errorf("%w: disk %q: type %q is not supported (only \"dir\": a docker volume)",
			ErrInvalidDefinition, name, spec.Type)
	}
	if spec.Clone != "" {
		return disk{}, fmt.Errorf("%w: disk %q: clone is not supported by the docker driver", ErrInvalidDefinition, name)
	}
	target := spec.Label
	switch {
	case target == "":
		target = "/mnt/" + name
	case !path.IsAbs(target):
		target = path.Join("/mnt", target)
	default:
		target = path.Clean(target)
	}
	if target == "/" {
		return disk{}, fmt.Errorf("%w: disk %q cannot be mounted on /", ErrInvalidDefinition, name)
	}
	return disk{name: name, target: target, reuse: spec.Reuse}, nil
}
