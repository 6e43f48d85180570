package jobs

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/webhookdb/webhookdb/models"
)

// After catch-up: redeliveries arrive out of order and in parallel, and
// GitHub's times (updated_at, the log's delivered_at) are to the second, so
// two changes of one object within a second cannot always be told apart.
// An incremental scan of each repository a run asked deliveries for reads
// what GitHub holds now (as of a later moment than any redelivery, so it
// wins every tie), at the cost of the pages updated since the last scan,
// mostly answered 304.

// touchedRepos are the repositories (by installation) of the deliveries one
// catch-up run asked for.
type touchedRepos map[[2]int64]bool

func (t touchedRepos) add(req *models.CatchupRequest) {
	if req.InstallationID.Valid && req.RepoID.Valid {
		t[[2]int64{req.InstallationID.Int64, req.RepoID.Int64}] = true
	}
}

// scanTouched queues an incremental scan, with children, of every touched
// repository already stored (one GitHub has not told us of yet is created
// by its redelivery, and scanned by the next run that asks for one of its
// deliveries). A scan already queued or running is joined. Failures are
// logged: the deliveries are asked for either way, and reconciliation
// scans everything later.
func (e *engine) scanTouched(ctx context.Context, touched touchedRepos) {
	if len(touched) == 0 {
		return
	}
	// The run's own context may have ended (its deadline); queueing is
	// short and worth finishing.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	sched := &Scheduler{e: e}
	queued := 0
	for key := range touched {
		inst, repoID := key[0], key[1]
		repo, err := models.FindGithubRepository(ctx, e.deps.DB, repoID,
			models.GithubRepositoryColumns.OwnerLogin, models.GithubRepositoryColumns.Name)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			e.deps.Logger.Warn().Err(err).Int64("github_repository_id", repoID).Msg("catch-up: read a repository to scan")
			continue
		}
		req := ScanRequest{Kind: JobSyncRepository, InstallationID: inst, Owner: repo.OwnerLogin, Repo: repo.Name,
			Children: true, RequestedBy: "catchup"}
		if _, _, err := sched.Scan(ctx, req); err != nil {
			e.deps.Logger.Warn().Err(err).Str("repo", repo.OwnerLogin+"/"+repo.Name).Msg("catch-up: queue the scan of a repository it asked deliveries for")
			continue
		}
		queued++
	}
	e.deps.Logger.Info().Int("repositories", queued).Msg("catch-up: incremental scans queued for the repositories of the deliveries asked for")
}

// askPacer spaces catch-up's redelivery requests: GitHub sends each
// redelivery at once and in parallel, and hundreds at once would make the
// deliveries contend for the same rows (deadlocks, GitHub's 10-second
// timeout) instead of being stored one after another.
type askPacer struct {
	t *time.Ticker
}

// newAskPacer allows perSecond asks a second; 0 or less means no pacing.
func newAskPacer(perSecond int) *askPacer {
	if perSecond <= 0 {
		return &askPacer{}
	}
	return &askPacer{t: time.NewTicker(time.Second / time.Duration(perSecond))}
}

// wait returns when the next ask may go, or ctx's error.
func (p *askPacer) wait(ctx context.Context) error {
	if p.t == nil {
		return ctx.Err()
	}
	select {
	case <-p.t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *askPacer) stop() {
	if p.t != nil {
		p.t.Stop()
	}
}
