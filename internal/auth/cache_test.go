package auth

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// fakeUsers is a user table for the cache tests: it counts lookups, and the cache under test counts
// hash verifications through countingCache.
type fakeUsers struct {
	mu      sync.Mutex
	hashes  map[string]Hash
	stamps  map[string]string
	lookups atomic.Int64
}

func newFakeUsers(t *testing.T, pws map[string]string) *fakeUsers {
	t.Helper()
	u := &fakeUsers{hashes: map[string]Hash{}, stamps: map[string]string{}}
	for name, pw := range pws {
		u.set(t, name, pw, "v1")
	}
	return u
}

func (u *fakeUsers) set(t *testing.T, name, pw, stamp string) {
	t.Helper()
	h, err := NewHash(pw)
	if err != nil {
		t.Fatal(err)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.hashes[name], u.stamps[name] = h, stamp
}

func (u *fakeUsers) remove(name string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.hashes, name)
	delete(u.stamps, name)
}

func (u *fakeUsers) lookup(name string) (Hash, string, bool) {
	u.lookups.Add(1)
	u.mu.Lock()
	defer u.mu.Unlock()
	h, ok := u.hashes[name]
	return h, u.stamps[name], ok
}

func countingCache(max int) (*Cache, *atomic.Int64) {
	c := NewCache(max)
	var n atomic.Int64
	c.verify = func(h Hash, pw string) bool {
		n.Add(1)
		return h.Verify(pw)
	}
	return c, &n
}

func TestCacheHitSkipsHashing(t *testing.T) {
	users := newFakeUsers(t, map[string]string{"alice": "pw-a"})
	c, verifications := countingCache(0)

	for i := range 5 {
		if !c.Authenticate("alice", "pw-a", users.lookup) {
			t.Fatalf("attempt %d rejected", i)
		}
	}
	if n := verifications.Load(); n != 1 {
		t.Errorf("verifications = %d, want 1", n)
	}
	if n := users.lookups.Load(); n != 5 {
		t.Errorf("lookups = %d, want 5", n)
	}

	// Wrong passwords and unknown users are never cached and never succeed.
	for range 2 {
		if c.Authenticate("alice", "wrong", users.lookup) {
			t.Error("wrong password accepted")
		}
		if c.Authenticate("bob", "pw-a", users.lookup) {
			t.Error("unknown user accepted")
		}
	}
	if n := verifications.Load(); n != 3 {
		t.Errorf("verifications = %d, want 3 (unknown users are not hashed)", n)
	}
	if c.Len() != 1 {
		t.Errorf("Len = %d, want 1", c.Len())
	}
}

func TestCacheInvalidation(t *testing.T) {
	users := newFakeUsers(t, map[string]string{"alice": "old"})
	c, verifications := countingCache(0)
	if !c.Authenticate("alice", "old", users.lookup) {
		t.Fatal("rejected")
	}

	// Password changed: the new stamp makes the old entry useless.
	users.set(t, "alice", "new", "v2")
	if c.Authenticate("alice", "old", users.lookup) {
		t.Error("old password accepted after change")
	}
	if !c.Authenticate("alice", "new", users.lookup) {
		t.Error("new password rejected")
	}
	if c.Len() != 1 {
		t.Errorf("Len = %d, want 1 (stale entry dropped)", c.Len())
	}

	// Deleted user: lookup fails, whatever the cache holds.
	users.remove("alice")
	if c.Authenticate("alice", "new", users.lookup) {
		t.Error("deleted user accepted")
	}

	// Forget drops the user's entries only.
	users.set(t, "alice", "new", "v3")
	users.set(t, "bob", "pw-b", "v1")
	for _, u := range [][2]string{{"alice", "new"}, {"bob", "pw-b"}} {
		if !c.Authenticate(u[0], u[1], users.lookup) {
			t.Fatalf("%s rejected", u[0])
		}
	}
	before := verifications.Load()
	c.Forget("alice")
	c.Authenticate("alice", "new", users.lookup)
	c.Authenticate("bob", "pw-b", users.lookup)
	if got := verifications.Load() - before; got != 1 {
		t.Errorf("verifications after Forget(alice) = %d, want 1 (alice only)", got)
	}
}

func TestCacheKeySeparatesFields(t *testing.T) {
	c := NewCache(0)
	if c.key("ab", "c") == c.key("a", "bc") {
		t.Error("key(ab,c) == key(a,bc)")
	}
	if NewCache(0).key("a", "b") == c.key("a", "b") {
		t.Error("two caches share a key")
	}
}

func TestCacheBounded(t *testing.T) {
	users := newFakeUsers(t, map[string]string{"alice": "pw"})
	h, _, _ := users.lookup("alice")
	c := NewCache(3)
	c.verify = func(Hash, string) bool { return true } // accept any password
	for i := range 10 {
		if !c.Authenticate(fmt.Sprint("u", i), "pw", func(string) (Hash, string, bool) { return h, "v", true }) {
			t.Fatal("rejected")
		}
	}
	if c.Len() != 3 {
		t.Errorf("Len = %d, want 3", c.Len())
	}
}

func TestCacheConcurrent(t *testing.T) {
	users := newFakeUsers(t, map[string]string{"alice": "pw-a", "bob": "pw-b"})
	c := NewCache(0)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			for j := range 50 {
				switch {
				case j%10 == 9:
					c.Forget("alice")
				case i%2 == 0:
					if !c.Authenticate("alice", "pw-a", users.lookup) {
						t.Error("alice rejected")
					}
				case j == 0:
					if c.Authenticate("bob", "pw-a", users.lookup) {
						t.Error("bob accepted with alice's password")
					}
				default:
					if !c.Authenticate("bob", "pw-b", users.lookup) {
						t.Error("bob rejected")
					}
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkAuthenticateCached(b *testing.B) {
	h, err := NewHash("pw")
	if err != nil {
		b.Fatal(err)
	}
	lookup := func(string) (Hash, string, bool) { return h, "2026-01-01T00:00:00Z", true }
	c := NewCache(0)
	if !c.Authenticate("alice", "pw", lookup) {
		b.Fatal("rejected")
	}
	b.ReportAllocs()
	b.SetParallelism(8) // 16 goroutines on 2 cores
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if !c.Authenticate("alice", "pw", lookup) {
				b.Error("rejected")
			}
		}
	})
}

func BenchmarkNewHash(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewHash("a-64-character-password-a-64-character-password-a-64-character"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	h, err := NewHash("pw")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		h.Verify("pw")
	}
}
