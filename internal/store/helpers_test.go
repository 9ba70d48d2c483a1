package store

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/aquarium-fish/aquarium-fish/internal/model"
	"github.com/aquarium-fish/aquarium-fish/internal/store/command"
)

// testNodeID is the raft ID of every test store: a restarted node keeps its ID.
const testNodeID = "4a000000-0000-0000-0000-000000000001"

// testStore is a store that the test closes at most once, when the test ends at the latest.
type testStore struct {
	*Store
	closed bool
}

// open opens (or reopens) the store in dir and waits until it serves.
func open(tb testing.TB, dir string) *testStore {
	tb.Helper()
	return openWith(tb, Config{Dir: dir})
}

func openWith(tb testing.TB, cfg Config) *testStore {
	tb.Helper()
	cfg.NodeID = testNodeID
	cfg.Address = "node-1"
	cfg.Log = slog.New(slog.DiscardHandler)
	cfg.Alone = true // as a node without cluster_join: it elects itself at once
	s, err := Open(cfg)
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	ts := &testStore{Store: s}
	tb.Cleanup(func() {
		if !ts.closed {
			s.Close()
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.WaitReady(ctx); err != nil {
		tb.Fatalf("wait ready: %v", err)
	}
	return ts
}

// shut closes s and fails the test on error.
func (s *testStore) shut(tb testing.TB) {
	tb.Helper()
	s.closed = true
	if err := s.Close(); err != nil {
		tb.Fatalf("close store: %v", err)
	}
}

// user is a command creating user name.
func user(name string) *command.UserCreate {
	return &command.UserCreate{
		User: model.User{Name: name, CreatedAt: time.Unix(0, 0), UpdatedAt: time.Unix(0, 0), Hash: model.UserHash{Algo: "test"}},
		Hash: []byte("hash-of-" + name),
	}
}

// users counts the users in the store's state.
func users(tb testing.TB, s *testStore) int {
	tb.Helper()
	list, err := s.State().Users(context.Background(), nil)
	if err != nil {
		tb.Fatalf("users: %v", err)
	}
	return len(list)
}

// applyUsers creates users prefix0..prefix(n-1) one after another.
func applyUsers(tb testing.TB, s *testStore, prefix string, n int) {
	tb.Helper()
	for i := range n {
		if _, err := s.Apply(context.Background(), user(fmt.Sprintf("%s%d", prefix, i))); err != nil {
			tb.Fatalf("apply %s%d: %v", prefix, i, err)
		}
	}
}
