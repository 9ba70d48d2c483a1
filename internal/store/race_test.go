//go:build race

package store

// raceEnabled: the race detector slows every SQLite transaction several times over, so the
// heaviest tests scale down.
const raceEnabled = true
