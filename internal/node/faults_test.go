package node

import (
	"errors"
	"net"
	"testing"
	"time"
)

func TestFaultsCut(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		apply func(f *Faults)
		a, b  string
		want  bool
	}{
		{"nothing", func(*Faults) {}, "a", "b", false},
		{"other groups", func(f *Faults) { f.Partition([]string{"a"}, []string{"b", "c"}) }, "a", "b", true},
		{"same group", func(f *Faults) { f.Partition([]string{"a"}, []string{"b", "c"}) }, "b", "c", false},
		{"in no group", func(f *Faults) { f.Partition([]string{"a"}, []string{"b"}) }, "a", "d", false},
		{"isolated", func(f *Faults) { f.Isolate("a") }, "b", "a", true},
		{"reconnected", func(f *Faults) { f.Isolate("a"); f.Reconnect("a") }, "a", "b", false},
		{"healed", func(f *Faults) { f.Partition([]string{"a"}, []string{"b"}); f.Isolate("b"); f.Heal() }, "a", "b", false},
		{"self", func(f *Faults) { f.Isolate("a") }, "a", "a", false},
		{"unknown peer", func(f *Faults) { f.Isolate("a") }, "a", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := NewFaults()
			tc.apply(f)
			if got := f.Cut(tc.a, tc.b); got != tc.want {
				t.Errorf("Cut(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
			}
		})
	}
	var none *Faults
	if none.Cut("a", "b") {
		t.Error("a nil Faults cuts")
	}
}

// TestFaultsDropOpenConnections: a partition breaks the connections already open between the
// pair, even a read blocked waiting for data; a new connection of the pair fails at once.
func TestFaultsDropOpenConnections(t *testing.T) {
	t.Parallel()
	f := NewFaults()
	local, remote := net.Pipe()
	defer remote.Close()
	c := f.wrap("a", local)
	if err := f.identify(c, "b"); err != nil {
		t.Fatalf("identify on an intact link: %v", err)
	}
	read := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 1))
		read <- err
	}()
	f.Partition([]string{"a"}, []string{"b"})
	select {
	case err := <-read:
		if err == nil {
			t.Fatal("a read across the cut link succeeded")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a blocked read survived the partition")
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, errPartitioned) {
		t.Errorf("write across the cut link: %v, want errPartitioned", err)
	}

	l2, r2 := net.Pipe()
	defer r2.Close()
	c2 := f.wrap("a", l2)
	if err := f.identify(c2, "b"); !errors.Is(err, errPartitioned) {
		t.Errorf("identify across the cut link: %v, want errPartitioned", err)
	}
	f.Heal()
	l3, r3 := net.Pipe()
	defer r3.Close()
	c3 := f.wrap("a", l3)
	if err := f.identify(c3, "b"); err != nil {
		t.Errorf("identify after the heal: %v", err)
	}
	c3.Close()
	f.mu.Lock()
	open := len(f.conns)
	f.mu.Unlock()
	if open != 0 {
		t.Errorf("%d connections still tracked after all were closed", open)
	}
}

func TestFaultsNilPassesThrough(t *testing.T) {
	t.Parallel()
	var f *Faults
	local, remote := net.Pipe()
	defer remote.Close()
	defer local.Close()
	if c := f.wrap("a", local); c != local {
		t.Error("a nil Faults wrapped a connection")
	}
	if err := f.identify(local, "b"); err != nil {
		t.Errorf("identify with a nil Faults: %v", err)
	}
}
