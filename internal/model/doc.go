// Package model holds the objects of the REST API v1 as they travel on the wire and live in the
// state: users, labels, applications and their states and tasks, resources, votes, nodes,
// locations and service mappings.
//
// Field order matters: clients read the compact JSON as text, so every struct lists UID first and
// then its fields in ascending order of their JSON names, which is the order encoding/json emits.
package model
