package testcluster

import "testing"

// slots bounds the clusters of this package's tests that run at once: the machine has two
// cores, and an overloaded machine turns tight raft timeouts into spurious elections.
var slots = make(chan struct{}, 2)

// newCluster starts a cluster of n nodes once a slot is free.
func newCluster(t *testing.T, n int, opts Options) *Cluster {
	t.Helper()
	slots <- struct{}{}
	t.Cleanup(func() { <-slots })
	return NewWith(t, n, opts)
}
