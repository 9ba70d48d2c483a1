package native

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/aquarium-fish/aquarium-fish/internal/model"
)

// Identifiers (= user names) are userPrefix and nameLen random lowercase letters.
const (
	userPrefix = "fish-"
	nameLen    = 6
	recordExt  = ".json"
)

// identifierRE is the only shape of user this driver ever touches.
var identifierRE = regexp.MustCompile(`^fish-[a-z]{6}$`)

// errNotOurs is returned when an identifier does not name a user this driver created.
var errNotOurs = errors.New("not a user of this native driver")

// record is the marker the driver keeps in its workspace for every user it creates. It is
// written before the user exists and removed only after everything of the user is gone, so a
// crash at any point leaves a record that Inventory lists and Destroy finishes.
type record struct {
	Identifier     string    `json:"identifier"`
	NodeUID        model.UID `json:"node_uid"`
	ApplicationUID model.UID `json:"application_uid"`
	ResourceUID    model.UID `json:"resource_uid"`
	CreatedAt      time.Time `json:"created_at"`
	// UID is the account's uid once created (0 = not yet known).
	UID uint32 `json:"uid,omitempty"`
	// Layout is where the user's things are (or will be).
	Layout layout `json:"layout"`
}

// records is the set of record files in one workspace directory.
type records struct{ dir string }

func (r records) path(id string) string { return filepath.Join(r.dir, id+recordExt) }

// create writes rec exclusively: it fails with fs.ErrExist when the identifier is taken.
func (r records) create(rec record) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode record: %w", err)
	}
	f, err := os.OpenFile(r.path(rec.Identifier), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("write record: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync record: %w", err)
	}
	return f.Close()
}

// update rewrites an existing record atomically.
func (r records) update(rec record) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode record: %w", err)
	}
	tmp, err := os.CreateTemp(r.dir, ".tmp-"+rec.Identifier+"-")
	if err != nil {
		return fmt.Errorf("write record: %w", err)
	}
	_, werr := tmp.Write(b)
	serr := tmp.Sync()
	cerr := tmp.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write record: %w", err)
	}
	if err := os.Rename(tmp.Name(), r.path(rec.Identifier)); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write record: %w", err)
	}
	return nil
}

// read returns the record of id; the error wraps fs.ErrNotExist when there is none.
func (r records) read(id string) (record, error) {
	b, err := os.ReadFile(r.path(id))
	if err != nil {
		return record{}, err
	}
	var rec record
	if err := json.Unmarshal(b, &rec); err != nil {
		return record{}, fmt.Errorf("decode record %s: %w", id, err)
	}
	if rec.Identifier != id {
		return record{}, fmt.Errorf("record %s names %q", id, rec.Identifier)
	}
	return rec, nil
}

func (r records) remove(id string) error {
	if err := os.Remove(r.path(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove record: %w", err)
	}
	return nil
}

// list returns the identifiers of the records of node, sorted. Unreadable records are
// returned too when their file name is an identifier: better to clean up too much of our own
// than to leak a user.
func (r records) list(node model.UID) ([]string, error) {
	entries, err := os.ReadDir(r.dir)
	if err != nil {
		return nil, fmt.Errorf("list workspace: %w", err)
	}
	ids := []string{}
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), recordExt)
		if !ok || !identifierRE.MatchString(id) || !e.Type().IsRegular() {
			continue
		}
		rec, err := r.read(id)
		if err == nil && rec.NodeUID != node {
			continue
		}
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids, nil
}

// newIdentifier returns a random user name.
func newIdentifier() string {
	const letters = "abcdefghijklmnopqrstuvwxyz"
	b := make([]byte, nameLen)
	rand.Read(b) // never fails (crypto/rand panics instead)
	for i := range b {
		b[i] = letters[int(b[i])%len(letters)]
	}
	return userPrefix + string(b)
}
