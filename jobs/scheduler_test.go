package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocraft/work"
	"github.com/gomodule/redigo/redis"
	"github.com/rs/zerolog"

	"github.com/webhookdb/webhookdb/internal/testutil"
	"github.com/webhookdb/webhookdb/process"
)

var env testutil.Env

func TestMain(m *testing.M) { os.Exit(testutil.Main(m, &env)) }

// testLogLevel is warn unless WEBHOOKDB_TEST_LOG names another level.
func testLogLevel() zerolog.Level {
	if l, err := zerolog.ParseLevel(os.Getenv("WEBHOOKDB_TEST_LOG")); err == nil && l != zerolog.NoLevel {
		return l
	}
	return zerolog.WarnLevel
}

var nonWord = regexp.MustCompile(`[^A-Za-z0-9]+`)

// testDeps gives a test its own Redis namespace (so jobs of one test never
// reach another) and an empty database.
func testDeps(t testing.TB) Deps {
	t.Helper()
	env.Truncate(t)
	ns := env.Namespace + "_" + strings.ToLower(nonWord.ReplaceAllString(t.Name(), "_"))
	t.Cleanup(func() {
		if err := testutil.DeleteNamespace(env.Redis, ns); err != nil {
			t.Errorf("clean redis: %v", err)
		}
	})
	return Deps{
		DB:        env.DB,
		Redis:     env.Redis,
		Namespace: ns,
		Logger:    zerolog.New(zerolog.NewTestWriter(t)).Level(testLogLevel()),
	}
}

func queueLen(t *testing.T, ns, job string) int {
	t.Helper()
	conn := env.Redis.Get()
	defer conn.Close()
	n, err := redis.Int(conn.Do("LLEN", ns+":jobs:"+job))
	if err != nil {
		t.Fatalf("LLEN: %v", err)
	}
	return n
}

func TestScanRequestValidateAndKey(t *testing.T) {
	tests := []struct {
		name    string
		req     ScanRequest
		wantErr string
		wantKey string
	}{
		{"repositories", ScanRequest{Kind: CollectionRepositories, InstallationID: 7}, "", "repositories:installation:7"},
		{"repositories without installation", ScanRequest{Kind: CollectionRepositories}, "installation id missing", ""},
		{"pulls", ScanRequest{Kind: CollectionPullRequests, Owner: "Org", Repo: "Repo"}, "", "pull_requests:org/repo"},
		{"open pulls are another collection", ScanRequest{Kind: CollectionPullRequests, Owner: "o", Repo: "r", State: "open"}, "", "pull_requests:o/r:state=open"},
		{"files need a number", ScanRequest{Kind: CollectionPullRequestFiles, Owner: "o", Repo: "r"}, "number missing", ""},
		{"files", ScanRequest{Kind: CollectionPullRequestFiles, Owner: "o", Repo: "r", Number: 3}, "", "pull_request_files:o/r#3"},
		{"label", ScanRequest{Kind: JobSyncLabel, Owner: "o", Repo: "r", Name: "bug"}, "", "sync_label:o/r:bug"},
		{"label without name", ScanRequest{Kind: JobSyncLabel, Owner: "o", Repo: "r"}, "label name missing", ""},
		{"user", ScanRequest{Kind: JobSyncUser, Name: "Octocat"}, "", "sync_user:octocat"},
		{"unknown kind", ScanRequest{Kind: "everything", Owner: "o", Repo: "r"}, "unknown kind", ""},
		{"bad state", ScanRequest{Kind: CollectionIssues, Owner: "o", Repo: "r", State: "merged"}, "state", ""},
		{"no repo", ScanRequest{Kind: CollectionIssues, Owner: "o"}, "owner and repo", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.req.validate()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("validate = %v, want error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("validate: %v", err)
			}
			if got := tt.req.scanKey(); got != tt.wantKey {
				t.Errorf("scanKey = %q, want %q", got, tt.wantKey)
			}
		})
	}
}

func TestSchedulerScanJoinsTheRunningScan(t *testing.T) {
	ctx := context.Background()
	d := testDeps(t)
	s := NewScheduler(d)
	req := ScanRequest{Kind: CollectionPullRequests, Owner: "org-0", Repo: "repo-0", RequestedBy: "test"}

	id1, joined, err := s.Scan(ctx, req)
	if err != nil || joined {
		t.Fatalf("first Scan = %d, %v, %v", id1, joined, err)
	}
	id2, joined, err := s.Scan(ctx, req)
	if err != nil || !joined || id2 != id1 {
		t.Fatalf("second Scan = %d, %v, %v; want %d joined", id2, joined, err, id1)
	}
	// Concurrent requests all land on one scan.
	var wg sync.WaitGroup
	ids := make([]int64, 8)
	errs := make([]error, 8)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids[i], _, errs[i] = s.Scan(ctx, req)
		}()
	}
	wg.Wait()
	for i := range ids {
		if errs[i] != nil || ids[i] != id1 {
			t.Errorf("concurrent Scan %d = %d, %v; want %d", i, ids[i], errs[i], id1)
		}
	}
	if n := queueLen(t, d.Namespace, SpawnJob(CollectionPullRequests)); n != 1 {
		t.Errorf("%d spawn jobs queued, want 1", n)
	}
	other, joined, err := s.Scan(ctx, ScanRequest{Kind: CollectionIssues, Owner: "org-0", Repo: "repo-0"})
	if err != nil || joined || other == id1 {
		t.Fatalf("Scan of another collection = %d, %v, %v", other, joined, err)
	}

	st, err := s.Status(ctx, id1)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != "queued" || st.PagesTotal != nil || st.Kind != CollectionPullRequests {
		t.Errorf("Status = %+v, want queued with no page count", st)
	}
	if _, err := s.Status(ctx, 999999); !errors.Is(err, ErrNoScan) {
		t.Errorf("Status of a missing scan = %v, want ErrNoScan", err)
	}

	// Once it ends, the same request starts a new scan.
	if _, err := env.DB.Exec(`UPDATE scan SET status = 'done', finished_at = now() WHERE id = $1`, id1); err != nil {
		t.Fatal(err)
	}
	id3, joined, err := s.Scan(ctx, req)
	if err != nil || joined || id3 == id1 {
		t.Fatalf("Scan after the end = %d, %v, %v; want a new scan", id3, joined, err)
	}
}

func TestSchedulerIncrementalSince(t *testing.T) {
	ctx := context.Background()
	d := testDeps(t)
	s := NewScheduler(d)
	req := ScanRequest{Kind: CollectionIssues, Owner: "o", Repo: "r"}
	first, _, err := s.Scan(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	started := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if _, err := env.DB.Exec(`UPDATE scan SET status = 'done', started_at = $2 WHERE id = $1`, first, started); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		full      bool
		wantSince *time.Time
	}{
		{"after a complete scan", false, ptrTime(started.Add(-sinceMargin))},
		{"forced full", true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := req
			r.Full = tt.full
			id, _, err := s.Scan(ctx, r)
			if err != nil {
				t.Fatal(err)
			}
			var since sql.NullTime
			var full bool
			if err := env.DB.QueryRow(`SELECT since, full_scan FROM scan WHERE id = $1`, id).Scan(&since, &full); err != nil {
				t.Fatal(err)
			}
			if full != tt.full {
				t.Errorf("full_scan = %v, want %v", full, tt.full)
			}
			switch {
			case tt.wantSince == nil && since.Valid:
				t.Errorf("since = %v, want none", since.Time)
			case tt.wantSince != nil && (!since.Valid || !since.Time.Equal(*tt.wantSince)):
				t.Errorf("since = %v, want %v", since, *tt.wantSince)
			}
			if _, err := env.DB.Exec(`UPDATE scan SET status = 'failed' WHERE id = $1`, id); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func ptrTime(t time.Time) *time.Time { return &t }

func TestCancelInstallation(t *testing.T) {
	ctx := context.Background()
	d := testDeps(t)
	s := NewScheduler(d)
	mine, _, err := s.Scan(ctx, ScanRequest{Kind: CollectionRepositories, InstallationID: 5})
	if err != nil {
		t.Fatal(err)
	}
	theirs, _, err := s.Scan(ctx, ScanRequest{Kind: CollectionRepositories, InstallationID: 6})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CancelInstallation(ctx, 5); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[int64]string{mine: "failed", theirs: "queued"} {
		st, err := s.Status(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if st.Status != want {
			t.Errorf("scan %d status %q, want %q", id, st.Status, want)
		}
	}
}

// insertScan makes a spawned scan of n pending pages, as spawn leaves it.
func insertScan(t *testing.T, kind string, repoID int64, pages int) *scanRow {
	t.Helper()
	var id int64
	err := env.DB.QueryRow(`
		INSERT INTO scan (kind, scan_key, installation_id, owner, repo, repo_id, status, pages_total, started_at)
		VALUES ($1, $2, 1, 'o', 'r', $3, 'running', $4, now() - interval '1 minute') RETURNING id`,
		kind, fmt.Sprintf("%s:%d", kind, repoID), repoID, pages).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.DB.Exec(`INSERT INTO scan_page (scan_id, page) SELECT $1, g FROM generate_series(1, $2) g`, id, pages); err != nil {
		t.Fatal(err)
	}
	sc, err := loadScan(context.Background(), env.DB, id, false)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// keysPage is a page whose items are given names (labels) with no rows
// written: the fan-in does not care what a page holds.
func keysPage(keys ...string) *pageFetch {
	return &pageFetch{
		url: "test/" + strings.Join(keys, ","),
		f:   fetched{requested: true, etag: `"` + strings.Join(keys, ",") + `"`},
		io: pageIO{write: func(ctx context.Context, tx *sql.Tx, sc *scanRow, m process.Meta) (pageResult, error) {
			return pageResult{items: len(keys), keys: keys}, nil
		}},
		fetchedAt: time.Now(),
	}
}

func TestFanInCompletesExactlyOnce(t *testing.T) {
	ctx := context.Background()
	d := testDeps(t)
	e := newEngine(d)
	c := collectionsByName[CollectionLabels]
	const pages = 12
	sc := insertScan(t, CollectionLabels, 1, pages)

	var mu sync.Mutex
	completions := 0
	var wg sync.WaitGroup
	// Every page runs twice at once, as a redelivered job would.
	for run := 0; run < 2; run++ {
		for p := 1; p <= pages; p++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := e.withTx(ctx, "page", func(tx *sql.Tx) error {
					out, err := e.writePage(ctx, tx, sc, c, p, keysPage(fmt.Sprintf("label-%d", p)))
					if err == nil && out.done && out.complete {
						mu.Lock()
						completions++
						mu.Unlock()
					}
					return err
				})
				if err != nil {
					t.Errorf("page %d: %v", p, err)
				}
			}()
		}
	}
	wg.Wait()
	if completions != 1 {
		t.Errorf("%d page runs saw the scan complete, want exactly 1", completions)
	}
	st, err := NewScheduler(d).Status(ctx, sc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.PagesDone != pages || st.Items != pages || st.Requests != pages {
		t.Errorf("status %+v: want %d pages done, %d items, %d requests", st, pages, pages, pages)
	}
	var etags int
	if err := env.DB.QueryRow(`SELECT count(*) FROM api_etag WHERE url LIKE 'test/%'`).Scan(&etags); err != nil {
		t.Fatal(err)
	}
	if etags != pages {
		t.Errorf("%d ETags stored, want %d", etags, pages)
	}
}

func TestFanInNotModifiedPageReusesStoredIDs(t *testing.T) {
	ctx := context.Background()
	d := testDeps(t)
	e := newEngine(d)
	c := collectionsByName[CollectionLabels]
	first := insertScan(t, CollectionLabels, 1, 1)
	pf := keysPage("bug", "docs")
	if err := e.withTx(ctx, "page", func(tx *sql.Tx) error {
		_, err := e.writePage(ctx, tx, first, c, 1, pf)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	second := insertScan(t, CollectionLabels, 2, 1)
	unchanged := &pageFetch{url: pf.url, f: fetched{requested: true, notModified: true, etag: pf.f.etag}}
	var out pageOutcome
	if err := e.withTx(ctx, "page", func(tx *sql.Tx) error {
		var err error
		out, err = e.writePage(ctx, tx, second, c, 1, unchanged)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if !out.done || !out.complete {
		t.Fatalf("outcome %+v, want done and complete", out)
	}
	var keys []string
	rows, err := env.DB.Query(`SELECT unnest(seen_keys) FROM scan_page WHERE scan_id = $1 ORDER BY 1`, second.ID)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	rows.Close()
	if strings.Join(keys, ",") != "bug,docs" {
		t.Errorf("seen keys of the 304 page = %v, want bug,docs", keys)
	}
	st, err := NewScheduler(d).Status(ctx, second.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.NotModified != 1 || st.Requests != 1 || st.Items != 0 {
		t.Errorf("status %+v: want 1 request, 1 not modified, 0 items written", st)
	}
}

func TestSweeperRequeuesStuckScans(t *testing.T) {
	ctx := context.Background()
	d := testDeps(t)
	d.StuckAfter = time.Hour
	e := newEngine(d)
	s := &Scheduler{e: e}

	stuck := insertScan(t, CollectionLabels, 1, 3)
	if _, err := env.DB.Exec(`UPDATE scan_page SET status = 'done' WHERE scan_id = $1 AND page = 1`, stuck.ID); err != nil {
		t.Fatal(err)
	}
	alive := insertScan(t, CollectionMilestones, 1, 2)
	if err := e.touch(ctx, alive.ID); err != nil {
		t.Fatal(err)
	}
	finished := insertScan(t, CollectionIssues, 1, 1)
	if _, err := env.DB.Exec(`UPDATE scan SET pages_done = 1 WHERE id = $1`, finished.ID); err != nil {
		t.Fatal(err)
	}
	unspawned, _, err := s.Scan(ctx, ScanRequest{Kind: CollectionPullRequests, Owner: "o", Repo: "r"})
	if err != nil {
		t.Fatal(err)
	}
	// Scan marked it alive; forget that, as if the enqueue had been lost.
	conn := env.Redis.Get()
	_, _ = conn.Do("DEL", e.progressKey(unspawned), d.Namespace+":jobs:"+SpawnJob(CollectionPullRequests))
	_, _ = conn.Do("DEL", redisUniqueKeys(t, conn, d.Namespace)...)
	conn.Close()

	n, err := s.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("Sweep touched %d scans, want 3 (stuck, finished-but-not-scanned, unspawned)", n)
	}
	checks := []struct {
		job  string
		want int
	}{
		{PageJob(CollectionLabels), 2},        // pages 2 and 3 of the stuck scan
		{PageJob(CollectionMilestones), 0},    // alive: left alone
		{ScannedJob(CollectionIssues), 1},     // all pages done, scanned job lost
		{SpawnJob(CollectionPullRequests), 1}, // never spawned
	}
	for _, c := range checks {
		if got := queueLen(t, d.Namespace, c.job); got != c.want {
			t.Errorf("%s: %d queued, want %d", c.job, got, c.want)
		}
	}
	// A second sweep finds every scan marked alive again.
	if n, err := s.Sweep(ctx); err != nil || n != 0 {
		t.Errorf("second Sweep = %d, %v; want 0", n, err)
	}
}

func redisUniqueKeys(t *testing.T, conn redis.Conn, ns string) []any {
	t.Helper()
	keys, err := redis.Strings(conn.Do("KEYS", ns+":unique:*"))
	if err != nil {
		t.Fatal(err)
	}
	out := make([]any, len(keys))
	for i, k := range keys {
		out[i] = k
	}
	if len(out) == 0 {
		return []any{ns + ":none"}
	}
	return out
}

func TestScannedSweepsOnlyCompleteFullScans(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name       string
		failedPage bool
		wantLabels string
		wantStamp  bool
	}{
		{"complete", false, "bug", true},
		{"a page failed", true, "bug,stale", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := testDeps(t)
			e := newEngine(d)
			for _, q := range []string{
				`INSERT INTO github_repository (id, name, full_name, owner_login) VALUES (10, 'r', 'o/r', 'o')`,
				`INSERT INTO github_issue_label (repo_id, name, id) VALUES (10, 'bug', 1), (10, 'stale', 2)`,
			} {
				if _, err := env.DB.Exec(q); err != nil {
					t.Fatal(err)
				}
			}
			sc := insertScan(t, CollectionLabels, 10, 2)
			status2 := "done"
			if tt.failedPage {
				status2 = "failed"
			}
			for _, q := range []string{
				`UPDATE scan_page SET status = 'done', seen_keys = '{bug}' WHERE scan_id = $1 AND page = 1 AND $2 <> ''`,
				`UPDATE scan_page SET status = $2, seen_keys = '{}' WHERE scan_id = $1 AND page = 2`,
				`UPDATE scan SET pages_done = CASE WHEN $2 = 'done' THEN 2 ELSE 1 END,
				                pages_failed = CASE WHEN $2 = 'done' THEN 0 ELSE 1 END,
				                incomplete = $2 <> 'done' WHERE id = $1`,
			} {
				if _, err := env.DB.Exec(q, sc.ID, status2); err != nil {
					t.Fatal(err)
				}
			}
			job := &work.Job{Name: ScannedJob(CollectionLabels), Args: work.Q{"scan_id": sc.ID}}
			if err := e.scannedJob(ctx, job); err != nil {
				t.Fatal(err)
			}
			rows, err := env.DB.Query(`SELECT name FROM github_issue_label WHERE repo_id = 10 ORDER BY name`)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for rows.Next() {
				var n string
				_ = rows.Scan(&n)
				names = append(names, n)
			}
			rows.Close()
			if got := strings.Join(names, ","); got != tt.wantLabels {
				t.Errorf("labels left %q, want %q", got, tt.wantLabels)
			}
			var stamp sql.NullTime
			var status string
			if err := env.DB.QueryRow(`SELECT labels_last_scanned_at FROM github_repository WHERE id = 10`).Scan(&stamp); err != nil {
				t.Fatal(err)
			}
			if stamp.Valid != tt.wantStamp {
				t.Errorf("labels_last_scanned_at set = %v, want %v", stamp.Valid, tt.wantStamp)
			}
			if err := env.DB.QueryRow(`SELECT status FROM scan WHERE id = $1`, sc.ID).Scan(&status); err != nil {
				t.Fatal(err)
			}
			if status != "done" {
				t.Errorf("scan status %q, want done", status)
			}
			// Run again (at-least-once delivery): nothing changes.
			if err := e.scannedJob(ctx, job); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestBackoffAndLastAttempt(t *testing.T) {
	e := newEngine(Deps{Redis: env.Redis, RetryDelay: 2 * time.Second, MaxFails: 3})
	tests := []struct {
		fails     int64
		wantDelay int64
		wantLast  bool
	}{
		{1, 2, false},
		{2, 4, true},
		{3, 8, true},
		{20, 300, true},
	}
	for _, tt := range tests {
		j := &work.Job{Fails: tt.fails}
		if got := e.backoff(j); got != tt.wantDelay {
			t.Errorf("backoff after %d fails = %ds, want %ds", tt.fails, got, tt.wantDelay)
		}
		if got := e.lastAttempt(j); got != tt.wantLast {
			t.Errorf("lastAttempt after %d fails = %v, want %v", tt.fails, got, tt.wantLast)
		}
	}
}
