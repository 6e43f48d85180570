package ghfake

import (
	"context"
	"fmt"

	"github.com/google/go-github/v60/github"
)

// NewReviewComment describes a review comment.
type NewReviewComment struct {
	Body      string
	Path      string // default the pull's first file
	Line      int    // default 1
	InReplyTo int64
	ReviewID  int64
}

// CreateReviewComment comments on a line of a pull request. Sends
// pull_request_review_comment.created.
func (s *Server) CreateReviewComment(ctx context.Context, owner, name string, number int, nc NewReviewComment, o ...Option) (*github.PullRequestComment, *Delivery, error) {
	var it *issue
	var gc *github.PullRequestComment
	var e *event
	err := s.inRepo(owner, name, o, func(r *repo) (*account, error) {
		var err error
		it, err = r.lookupPull(owner, name, number)
		return nil, err
	}, func(_ *repo, sender *account) error {
		now := s.stamp()
		if nc.Path == "" {
			nc.Path = fileName(it.pr, 0)
		}
		if nc.Line == 0 {
			nc.Line = 1
		}
		c := &reviewComment{id: s.w.id(), reviewID: nc.ReviewID, user: sender, path: nc.Path, line: nc.Line, body: nc.Body,
			inReplyTo: nc.InReplyTo, commitID: it.pr.headSHA, createdAt: now, updatedAt: now}
		if c.reviewID == 0 {
			// GitHub wraps a lone comment in a review of its own.
			rv := &review{id: s.w.id(), user: sender, state: "COMMENTED", commitID: it.pr.headSHA, submittedAt: now}
			it.pr.reviews = append(it.pr.reviews, rv)
			c.reviewID = rv.id
		}
		it.pr.reviewComments = append(it.pr.reviewComments, c)
		s.w.rcByID[c.id] = c
		it.updatedAt = now
		it.repo.version++
		gc = s.w.reviewComment(it, c)
		e = s.w.repoEvent(it.repo, "pull_request_review_comment", "created", sender, map[string]any{
			"comment": raw(reviewCommentJSON(gc)), "pull_request": raw(s.w.pullJSON(it, false))})
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return gc, s.fire(ctx, e), nil
}

// lookupRC finds review comment id of r with its pull request.
func (w *world) lookupRC(r *repo, id int64) (*issue, *reviewComment, error) {
	c := w.rcByID[id]
	if c != nil {
		for _, it := range r.items {
			if it != nil && it.pr != nil {
				for _, x := range it.pr.reviewComments {
					if x == c {
						return it, c, nil
					}
				}
			}
		}
	}
	return nil, nil, fmt.Errorf("review comment %d: %w", id, ErrNotFound)
}

// EditReviewComment changes a review comment's body. Sends
// pull_request_review_comment.edited.
func (s *Server) EditReviewComment(ctx context.Context, owner, name string, id int64, body string, o ...Option) (*github.PullRequestComment, *Delivery, error) {
	var it *issue
	var c *reviewComment
	var gc *github.PullRequestComment
	var e *event
	err := s.inRepo(owner, name, o, func(r *repo) (*account, error) {
		var err error
		if it, c, err = s.w.lookupRC(r, id); err != nil {
			return nil, err
		}
		return c.user, nil
	}, func(_ *repo, sender *account) error {
		old := c.body
		c.body, c.updatedAt = body, s.stamp()
		it.repo.version++
		gc = s.w.reviewComment(it, c)
		e = s.w.repoEvent(it.repo, "pull_request_review_comment", "edited", sender, map[string]any{
			"comment": raw(reviewCommentJSON(gc)), "pull_request": raw(s.w.pullJSON(it, false)),
			"changes": map[string]any{"body": from(old)}})
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return gc, s.fire(ctx, e), nil
}

// DeleteReviewComment deletes a review comment. Sends
// pull_request_review_comment.deleted.
func (s *Server) DeleteReviewComment(ctx context.Context, owner, name string, id int64, o ...Option) (*Delivery, error) {
	var it *issue
	var c *reviewComment
	var e *event
	err := s.inRepo(owner, name, o, func(r *repo) (*account, error) {
		var err error
		if it, c, err = s.w.lookupRC(r, id); err != nil {
			return nil, err
		}
		return c.user, nil
	}, func(_ *repo, sender *account) error {
		gc := s.w.reviewComment(it, c)
		p := it.pr
		for i, x := range p.reviewComments {
			if x == c {
				p.reviewComments = append(p.reviewComments[:i:i], p.reviewComments[i+1:]...)
				break
			}
		}
		delete(s.w.rcByID, id)
		it.repo.version++
		e = s.w.repoEvent(it.repo, "pull_request_review_comment", "deleted", sender, map[string]any{
			"comment": raw(reviewCommentJSON(gc)), "pull_request": raw(s.w.pullJSON(it, false))})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.fire(ctx, e), nil
}
