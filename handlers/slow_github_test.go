package handlers

import (
	"context"
	"testing"
	"time"

	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"

	"github.com/webhookdb/webhookdb/ghfake"
	"github.com/webhookdb/webhookdb/jobs"
)

// githubAnswerWindow is how long GitHub waits for a webhook answer before
// it records the delivery as failed.
const githubAnswerWindow = 10 * time.Second

// TestAnswersWithinTenSecondsOfSlowGitHub: with GitHub's API answering
// after 8 seconds, a pull_request.opened with a few files and a
// member.added (whose level the payload does not carry) are still answered
// within GitHub's 10 seconds; what the inline fetches could not get in
// their budget arrives afterwards through jobs recorded in the delivery's
// transaction: the files scan and the collaborator permission sync.
func TestAnswersWithinTenSecondsOfSlowGitHub(t *testing.T) {
	env.Truncate(t)
	srv, err := ghfake.New(ghfake.Options{
		WebhookSecret: testSecret,
		Seed: &ghfake.SeedOptions{Seed: 9, Accounts: 1, Users: 3, ReposPerAccount: 1, PullsPerRepo: -1,
			IssuesPerRepo: -1, CommentsPerIssue: -1, LabelsPerRepo: -1, MilestonesPerRepo: -1,
			ReviewsPerPull: -1, ReviewCommentsPerPull: -1, NoInstall: true},
	})
	if err != nil {
		t.Fatalf("ghfake: %v", err)
	}
	if err := srv.Start(); err != nil {
		t.Fatalf("ghfake start: %v", err)
	}
	t.Cleanup(srv.Close)
	cc, err := githubapp.NewDefaultCachingClientCreator(srv.GitHubConfig())
	if err != nil {
		t.Fatalf("client creator: %v", err)
	}
	deps := jobs.Deps{DB: env.DB, Redis: env.Redis, Namespace: env.Namespace + ":slowgithub", GitHub: cc,
		Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel), SweepSpec: "-"}
	sched := jobs.NewScheduler(deps)
	h := newHarness(t, harnessOptions{clientCreator: cc, scheduler: sched})
	srv.SetWebhookURL(h.srv.URL + "/replication")

	ctx := context.Background()
	org := srv.World().Organizations()[0]
	repo := srv.World().Repositories(org)[0].GetName()
	_, d, err := srv.InstallApp(ctx, org, nil)
	mustOK(t, "install", d, err)

	srv.SetLatency(8*time.Second, 0)
	var number int
	tests := []struct {
		name string
		send func() (*ghfake.Delivery, error)
	}{
		{"pull_request.opened with 3 files", func() (*ghfake.Delivery, error) {
			pr, d, err := srv.OpenPullRequest(ctx, org, repo, ghfake.NewPull{Title: "slow GitHub", Files: 3})
			number = pr.GetNumber()
			return d, err
		}},
		{"member.added", func() (*ghfake.Delivery, error) {
			return srv.AddCollaborator(ctx, org, repo, "user-1", "push")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := tc.send()
			mustOK(t, tc.name, d, err)
			// ghfake measures from sending the request to the answer.
			if d.Duration >= githubAnswerWindow || d.Error != "" {
				t.Fatalf("answered after %v (%q); GitHub gives up at %v", d.Duration, d.Error, githubAnswerWindow)
			}
			t.Logf("answered in %v", d.Duration)
		})
	}
	srv.SetLatency(0, 0) // GitHub recovers: the follow-up work can finish

	// Before any job runs: the slow fetches left nothing half-known.
	if n := count(t, env.DB, "github_pull_request_file", ""); n != 0 {
		t.Fatalf("%d files stored before the scan ran; the inline fetch beat 8s of latency?", n)
	}
	if n := count(t, env.DB, "github_user_repository_association", "role_name IS NOT NULL"); n != 0 {
		t.Fatalf("%d levels stored before the permission sync ran; the inline fetch beat 8s of latency?", n)
	}
	pool := jobs.NewWorkerPool(deps, 2)
	pool.Start()
	defer pool.Stop()

	t.Run("the files arrive through the queued scan", func(t *testing.T) {
		scanID := queuedScan(t, `kind = $1 AND owner = $2 AND repo = $3 AND number = $4`,
			jobs.CollectionPullRequestFiles, org, repo, number)
		waitScan(t, sched, scanID)
		assertFilesMatch(t, srv, org, repo, number)
	})

	t.Run("the level arrives through the queued permission sync", func(t *testing.T) {
		scanID := queuedScan(t, `kind = $1 AND owner = $2 AND repo = $3 AND params->>'name' = $4`,
			jobs.JobSyncCollaboratorPermission, org, repo, "user-1")
		waitScan(t, sched, scanID)
		var userID int64
		for _, u := range srv.World().Users() {
			if u.GetLogin() == "user-1" {
				userID = u.GetID()
			}
		}
		r := srv.World().Repository(org, repo)
		assertRow(t, env.DB, "github_user_repository_association", "user_id = $1 AND repo_id = $2",
			[]any{userID, r.GetID()}, fields{"role_name": "write", "can_push": true, "can_admin": false})
	})
}

// queuedScan returns the id of the one scan the condition selects, which
// the slow delivery recorded in its transaction.
func queuedScan(t *testing.T, where string, args ...any) int64 {
	t.Helper()
	var id int64
	if err := env.DB.QueryRow(`SELECT id FROM scan WHERE `+where, args...).Scan(&id); err != nil {
		t.Fatalf("no scan queued where %s %v: %v", where, args, err)
	}
	return id
}

// waitScan polls a scan's status until it ends, for at most 60 seconds,
// and fails unless it is done.
func waitScan(t *testing.T, sched *jobs.Scheduler, id int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		st, err := sched.Status(ctx, id)
		if err != nil {
			t.Fatalf("status of scan %d: %v", id, err)
		}
		switch st.Status {
		case "done":
			return
		case "failed":
			t.Fatalf("scan %d failed: %+v", id, st)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("scan %d still %s", id, st.Status)
		case <-tick.C:
		}
	}
}
