//go:build !unix

package image

import "os"

// processAlive reports whether a process with this PID exists. Outside Unix,
// os.FindProcess fails for a PID that does not exist (Windows opens a handle).
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	_ = p.Release()
	return true
}
