//go:build chaos

package chaos

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver

	"github.com/webhookdb/webhookdb/ghfake"
	"github.com/webhookdb/webhookdb/internal/testutil"
)

// run is one scenario's world: its simulator, the stacks whose databases
// are checked against it, and what the scenario noted on the way.
type run struct {
	name   string
	bin    string // the webhookdb binary
	sz     size
	seed   int64
	gh     *ghfake.Server
	stacks []*stack
	// extraLost are differences found beyond the counts (scale-out's
	// comparison of two databases), with notes saying what they are.
	extraLost int
	notes     []string
	mu        sync.Mutex
	// finished, if set, runs after quiescence, before the counts.
	finished func(ctx context.Context, t *testing.T)
}

func newRun(t *testing.T, name string, sz size, bin string) *run {
	t.Helper()
	var seed int64 = 14
	for _, c := range name {
		seed = seed*31 + int64(c)
	}
	gh, err := ghfake.New(ghfake.Options{Seed: &ghfake.SeedOptions{Seed: seed, Accounts: sz.orgs, ReposPerAccount: sz.repos,
		PullsPerRepo: sz.pulls, IssuesPerRepo: sz.issues}})
	if err != nil {
		t.Fatal(err)
	}
	if err := gh.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gh.Close)
	return &run{name: name, bin: bin, sz: sz, seed: seed, gh: gh}
}

func (r *run) note(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

// sharedStack is a stack on the machine's PostgreSQL (a fresh database)
// and Redis (a fresh namespace), or on redisURL when given.
func (r *run) sharedStack(ctx context.Context, t *testing.T, name, redisURL string) *stack {
	t.Helper()
	dbName := strings.ReplaceAll("webhookdb_chaos_"+r.name+"_"+name, "-", "_")
	_ = testutil.DropDatabase(ctx, dbName) // left by a killed run
	dbURL, err := testutil.CreateDatabase(ctx, dbName)
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("CHAOS_KEEP") == "" { // CHAOS_KEEP=1 keeps them to look at
		t.Cleanup(func() { _ = testutil.DropDatabase(context.Background(), dbName) })
	}
	if redisURL == "" {
		redisURL = testutil.RedisURL()
	}
	st := newStack(ctx, t, r.bin, r.gh, name, dbURL, redisURL)
	r.stacks = append(r.stacks, st)
	return st
}

// repos are the repositories the installations cover, "owner/name".
func (r *run) repos() []string {
	var out []string
	w := r.gh.World()
	for _, in := range w.Installations() {
		for _, repo := range w.InstallationRepositories(in.GetID()) {
			out = append(out, repo.GetFullName())
		}
	}
	return out
}

// backfill asks the stack's web process (addr) to load every
// installation with its children, as POST /load/installations/{id} with
// the installation's token; an answer other than 202 (GitHub failing
// while the token is checked) is retried, bounded.
func (r *run) backfill(ctx context.Context, t *testing.T, addr string) {
	t.Helper()
	for _, in := range r.gh.World().Installations() {
		id := in.GetID()
		url := fmt.Sprintf("http://%s/load/installations/%d", addr, id)
		var last string
		err := waitUntil(ctx, 2*time.Minute, "the backfill of installation "+fmt.Sprint(id)+" to be accepted", func() (bool, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
			if err != nil {
				return false, err
			}
			req.Header.Set("Authorization", "Bearer "+r.gh.InstallationToken(id))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				last = err.Error()
				return false, nil
			}
			resp.Body.Close()
			last = resp.Status
			return resp.StatusCode == http.StatusAccepted, nil
		})
		if err != nil {
			t.Fatalf("%v (last answer: %s)", err, last)
		}
	}
}

// openScans counts the stack's scans queued or running.
func (st *stack) openScans(ctx context.Context) (open, all int, err error) {
	err = st.db.QueryRowContext(ctx, `SELECT count(*) FILTER (WHERE status IN ('queued', 'running')), count(*) FROM scan`).Scan(&open, &all)
	return open, all, err
}

// waitBackfilled waits until the stack has scans and none is queued or
// running, twice in a row a second apart (a scan's children are queued
// before it finishes, but the second look costs little).
func (st *stack) waitBackfilled(ctx context.Context, t *testing.T, bound time.Duration) {
	t.Helper()
	quiet := 0
	err := waitUntil(ctx, bound, st.name+": the backfill", func() (bool, error) {
		open, all, err := st.openScans(ctx)
		if err != nil {
			return false, nil // the database may be restarting
		}
		if all == 0 || open > 0 {
			quiet = 0
			return false, nil
		}
		quiet++
		return quiet >= 5, nil
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, st.logs())
	}
}

// flood runs Simulate for steps steps in batches of 25, each batch seeded
// from the run's seed; at fault.at steps it starts fault.fn beside the
// flood, and it returns once the flood and every fault are over.
type fault struct {
	at int
	fn func(ctx context.Context) error
}

func (r *run) flood(ctx context.Context, t *testing.T, from, steps int, faults ...fault) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(faults))
	started := make([]bool, len(faults))
	const batch = 25
	for done := 0; done < steps; done += batch {
		for i, f := range faults {
			if !started[i] && done >= f.at {
				started[i] = true
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := f.fn(ctx); err != nil {
						errs <- err
					}
				}()
			}
		}
		n := min(batch, steps-done)
		if _, err := r.gh.Simulate(ctx, ghfake.ActivityOptions{Seed: r.seed*100000 + int64(from+done), Steps: n}); err != nil {
			t.Fatalf("simulate: %v", err)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// storedCount is the number of distinct GUIDs stored.
func (st *stack) storedCount(ctx context.Context) (int, error) {
	var n int
	err := st.db.QueryRowContext(ctx, `SELECT count(DISTINCT delivery_id) FROM webhook_delivery WHERE status IN ('processed', 'stale', 'ignored')`).Scan(&n)
	return n, err
}

// quiesce waits, after the faults, until nothing moves any more: no scan
// queued or running, GitHub's redeliveries sent, no failed delivery
// waiting for local replay, and the stored count unchanged across two
// catch-up intervals.
func (st *stack) quiesce(ctx context.Context, bound time.Duration) error {
	last, since := -1, time.Now()
	return waitUntil(ctx, bound, st.name+": quiescence", func() (bool, error) {
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		pending := st.gh.WaitRedeliveries(wctx) != nil
		cancel()
		open, _, err1 := st.openScans(ctx)
		stored, err2 := st.storedCount(ctx)
		// A failed delivery not given up is waiting for local replay.
		var replays int
		err3 := st.db.QueryRowContext(ctx, `SELECT count(*) FROM webhook_delivery WHERE status = 'failed' AND gave_up_at IS NULL`).Scan(&replays)
		if pending || err1 != nil || err2 != nil || err3 != nil || open > 0 || replays > 0 || stored != last {
			last, since = stored, time.Now()
			return false, nil
		}
		return time.Since(since) >= 2*catchupInterval+time.Second, nil
	})
}

// tally is one stack's counts.
type tally struct {
	sent, stored, recovered, lost, duplicates int
	notes                                     []string
}

// count compares the stack with the world: deliveries and replica rows.
// The stack's processes must be stopped (their /metrics scraped).
func (st *stack) count(ctx context.Context, r *run) (tally, error) {
	var tl tally
	sent := map[string]bool{}
	for _, d := range r.gh.Deliveries() {
		if !d.Redelivery {
			sent[d.GUID] = true
		}
	}
	tl.sent = len(sent)
	rows, err := st.db.QueryContext(ctx, `SELECT delivery_id, status, recovered_by IS NOT NULL FROM webhook_delivery WHERE status IN ('processed', 'stale', 'ignored')`)
	if err != nil {
		return tl, fmt.Errorf("read deliveries: %w", err)
	}
	stored := map[string]bool{}
	processed := 0
	for rows.Next() {
		var guid, status string
		var recovered bool
		if err := rows.Scan(&guid, &status, &recovered); err != nil {
			rows.Close()
			return tl, fmt.Errorf("read deliveries: %w", err)
		}
		if stored[guid] {
			continue
		}
		stored[guid] = true
		if recovered {
			tl.recovered++
		}
		if status != "ignored" {
			processed++
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return tl, fmt.Errorf("read deliveries: %w", err)
	}
	tl.stored = len(stored)
	missing := 0
	for g := range sent {
		if !stored[g] {
			missing++
		}
	}
	if missing > 0 {
		var failed, replayed int
		var example sql.NullString
		_ = st.db.QueryRowContext(ctx, `SELECT count(*), count(*) FILTER (WHERE replay_attempts > 0), max(error) FROM webhook_delivery WHERE status = 'failed'`).Scan(&failed, &replayed, &example)
		tl.notes = append(tl.notes, fmt.Sprintf("%s: %d deliveries GitHub sent are not stored (%d rows failed, %d of them replayed; e.g. %.200s)", st.name, missing, failed, replayed, example.String))
	}
	tl.lost = missing
	var failedScans int
	var scanErr sql.NullString
	if err := st.db.QueryRowContext(ctx, `SELECT count(*), max(kind || ': ' || coalesce(error, '')) FROM scan WHERE status = 'failed'`).Scan(&failedScans, &scanErr); err != nil {
		return tl, fmt.Errorf("read scans: %w", err)
	}
	if failedScans > 0 {
		tl.notes = append(tl.notes, fmt.Sprintf("%s: %d scans failed, e.g. %s", st.name, failedScans, scanErr.String))
	}
	diffs, err := testutil.CompareReplica(ctx, st.db, r.gh.World(), testutil.ReplicaScope{Repos: r.repos(), ReviewBodyEmptyIsNull: true})
	if err != nil {
		return tl, fmt.Errorf("compare the replica: %w", err)
	}
	gaps := map[string]int{}
	for _, d := range diffs {
		var missing, differ []string // the keys counted, with what differs
		// A pull request's issue row has an id no pull_request webhook
		// carries: the webhook queues its fetch (sync_issue), so a
		// missing one is counted like any other row.
		missing = append(missing, d.MissingKeys...)
		for _, k := range d.DifferKeys {
			cols := d.DifferColumns[k]
			// A comment on a pull request moves its updated_at on GitHub;
			// the comment's webhook carries the issue, not the pull
			// request, so only the next pull request event or scan does.
			if d.Table == "github_pull_request" && len(cols) == 1 && cols[0] == "updated_at" {
				gaps["pull requests whose updated_at only a comment moved"]++
				continue
			}
			differ = append(differ, k+" ("+strings.Join(cols, ", ")+")")
		}
		tl.lost += len(missing) + len(differ)
		tl.duplicates += d.Extra
		if d.Want == 0 {
			tl.notes = append(tl.notes, fmt.Sprintf("%s: %s: the world has no rows; the comparison proves nothing there", st.name, d.Table))
		}
		if len(missing)+len(differ)+d.Extra > 0 {
			sort.Strings(missing)
			sort.Strings(differ)
			tl.notes = append(tl.notes, fmt.Sprintf("%s: %s of %d rows: %d missing %s, %d different %s, %d extra %s",
				st.name, d.Table, d.Want, len(missing), few(missing), len(differ), few(differ), d.Extra, few(d.ExtraKeys)))
		}
	}
	for what, n := range gaps {
		tl.notes = append(tl.notes, fmt.Sprintf("%s: not counted, webhooks alone cannot give them: %d %s", st.name, n, what))
	}
	st.mu.Lock()
	counted := st.counted
	st.mu.Unlock()
	if counted > processed {
		tl.duplicates += counted - processed
		tl.notes = append(tl.notes, fmt.Sprintf("%s: /metrics counted %d deliveries processed or stale, %d distinct GUIDs are", st.name, counted, processed))
	}
	return tl, nil
}

// few is the first keys of a list, for a note.
func few(keys []string) string {
	if len(keys) > 6 {
		return "[" + strings.Join(keys[:6], "; ") + "; ...]"
	}
	return "[" + strings.Join(keys, "; ") + "]"
}

// finish waits for quiescence, stops every process, counts, and returns
// the scenario's line; it fails the test on anything lost or doubled.
func (r *run) finish(ctx context.Context, t *testing.T) string {
	t.Helper()
	for _, st := range r.stacks {
		if err := st.quiesce(ctx, 6*time.Minute); err != nil {
			t.Errorf("%v\n%s", err, st.logs())
		}
	}
	if r.finished != nil {
		r.finished(ctx, t)
	}
	var sum tally
	for _, st := range r.stacks {
		st.stopAll(ctx, t)
		tl, err := st.count(context.WithoutCancel(ctx), r)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		// Every stack saw the same deliveries: the line shows the last
		// stack's figures, lost and duplicates summed over all.
		sum.sent, sum.stored, sum.recovered = tl.sent, tl.stored, tl.recovered
		sum.lost += tl.lost
		sum.duplicates += tl.duplicates
		sum.notes = append(sum.notes, tl.notes...)
	}
	sum.lost += r.extraLost
	line := fmt.Sprintf("scenario %s: sent %d, stored %d, recovered %d, lost %d, duplicates %d",
		r.name, sum.sent, sum.stored, sum.recovered, sum.lost, sum.duplicates)
	notes := append(r.notes, sum.notes...)
	for _, n := range notes {
		line += "\n    " + n
	}
	if sum.lost > 0 || sum.duplicates > 0 {
		t.Errorf("%s", line)
	}
	return line
}

// dump is the stack's github_* tables, each as its rows in text, ordered,
// without the replication bookkeeping (when and how a row was written),
// which differs between two deployments fed the same events.
func dump(ctx context.Context, db *sql.DB) (map[string][]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT table_name, string_agg(quote_ident(column_name), ', ' ORDER BY ordinal_position)
		FROM information_schema.columns
		WHERE table_schema = 'public' AND table_name LIKE 'github\_%'
		  AND column_name !~ '^last_replicated|_scanned_at$|^scanned_at$'
		  AND NOT (table_name = 'github_installation_repository' AND column_name = 'created_at')
		GROUP BY table_name ORDER BY table_name`)
	if err != nil {
		return nil, fmt.Errorf("list the github_* tables: %w", err)
	}
	type table struct{ name, cols string }
	var tables []table
	for rows.Next() {
		var tb table
		if err := rows.Scan(&tb.name, &tb.cols); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list the github_* tables: %w", err)
		}
		tables = append(tables, tb)
	}
	rows.Close()
	out := map[string][]string{}
	for _, tb := range tables {
		if tb.name == "github_issue" {
			// The issue row of a pull request learns who closed it and
			// why only from the issues API (a pull_request payload has
			// neither), so those depend on when that read ran, before
			// or after the close: left out of this comparison, as of the
			// world's (docs/reliability.md).
			for _, c := range []string{"state_reason", "closed_by_id", "closed_by_login"} {
				tb.cols = strings.Replace(tb.cols, c, "CASE WHEN is_pull_request THEN NULL ELSE "+c+" END", 1)
			}
		}
		if tb.name == "github_pull_request" {
			// A comment moves a pull request's updated_at on GitHub, and
			// only a pull request event or an API read carries it: each
			// stack's scans read it at their own moments, so it differs
			// between the two databases as it differs from the world's
			// (counted apart there, as a known lag).
			cols := strings.Split(tb.cols, ", ")
			for i, c := range cols {
				if c == "updated_at" {
					cols[i] = "NULL"
				}
			}
			tb.cols = strings.Join(cols, ", ")
		}
		// Hand-written SQL: every column of every github_* table, which no
		// model states.
		rs, err := db.QueryContext(ctx, `SELECT row(`+tb.cols+`)::text AS r FROM `+tb.name+` ORDER BY r`)
		if err != nil {
			return nil, fmt.Errorf("dump %s: %w", tb.name, err)
		}
		for rs.Next() {
			var s string
			if err := rs.Scan(&s); err != nil {
				rs.Close()
				return nil, fmt.Errorf("dump %s: %w", tb.name, err)
			}
			out[tb.name] = append(out[tb.name], s)
		}
		rs.Close()
		if err := rs.Err(); err != nil {
			return nil, fmt.Errorf("dump %s: %w", tb.name, err)
		}
	}
	return out, nil
}

// compareDumps counts the rows of a not in b and of b not in a, per table.
func compareDumps(a, b map[string][]string) (int, []string) {
	total := 0
	var notes []string
	names := map[string]bool{}
	for n := range a {
		names[n] = true
	}
	for n := range b {
		names[n] = true
	}
	for n := range names {
		count := map[string]int{}
		for _, r := range a[n] {
			count[r]++
		}
		for _, r := range b[n] {
			count[r]--
		}
		onlyA, onlyB := 0, 0
		var example string
		for r, c := range count {
			if c > 0 {
				onlyA += c
			} else if c < 0 {
				onlyB -= c
			}
			if c != 0 && example == "" {
				example = r
			}
		}
		if onlyA+onlyB > 0 {
			total += max(onlyA, onlyB)
			notes = append(notes, fmt.Sprintf("%s: %d rows only in serve's database, %d only in the scaled-out one, e.g. %.300s", n, onlyA, onlyB, example))
		}
	}
	return total, notes
}
