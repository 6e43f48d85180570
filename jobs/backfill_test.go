package jobs

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gocraft/work"
	"github.com/palantir/go-githubapp/githubapp"

	"github.com/webhookdb/webhookdb/ghfake"
)

// harness is ghfake, the database and Redis of the package, and worker
// pools running the jobs in-process.
type harness struct {
	t     testing.TB
	gh    *ghfake.Server
	deps  Deps
	sched *Scheduler
	inst  int64
	pools []*work.WorkerPool
}

func newHarness(t testing.TB, opts ghfake.Options, tweak func(*Deps)) *harness {
	t.Helper()
	gh, err := ghfake.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := gh.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gh.Close)
	d := testDeps(t)
	cc, err := githubapp.NewDefaultCachingClientCreator(gh.GitHubConfig(), githubapp.WithClientUserAgent("webhookdb-test"))
	if err != nil {
		t.Fatal(err)
	}
	d.GitHub = cc
	d.InstallationConcurrency = 8
	d.RetryDelay = time.Second
	if tweak != nil {
		tweak(&d)
	}
	h := &harness{t: t, gh: gh, deps: d, sched: NewScheduler(d)}
	if insts := gh.World().Installations(); len(insts) > 0 {
		h.inst = insts[0].GetID()
	}
	return h
}

// start runs a worker pool until the test ends (or stop).
func (h *harness) start(workers int) *work.WorkerPool {
	p := NewWorkerPool(h.deps, workers)
	p.Start()
	h.pools = append(h.pools, p)
	h.t.Cleanup(p.Stop)
	return p
}

// close stops the pools and ghfake before the test ends.
func (h *harness) close() {
	for _, p := range h.pools {
		p.Stop()
	}
	h.gh.Close()
}

// waitIdle waits until no scan is queued or running, polling the database
// (the work is in other goroutines; this is the condition, not a timer).
func (h *harness) waitIdle(timeout time.Duration) {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var open int
		if err := h.deps.DB.QueryRow(`SELECT count(*) FROM scan WHERE status IN ('queued', 'running')`).Scan(&open); err != nil {
			h.t.Fatal(err)
		}
		if open == 0 {
			return
		}
		if time.Now().After(deadline) {
			rows, _ := h.deps.DB.Query(`SELECT id, kind, scan_key, status, pages_total, pages_done, pages_failed, coalesce(error, '') FROM scan WHERE status IN ('queued', 'running') ORDER BY id LIMIT 10`)
			for rows != nil && rows.Next() {
				var id int64
				var kind, key, status, errText string
				var total *int
				var done, failed int
				_ = rows.Scan(&id, &kind, &key, &status, &total, &done, &failed, &errText)
				h.t.Logf("open scan %d %s %s %s total=%v done=%d failed=%d err=%s", id, kind, key, status, total, done, failed, errText)
			}
			h.t.Fatalf("%d scans still open after %s", open, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// assertAllDone checks that every scan ended done and complete.
func (h *harness) assertAllDone() {
	h.t.Helper()
	rows, err := h.deps.DB.Query(`SELECT id, scan_key, status, incomplete, coalesce(error, '') FROM scan WHERE status <> 'done' OR incomplete ORDER BY id LIMIT 5`)
	if err != nil {
		h.t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var key, status, errText string
		var incomplete bool
		if err := rows.Scan(&id, &key, &status, &incomplete, &errText); err != nil {
			h.t.Fatal(err)
		}
		h.t.Errorf("scan %d (%s) ended %s incomplete=%v: %s", id, key, status, incomplete, errText)
	}
}

func (h *harness) scan(req ScanRequest) int64 {
	h.t.Helper()
	id, _, err := h.sched.Scan(context.Background(), req)
	if err != nil {
		h.t.Fatal(err)
	}
	return id
}

// worldRows renders ghfake's world as the rows the replica should hold,
// one sorted list of strings per table.
func worldRows(w ghfake.World, inst int64) map[string][]string {
	out := map[string][]string{}
	add := func(table, format string, args ...any) { out[table] = append(out[table], fmt.Sprintf(format, args...)) }
	for _, r := range w.InstallationRepositories(inst) {
		o, n := r.GetOwner().GetLogin(), r.GetName()
		add("repository", "%d %s %s %v", r.GetID(), r.GetFullName(), r.GetDefaultBranch(), r.GetPrivate())
		for _, l := range w.Labels(o, n) {
			add("label", "%d %s %s %s", r.GetID(), l.GetName(), l.GetColor(), l.GetDescription())
		}
		for _, m := range w.Milestones(o, n) {
			add("milestone", "%d %d %s %s", r.GetID(), m.GetNumber(), m.GetTitle(), m.GetState())
		}
		for _, is := range w.IssuesAndPulls(o, n) {
			var labels []string
			for _, l := range is.Labels {
				labels = append(labels, l.GetName())
			}
			sort.Strings(labels)
			add("issue", "%d %d %d %s %s %v %d %d [%s]", is.GetID(), r.GetID(), is.GetNumber(), is.GetState(), is.GetTitle(),
				is.IsPullRequest(), is.GetComments(), is.GetMilestone().GetNumber(), strings.Join(labels, ","))
			for _, c := range w.IssueComments(o, n, is.GetNumber()) {
				add("issue_comment", "%d %d %d %s %s", c.GetID(), r.GetID(), is.GetNumber(), c.GetUser().GetLogin(), c.GetBody())
			}
		}
		for _, pr := range w.PullRequests(o, n) {
			add("pull_request", "%d %d %d %s %s %s %v %d %d %d %s", pr.GetID(), r.GetID(), pr.GetNumber(), pr.GetState(), pr.GetTitle(),
				pr.GetHead().GetSHA(), pr.GetMerged(), pr.GetAdditions(), pr.GetDeletions(), pr.GetChangedFiles(),
				pr.GetMergedBy().GetLogin())
			for _, f := range w.PullRequestFiles(o, n, pr.GetNumber()) {
				add("file", "%d %s %s %d %d %s", pr.GetID(), f.GetFilename(), f.GetStatus(), f.GetAdditions(), f.GetDeletions(), f.GetSHA())
			}
			for _, rv := range w.Reviews(o, n, pr.GetNumber()) {
				add("review", "%d %d %s %s", rv.GetID(), pr.GetID(), rv.GetState(), rv.GetUser().GetLogin())
			}
			for _, rc := range w.ReviewComments(o, n, pr.GetNumber()) {
				add("review_comment", "%d %d %s %d %s", rc.GetID(), pr.GetID(), rc.GetPath(), rc.GetLine(), rc.GetBody())
			}
		}
	}
	for k := range out {
		sort.Strings(out[k])
	}
	return out
}

// replicaQueries render the replica the same way as worldRows.
var replicaQueries = map[string]string{
	"repository": `SELECT r.id || ' ' || r.full_name || ' ' || coalesce(r.default_branch, '') || ' ' || coalesce(r.private::text, 'false')
		FROM github_repository r JOIN github_installation_repository ir ON ir.repo_id = r.id AND ir.installation_id = $1`,
	"label":     `SELECT repo_id || ' ' || name || ' ' || coalesce(color, '') || ' ' || coalesce(description, '') FROM github_issue_label`,
	"milestone": `SELECT repo_id || ' ' || number || ' ' || title || ' ' || coalesce(state, '') FROM github_milestone`,
	"issue": `SELECT i.id || ' ' || i.repo_id || ' ' || i.number || ' ' || i.state || ' ' || i.title || ' ' || i.is_pull_request || ' ' ||
			coalesce(i.comments_count, 0) || ' ' || coalesce(i.milestone_number, 0) || ' [' ||
			coalesce((SELECT string_agg(label_name, ',' ORDER BY label_name) FROM github_issue_label_association a WHERE a.issue_id = i.id), '') || ']'
		FROM github_issue i`,
	"issue_comment": `SELECT id || ' ' || repo_id || ' ' || issue_number || ' ' || coalesce(user_login, '') || ' ' || coalesce(body, '') FROM github_issue_comment`,
	"pull_request": `SELECT id || ' ' || base_repo_id || ' ' || number || ' ' || state || ' ' || title || ' ' || coalesce(head_sha, '') || ' ' ||
			coalesce(merged, false) || ' ' || coalesce(additions, -1) || ' ' || coalesce(deletions, -1) || ' ' || coalesce(changed_files, -1) ||
			' ' || coalesce(merged_by_login, '')
		FROM github_pull_request`,
	"file": `SELECT pull_request_id || ' ' || filename || ' ' || coalesce(status, '') || ' ' || coalesce(additions, -1) || ' ' ||
			coalesce(deletions, -1) || ' ' || coalesce(sha, '') FROM github_pull_request_file`,
	"review":         `SELECT id || ' ' || pull_request_id || ' ' || coalesce(state, '') || ' ' || coalesce(user_login, '') FROM github_pull_request_review`,
	"review_comment": `SELECT id || ' ' || pull_request_id || ' ' || coalesce(path, '') || ' ' || coalesce(line, 0) || ' ' || coalesce(body, '') FROM github_pull_request_review_comment`,
}

func (h *harness) replicaRows() map[string][]string {
	h.t.Helper()
	out := map[string][]string{}
	for table, q := range replicaQueries {
		var args []any
		if strings.Contains(q, "$1") {
			args = append(args, h.inst)
		}
		rows, err := h.deps.DB.Query(q, args...)
		if err != nil {
			h.t.Fatalf("%s: %v", table, err)
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				h.t.Fatal(err)
			}
			out[table] = append(out[table], s)
		}
		rows.Close()
		sort.Strings(out[table])
	}
	return out
}

// assertMatchesWorld compares the replica with ghfake row for row.
func (h *harness) assertMatchesWorld() {
	h.t.Helper()
	want := worldRows(h.gh.World(), h.inst)
	got := h.replicaRows()
	for table := range replicaQueries {
		w, g := want[table], got[table]
		if len(w) == 0 {
			h.t.Errorf("%s: the world has no rows; the comparison would prove nothing", table)
		}
		if len(w) != len(g) {
			h.t.Errorf("%s: replica has %d rows, GitHub %d", table, len(g), len(w))
		}
		missing, extra := diff(w, g)
		for i, m := range missing {
			if i == 3 {
				h.t.Errorf("%s: ... %d more missing", table, len(missing)-3)
				break
			}
			h.t.Errorf("%s: missing or different in the replica: %s", table, m)
		}
		for i, x := range extra {
			if i == 3 {
				h.t.Errorf("%s: ... %d more extra", table, len(extra)-3)
				break
			}
			h.t.Errorf("%s: in the replica but not on GitHub: %s", table, x)
		}
	}
}

// assertMergers checks that every merged pull request of the world has
// its merger in the replica: the list lacks merged_by, so this proves the
// single-pull fetch of merged pull requests ran.
func (h *harness) assertMergers() {
	h.t.Helper()
	w := h.gh.World()
	merged := 0
	for _, r := range w.InstallationRepositories(h.inst) {
		o, n := r.GetOwner().GetLogin(), r.GetName()
		for _, pr := range w.PullRequests(o, n) {
			if pr.MergedAt == nil {
				continue
			}
			merged++
			want := pr.GetMergedBy().GetLogin()
			if want == "" {
				h.t.Fatalf("%s#%d: merged without a merger in ghfake; the check would prove nothing", r.GetFullName(), pr.GetNumber())
			}
			var got sql.NullString
			var gotID sql.NullInt64
			if err := h.deps.DB.QueryRow(`SELECT merged_by_login, merged_by_id FROM github_pull_request WHERE id = $1`, pr.GetID()).
				Scan(&got, &gotID); err != nil {
				h.t.Fatalf("%s#%d: %v", r.GetFullName(), pr.GetNumber(), err)
			}
			if got.String != want || gotID.Int64 != pr.GetMergedBy().GetID() {
				h.t.Errorf("%s#%d: merged_by %q (%d) in the replica, %q (%d) on GitHub", r.GetFullName(), pr.GetNumber(),
					got.String, gotID.Int64, want, pr.GetMergedBy().GetID())
			}
		}
	}
	if merged == 0 {
		h.t.Error("the world has no merged pull request; the check would prove nothing")
	}
}

// diff of two sorted lists.
func diff(want, got []string) (missing, extra []string) {
	i, j := 0, 0
	for i < len(want) || j < len(got) {
		switch {
		case j == len(got) || (i < len(want) && want[i] < got[j]):
			missing = append(missing, want[i])
			i++
		case i == len(want) || got[j] < want[i]:
			extra = append(extra, got[j])
			j++
		default:
			i++
			j++
		}
	}
	return missing, extra
}

type loadSize struct {
	repos, pulls, issues, files, comments, labels, milestones, reviews int
	// maxFiles, when set, gives each pull request 1..maxFiles files
	// (ghfake's skewed counts) instead of files each.
	maxFiles int
}

// acceptanceLoad is issue 5's load: 1,000 pull requests (up to 300 files
// each) and 2,000 issues over three repositories.
var acceptanceLoad = loadSize{repos: 3, pulls: 1000, issues: 2000, maxFiles: 300, comments: 1, labels: 12, milestones: 4, reviews: 1}

func seedFor(sz loadSize) *ghfake.SeedOptions {
	return &ghfake.SeedOptions{
		Seed: 5, Accounts: 1, Users: 8, ReposPerAccount: sz.repos,
		PullsPerRepo: sz.pulls / sz.repos, IssuesPerRepo: sz.issues / sz.repos,
		FilesPerPull: sz.files, MaxFilesPerPull: sz.maxFiles, CommentsPerIssue: sz.comments, LabelsPerRepo: sz.labels,
		MilestonesPerRepo: sz.milestones, ReviewsPerPull: sz.reviews, ReviewCommentsPerPull: sz.reviews,
	}
}

func TestBackfillInstallation(t *testing.T) {
	sz := acceptanceLoad
	timeout := 10 * time.Minute
	if testing.Short() {
		sz = loadSize{repos: 3, pulls: 60, issues: 240, maxFiles: 300, comments: 1, labels: 5, milestones: 2, reviews: 1}
		timeout = 2 * time.Minute
	}
	h := newHarness(t, ghfake.Options{Seed: seedFor(sz), RateLimit: 100000}, nil)
	h.start(8)
	ctx := context.Background()
	w := h.gh.World()
	minimum := w.MinimumRequests(h.inst)

	t.Run("first load", func(t *testing.T) {
		h.t = t
		start := time.Now()
		id := h.scan(ScanRequest{Kind: CollectionRepositories, InstallationID: h.inst, Children: true, RequestedBy: "test"})
		h.waitIdle(timeout)
		t.Logf("loaded in %s", time.Since(start))
		h.assertAllDone()
		h.assertMatchesWorld()
		h.assertMergers()
		st, err := h.sched.Status(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if st.Status != "done" || st.PagesTotal == nil || *st.PagesTotal != 1 || st.Items != sz.repos {
			t.Errorf("installation scan status %+v", st)
		}
		stats := h.gh.Stats()
		got := stats.ByInstallation[h.inst].Requests
		t.Logf("requests with the installation token: %d, minimum %d; all requests %+v", got, minimum, stats.Total)
		if got < minimum || float64(got) > float64(minimum)*1.05 {
			t.Errorf("%d requests, want within 5%% of the minimum %d", got, minimum)
		}
		if stats.Total.RateLimited != 0 {
			t.Errorf("%d rate-limited answers, want 0", stats.Total.RateLimited)
		}
		var recorded int
		if err := h.deps.DB.QueryRow(`SELECT sum(requests) FROM scan`).Scan(&recorded); err != nil {
			t.Fatal(err)
		}
		if recorded != got {
			t.Errorf("scans recorded %d requests, ghfake served %d", recorded, got)
		}
	})

	t.Run("same scan again spends no rate limit", func(t *testing.T) {
		h.t = t
		h.gh.ResetStats()
		h.scan(ScanRequest{Kind: CollectionRepositories, InstallationID: h.inst, Children: true, RequestedBy: "test"})
		h.waitIdle(timeout)
		h.assertAllDone()
		c := h.gh.Stats().ByInstallation[h.inst]
		if spent := c.Requests - c.NotModified; spent != 0 {
			t.Errorf("re-scan spent %d requests of the rate limit (%+v), want 0", spent, c)
		}
		h.assertMatchesWorld()
	})

	t.Run("full re-scan removes what GitHub deleted", func(t *testing.T) {
		h.t = t
		repo := w.InstallationRepositories(h.inst)[0]
		o, n := repo.GetOwner().GetLogin(), repo.GetName()
		issue := w.Issues(o, n)[0]
		label := w.Labels(o, n)[0]
		if _, err := h.gh.DeleteIssue(ctx, o, n, issue.GetNumber()); err != nil {
			t.Fatal(err)
		}
		if _, err := h.gh.DeleteLabel(ctx, o, n, label.GetName()); err != nil {
			t.Fatal(err)
		}
		h.scan(ScanRequest{Kind: CollectionRepositories, InstallationID: h.inst, Children: true, Full: true, RequestedBy: "test"})
		h.waitIdle(timeout)
		h.assertAllDone()
		h.assertMatchesWorld()
		var n1, n2 int
		if err := h.deps.DB.QueryRow(`SELECT count(*) FROM github_issue WHERE id = $1`, issue.GetID()).Scan(&n1); err != nil {
			t.Fatal(err)
		}
		if err := h.deps.DB.QueryRow(`SELECT count(*) FROM github_issue_label WHERE repo_id = $1 AND name = $2`, repo.GetID(), label.GetName()).Scan(&n2); err != nil {
			t.Fatal(err)
		}
		if n1+n2 != 0 {
			t.Errorf("deleted issue rows %d, deleted label rows %d; want 0", n1, n2)
		}
	})
}
