package node

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/aquarium-fish/aquarium-fish/internal/model"
)

func TestCheckIdentity(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	a, b := model.UID{1}, model.UID{2}
	if err := checkIdentity(dir, a); err != nil {
		t.Fatalf("first start: %v", err)
	}
	if err := checkIdentity(dir, a); err != nil {
		t.Fatalf("same node again: %v", err)
	}
	var changed pubkeyChangedError
	if err := checkIdentity(dir, b); !errors.As(err, &changed) {
		t.Fatalf("another node: %v, want the pubkey error", err)
	}
	// An empty file (a crash before the rename could not leave one, an older one might) is
	// recorded again rather than taken for another node.
	if err := os.WriteFile(filepath.Join(dir, identityFile), nil, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := checkIdentity(dir, b); err != nil {
		t.Fatalf("empty identity: %v", err)
	}
	if err := checkIdentity(dir, a); !errors.As(err, &changed) {
		t.Fatalf("after recording b, a: %v, want the pubkey error", err)
	}
}
