package load

import (
	"sync"
	"time"
)

// confirmations is a small bounded cache of answers with a time to live,
// owned by one authorizer: the positive ones (who a token is, for a
// target) and, in a second instance, the tokens GitHub refused, so that
// repeated garbage costs no GitHub call.
type confirmations struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu      sync.Mutex
	entries map[string]confirmation
}

type confirmation struct {
	who     string
	expires time.Time
}

func newConfirmations(ttl time.Duration, max int, now func() time.Time) *confirmations {
	return &confirmations{ttl: ttl, max: max, now: now, entries: map[string]confirmation{}}
}

func (c *confirmations) get(key string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok {
		return "", false
	}
	if !c.now().Before(e.expires) {
		delete(c.entries, key)
		return "", false
	}
	return e.who, true
}

func (c *confirmations) put(key, who string) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if len(c.entries) >= c.max {
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
	c.entries[key] = confirmation{who: who, expires: now.Add(c.ttl)}
}

func (c *confirmations) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
