package absent

import (
	"context"
	"strings"
	"testing"

	"github.com/aquarium-fish/aquarium-fish/internal/driver"
)

// TestKnownButNotPrepared: vmx and aws are known names whose preparation fails with a reason.
func TestKnownButNotPrepared(t *testing.T) {
	for _, typ := range Types {
		if !driver.Known(typ) || !driver.Known(typ+"/second") {
			t.Errorf("%s is not a known driver type", typ)
		}
		d, err := driver.New(context.Background(), driver.Env{WorkDir: t.TempDir()}, typ, nil)
		if err == nil || d != nil || !strings.Contains(err.Error(), "not part of this build") {
			t.Errorf("New(%s) = %v, %v; want no driver and the reason", typ, d, err)
		}
	}
}
