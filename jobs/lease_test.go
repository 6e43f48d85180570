package jobs

import (
	"context"
	"testing"
	"time"
)

// TestLeaseOutlivesItsTTLWhileHeld: a job slower than the lease TTL keeps
// its slot (the installation's cap holds), and a released or abandoned
// slot comes back.
func TestLeaseOutlivesItsTTLWhileHeld(t *testing.T) {
	ctx := context.Background()
	d := testDeps(t)
	d.InstallationConcurrency = 1
	d.LeaseTTL = 300 * time.Millisecond
	e := newEngine(d)
	const inst = 42
	renewed := make(chan time.Time, 16)
	e.leaseRenewed = func(_ int64, expiry time.Time) {
		select {
		case renewed <- expiry:
		default: // the test reads only the first few
		}
	}

	acquired := time.Now()
	release, ok, err := e.acquire(ctx, inst)
	if err != nil || !ok {
		t.Fatalf("first lease: ok=%v err=%v", ok, err)
	}
	// Wait for a renewal made after the lease's first expiry: without it
	// the slot would be free by now.
	firstExpiry := acquired.Add(d.LeaseTTL)
	var renewedAt time.Time
	for !renewedAt.After(firstExpiry) {
		select {
		case expiry := <-renewed:
			renewedAt = expiry.Add(-d.LeaseTTL)
		case <-time.After(10 * d.LeaseTTL):
			t.Fatal("the lease was not renewed")
		}
	}
	if _, ok, err := e.acquire(ctx, inst); err != nil || ok {
		t.Fatalf("a second job got a slot while the first still held the only one (ok=%v err=%v)", ok, err)
	}
	release()
	release() // idempotent
	second, ok, err := e.acquire(ctx, inst)
	if err != nil || !ok {
		t.Fatalf("after release: ok=%v err=%v", ok, err)
	}
	second()

	// A holder that dies without releasing (a killed worker) stops
	// renewing: its slot is taken until its expiry, free after it.
	conn := d.Redis.Get()
	defer conn.Close()
	tests := []struct {
		name   string
		expiry time.Time
		free   bool
	}{
		{"a dead holder's lease before its expiry", time.Now().Add(time.Hour), false},
		{"a dead holder's lease past its expiry", time.Now().Add(-time.Millisecond), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := conn.Do("DEL", e.leaseKey(inst)); err != nil {
				t.Fatal(err)
			}
			if _, err := conn.Do("ZADD", e.leaseKey(inst), tt.expiry.UnixMilli(), "dead-worker"); err != nil {
				t.Fatal(err)
			}
			rel, ok, err := e.acquire(ctx, inst)
			if err != nil {
				t.Fatal(err)
			}
			if ok != tt.free {
				t.Fatalf("got a slot = %v, want %v", ok, tt.free)
			}
			if ok {
				rel()
			}
		})
	}
}
