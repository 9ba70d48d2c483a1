// Package store runs the replicated state: a hashicorp/raft node whose FSM applies typed commands
// (package command) to the SQLite state (package state), and the one entry point to change it,
// Apply. A fresh node bootstraps a raft cluster of itself, so a single node and a cluster run the
// same code.
//
// The raft log (bbolt) is the durable record: a write is acknowledged only after raft committed
// it, so it survives kill -9. The SQLite database is rebuilt at start from the latest snapshot
// (a copy of the database file) and the log entries after it; snapshots keep that tail short.
package store
