//go:build race

package testcluster

// raceSlowdown stretches the raft timeouts: the race detector slows the nodes down several
// times, and tight timeouts would turn that into elections.
const raceSlowdown = 3
