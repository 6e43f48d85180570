package jobs

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/process"
)

// revokedRepos stores an installation covering a public and a private
// repository, each with an issue, then deletes the installation at
// uncoveredAt. It returns the two repository ids.
func revokedRepos(t *testing.T, d Deps, uncoveredAt time.Time) (public, private int64) {
	t.Helper()
	ctx := context.Background()
	m := process.Meta{Via: process.ViaWebhook, FetchedAt: uncoveredAt.Add(-time.Hour)}
	owner := &github.User{ID: github.Int64(1), Login: github.String("org")}
	inst := &github.Installation{ID: github.Int64(31), Account: owner}
	if _, err := process.Installation(ctx, d.DB, inst, m); err != nil {
		t.Fatal(err)
	}
	var repos []*github.Repository
	for i, private := range []bool{false, true} {
		id := int64(100 + i)
		r := &github.Repository{ID: github.Int64(id), Name: github.String("r"), FullName: github.String("org/r" + string(rune('0'+i))),
			Owner: owner, Private: github.Bool(private)}
		repos = append(repos, r)
		if _, err := process.Repository(ctx, d.DB, r, m); err != nil {
			t.Fatal(err)
		}
		is := &github.Issue{ID: github.Int64(id * 10), Number: github.Int(1), State: github.String("open"), Title: github.String("t"),
			UpdatedAt: &github.Timestamp{Time: m.FetchedAt}}
		if _, err := process.Issue(ctx, d.DB, id, is, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := process.SetInstallationRepositories(ctx, d.DB, 31, repos, m); err != nil {
		t.Fatal(err)
	}
	if err := process.DeleteInstallation(ctx, d.DB, 31, process.Meta{Via: process.ViaWebhook, FetchedAt: uncoveredAt}); err != nil {
		t.Fatal(err)
	}
	return 100, 101
}

func repoRows(t *testing.T, id int64) int {
	t.Helper()
	var n int
	if err := env.DB.QueryRow(`SELECT (SELECT count(*) FROM github_repository WHERE id = $1)
		+ (SELECT count(*) FROM github_issue WHERE repo_id = $1)`, id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPurgeRevoked: the purge removes a private repository no installation
// covers only once the retention is over, and never a public one.
func TestPurgeRevoked(t *testing.T) {
	uncoveredAt := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name        string
		retention   time.Duration
		now         time.Time
		wantRemoved int
	}{
		{"within the retention", time.Hour, uncoveredAt.Add(59 * time.Minute), 0},
		{"after the retention", time.Hour, uncoveredAt.Add(61 * time.Minute), 1},
		{"no retention", 0, uncoveredAt.Add(time.Second), 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := testDeps(t)
			d.RevokedRetention = tc.retention
			public, private := revokedRepos(t, d, uncoveredAt)
			n, err := newEngine(d).purgeRevoked(context.Background(), tc.now)
			if err != nil {
				t.Fatal(err)
			}
			wantPrivate := 2
			if tc.wantRemoved == 1 {
				wantPrivate = 0
			}
			if n != tc.wantRemoved || repoRows(t, private) != wantPrivate || repoRows(t, public) != 2 {
				t.Fatalf("removed %d (private %d rows, public %d); want %d (%d, 2)", n, repoRows(t, private), repoRows(t, public), tc.wantRemoved, wantPrivate)
			}
		})
	}
}

// TestPurgeRevokedIsPeriodic: the worker pool schedules purge_revoked on
// its spec and the job runs.
func TestPurgeRevokedIsPeriodic(t *testing.T) {
	d := testDeps(t)
	d.SweepSpec, d.PurgeSpec = "-", "* * * * * *"
	_, private := revokedRepos(t, d, time.Now().Add(-time.Minute))
	p := NewWorkerPool(d, 1)
	p.Start()
	t.Cleanup(p.Stop)
	deadline := time.Now().Add(20 * time.Second)
	for repoRows(t, private) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("purge_revoked did not run within 20s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
