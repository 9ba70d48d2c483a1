// Package executor does this node's share of the work: it allocates the applications the
// election gave this node, records their resources, runs their tasks, deallocates them when asked
// or when their lifetime ends (a timer per resource, not a scan), and on start reconciles what the
// state says this node owns with what its drivers really have.
//
// Like the scheduler it reacts to committed events and re-reads the state, so a missed event
// costs a little latency, never correctness: the state is the record of what must happen.
package executor
