package readapi

import (
	"fmt"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/volatiletech/sqlboiler/v4/queries/qm"

	"github.com/webhookdb/webhookdb/models"
)

// A pull request's files, reviews and review comments.

// listPullFiles is GET /repos/{owner}/{repo}/pulls/{number}/files. The
// replica keeps no position for a file, so files are listed by path
// (byte order), which is the order of git's diff and so GitHub's.
// ghfake lists them in the order it made them instead, which is not
// sorted by path for every pull request.
func listPullFiles(c *call) (*result, error) {
	pr, err := findPull(c)
	if err != nil {
		return nil, err
	}
	where := models.GithubPullRequestFileWhere.PullRequestID.EQ(pr.ID)
	total, err := models.GithubPullRequestFiles(where).Count(c.ctx, c.api.db)
	if err != nil {
		return nil, fmt.Errorf("count files of pull request %d of %s: %w", pr.Number, c.repo.FullName, err)
	}
	rows, err := models.GithubPullRequestFiles(where, qm.OrderBy(`filename COLLATE "C"`),
		qm.Limit(c.page.per), qm.Offset(c.page.offset())).All(c.ctx, c.api.db)
	if err != nil {
		return nil, fmt.Errorf("read files of pull request %d of %s: %w", pr.Number, c.repo.FullName, err)
	}
	out := make([]*github.CommitFile, 0, len(rows))
	var at time.Time
	for _, f := range rows {
		out = append(out, &github.CommitFile{
			SHA:              str(f.Sha),
			Filename:         ptr(f.Filename),
			Status:           str(f.Status),
			Additions:        integer(f.Additions),
			Deletions:        integer(f.Deletions),
			Changes:          integer(f.Changes),
			BlobURL:          str(f.BlobURL),
			RawURL:           str(f.RawURL),
			ContentsURL:      str(f.ContentsURL),
			Patch:            str(f.Patch),
			PreviousFilename: str(f.PreviousFilename),
		})
		newest(&at, f.LastReplicatedAt)
	}
	if len(rows) == 0 {
		at = pr.FilesLastScannedAt.Time
	}
	return &result{body: out, replicatedAt: at, total: int(total)}, nil
}

// listPullReviews is GET /repos/{owner}/{repo}/pulls/{number}/reviews,
// in id (submission) order as GitHub lists them.
func listPullReviews(c *call) (*result, error) {
	pr, err := findPull(c)
	if err != nil {
		return nil, err
	}
	where := models.GithubPullRequestReviewWhere.PullRequestID.EQ(pr.ID)
	total, err := models.GithubPullRequestReviews(where).Count(c.ctx, c.api.db)
	if err != nil {
		return nil, fmt.Errorf("count reviews of pull request %d of %s: %w", pr.Number, c.repo.FullName, err)
	}
	rows, err := models.GithubPullRequestReviews(where, qm.OrderBy("id"), qm.Limit(c.page.per), qm.Offset(c.page.offset())).All(c.ctx, c.api.db)
	if err != nil {
		return nil, fmt.Errorf("read reviews of pull request %d of %s: %w", pr.Number, c.repo.FullName, err)
	}
	var ids []int64
	for _, r := range rows {
		ids = append(ids, r.UserID.Int64)
	}
	p, err := loadPeople(c.ctx, c, ids, nil)
	if err != nil {
		return nil, err
	}
	out := make([]*github.PullRequestReview, 0, len(rows))
	var at time.Time
	for _, r := range rows {
		rv := &github.PullRequestReview{
			ID:                ptr(r.ID),
			NodeID:            str(r.NodeID),
			User:              p.user(r.UserID, r.UserLogin),
			Body:              str(r.Body),
			CommitID:          str(r.CommitID),
			SubmittedAt:       stamp(r.SubmittedAt),
			State:             str(r.State),
			HTMLURL:           str(r.HTMLURL),
			AuthorAssociation: str(r.AuthorAssociation),
		}
		if rv.Body == nil {
			// The REST API sends a review without text as "" (a webhook,
			// which may have stored it, as null).
			rv.Body = ptr("")
		}
		out = append(out, rv)
		newest(&at, r.LastReplicatedAt)
	}
	if len(rows) == 0 {
		at = pr.ReviewsLastScannedAt.Time
	}
	return &result{body: out, replicatedAt: at, total: int(total)}, nil
}

// listPullReviewComments is GET /repos/{owner}/{repo}/pulls/{number}/comments
// with GitHub's documented sort (created, updated; default created),
// direction (asc, desc; default asc, ignored without sort) and since
// (updated at or after). Equal times keep id order. ghfake's route takes
// none of these (it lists in creation order, which is the default here);
// its repository-wide /pulls/comments does, and the tests compare with it.
func listPullReviewComments(c *call) (*result, error) {
	sortBy, err := enumParam(c.q, "sort", "PullRequestReviewComment", "created", "created", "updated")
	if err != nil {
		return nil, err
	}
	dir, err := enumParam(c.q, "direction", "PullRequestReviewComment", "asc", "asc", "desc")
	if err != nil {
		return nil, err
	}
	since, hasSince, err := sinceParam(c.q, "PullRequestReviewComment")
	if err != nil {
		return nil, err
	}
	pr, err := findPull(c)
	if err != nil {
		return nil, err
	}
	mods := []qm.QueryMod{models.GithubPullRequestReviewCommentWhere.PullRequestID.EQ(pr.ID)}
	if hasSince {
		mods = append(mods, qm.Where("updated_at >= ?", since))
	}
	total, err := models.GithubPullRequestReviewComments(mods...).Count(c.ctx, c.api.db)
	if err != nil {
		return nil, fmt.Errorf("count review comments of pull request %d of %s: %w", pr.Number, c.repo.FullName, err)
	}
	if c.q.Get("sort") == "" {
		dir = "asc"
	}
	order := "created_at " + dir + " NULLS LAST, id " + dir
	if sortBy == "updated" {
		order = "updated_at " + dir + " NULLS LAST, id " + dir
	}
	rows, err := models.GithubPullRequestReviewComments(append(mods, qm.OrderBy(order), qm.Limit(c.page.per), qm.Offset(c.page.offset()))...).All(c.ctx, c.api.db)
	if err != nil {
		return nil, fmt.Errorf("read review comments of pull request %d of %s: %w", pr.Number, c.repo.FullName, err)
	}
	var ids []int64
	for _, rc := range rows {
		ids = append(ids, rc.UserID.Int64)
	}
	p, err := loadPeople(c.ctx, c, ids, nil)
	if err != nil {
		return nil, err
	}
	out := make([]*github.PullRequestComment, 0, len(rows))
	var at time.Time
	for _, rc := range rows {
		out = append(out, &github.PullRequestComment{
			ID:                  ptr(rc.ID),
			NodeID:              str(rc.NodeID),
			PullRequestReviewID: int64p(rc.ReviewID),
			DiffHunk:            str(rc.DiffHunk),
			Path:                str(rc.Path),
			Position:            integer(rc.Position),
			OriginalPosition:    integer(rc.OriginalPosition),
			StartLine:           integer(rc.StartLine),
			Line:                integer(rc.Line),
			OriginalLine:        integer(rc.OriginalLine),
			OriginalStartLine:   integer(rc.OriginalStartLine),
			Side:                str(rc.Side),
			StartSide:           str(rc.StartSide),
			CommitID:            str(rc.CommitID),
			OriginalCommitID:    str(rc.OriginalCommitID),
			InReplyTo:           int64p(rc.InReplyToID),
			User:                p.user(rc.UserID, rc.UserLogin),
			Body:                str(rc.Body),
			CreatedAt:           stamp(rc.CreatedAt),
			UpdatedAt:           stamp(rc.UpdatedAt),
			HTMLURL:             str(rc.HTMLURL),
			AuthorAssociation:   str(rc.AuthorAssociation),
		})
		newest(&at, rc.LastReplicatedAt)
	}
	if len(rows) == 0 {
		at = pr.ReviewCommentsLastScannedAt.Time
	}
	return &result{body: out, replicatedAt: at, total: int(total)}, nil
}
