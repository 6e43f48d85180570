package process_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/models"
	"github.com/webhookdb/webhookdb/process"
)

// TestConcurrentWriters: deliveries of one issue and one pull request
// processed at the same time by several workers, each in its own
// committed transaction, in scrambled order: the newest version is what
// stays, and no writer fails (no deadlock between the shared nested rows).
func TestConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	t.Cleanup(func() { env.Truncate(t) })
	const versions = 24
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	// Scrambled but deterministic order: 7 is coprime with 24.
	order := make(chan int, versions)
	for i := range versions {
		order <- (i * 7) % versions
	}
	close(order)
	issueJSON, err := os.ReadFile(filepath.Join(payloadDir(), "issues", "labeled.payload.json"))
	must(t, err)
	prJSON, err := os.ReadFile(filepath.Join(payloadDir(), "pull_request", "labeled.payload.json"))
	must(t, err)
	var wg sync.WaitGroup
	errs := make(chan error, versions)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for v := range order {
				errs <- writeVersion(ctx, issueJSON, prJSON, v, base.Add(time.Duration(v)*time.Minute))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	want := fmt.Sprintf("version %d", versions-1)
	is, err := models.FindGithubIssue(ctx, env.DB, issuesEvent(t, "labeled.payload.json").Issue.GetID())
	must(t, err)
	eq(t, "issue title", is.Title, want)
	pr, err := models.FindGithubPullRequest(ctx, env.DB, prEvent(t, "labeled.payload.json").PullRequest.GetID())
	must(t, err)
	eq(t, "pr title", pr.Title, want)
	eq(t, "issue labels", len(issueLabels(t, env.DB, is.ID)), 1)
}

func writeVersion(ctx context.Context, issueJSON, prJSON []byte, v int, at time.Time) error {
	parsed, err := github.ParseWebHook("issues", issueJSON)
	if err != nil {
		return err
	}
	ev := parsed.(*github.IssuesEvent)
	parsed, err = github.ParseWebHook("pull_request", prJSON)
	if err != nil {
		return err
	}
	pev := parsed.(*github.PullRequestEvent)
	tx, err := env.DB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	title := fmt.Sprintf("version %d", v)
	m := webhook(at)
	ev.Issue.Title, ev.Issue.UpdatedAt = &title, stamp(at)
	if _, err := process.Repository(ctx, tx, ev.Repo, m); err != nil {
		return err
	}
	if _, err := process.Issue(ctx, tx, ev.Repo.GetID(), ev.Issue, m); err != nil {
		return err
	}
	pev.PullRequest.Title, pev.PullRequest.UpdatedAt = &title, stamp(at)
	if _, err := process.PullRequest(ctx, tx, pev.PullRequest, m); err != nil {
		return err
	}
	return tx.Commit()
}
