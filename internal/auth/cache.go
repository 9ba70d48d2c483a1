package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"sync"
)

// DefaultCacheSize is the capacity NewCache uses when given a non-positive size.
const DefaultCacheSize = 10000

// LookupFunc returns the stored hash of the named user and a version stamp: any string that
// changes whenever the user's password changes or the user is re-created (e.g. updated_at in
// RFC 3339 nano form). ok is false for an unknown user.
type LookupFunc func(name string) (h Hash, stamp string, ok bool)

// Cache remembers successful verifications so a repeated request costs a SHA-256 instead of an
// argon2id run. Entries are keyed by a keyed SHA-256 of user name and password (the key is random
// per process, so the map never holds anything usable to guess a password offline) and carry the
// user's stamp, so a changed or re-created user never matches an old entry. Failed checks are not
// cached. The size is bounded; when full an arbitrary entry is evicted. Safe for concurrent use.
type Cache struct {
	max    int
	secret [32]byte
	verify func(Hash, string) bool // Hash.Verify; replaced in tests to count hashing

	mu      sync.RWMutex
	entries map[[sha256.Size]byte]cacheEntry
}

type cacheEntry struct {
	name, stamp string
}

// NewCache returns an empty cache holding at most max entries (DefaultCacheSize if max <= 0).
func NewCache(max int) *Cache {
	if max <= 0 {
		max = DefaultCacheSize
	}
	c := &Cache{
		max:     max,
		verify:  Hash.Verify,
		entries: make(map[[sha256.Size]byte]cacheEntry),
	}
	// crypto/rand.Read never returns an error (it crashes the program instead).
	_, _ = rand.Read(c.secret[:])
	return c
}

// Authenticate reports whether password is the password of user name. lookup is called once per
// call (the stamp must be current); argon2id runs only when (name, password, stamp) is not cached.
func (c *Cache) Authenticate(name, password string, lookup LookupFunc) bool {
	h, stamp, ok := lookup(name)
	if !ok {
		return false
	}
	k := c.key(name, password)
	c.mu.RLock()
	e, hit := c.entries[k]
	c.mu.RUnlock()
	if hit && e.name == name && e.stamp == stamp {
		return true
	}
	if !c.verify(h, password) {
		if hit { // stale entry of a user whose password changed
			c.mu.Lock()
			delete(c.entries, k)
			c.mu.Unlock()
		}
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, present := c.entries[k]; !present && len(c.entries) >= c.max {
		for old := range c.entries { // map order is unspecified: an arbitrary victim
			delete(c.entries, old)
			break
		}
	}
	c.entries[k] = cacheEntry{name: name, stamp: stamp}
	return true
}

// Forget drops every entry of the named user (call it when the user is changed or deleted; the
// stamp check makes this an optimisation, not a requirement).
func (c *Cache) Forget(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.entries {
		if e.name == name {
			delete(c.entries, k)
		}
	}
}

// Len returns the number of cached entries.
func (c *Cache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}

// key is SHA-256(secret || len(name) || name || password); the length prefix keeps ("ab","c") and
// ("a","bc") apart.
func (c *Cache) key(name, password string) [sha256.Size]byte {
	var stack [256]byte
	b := append(stack[:0], c.secret[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(len(name)))
	b = append(b, name...)
	b = append(b, password...)
	sum := sha256.Sum256(b)
	clear(b) // do not leave the password in memory longer than needed
	return sum
}
