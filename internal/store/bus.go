package store

import (
	"sync"

	"github.com/aquarium-fish/aquarium-fish/internal/state"
)

// Bus fans committed events out to in-process subscribers. Publishing never blocks the FSM: a
// subscriber that falls behind loses events and is told so, and then re-reads the state.
type Bus struct {
	mu   sync.Mutex
	subs map[*Subscription]struct{}
}

// Subscription receives events. Overflow is signalled once per loss by a closed-over flag the
// subscriber reads with Lost.
type Subscription struct {
	C    chan state.Event
	bus  *Bus
	mu   sync.Mutex
	lost bool
}

// NewBus makes an empty bus.
func NewBus() *Bus { return &Bus{subs: map[*Subscription]struct{}{}} }

// Subscribe registers a subscriber with a buffer of size events.
func (b *Bus) Subscribe(size int) *Subscription {
	s := &Subscription{C: make(chan state.Event, size), bus: b}
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return s
}

// Close unregisters the subscription.
func (s *Subscription) Close() {
	s.bus.mu.Lock()
	delete(s.bus.subs, s)
	s.bus.mu.Unlock()
}

// Lost reports (and clears) whether events were dropped since the last call.
func (s *Subscription) Lost() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.lost
	s.lost = false
	return l
}

// Publish delivers events to every subscriber without blocking.
func (b *Bus) Publish(events []state.Event) {
	if len(events) == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		for _, e := range events {
			select {
			case s.C <- e:
			default:
				s.mu.Lock()
				s.lost = true
				s.mu.Unlock()
			}
		}
	}
}
