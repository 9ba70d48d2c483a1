// Package node is the composition root: it builds a node from its configuration (TLS material,
// store, drivers, scheduler, executor, API, meta API, proxy), prints the start-up lines clients
// wait for, and owns the order of shutdown.
package node
