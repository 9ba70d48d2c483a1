package state

import "errors"

// Errors Apply returns for commands that cannot be applied. They are the client's mistake (or a
// lost race) and map to 4xx answers; any other error is a server fault.
var (
	ErrNotFound     = errors.New("not found")
	ErrExists       = errors.New("already exists")
	ErrInvalid      = errors.New("invalid")
	ErrStatus       = errors.New("wrong application status")
	ErrPubkeyChange = errors.New("the pubkey was changed for Node, that's not supported")
)
