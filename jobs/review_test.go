package jobs

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gocraft/work"

	"github.com/webhookdb/webhookdb/ghfake"
)

// The repositories of every installation are listed at the same URL
// (GET /installation/repositories); only the token tells them apart. Their
// ETags and seen ids must not be shared, or one installation's scan reuses
// another's: at best it pays a full request on every re-scan, at worst a
// 304 copies the other installation's ids and the sweep drops every
// repository of its own.
func TestRepositoriesETagIsPerInstallation(t *testing.T) {
	h := newHarness(t, ghfake.Options{Seed: &ghfake.SeedOptions{Seed: 3, Accounts: 2, ReposPerAccount: 2,
		PullsPerRepo: -1, IssuesPerRepo: -1, LabelsPerRepo: -1, MilestonesPerRepo: -1}}, nil)
	h.start(2)
	ctx := context.Background()
	insts := h.gh.World().Installations()
	if len(insts) != 2 {
		t.Fatalf("%d installations seeded, want 2", len(insts))
	}
	a, b := insts[0].GetID(), insts[1].GetID()
	scan := func(inst int64) ScanStatus {
		t.Helper()
		id := h.scan(ScanRequest{Kind: CollectionRepositories, InstallationID: inst, RequestedBy: "test"})
		h.waitIdle(time.Minute)
		st, err := h.sched.Status(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if st.Status != "done" || st.Incomplete {
			t.Fatalf("scan of installation %d: %+v", inst, st)
		}
		return st
	}
	reposOf := func(inst int64) int {
		t.Helper()
		var n int
		if err := h.deps.DB.QueryRow(`SELECT count(*) FROM github_installation_repository WHERE installation_id = $1`, inst).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	scan(a)
	scan(b)
	st := scan(a)
	if st.NotModified != 1 || st.Requests != 1 {
		t.Errorf("unchanged re-scan of installation %d after installation %d's: %d requests, %d not modified; want 1 and 1",
			a, b, st.Requests, st.NotModified)
	}
	for _, inst := range []int64{a, b} {
		if got, want := reposOf(inst), len(h.gh.World().InstallationRepositories(inst)); got != want {
			t.Errorf("installation %d: %d repositories stored, want %d", inst, got, want)
		}
	}
}

// A request joins the running scan of its collection. When it asks for
// more than that scan does (children, or a full listing while the scan has
// not started), the scan must do it: otherwise the caller is answered with
// a scan id whose result silently lacks what it asked for.
func TestJoiningWidensTheRunningScan(t *testing.T) {
	tests := []struct {
		name string
		// first is queued without workers; second joins it.
		first, second ScanRequest
		// prior runs a complete scan first, so the next one is incremental.
		prior bool
		check func(t *testing.T, h *harness, owner, repo string, deleted int64)
	}{
		{
			name:   "children",
			first:  ScanRequest{Kind: CollectionPullRequests, RequestedBy: "webhook"},
			second: ScanRequest{Kind: CollectionPullRequests, Children: true, RequestedBy: "test"},
			check: func(t *testing.T, h *harness, owner, repo string, _ int64) {
				var files int
				if err := h.deps.DB.QueryRow(`SELECT count(*) FROM scan WHERE kind = $1 AND status = 'done'`,
					CollectionPullRequestFiles).Scan(&files); err != nil {
					t.Fatal(err)
				}
				if want := len(h.gh.World().PullRequests(owner, repo)); files != want {
					t.Errorf("%d pull request files scans done, want %d (one per pull request)", files, want)
				}
			},
		},
		{
			name:   "full",
			prior:  true,
			first:  ScanRequest{Kind: CollectionIssues, RequestedBy: "webhook"},
			second: ScanRequest{Kind: CollectionIssues, Full: true, RequestedBy: "test"},
			check: func(t *testing.T, h *harness, _, _ string, deleted int64) {
				var n int
				if err := h.deps.DB.QueryRow(`SELECT count(*) FROM github_issue WHERE id = $1`, deleted).Scan(&n); err != nil {
					t.Fatal(err)
				}
				if n != 0 {
					t.Errorf("the issue GitHub deleted is still stored after a full scan was asked for")
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, ghfake.Options{Seed: &ghfake.SeedOptions{Seed: 4, ReposPerAccount: 1, PullsPerRepo: 3, IssuesPerRepo: 3}}, nil)
			ctx := context.Background()
			repo := h.gh.World().InstallationRepositories(h.inst)[0]
			owner, name := repo.GetOwner().GetLogin(), repo.GetName()
			if tt.prior {
				p := h.start(2)
				h.scan(ScanRequest{Kind: tt.first.Kind, InstallationID: h.inst, Owner: owner, Repo: name, RequestedBy: "test"})
				h.waitIdle(time.Minute)
				h.assertAllDone()
				p.Stop()
			}
			issue := h.gh.World().Issues(owner, name)[0]
			if _, err := h.gh.DeleteIssue(ctx, owner, name, issue.GetNumber()); err != nil {
				t.Fatal(err)
			}

			first, second := tt.first, tt.second
			for _, r := range []*ScanRequest{&first, &second} {
				r.InstallationID, r.Owner, r.Repo = h.inst, owner, name
			}
			id1, _, err := h.sched.Scan(ctx, first)
			if err != nil {
				t.Fatal(err)
			}
			id2, joined, err := h.sched.Scan(ctx, second)
			if err != nil || !joined || id2 != id1 {
				t.Fatalf("second Scan = %d, %v, %v; want %d joined", id2, joined, err, id1)
			}
			h.start(2)
			h.waitIdle(time.Minute)
			h.assertAllDone()
			tt.check(t, h, owner, name, issue.GetID())
		})
	}
}

// A 404 for one object deletes it locally, as the design asks; GitHub also
// answers 404 while the installation has lost access to the repository.
// When access comes back the list pages are unchanged, so GitHub answers
// 304 to the ETags stored before: a re-scan must still write the rows that
// are no longer stored, or they stay missing for good.
func TestRowsLostLocallyComeBackOnRescan(t *testing.T) {
	tests := []struct {
		name  string
		kind  string                                               // the collection re-scanned
		sync  func(w ghfake.World, owner, repo string) ScanRequest // answered 404
		count string                                               // counts the synced object's rows; $1 is the repository id
	}{
		{"issue", CollectionIssues, func(w ghfake.World, owner, repo string) ScanRequest {
			return ScanRequest{Kind: JobSyncIssue, Number: w.Issues(owner, repo)[0].GetNumber()}
		}, `SELECT count(*) FROM github_issue WHERE repo_id = $1 AND NOT is_pull_request`},
		{"label", CollectionLabels, func(w ghfake.World, owner, repo string) ScanRequest {
			return ScanRequest{Kind: JobSyncLabel, Name: w.Labels(owner, repo)[0].GetName()}
		}, `SELECT count(*) FROM github_issue_label WHERE repo_id = $1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			h := newHarness(t, ghfake.Options{Seed: &ghfake.SeedOptions{Seed: 6, ReposPerAccount: 2, PullsPerRepo: 2, IssuesPerRepo: 3, LabelsPerRepo: 3}}, nil)
			h.start(2)
			w := h.gh.World()
			repo := w.InstallationRepositories(h.inst)[0]
			owner, name := repo.GetOwner().GetLogin(), repo.GetName()
			count := func() int {
				t.Helper()
				var n int
				if err := h.deps.DB.QueryRow(tt.count, repo.GetID()).Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}
			rescan := func() {
				t.Helper()
				h.scan(ScanRequest{Kind: tt.kind, InstallationID: h.inst, Owner: owner, Repo: name, Full: true, RequestedBy: "test"})
				h.waitIdle(time.Minute)
				h.assertAllDone()
			}
			rescan()
			want := count()
			if want == 0 {
				t.Fatal("nothing loaded; the test would prove nothing")
			}

			if _, err := h.gh.RemoveInstallationRepos(ctx, h.inst, []string{name}); err != nil {
				t.Fatal(err)
			}
			req := tt.sync(w, owner, name)
			req.InstallationID, req.Owner, req.Repo = h.inst, owner, name
			if _, err := NewSyncer(h.deps).Sync(ctx, req); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Sync without access = %v, want ErrNotFound", err)
			}
			if got := count(); got != want-1 {
				t.Fatalf("%d rows after GitHub's 404, want %d", got, want-1)
			}
			if _, err := h.gh.AddInstallationRepos(ctx, h.inst, []string{name}); err != nil {
				t.Fatal(err)
			}
			rescan()
			if got := count(); got != want {
				t.Errorf("%d rows after the re-scan, want %d: the lost row never came back", got, want)
			}
		})
	}
}

// The same for one object: an inline sync answers "stored" only when the
// object is stored, even when GitHub answers 304 to the ETag kept from
// before it was deleted locally.
func TestSingleSyncRewritesALostRow(t *testing.T) {
	tests := []struct {
		name  string
		req   func(w ghfake.World, owner, repo string) ScanRequest
		count string // $1 is the repository id
	}{
		{"issue", func(w ghfake.World, owner, repo string) ScanRequest {
			return ScanRequest{Kind: JobSyncIssue, Number: w.Issues(owner, repo)[0].GetNumber()}
		}, `SELECT count(*) FROM github_issue WHERE repo_id = $1`},
		{"label", func(w ghfake.World, owner, repo string) ScanRequest {
			return ScanRequest{Kind: JobSyncLabel, Name: w.Labels(owner, repo)[0].GetName()}
		}, `SELECT count(*) FROM github_issue_label WHERE repo_id = $1`},
		{"milestone", func(w ghfake.World, owner, repo string) ScanRequest {
			return ScanRequest{Kind: JobSyncMilestone, Number: w.Milestones(owner, repo)[0].GetNumber()}
		}, `SELECT count(*) FROM github_milestone WHERE repo_id = $1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			h := newHarness(t, ghfake.Options{Seed: &ghfake.SeedOptions{Seed: 7, ReposPerAccount: 2, PullsPerRepo: 1, IssuesPerRepo: 2, LabelsPerRepo: 2, MilestonesPerRepo: 1}}, nil)
			w := h.gh.World()
			repo := w.InstallationRepositories(h.inst)[0]
			owner, name := repo.GetOwner().GetLogin(), repo.GetName()
			req := tt.req(w, owner, name)
			req.InstallationID, req.Owner, req.Repo = h.inst, owner, name
			s := NewSyncer(h.deps)
			count := func() int {
				t.Helper()
				var n int
				if err := h.deps.DB.QueryRow(tt.count, repo.GetID()).Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}
			if _, err := s.Sync(ctx, req); err != nil {
				t.Fatal(err)
			}
			if count() != 1 {
				t.Fatalf("%d rows after the first sync, want 1", count())
			}
			if _, err := h.gh.RemoveInstallationRepos(ctx, h.inst, []string{name}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Sync(ctx, req); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Sync without access = %v, want ErrNotFound", err)
			}
			if count() != 0 {
				t.Fatalf("%d rows after GitHub's 404, want 0", count())
			}
			if _, err := h.gh.AddInstallationRepos(ctx, h.inst, []string{name}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Sync(ctx, req); err != nil {
				t.Fatal(err)
			}
			if count() != 1 {
				t.Errorf("%d rows after Sync answered success, want 1", count())
			}
		})
	}
}

// The sweep keeps rows written after the scan started, whatever wrote
// them: GitHub had them then. A label created while its list was being
// read and stored by an inline sync (not by its webhook) must survive.
func TestSweepKeepsRowsSyncedDuringTheScan(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, ghfake.Options{Seed: &ghfake.SeedOptions{Seed: 8, ReposPerAccount: 1, PullsPerRepo: 1, IssuesPerRepo: 1, LabelsPerRepo: 2}}, nil)
	repo := h.gh.World().InstallationRepositories(h.inst)[0]
	owner, name := repo.GetOwner().GetLogin(), repo.GetName()
	e := newEngine(h.deps)
	id := h.scan(ScanRequest{Kind: CollectionLabels, InstallationID: h.inst, Owner: owner, Repo: name, Full: true, RequestedBy: "test"})
	// The scan reads its only page...
	if err := e.spawnJob(ctx, &work.Job{Name: SpawnJob(CollectionLabels), Args: map[string]any{"scan_id": id}}); err != nil {
		t.Fatal(err)
	}
	// ...then a label is created and synced inline before the fan-in runs.
	if _, _, err := h.gh.CreateLabel(ctx, owner, name, ghfake.LabelSpec{Name: "late", Color: "ffffff"}); err != nil {
		t.Fatal(err)
	}
	if _, err := NewSyncer(h.deps).Sync(ctx, ScanRequest{Kind: JobSyncLabel, InstallationID: h.inst, Owner: owner, Repo: name, Name: "late"}); err != nil {
		t.Fatal(err)
	}
	if err := e.scannedJob(ctx, &work.Job{Name: ScannedJob(CollectionLabels), Args: map[string]any{"scan_id": id}}); err != nil {
		t.Fatal(err)
	}
	st, err := h.sched.Status(ctx, id)
	if err != nil || st.Status != "done" {
		t.Fatalf("scan status %+v, %v; want done", st, err)
	}
	var n int
	if err := h.deps.DB.QueryRow(`SELECT count(*) FROM github_issue_label WHERE repo_id = $1 AND name = 'late'`, repo.GetID()).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("the label synced during the scan was swept (%d rows)", n)
	}
}
