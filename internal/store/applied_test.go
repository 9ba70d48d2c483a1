package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

func cmdLog(i uint64, data string) *raft.Log {
	return &raft.Log{Index: i, Type: raft.LogCommand, Data: []byte(data)}
}

func TestAppliedRemembersResults(t *testing.T) {
	t.Parallel()
	a := newApplied()
	a.put(cmdLog(1, "one"), "r1")
	a.put(cmdLog(2, "two"), "r2")
	a.put(cmdLog(3, "one"), "again") // the same bytes applied twice: the first one counted
	a.put(&raft.Log{Index: 4, Type: raft.LogConfiguration, Data: []byte("cfg")}, nil)
	for _, tc := range []struct {
		data  string
		index uint64
		res   any
		found bool
	}{
		{"one", 1, "r1", true},
		{"two", 2, "r2", true},
		{"cfg", 0, nil, false},
		{"never", 0, nil, false},
	} {
		i, res, ok := a.find([]byte(tc.data))
		if i != tc.index || res != tc.res || ok != tc.found {
			t.Errorf("find(%q) = %d, %v, %v; want %d, %v, %v", tc.data, i, res, ok, tc.index, tc.res, tc.found)
		}
	}
}

func TestAppliedForgetsOldest(t *testing.T) {
	t.Parallel()
	a := newApplied()
	for i := uint64(1); i <= appliedWindow+10; i++ {
		a.put(cmdLog(i, fmt.Sprint(i)), i)
	}
	if _, _, ok := a.find([]byte("1")); ok {
		t.Error("the oldest command is still remembered")
	}
	if i, _, ok := a.find([]byte(fmt.Sprint(appliedWindow + 10))); !ok || i != appliedWindow+10 {
		t.Errorf("the newest command: %d, %v", i, ok)
	}
	if len(a.byIndex) != appliedWindow || len(a.byHash) != appliedWindow {
		t.Errorf("remembers %d/%d commands, want %d", len(a.byIndex), len(a.byHash), appliedWindow)
	}
}

func TestAppliedWait(t *testing.T) {
	t.Parallel()
	a := newApplied()
	done := make(chan error, 1)
	go func() { done <- a.wait(context.Background(), 5) }()
	a.advance(3)
	select {
	case err := <-done:
		t.Fatalf("wait(5) returned at index 3: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	a.advance(5)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("wait(5) still blocked at index 5")
	}
	a.advance(4) // never goes back
	if a.index() != 5 {
		t.Errorf("index = %d, want 5", a.index())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := a.wait(ctx, 9); err == nil {
		t.Error("wait with a cancelled context returned nil")
	}
}

func TestAddressBook(t *testing.T) {
	t.Parallel()
	b := newAddressBook()
	if _, err := b.ServerAddr("n1"); err == nil {
		t.Error("an unknown member has an address")
	}
	b.note("n1", "10.0.0.1:8001")
	b.note("n1", "10.0.0.2:8001")
	if a, err := b.ServerAddr("n1"); err != nil || a != "10.0.0.2:8001" {
		t.Errorf("ServerAddr = %q, %v; want the latest address", a, err)
	}
	b.hints["n1"] = addressHint{addr: "10.0.0.2:8001", at: time.Now().Add(-2 * hintTTL)}
	if _, err := b.ServerAddr("n1"); err == nil {
		t.Error("a stale hint is still used")
	}
}
