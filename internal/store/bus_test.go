package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aquarium-fish/aquarium-fish/internal/state"
)

func userEvents(names ...string) []state.Event {
	ev := make([]state.Event, len(names))
	for i, n := range names {
		ev[i] = state.Event{Kind: state.EventUser, User: n}
	}
	return ev
}

func TestBusDeliversInOrder(t *testing.T) {
	b := NewBus()
	s := b.Subscribe(10)
	defer s.Close()
	b.Publish(userEvents("a", "b"))
	b.Publish(nil)
	b.Publish(userEvents("c"))
	for _, want := range []string{"a", "b", "c"} {
		if got := <-s.C; got.User != want {
			t.Errorf("event = %q, want %q", got.User, want)
		}
	}
	if s.Lost() {
		t.Error("Lost with room to spare")
	}
}

func TestBusOverflow(t *testing.T) {
	b := NewBus()
	slow := b.Subscribe(2)
	fast := b.Subscribe(10)
	b.Publish(userEvents("a", "b", "c", "d", "e"))
	if !slow.Lost() {
		t.Error("slow subscriber: Lost = false after overflow")
	}
	if slow.Lost() {
		t.Error("Lost does not clear")
	}
	if len(slow.C) != 2 || (<-slow.C).User != "a" {
		t.Errorf("slow subscriber keeps the oldest events")
	}
	if fast.Lost() || len(fast.C) != 5 {
		t.Errorf("fast subscriber: lost or missing events (%d)", len(fast.C))
	}
}

func TestBusClose(t *testing.T) {
	b := NewBus()
	s := b.Subscribe(1)
	s.Close()
	b.Publish(userEvents("a", "b"))
	if len(s.C) != 0 || s.Lost() {
		t.Error("a closed subscription still receives")
	}
}

// TestBusSlowSubscriberNeverBlocksFSM: a subscriber that never reads must not hold up
// commits; it is told it lost events.
func TestBusSlowSubscriberNeverBlocksFSM(t *testing.T) {
	t.Parallel()
	s := open(t, t.TempDir())
	stuck := s.Bus().Subscribe(1)
	defer stuck.Close()
	live := s.Bus().Subscribe(1024)
	defer live.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const n = 50
	for i := range n {
		if _, err := s.Apply(ctx, user(fmt.Sprintf("u%d", i))); err != nil {
			t.Fatalf("apply %d: %v", i, err)
		}
	}
	if !stuck.Lost() {
		t.Error("stuck subscriber: Lost = false")
	}
	if len(stuck.C) != 1 {
		t.Errorf("stuck subscriber holds %d events, want 1", len(stuck.C))
	}
	// A subscriber that keeps up sees every committed change, in log order.
	for i := range n {
		e := <-live.C
		if want := fmt.Sprintf("u%d", i); e.Kind != state.EventUser || e.User != want {
			t.Fatalf("event %d = %+v, want user %s", i, e, want)
		}
	}
	if live.Lost() {
		t.Error("live subscriber lost events")
	}
}
