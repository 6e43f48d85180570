package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/gocraft/work"
	"github.com/google/go-github/v60/github"
	"github.com/volatiletech/sqlboiler/v4/boil"

	"github.com/webhookdb/webhookdb/process"
)

// singleKinds are the jobs that sync one object.
var singleKinds = []string{JobSyncRepository, JobSyncUser, JobSyncPullRequest, JobSyncIssue, JobSyncLabel, JobSyncMilestone,
	JobSyncCollaboratorPermission}

// singleJob runs a queued single-object sync.
func (e *engine) singleJob(ctx context.Context, job *work.Job) error {
	sc, err := loadScan(ctx, e.deps.DB, job.ArgInt64("scan_id"), false)
	if err != nil || sc == nil || sc.finished() {
		return err
	}
	err = e.runSingle(ctx, job, sc)
	switch {
	case err == nil, errors.Is(err, errRescheduled):
		return nil
	case errors.Is(err, ErrNotFound):
		return nil // recorded by runSingle
	}
	var rl *RateLimitedError
	if errors.As(err, &rl) {
		return nil // rescheduled by onLimit
	}
	if permanent(err) || e.lastAttempt(job) {
		return e.failScan(ctx, sc, err)
	}
	e.addCounters(ctx, sc.ID, counters{}, err.Error())
	return err
}

// runSingle fetches one object and writes it, or deletes it locally when
// GitHub answers 404 or 410; then it ends the scan and chains children.
// With job nil (inline) a rate limit is returned instead of waited for.
func (e *engine) runSingle(ctx context.Context, job *work.Job, sc *scanRow) error {
	if err := e.startRunning(ctx, sc.ID, 1); err != nil {
		return err
	}
	if sc.Kind == JobSyncUser && !sc.InstallationID.Valid {
		return fmt.Errorf("sync user %s: an installation id is required: %w", sc.Params.Name, &permanentError{status: 0, err: ErrNoInstallation})
	}
	s, err := e.begin(ctx, job, sc)
	if err != nil {
		return err
	}
	defer s.release()
	if sc.Kind != JobSyncUser && sc.Kind != JobSyncRepository {
		c := &collection{parent: "repo"}
		if err := e.resolveParent(ctx, s, sc, c); err != nil {
			if errors.Is(err, ErrNotFound) {
				return e.endSingle(ctx, sc, counters{}, nil, err)
			}
			var rl *RateLimitedError
			if errors.As(err, &rl) {
				return e.onLimit(ctx, job, sc, rl)
			}
			return err
		}
	}
	var path string
	var dst any
	switch sc.Kind {
	case JobSyncRepository:
		path, dst = repoPath(sc, ""), new(github.Repository)
	case JobSyncUser:
		path, dst = "users/"+url.PathEscape(sc.Params.Name), new(github.User)
	case JobSyncPullRequest:
		path, dst = repoPath(sc, fmt.Sprintf("pulls/%d", sc.Number)), new(github.PullRequest)
	case JobSyncIssue:
		path, dst = repoPath(sc, fmt.Sprintf("issues/%d", sc.Number)), new(github.Issue)
	case JobSyncLabel:
		path, dst = repoPath(sc, "labels/"+url.PathEscape(sc.Params.Name)), new(github.Label)
	case JobSyncMilestone:
		path, dst = repoPath(sc, fmt.Sprintf("milestones/%d", sc.Number)), new(github.Milestone)
	case JobSyncCollaboratorPermission:
		path, dst = repoPath(sc, "collaborators/"+url.PathEscape(sc.Params.Name)+"/permission"), new(github.RepositoryPermissionLevel)
	default:
		return &permanentError{err: fmt.Errorf("unknown sync %q", sc.Kind)}
	}
	prev := etagRow{}
	if !sc.Full {
		if prev, err = e.loadETag(ctx, path); err != nil {
			return err
		}
	}
	// An object's Last-Modified is its updated_at, which every change to
	// it moves: sent when stored, it survives the token rotations that
	// make the ETag (bound to its token) miss. (A pull request's
	// mergeable, computed later without moving it, is left to webhooks.)
	etag := prev.etag
	if !prev.lastModified.IsZero() {
		etag = ""
	}
	f, err := get(ctx, s.client, s.inst, path, etag, dst, prev.lastModified)
	cnt := counters{}.of(&pageFetch{f: f})
	if err == nil && f.notModified {
		// A 304 for an object we no longer store (deleted after a 404
		// while access was lost) would leave it missing: fetch it in full.
		stored, serr := e.singleStored(ctx, sc)
		if serr != nil {
			return serr
		}
		if !stored {
			f, err = get(ctx, s.client, s.inst, path, "", dst)
			cnt = cnt.of(&pageFetch{f: f})
		}
	}
	var rl *RateLimitedError
	switch {
	case errors.As(err, &rl):
		e.addCounters(ctx, sc.ID, cnt, "")
		return e.onLimit(ctx, job, sc, rl)
	case errors.Is(err, ErrNotFound):
		return e.endSingle(ctx, sc, cnt, func(tx *sql.Tx) error { return e.deleteSingle(ctx, tx, sc) }, err)
	case err != nil:
		e.addCounters(ctx, sc.ID, cnt, "")
		return err
	}
	var children []ScanRequest
	write := func(tx *sql.Tx) error {
		if f.notModified {
			return nil
		}
		m := process.Meta{Via: process.ViaAPI, FetchedAt: time.Now()}
		var err error
		switch v := dst.(type) {
		case *github.Repository:
			_, err = process.Repository(ctx, tx, v, m)
			if err == nil && sc.Params.Children {
				children = repoChildren(s.inst, v.GetOwner().GetLogin(), v.GetName(), sc.RequestedBy, sc.Full)
			}
		case *github.User:
			_, err = process.User(ctx, tx, v, m)
		case *github.PullRequest:
			_, err = process.PullRequest(ctx, tx, v, m)
		case *github.Issue:
			_, err = process.Issue(ctx, tx, sc.RepoID.Int64, v, m)
		case *github.Label:
			_, err = process.Label(ctx, tx, sc.RepoID.Int64, v, m)
		case *github.Milestone:
			_, err = process.Milestone(ctx, tx, sc.RepoID.Int64, v, m)
		case *github.RepositoryPermissionLevel:
			// Only a collaboration already recorded is refreshed: a
			// member.removed since the event must not be undone.
			_, err = process.RefreshUserRepositoryPermissionLevel(ctx, tx, v.GetUser().GetID(), sc.RepoID.Int64, v.GetPermission(), m)
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", sc.target(), err)
		}
		if f.etag != "" {
			// One object: no ids to remember, one item.
			if err := storeETag(ctx, tx, path, f, seenRows{}, 1); err != nil {
				return err
			}
		}
		return nil
	}
	if sc.Kind == JobSyncPullRequest && sc.Params.Children {
		for _, k := range []string{CollectionPullRequestFiles, CollectionPullRequestReviews, CollectionPullRequestReviewComments} {
			children = append(children, ScanRequest{Kind: k, InstallationID: s.inst, Owner: sc.Owner, Repo: sc.Repo,
				Number: sc.Number, RequestedBy: sc.RequestedBy, Full: sc.Full})
		}
	}
	if !f.notModified {
		cnt.items = 1
	}
	return e.endSingleChildren(ctx, sc, cnt, write, &children)
}

// endSingle ends a single-object scan, after fn in the same transaction.
// cause (a not-found) is recorded and returned.
func (e *engine) endSingle(ctx context.Context, sc *scanRow, cnt counters, fn func(tx *sql.Tx) error, cause error) error {
	var none []ScanRequest
	if err := e.endSingleWith(ctx, sc, cnt, fn, &none, cause); err != nil {
		return err
	}
	return cause
}

func (e *engine) endSingleChildren(ctx context.Context, sc *scanRow, cnt counters, fn func(tx *sql.Tx) error, children *[]ScanRequest) error {
	return e.endSingleWith(ctx, sc, cnt, fn, children, nil)
}

func (e *engine) endSingleWith(ctx context.Context, sc *scanRow, cnt counters, fn func(tx *sql.Tx) error, children *[]ScanRequest, cause error) error {
	var ids []int64
	errText := ""
	if cause != nil {
		errText = cause.Error()
	}
	err := e.withTx(ctx, "end "+sc.target(), func(tx *sql.Tx) error {
		if fn != nil {
			if err := fn(tx); err != nil {
				return err
			}
		}
		ids = ids[:0]
		for _, ch := range *children {
			id, joined, err := e.startScan(ctx, tx, ch, sc.ID)
			if err != nil {
				return err
			}
			if joined {
				id = 0
			}
			ids = append(ids, id)
		}
		// Hand-written: the counters are incremented in place (a
		// failed try may have counted requests already).
		_, err := tx.ExecContext(ctx, `
			UPDATE scan SET status = 'done', finished_at = now(), pages_done = 1, items = items + $2,
				requests = requests + $3, not_modified = not_modified + $4, error = NULLIF($5, '')
			WHERE id = $1 AND status IN ('queued', 'running')`, sc.ID, cnt.items, cnt.requests, cnt.notModified, errText)
		if err != nil {
			return fmt.Errorf("end scan %d: %w", sc.ID, err)
		}
		return nil
	})
	if err != nil {
		e.addCounters(ctx, sc.ID, cnt, "")
		return err
	}
	for i, id := range ids {
		if id != 0 {
			if err := e.enqueueFirst(ctx, (*children)[i].Kind, id); err != nil {
				e.deps.Logger.Warn().Err(err).Int64("scan", id).Msg("queue a child scan")
			}
		}
	}
	return nil
}

// singleStored says whether the object of a single-object scan is stored.
func (e *engine) singleStored(ctx context.Context, sc *scanRow) (bool, error) {
	db := e.deps.DB
	switch sc.Kind {
	case JobSyncRepository:
		return process.RepositoryStored(ctx, db, sc.Owner, sc.Repo)
	case JobSyncUser:
		return process.UserStored(ctx, db, sc.Params.Name)
	case JobSyncPullRequest:
		return process.PullRequestStored(ctx, db, sc.RepoID.Int64, sc.Number)
	case JobSyncIssue:
		return process.IssueStored(ctx, db, sc.RepoID.Int64, sc.Number)
	case JobSyncLabel:
		return process.LabelStored(ctx, db, sc.RepoID.Int64, sc.Params.Name)
	case JobSyncMilestone:
		return process.MilestoneStored(ctx, db, sc.RepoID.Int64, sc.Number)
	}
	return true, nil
}

// deleteSingle removes an object GitHub no longer has.
func (e *engine) deleteSingle(ctx context.Context, tx *sql.Tx, sc *scanRow) error {
	var err error
	switch sc.Kind {
	case JobSyncRepository:
		id, ok, lerr := process.RepositoryID(ctx, tx, sc.Owner, sc.Repo)
		if lerr != nil || !ok {
			return lerr
		}
		err = process.DeleteRepository(ctx, tx, id)
	case JobSyncPullRequest:
		err = deleteByNumber(ctx, tx, sc, process.PullRequestIDs, process.DeletePullRequest)
	case JobSyncIssue:
		err = deleteByNumber(ctx, tx, sc, process.IssueIDs, process.DeleteIssue)
	case JobSyncLabel:
		if !sc.RepoID.Valid {
			return nil
		}
		err = process.DeleteLabel(ctx, tx, sc.RepoID.Int64, sc.Params.Name)
	case JobSyncMilestone:
		if !sc.RepoID.Valid {
			return nil
		}
		err = process.DeleteMilestone(ctx, tx, sc.RepoID.Int64, sc.Number)
	case JobSyncUser:
		// Users are referenced by login everywhere; a deleted account's
		// row stays as the record of who wrote what.
	case JobSyncCollaboratorPermission:
		// A 404 says the login is no collaborator (or access was lost):
		// member.removed, not a guess, removes the association.
	}
	if err != nil {
		return fmt.Errorf("delete %s after GitHub's 404: %w", sc.target(), err)
	}
	return nil
}

// deleteByNumber deletes the rows find lists for the scan's repository
// and number (a transfer can leave two).
func deleteByNumber(ctx context.Context, tx *sql.Tx, sc *scanRow,
	find func(ctx context.Context, exec boil.ContextExecutor, repoID int64, number int) ([]int64, error),
	del func(ctx context.Context, exec boil.ContextExecutor, id int64) error) error {
	if !sc.RepoID.Valid {
		return nil
	}
	ids, err := find(ctx, tx, sc.RepoID.Int64, sc.Number)
	if err != nil {
		return fmt.Errorf("look up %s: %w", sc.target(), err)
	}
	for _, id := range ids {
		if err := del(ctx, tx, id); err != nil {
			return err
		}
	}
	return nil
}

// Syncer runs single-object syncs inline, for load requests with
// ?inline=true. It records a scan like the queued jobs do.
type Syncer struct {
	e *engine
}

// NewSyncer builds a Syncer on the app's pools and client creator.
func NewSyncer(d Deps) *Syncer { return &Syncer{e: newEngine(d)} }

// Sync fetches one object (req.Kind is one of the sync job names) and
// stores it before returning. Errors: ErrNotFound when GitHub has no such
// object (it is then removed locally), ErrNoInstallation when no
// installation covers the repository, *RateLimitedError while the
// installation's rate limit is spent (errors.As; Until says when it
// resets). A queued scan of the same object is joined (its id returned)
// and completed by this call.
func (s *Syncer) Sync(ctx context.Context, req ScanRequest) (scanID int64, err error) {
	if !isSingle(req.Kind) {
		return 0, fmt.Errorf("inline sync: %q is not a single-object kind", req.Kind)
	}
	if err := req.validate(); err != nil {
		return 0, err
	}
	// A queued sync of the same object is joined and done here and now:
	// the caller waits for the object, and the queued job then finds its
	// scan ended.
	err = s.e.withTx(ctx, "inline "+req.Kind, func(tx *sql.Tx) error {
		scanID, _, err = s.e.startScan(ctx, tx, req, 0)
		return err
	})
	if err != nil {
		return scanID, err
	}
	sc, err := loadScan(ctx, s.e.deps.DB, scanID, false)
	if err != nil {
		return scanID, err
	}
	err = s.e.runSingle(ctx, nil, sc)
	var rl *RateLimitedError
	switch {
	case err == nil:
		return scanID, nil
	case errors.Is(err, ErrNotFound):
		return scanID, err
	case errors.As(err, &rl):
		// Left queued work to the workers: the scan waits and runs later.
		if qerr := s.e.enqueueFirstIn(req.Kind, scanID, rl.Until); qerr != nil {
			s.e.deps.Logger.Warn().Err(qerr).Int64("scan", scanID).Msg("queue a rate-limited inline sync")
		}
		return scanID, err
	}
	if ferr := s.e.failScan(ctx, sc, err); ferr != nil {
		s.e.deps.Logger.Warn().Err(ferr).Int64("scan", scanID).Msg("end a failed inline sync")
	}
	return scanID, err
}

func (e *engine) enqueueFirstIn(kind string, scanID int64, t time.Time) error {
	secs := max(int64(time.Until(t).Seconds()+0.999), 1)
	if _, err := e.enq.EnqueueUniqueIn(firstJob(kind), secs, work.Q{"scan_id": scanID}); err != nil {
		return fmt.Errorf("queue %s for scan %d in %ds: %w", firstJob(kind), scanID, secs, err)
	}
	return nil
}
