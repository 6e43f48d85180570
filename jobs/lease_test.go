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

	release, ok, err := e.acquire(ctx, inst)
	if err != nil || !ok {
		t.Fatalf("first lease: ok=%v err=%v", ok, err)
	}
	// Three TTLs pass while the job still runs.
	time.Sleep(3 * d.LeaseTTL)
	if _, ok, err := e.acquire(ctx, inst); err != nil || ok {
		t.Fatalf("a second job got a slot while the first still held the only one (ok=%v err=%v)", ok, err)
	}
	release()
	release() // idempotent
	second, ok, err := e.acquire(ctx, inst)
	if err != nil || !ok {
		t.Fatalf("after release: ok=%v err=%v", ok, err)
	}
	defer second()

	// A holder that dies without releasing (a killed worker) stops renewing:
	// its slot comes back after the TTL. Simulate by dropping the renewal.
	conn := d.Redis.Get()
	defer conn.Close()
	if _, err := conn.Do("DEL", e.leaseKey(inst)); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Do("ZADD", e.leaseKey(inst), time.Now().Add(d.LeaseTTL).UnixMilli(), "dead-worker"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * d.LeaseTTL)
	third, ok, err := e.acquire(ctx, inst)
	if err != nil || !ok {
		t.Fatalf("the dead holder's slot did not come back: ok=%v err=%v", ok, err)
	}
	third()
}
