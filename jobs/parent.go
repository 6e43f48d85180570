package jobs

// Parent lookup: the stored rows a scan's rows hang from (installation,
// repository, pull request), fetched from GitHub when not stored yet.

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/models"
	"github.com/webhookdb/webhookdb/process"
)

// resolveParent finds the stored repository (and pull request) the scan's
// rows hang from; the repository or pull request is fetched first when we
// do not have it yet.
func (e *engine) resolveParent(ctx context.Context, s *session, sc *scanRow, c *collection) error {
	if c.parent == "" {
		return nil
	}
	if !sc.RepoID.Valid {
		id, ok, err := process.RepositoryID(ctx, e.deps.DB, sc.Owner, sc.Repo)
		if err == nil && !ok {
			id, err = e.fetchRepository(ctx, s, sc)
		}
		if err != nil {
			return fmt.Errorf("repository of %s: %w", sc.target(), err)
		}
		if err := setScan(ctx, e.deps.DB, sc.ID, models.M{models.ScanColumns.RepoID: id}); err != nil {
			return fmt.Errorf("record the repository of scan %d: %w", sc.ID, err)
		}
		sc.RepoID = sql.NullInt64{Int64: id, Valid: true}
	}
	if c.parent == "pull" {
		return e.resolvePull(ctx, s, sc)
	}
	return nil
}

func (e *engine) resolvePull(ctx context.Context, s *session, sc *scanRow) error {
	id, ok, err := process.PullRequestID(ctx, e.deps.DB, sc.RepoID.Int64, sc.Number)
	if err == nil && !ok {
		var pr github.PullRequest
		if _, err := get(ctx, s.client, s.inst, repoPath(sc, fmt.Sprintf("pulls/%d", sc.Number)), "", &pr); err != nil {
			e.addCounters(ctx, sc.ID, counters{requests: 1}, "")
			return err
		}
		e.addCounters(ctx, sc.ID, counters{requests: 1}, "")
		err = e.withTx(ctx, "write "+sc.target(), func(tx *sql.Tx) error {
			_, err := process.PullRequest(ctx, tx, &pr, process.Meta{Via: process.ViaAPI, FetchedAt: time.Now()})
			return err
		})
		id = pr.GetID()
	}
	if err != nil {
		return fmt.Errorf("pull request %s: %w", sc.target(), err)
	}
	sc.PullID = sql.NullInt64{Int64: id, Valid: true}
	return nil
}

func (e *engine) fetchRepository(ctx context.Context, s *session, sc *scanRow) (int64, error) {
	var r github.Repository
	_, err := get(ctx, s.client, s.inst, repoPath(sc, ""), "", &r)
	e.addCounters(ctx, sc.ID, counters{requests: 1}, "")
	if err != nil {
		return 0, err
	}
	err = e.withTx(ctx, "write repository "+sc.target(), func(tx *sql.Tx) error {
		_, err := process.Repository(ctx, tx, &r, process.Meta{Via: process.ViaAPI, FetchedAt: time.Now()})
		return err
	})
	return r.GetID(), err
}

// ensureInstallation stores the installation row a repositories scan
// links to, when no webhook stored it yet.
func (e *engine) ensureInstallation(ctx context.Context, sc *scanRow) error {
	stored, err := process.InstallationStored(ctx, e.deps.DB, sc.InstallationID.Int64)
	if err != nil {
		return err
	}
	if stored {
		return nil
	}
	app, err := e.deps.GitHub.NewAppClient()
	if err != nil {
		return fmt.Errorf("app client: %w", err)
	}
	inst, _, err := app.Apps.GetInstallation(ctx, sc.InstallationID.Int64)
	if err != nil {
		return fmt.Errorf("get installation %d: %w", sc.InstallationID.Int64, err)
	}
	return e.withTx(ctx, "write installation", func(tx *sql.Tx) error {
		_, err := process.Installation(ctx, tx, inst, process.Meta{Via: process.ViaAPI, FetchedAt: time.Now()})
		return err
	})
}

// resolveStored fills RepoID and PullID (unless known) from the database
// for the sweep and the stamps; the pages resolved them already.
func (e *engine) resolveStored(ctx context.Context, tx *sql.Tx, sc *scanRow, c *collection) error {
	if c.parent == "" {
		return nil
	}
	if !sc.RepoID.Valid {
		return fmt.Errorf("scan %d of %s: repository unknown", sc.ID, sc.target())
	}
	if c.parent == "pull" && !sc.PullID.Valid {
		id, ok, err := process.PullRequestID(ctx, tx, sc.RepoID.Int64, sc.Number)
		if err == nil && !ok {
			err = sql.ErrNoRows
		}
		if err != nil {
			return fmt.Errorf("pull request of scan %d (%s): %w", sc.ID, sc.target(), err)
		}
		sc.PullID = sql.NullInt64{Int64: id, Valid: true}
	}
	return nil
}
