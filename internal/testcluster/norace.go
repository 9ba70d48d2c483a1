//go:build !race

package testcluster

// raceSlowdown stretches the raft timeouts under the race detector (see race.go).
const raceSlowdown = 1
