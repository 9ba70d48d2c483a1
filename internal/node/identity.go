package node

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/aquarium-fish/aquarium-fish/internal/model"
)

// identityFile, in the node's database directory, names the node the data belongs to.
const identityFile = "node.uid"

// pubkeyChangedError is the start-up failure of a node whose key is not the one its data or
// its cluster knows it by (behaviour.md §7): the node UID comes from the key.
type pubkeyChangedError struct{ detail string }

func (e pubkeyChangedError) Error() string {
	msg := "Fish Node: The pubkey was changed for Node, that's not supported"
	if e.detail != "" {
		msg += " (" + e.detail + ")"
	}
	return msg
}

// checkIdentity makes sure the database directory dir belongs to the node uid: it records uid
// in a directory without one, and fails with a pubkeyChangedError when another UID is recorded.
// Without it a node whose key was replaced would look like a stranger to its own raft log and
// wait forever to be let in.
func checkIdentity(dir string, uid model.UID) error {
	path := filepath.Join(dir, identityFile)
	want := []byte(uid.String() + "\n")
	got, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) || err == nil && len(bytes.TrimSpace(got)) == 0:
		// Written aside and renamed, so that a crash never leaves a partial identity.
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return fmt.Errorf("create the database directory: %w", err)
		}
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, want, 0o640); err != nil {
			return fmt.Errorf("record the node identity: %w", err)
		}
		if err := os.Rename(tmp, path); err != nil {
			return fmt.Errorf("record the node identity: %w", err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("read the node identity: %w", err)
	case !bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace(want)):
		return pubkeyChangedError{fmt.Sprintf("the data in %s belongs to node %s, the key in use makes node %s",
			dir, bytes.TrimSpace(got), uid)}
	}
	return nil
}
