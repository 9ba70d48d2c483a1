// Package testcluster runs a cluster of real nodes inside one test process: each node is started
// with node.StartWith in its own temporary data directory, serves HTTPS on a loopback port, and
// talks raft to the others over mutual TLS, exactly as separate processes would. The nodes run
// the test driver, tight deadlines (Timing) and a shared node.Faults, so a test can stop, kill,
// restart, partition and heal nodes in seconds.
//
// A test drives the cluster through its REST API (Client, with the admin's Basic auth), records
// what the clients were told (History) and finally checks the invariants of the cluster over
// the replicated state and the drivers' resources (Check): every application reaches ALLOCATED
// at most once and on one node, no resource is left for a final application, and no
// acknowledged creation is lost.
package testcluster
