// Package ttlcache is a small bounded map of answers with a time to live:
// what GitHub said about a token, kept briefly so that repeated requests
// cost no GitHub call. It is owned by whoever made it; nothing is global.
package ttlcache

import (
	"sync"
	"time"
)

// Cache holds at most max entries, each for ttl after it was put.
type Cache[V any] struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu      sync.Mutex
	entries map[string]entry[V]
}

type entry[V any] struct {
	v       V
	expires time.Time
}

// New makes a cache; now is the clock (time.Now outside tests). A ttl of
// zero or less keeps nothing.
func New[V any](ttl time.Duration, max int, now func() time.Time) *Cache[V] {
	if now == nil {
		now = time.Now
	}
	return &Cache[V]{ttl: ttl, max: max, now: now, entries: map[string]entry[V]{}}
}

// Get returns the value under key while it is fresh.
func (c *Cache[V]) Get(key string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok {
		var zero V
		return zero, false
	}
	if !c.now().Before(e.expires) {
		delete(c.entries, key)
		var zero V
		return zero, false
	}
	return e.v, true
}

// Put stores v under key for the cache's ttl.
func (c *Cache[V]) Put(key string, v V) { c.PutFor(key, v, c.ttl) }

// PutFor stores v under key for ttl (a shorter life for some answers).
func (c *Cache[V]) PutFor(key string, v V, ttl time.Duration) {
	if ttl <= 0 || c.max <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if _, ok := c.entries[key]; !ok && len(c.entries) >= c.max {
		for k, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, k)
			}
		}
		// Still full: drop arbitrary entries; they are only a shortcut.
		for k := range c.entries {
			if len(c.entries) < c.max {
				break
			}
			delete(c.entries, k)
		}
	}
	c.entries[key] = entry[V]{v: v, expires: now.Add(ttl)}
}

// Delete forgets key.
func (c *Cache[V]) Delete(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, key)
}

// Len is the number of entries held, fresh or not yet dropped.
func (c *Cache[V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// Keys lists the keys held, for tests that check what is kept.
func (c *Cache[V]) Keys() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	keys := make([]string, 0, len(c.entries))
	for k := range c.entries {
		keys = append(keys, k)
	}
	return keys
}
