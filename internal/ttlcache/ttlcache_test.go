package ttlcache

import (
	"testing"
	"time"
)

func TestCache(t *testing.T) {
	now := time.Unix(1000, 0)
	c := New[string](time.Minute, 3, func() time.Time { return now })
	c.Put("a", "1")
	c.PutFor("b", "2", 10*time.Second)
	if v, ok := c.Get("a"); !ok || v != "1" {
		t.Fatalf("a: %q %v", v, ok)
	}
	now = now.Add(10 * time.Second)
	if _, ok := c.Get("b"); ok {
		t.Error("b outlived its own ttl")
	}
	if _, ok := c.Get("a"); !ok {
		t.Error("a expired early")
	}
	c.Put("c", "3")
	c.Put("d", "4")
	c.Put("e", "5") // full: one entry goes
	if c.Len() > 3 {
		t.Errorf("holds %d entries, bound 3", c.Len())
	}
	if v, ok := c.Get("e"); !ok || v != "5" {
		t.Error("the newest entry was dropped")
	}
	c.Put("e", "6") // replacing drops nothing
	if n := c.Len(); n != 3 {
		t.Errorf("replacing changed the size to %d", n)
	}
	c.Delete("e")
	if _, ok := c.Get("e"); ok {
		t.Error("e survived Delete")
	}
	now = now.Add(time.Minute)
	if _, ok := c.Get("a"); ok {
		t.Error("a outlived the ttl")
	}
	off := New[int](0, 3, nil)
	off.Put("x", 1)
	if _, ok := off.Get("x"); ok {
		t.Error("a cache with no ttl kept an entry")
	}
}
