package jobs

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gocraft/work"
	"github.com/gomodule/redigo/redis"

	"github.com/webhookdb/webhookdb/ghfake"
)

var smallSeed = &ghfake.SeedOptions{Seed: 3, Accounts: 1, Users: 4, ReposPerAccount: 1, PullsPerRepo: 12,
	IssuesPerRepo: 230, FilesPerPull: 150, CommentsPerIssue: 1, LabelsPerRepo: 3, MilestonesPerRepo: 1,
	ReviewsPerPull: 1, ReviewCommentsPerPull: 1}

func (h *harness) repo() (owner, name string) {
	r := h.gh.World().InstallationRepositories(h.inst)[0]
	return r.GetOwner().GetLogin(), r.GetName()
}

// TestRateLimitPausesAndResumes: a scan bigger than the primary budget
// pauses the installation when the budget is spent and resumes at the
// reset GitHub announced (ghfake refills it then, as GitHub does). The
// rate-limited answers are counted: each job learns of the limit by at
// most one refused answer (or none: go-github refuses locally once an
// answer said 0 remain), and a paused installation sends nothing.
func TestRateLimitPausesAndResumes(t *testing.T) {
	const budget = 15
	tests := []struct {
		name  string
		slots int // the installation's concurrency cap
	}{
		{"one slot: nothing is sent while paused", 1},
		{"four slots: only requests in flight are refused", 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A short window, so that the scan sees several resets.
			h := newHarness(t, ghfake.Options{Seed: smallSeed, RateLimit: budget, RateLimitWindow: 2 * time.Second, TokenTTL: 3 * time.Hour},
				func(d *Deps) { d.InstallationConcurrency = tt.slots })
			// As many workers as slots: jobs do not wait for a slot, so
			// the budget runs out well before a window ends.
			h.start(tt.slots)
			owner, name := h.repo()
			h.scan(ScanRequest{Kind: JobSyncRepository, Owner: owner, Repo: name, Children: true, RequestedBy: "test"})

			e := newEngine(h.deps)
			var pauses, sentWhilePaused int
			var pausedTill time.Time
			requestsAtPause := -1
			deadline := time.Now().Add(2 * time.Minute)
			for {
				until, err := e.pausedUntil(context.Background(), h.inst)
				if err != nil {
					t.Fatal(err)
				}
				requests := h.gh.Stats().ByInstallation[h.inst].Requests
				switch {
				case until.IsZero():
					requestsAtPause = -1
				case !until.Equal(pausedTill):
					pauses++
					pausedTill, requestsAtPause = until, requests
				case requests != requestsAtPause:
					// Still the same pause: nothing may reach GitHub.
					sentWhilePaused += requests - requestsAtPause
					requestsAtPause = requests
				}
				var open int
				if err := h.deps.DB.QueryRow(`SELECT count(*) FROM scan WHERE status IN ('queued', 'running')`).Scan(&open); err != nil {
					t.Fatal(err)
				}
				if open == 0 {
					break
				}
				if time.Now().After(deadline) {
					h.waitIdle(0)
				}
				time.Sleep(20 * time.Millisecond)
			}
			h.assertAllDone()
			var failedPages int
			if err := h.deps.DB.QueryRow(`SELECT count(*) FROM scan_page WHERE status <> 'done'`).Scan(&failedPages); err != nil {
				t.Fatal(err)
			}
			if failedPages != 0 {
				t.Errorf("%d pages not done", failedPages)
			}
			c := h.gh.Stats().ByInstallation[h.inst]
			t.Logf("installation requests %+v, %d pauses, %d requests sent while paused", c, pauses, sentWhilePaused)
			if c.Requests <= 2*budget {
				t.Fatalf("%d requests fit in two windows; the test proves nothing", c.Requests)
			}
			if pauses < 2 {
				t.Errorf("%d pauses; the installation must pause at each spent window", pauses)
			}
			// Per pause, each slot's job may learn of the limit by one
			// refused answer; nothing else may be refused.
			if most := tt.slots * pauses; c.RateLimited > most {
				t.Errorf("%d rate-limited answers, want at most %d (%d slots, %d pauses)", c.RateLimited, most, tt.slots, pauses)
			}
			// Once paused, only the other slots' requests already under
			// way may still reach GitHub: none with one slot.
			if most := (tt.slots - 1) * pauses; sentWhilePaused > most {
				t.Errorf("%d requests sent while the installation was paused, want at most %d", sentWhilePaused, most)
			}
			var files int
			if err := h.deps.DB.QueryRow(`SELECT count(*) FROM github_pull_request_file`).Scan(&files); err != nil {
				t.Fatal(err)
			}
			if files != 12*150 {
				t.Errorf("%d files stored, want %d", files, 12*150)
			}
		})
	}
}

func TestSecondaryLimitHonoursRetryAfter(t *testing.T) {
	ctx := context.Background()
	// Every secondary answer with its Retry-After, which this test is
	// about (TestRateLimitAnswersPauseAndResume has GitHub's mix).
	h := newHarness(t, ghfake.Options{Seed: smallSeed, SecondaryRetryAfterShare: 1}, nil)
	owner, name := h.repo()
	// The repository and a token first, so the limits hit the pages.
	if _, err := NewSyncer(h.deps).Sync(ctx, ScanRequest{Kind: JobSyncRepository, InstallationID: h.inst, Owner: owner, Repo: name}); err != nil {
		t.Fatal(err)
	}
	h.gh.SetSecondaryLimit(ghfake.SecondaryLimit{RetryAfter: time.Second})
	h.gh.TriggerSecondaryLimit(3)
	h.start(4)
	start := time.Now()
	id := h.scan(ScanRequest{Kind: CollectionIssues, InstallationID: h.inst, Owner: owner, Repo: name})
	h.waitIdle(time.Minute)
	h.assertAllDone()
	st, err := h.sched.Status(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if st.PagesTotal == nil || st.PagesDone != *st.PagesTotal || st.PagesFailed != 0 {
		t.Errorf("status %+v, want every page done", st)
	}
	if got := h.gh.Stats().Total.RateLimited; got != 3 {
		t.Errorf("%d rate-limited answers, want the 3 triggered", got)
	}
	// Retry-After 1s, then 2s, then 4s: the backoff after repeated limits.
	if took := time.Since(start); took < 3*time.Second {
		t.Errorf("the scan took %s; it cannot have honoured Retry-After", took)
	}
	var strikes int
	conn := env.Redis.Get()
	defer conn.Close()
	strikes, err = redis.Int(conn.Do("GET", h.deps.Namespace+":webhookdb:secondary:"+strconv.FormatInt(h.inst, 10)))
	if err != nil || strikes < 1 {
		t.Errorf("secondary limit strikes = %d, %v; want them counted", strikes, err)
	}
}

func TestServerErrorsRetryThenPagesFailForGood(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name           string
		failures       int
		wantIncomplete bool
	}{
		{"a few 502s are retried", 2, false},
		{"pages that keep failing end the scan incomplete", 1000, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, ghfake.Options{Seed: smallSeed}, func(d *Deps) { d.MaxFails = 3 })
			owner, name := h.repo()
			e := newEngine(h.deps)
			// Page 1 and the fan-out first, then GitHub breaks for pages 2..n.
			id := h.scan(ScanRequest{Kind: CollectionIssues, Owner: owner, Repo: name})
			if err := e.spawnJob(ctx, &work.Job{Name: SpawnJob(CollectionIssues), Args: work.Q{"scan_id": id}}); err != nil {
				t.Fatal(err)
			}
			// A stored issue that GitHub never listed: a sweep would remove it.
			if _, err := h.deps.DB.Exec(`INSERT INTO github_issue (id, repo_id, number, state, title)
				SELECT 999999999, id, 99999, 'open', 'ghost' FROM github_repository LIMIT 1`); err != nil {
				t.Fatal(err)
			}
			h.gh.FailNext(tt.failures, 502)
			h.start(2)
			h.waitIdle(time.Minute)
			st, err := h.sched.Status(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if st.Status != "done" || st.Incomplete != tt.wantIncomplete {
				t.Errorf("status %+v, want done with incomplete=%v", st, tt.wantIncomplete)
			}
			if st.Errors == 0 || st.Error == nil {
				t.Errorf("status %+v records no error", st)
			}
			var ghost int
			if err := h.deps.DB.QueryRow(`SELECT count(*) FROM github_issue WHERE id = 999999999`).Scan(&ghost); err != nil {
				t.Fatal(err)
			}
			if swept := ghost == 0; swept == tt.wantIncomplete {
				t.Errorf("sweep ran = %v on a scan with incomplete=%v", swept, tt.wantIncomplete)
			}
			if tt.wantIncomplete && (st.PagesFailed == 0 || st.PagesFailed+st.PagesDone != *st.PagesTotal) {
				t.Errorf("status %+v: want failed pages counted toward the total", st)
			}
		})
	}
}

func TestInstallationConcurrencyCap(t *testing.T) {
	h := newHarness(t, ghfake.Options{Seed: smallSeed}, func(d *Deps) {
		d.InstallationConcurrency = 2
		d.BusyDelay = time.Second
	})
	// GitHub answers 403 to a third concurrent request of one installation.
	h.gh.SetSecondaryLimit(ghfake.SecondaryLimit{MaxConcurrent: 2})
	h.gh.SetLatency(20*time.Millisecond, 0)
	h.start(8)
	owner, name := h.repo()
	h.scan(ScanRequest{Kind: CollectionPullRequests, Owner: owner, Repo: name, Children: true})
	h.waitIdle(2 * time.Minute)
	h.assertAllDone()
	if got := h.gh.Stats().Total.RateLimited; got != 0 {
		t.Errorf("%d requests exceeded the concurrency limit, want 0", got)
	}
}

func TestSyncerInline(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, ghfake.Options{Seed: smallSeed}, nil)
	owner, name := h.repo()
	s := NewSyncer(h.deps)
	w := h.gh.World()
	pr := w.PullRequests(owner, name)[0]
	for _, p := range w.PullRequests(owner, name) {
		if p.GetMerged() && p.GetMergedBy().GetLogin() != "" {
			pr = p
			break
		}
	}
	if !pr.GetMerged() {
		t.Fatal("the seed has no merged pull request")
	}
	// GitHub answers mergeable null until it has computed it, which a
	// first read starts (and it stays null once merged): read an open pull
	// request once, as someone else would, so the sync sees it computed.
	open := w.PullRequests(owner, name)[0]
	for _, p := range w.PullRequests(owner, name) {
		if p.GetState() == "open" {
			open = p
			break
		}
	}
	gc, err := h.deps.GitHub.NewInstallationClient(h.inst)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := gc.PullRequests.Get(ctx, owner, name, open.GetNumber()); err != nil {
		t.Fatal(err)
	}
	if open = w.PullRequest(owner, name, open.GetNumber()); open.Mergeable == nil {
		t.Fatalf("#%d (%s): mergeable still null on GitHub; the check would prove nothing", open.GetNumber(), open.GetState())
	}
	tests := []struct {
		name    string
		req     ScanRequest
		wantErr error
		check   string // a query that must count 1 afterwards
	}{
		{"repository", ScanRequest{Kind: JobSyncRepository, Owner: owner, Repo: name}, nil,
			`SELECT count(*) FROM github_repository WHERE lower(full_name) = lower('` + owner + "/" + name + `')`},
		{"merged pull request with merged_by", ScanRequest{Kind: JobSyncPullRequest, Owner: owner, Repo: name, Number: pr.GetNumber()}, nil,
			`SELECT count(*) FROM github_pull_request WHERE number = ` + itoa(pr.GetNumber()) + ` AND merged_by_login = '` + pr.GetMergedBy().GetLogin() +
				`' AND merged_by_id = ` + strconv.FormatInt(pr.GetMergedBy().GetID(), 10)},
		{"open pull request with mergeable", ScanRequest{Kind: JobSyncPullRequest, Owner: owner, Repo: name, Number: open.GetNumber()}, nil,
			`SELECT count(*) FROM github_pull_request WHERE number = ` + itoa(open.GetNumber()) + ` AND mergeable = ` + boolSQL(open.Mergeable) +
				` AND merged_by_login IS NULL`},
		{"label", ScanRequest{Kind: JobSyncLabel, Owner: owner, Repo: name, Name: w.Labels(owner, name)[0].GetName()}, nil,
			`SELECT count(*) FROM github_issue_label WHERE name = '` + w.Labels(owner, name)[0].GetName() + `'`},
		{"missing issue", ScanRequest{Kind: JobSyncIssue, Owner: owner, Repo: name, Number: 999999}, ErrNotFound,
			`SELECT count(*) + 1 FROM github_issue WHERE number = 999999`},
		{"uncovered repository", ScanRequest{Kind: JobSyncRepository, Owner: "nobody", Repo: "nothing"}, ErrNoInstallation,
			`SELECT 1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := s.Sync(ctx, tt.req)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Sync = %v, want %v", err, tt.wantErr)
			}
			var n int
			if err := h.deps.DB.QueryRow(tt.check).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 1 {
				t.Errorf("%s = %d, want 1", tt.check, n)
			}
			st, err := h.sched.Status(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantErr == nil && (st.Status != "done" || st.Requests == 0) {
				t.Errorf("status %+v, want done with its requests", st)
			}
		})
	}

	t.Run("a deleted label is removed locally", func(t *testing.T) {
		label := w.Labels(owner, name)[0].GetName()
		if _, err := h.gh.DeleteLabel(ctx, owner, name, label); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Sync(ctx, ScanRequest{Kind: JobSyncLabel, Owner: owner, Repo: name, Name: label}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Sync = %v, want ErrNotFound", err)
		}
		var n int
		if err := h.deps.DB.QueryRow(`SELECT count(*) FROM github_issue_label WHERE name = $1`, label).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("label %q still stored", label)
		}
	})

	t.Run("a deleted issue is removed locally", func(t *testing.T) {
		is := w.Issues(owner, name)[0]
		if _, err := s.Sync(ctx, ScanRequest{Kind: JobSyncIssue, Owner: owner, Repo: name, Number: is.GetNumber()}); err != nil {
			t.Fatal(err)
		}
		count := func() int {
			var n int
			if err := h.deps.DB.QueryRow(`SELECT count(*) FROM github_issue WHERE id = $1`, is.GetID()).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		if count() != 1 {
			t.Fatal("the issue was not stored")
		}
		if _, err := h.gh.DeleteIssue(ctx, owner, name, is.GetNumber()); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Sync(ctx, ScanRequest{Kind: JobSyncIssue, Owner: owner, Repo: name, Number: is.GetNumber()}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Sync = %v, want ErrNotFound", err)
		}
		if count() != 0 {
			t.Error("the deleted issue is still stored")
		}
	})

	t.Run("a queued sync of the same object is joined and completed", func(t *testing.T) {
		req := ScanRequest{Kind: JobSyncMilestone, Owner: owner, Repo: name, Number: w.Milestones(owner, name)[0].GetNumber()}
		queued := h.scan(req)
		id, err := s.Sync(ctx, req)
		if err != nil || id != queued {
			t.Fatalf("Sync = %d, %v; want the queued scan %d", id, err, queued)
		}
		st, err := h.sched.Status(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if st.Status != "done" || st.Items != 1 {
			t.Errorf("status %+v, want done with the milestone", st)
		}
	})

	t.Run("a spent rate limit says until when", func(t *testing.T) {
		h.gh.SpendRateLimit(h.gh.InstallationToken(h.inst))
		// ghfake limits the installation, not the token: any token of it.
		_, err := s.Sync(ctx, ScanRequest{Kind: JobSyncRepository, Owner: owner, Repo: name, Full: true})
		var rl *RateLimitedError
		if !errors.As(err, &rl) || !rl.Until.After(time.Now()) {
			t.Fatalf("Sync = %v, want a RateLimitedError in the future", err)
		}
	})
}

func itoa(n int) string { return strconv.Itoa(n) }

func boolSQL(b *bool) string {
	switch {
	case b == nil:
		return "NULL"
	case *b:
		return "true"
	}
	return "false"
}

// TestKilledWorkerResumes runs the real worker command, kills it with
// SIGKILL in the middle of a load, and lets an in-process pool finish.
func TestKilledWorkerResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the webhookdb binary")
	}
	ctx := context.Background()
	h := newHarness(t, ghfake.Options{Seed: smallSeed}, nil)
	h.gh.SetLatency(10*time.Millisecond, 0)
	dir := t.TempDir()
	bin := filepath.Join(dir, "webhookdb")
	build := exec.Command("go", "build", "-o", bin, "github.com/webhookdb/webhookdb")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cfg := filepath.Join(dir, "config.yml")
	if err := h.gh.WriteConfigFull(cfg, ghfake.WriteConfigOptions{Addr: "127.0.0.1:0", DatabaseURL: env.DatabaseURL, RedisURL: env.RedisURL}); err != nil {
		t.Fatal(err)
	}
	worker := exec.Command(bin, "worker", "-c", cfg)
	worker.Env = append(os.Environ(), "WEBHOOKDB_NAMESPACE="+h.deps.Namespace, "WEBHOOKDB_WORKERS=4",
		"WEBHOOKDB_INSTALLATION_CONCURRENCY=8", "WEBHOOKDB_LOG_LEVEL=error")
	worker.Stdout, worker.Stderr = os.Stderr, os.Stderr
	if err := worker.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	t.Cleanup(func() {
		if !killed {
			_ = worker.Process.Kill()
			_ = worker.Wait()
		}
	})

	h.scan(ScanRequest{Kind: CollectionRepositories, InstallationID: h.inst, Children: true, RequestedBy: "test"})
	// Kill it once the pull requests' children are under way.
	deadline := time.Now().Add(time.Minute)
	for {
		var done, open int
		if err := h.deps.DB.QueryRow(`SELECT count(*) FILTER (WHERE status = 'done'), count(*) FILTER (WHERE status IN ('queued', 'running'))
			FROM scan WHERE kind = 'pull_request_files'`).Scan(&done, &open); err != nil {
			t.Fatal(err)
		}
		if done >= 3 && open > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the worker did not get going: %d file scans done, %d open", done, open)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := worker.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = worker.Wait()
	killed = true

	// Its leases and progress marks would expire by themselves (LeaseTTL,
	// StuckAfter); drop them instead of waiting minutes.
	conn := env.Redis.Get()
	for _, pattern := range []string{":webhookdb:progress:*", ":webhookdb:leases:*"} {
		keys, err := redis.Strings(conn.Do("KEYS", h.deps.Namespace+pattern))
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if _, err := conn.Do("DEL", k); err != nil {
				t.Fatal(err)
			}
		}
	}
	conn.Close()
	var open int
	if err := h.deps.DB.QueryRow(`SELECT count(*) FROM scan WHERE status IN ('queued', 'running')`).Scan(&open); err != nil {
		t.Fatal(err)
	}
	if open == 0 {
		t.Fatal("the load finished before the kill; the test proves nothing")
	}
	if _, err := h.sched.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	h.start(4)
	h.waitIdle(2 * time.Minute)
	h.assertAllDone()
	h.assertMatchesWorld()
	var dupes int
	if err := h.deps.DB.QueryRow(`SELECT count(*) FROM (SELECT scan_key FROM scan GROUP BY scan_key HAVING count(*) > 1) d`).Scan(&dupes); err != nil {
		t.Fatal(err)
	}
	if dupes != 0 {
		t.Errorf("%d collections were scanned more than once", dupes)
	}
}

// TestListChangingDuringScanSkipsSweep: an update while a full scan reads
// a list sorted by update can shift rows past the pages read, so that scan
// removes nothing; the next one does.
func TestListChangingDuringScanSkipsSweep(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, ghfake.Options{Seed: smallSeed}, nil)
	owner, name := h.repo()
	e := newEngine(h.deps)
	ghost := func() int {
		var n int
		if err := h.deps.DB.QueryRow(`SELECT count(*) FROM github_issue WHERE id = 999999999`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	tests := []struct {
		name      string
		edit      bool
		wantGhost int
	}{
		{"changed during the scan", true, 1},
		{"held still", false, 0},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := h.scan(ScanRequest{Kind: CollectionIssues, InstallationID: h.inst, Owner: owner, Repo: name, Full: true})
			if err := e.spawnJob(ctx, &work.Job{Name: SpawnJob(CollectionIssues), Args: work.Q{"scan_id": id}}); err != nil {
				t.Fatal(err)
			}
			if _, err := h.deps.DB.Exec(`INSERT INTO github_issue (id, repo_id, number, state, title)
				SELECT 999999999, id, 99999, 'open', 'ghost' FROM github_repository LIMIT 1 ON CONFLICT DO NOTHING`); err != nil {
				t.Fatal(err)
			}
			if tt.edit {
				title := "edited while scanning"
				if _, _, err := h.gh.EditIssue(ctx, owner, name, h.gh.World().Issues(owner, name)[5].GetNumber(), ghfake.IssueEdit{Title: &title}); err != nil {
					t.Fatal(err)
				}
			}
			if i == 0 {
				h.start(2)
			}
			h.waitIdle(time.Minute)
			h.assertAllDone()
			if got := ghost(); got != tt.wantGhost {
				t.Errorf("unlisted issue rows = %d, want %d", got, tt.wantGhost)
			}
		})
	}
}
