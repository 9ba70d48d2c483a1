//go:build unix

package image

import (
	"errors"
	"syscall"
)

// processAlive reports whether a process with this PID exists. A process owned
// by another user (EPERM) is alive too.
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
