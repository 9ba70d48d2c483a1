//go:build !linux && !darwin

package native

import (
	"fmt"
	"runtime"
)

func newSystem(systemParams) (system, error) {
	return nil, fmt.Errorf("the native driver does not support %s", runtime.GOOS)
}

func diskTypeSupported(string) bool { return false }
