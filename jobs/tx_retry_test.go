package jobs

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
	"testing"
)

// TestWithTxRunsADeadlockVictimAgain: two job transactions that lock two
// rows in opposite orders deadlock; PostgreSQL aborts one, and withTx runs
// it again instead of failing the job (which would spend one of its few
// tries, and on the last, lose the page).
func TestWithTxRunsADeadlockVictimAgain(t *testing.T) {
	ctx := context.Background()
	d := testDeps(t)
	e := newEngine(d)
	a := insertScan(t, CollectionLabels, 1, 1)
	b := insertScan(t, CollectionLabels, 2, 1)

	var attempts atomic.Int32
	// Both hold their first row before either asks for its second, the
	// first time only: the run again finds the other finished.
	var bothLocked sync.WaitGroup
	bothLocked.Add(2)
	lockBoth := func(first, second int64) func(tx *sql.Tx) error {
		var once sync.Once
		return func(tx *sql.Tx) error {
			attempts.Add(1)
			if _, err := tx.ExecContext(ctx, `SELECT 1 FROM scan WHERE id = $1 FOR UPDATE`, first); err != nil {
				return err
			}
			once.Do(func() { bothLocked.Done(); bothLocked.Wait() })
			_, err := tx.ExecContext(ctx, `SELECT 1 FROM scan WHERE id = $1 FOR UPDATE`, second)
			return err
		}
	}
	errs := make(chan error, 2)
	go func() { errs <- e.withTx(ctx, "a then b", lockBoth(a.ID, b.ID)) }()
	go func() { errs <- e.withTx(ctx, "b then a", lockBoth(b.ID, a.ID)) }()
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("a transaction failed: %v", err)
		}
	}
	if n := attempts.Load(); n != 3 {
		t.Errorf("%d runs, want 3 (the deadlock's victim ran twice)", n)
	}
}
