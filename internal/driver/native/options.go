package native

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"text/template"

	"github.com/aquarium-fish/aquarium-fish/internal/image"
	"github.com/aquarium-fish/aquarium-fish/internal/model"
)

// DefaultEntry is the command run when the options do not name one.
const DefaultEntry = "./init.sh"

// Options are the label definition options of the native driver (drivers.md §4.2). Unknown
// keys are an error that names the key.
type Options struct {
	// Images are unpacked in order, each into the disk named by its tag or the home when the
	// tag is empty.
	Images []image.Image `json:"images"`
	// Entry is the shell command run as the user from its home, a text/template where
	// {{ .Disks.<name> }} is the path of a disk, {{ .Home }} the home and {{ .User }} the
	// user name. Default DefaultEntry.
	Entry string `json:"entry"`
	// Groups are existing groups for the user, the first being its primary group. Default: a
	// group of its own.
	Groups []string `json:"groups"`
}

// errOptions marks label definition errors.
var errOptions = errors.New("invalid options")

// diskName is what a disk name may be: it becomes part of a path.
var diskName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$`)

// groupName is what a group option may be (names, or numeric ids).
var groupName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$`)

// parseOptions decodes and validates the options of def. The images come back validated,
// with name and version filled in.
func parseOptions(def model.LabelDefinition) (Options, error) {
	var o Options
	raw := bytes.TrimSpace(def.Options)
	if len(raw) > 0 && !bytes.Equal(raw, []byte("null")) {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&o); err != nil {
			return Options{}, fmt.Errorf("%w: %w", errOptions, err)
		}
	}
	if strings.TrimSpace(o.Entry) == "" {
		o.Entry = DefaultEntry
	}
	if _, err := parseTemplate("entry", o.Entry); err != nil {
		return Options{}, fmt.Errorf("%w: entry: %w", errOptions, err)
	}
	for _, g := range o.Groups {
		if !groupName.MatchString(g) {
			return Options{}, fmt.Errorf("%w: group %q is not a valid group name", errOptions, g)
		}
		if g == "root" || g == "0" || g == "wheel" || g == "admin" {
			return Options{}, fmt.Errorf("%w: group %q would give the user administrator rights", errOptions, g)
		}
	}
	for name, disk := range def.Resources.Disks {
		if !diskName.MatchString(name) {
			return Options{}, fmt.Errorf("%w: disk name %q: only letters, digits, '_', '.' and '-'", errOptions, name)
		}
		if disk.Reuse {
			return Options{}, fmt.Errorf("%w: disk %q: reuse is not supported by the native driver", errOptions, name)
		}
		if !diskTypeSupported(disk.Type) {
			return Options{}, fmt.Errorf("%w: disk %q: type %q is not supported on this OS", errOptions, name, disk.Type)
		}
	}
	for i := range o.Images {
		if err := o.Images[i].Validate(); err != nil {
			return Options{}, fmt.Errorf("%w: images[%d]: %w", errOptions, i, err)
		}
		if tag := o.Images[i].Tag; tag != "" {
			if _, ok := def.Resources.Disks[tag]; !ok {
				return Options{}, fmt.Errorf("%w: images[%d]: tag %q names no disk of the definition", errOptions, i, tag)
			}
		}
	}
	return o, nil
}

// templateData is what entry and metadata templates see.
type templateData struct {
	Disks map[string]string
	Home  string
	User  string
}

func parseTemplate(name, text string) (*template.Template, error) {
	return template.New(name).Option("missingkey=error").Parse(text)
}

// render executes text as a template with data.
func render(name, text string, data templateData) (string, error) {
	tpl, err := parseTemplate(name, text)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if err := tpl.Execute(&b, data); err != nil {
		return "", err
	}
	return b.String(), nil
}
