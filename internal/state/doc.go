// Package state keeps the replicated state in an embedded SQLite database (modernc.org/sqlite,
// pure Go). Only Apply writes, and only the FSM calls Apply; everything else reads. The package
// knows nothing about raft: a command goes in, rows change in one transaction, and the events
// that describe the change come out for the node's loops to react to.
//
// The database is a cache of the raft log: the store rebuilds it from the latest snapshot and
// the log tail at every start, so it is opened without fsync and never needs repair.
package state
