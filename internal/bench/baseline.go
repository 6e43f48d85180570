package bench

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"sync"
	"time"
)

// baselineRows is how many rows the baseline's upserts land on at random.
const baselineRows = 10000

// baselineUpsert is the plain single-row upsert a delivery is compared
// with: a 2 KB row, newer-wins ON CONFLICT, in its own transaction (one
// statement outside BEGIN is one transaction; it commits, with its WAL
// flush, before the next starts).
const baselineUpsert = `INSERT INTO bench_baseline (id, updated_at, body) VALUES ($1, $2, $3)
ON CONFLICT (id) DO UPDATE SET updated_at = EXCLUDED.updated_at, body = EXCLUDED.body
WHERE bench_baseline.updated_at < EXCLUDED.updated_at`

// prepareBaseline creates and fills the scratch table, so every timed
// upsert meets an existing row, as the product's writes of a busy
// repository do.
func prepareBaseline(ctx context.Context, d *database) error {
	_, err := d.db.ExecContext(ctx, `DROP TABLE IF EXISTS bench_baseline;
		CREATE TABLE bench_baseline (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL, body text NOT NULL)`)
	if err != nil {
		return fmt.Errorf("create bench_baseline: %w", err)
	}
	_, err = d.db.ExecContext(ctx, `INSERT INTO bench_baseline (id, updated_at, body)
		SELECT g, now() - interval '1 day', repeat(md5(g::text), 64) FROM generate_series(1, $1::int) g`, baselineRows)
	if err != nil {
		return fmt.Errorf("fill bench_baseline: %w", err)
	}
	return nil
}

// runBaseline runs upserts from senders connections for dur and returns
// the upserts per second.
func runBaseline(ctx context.Context, d *database, senders int, dur time.Duration) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, dur)
	defer cancel()
	counts := make([]int, senders)
	errs := make([]error, senders)
	var wg sync.WaitGroup
	start := time.Now()
	for s := 0; s < senders; s++ {
		wg.Add(1)
		go func(s int) {
			defer wg.Done()
			// One dedicated connection per sender, as the ingest's.
			conn, err := d.db.Conn(context.WithoutCancel(ctx))
			if err != nil {
				errs[s] = fmt.Errorf("baseline connection: %w", err)
				return
			}
			defer conn.Close()
			rng := rand.New(rand.NewSource(int64(s) + 1))
			body := strings.Repeat(fmt.Sprintf("%031d\n", s), 64) // 2,048 bytes
			for ctx.Err() == nil {
				_, err := conn.ExecContext(context.WithoutCancel(ctx), baselineUpsert, rng.Int63n(baselineRows)+1, time.Now(), body)
				if err != nil {
					errs[s] = fmt.Errorf("baseline upsert: %w", err)
					return
				}
				counts[s]++
			}
		}(s)
	}
	wg.Wait()
	elapsed := time.Since(start)
	total := 0
	for s := range counts {
		if errs[s] != nil {
			return 0, errs[s]
		}
		total += counts[s]
	}
	return float64(total) / elapsed.Seconds(), nil
}
