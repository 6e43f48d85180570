package ghfake

import (
	"context"
	"fmt"

	"github.com/google/go-github/v60/github"
)

// CreateIssueComment comments on an issue or pull request. Sends
// issue_comment.created.
func (s *Server) CreateIssueComment(ctx context.Context, owner, name string, number int, body string, o ...Option) (*github.IssueComment, *Delivery, error) {
	var it *issue
	var gc *github.IssueComment
	var e *event
	err := s.inRepo(owner, name, o, func(r *repo) (*account, error) {
		var err error
		it, err = r.lookupItem(owner, name, number)
		return nil, err
	}, func(_ *repo, sender *account) error {
		now := s.stamp()
		c := &comment{id: s.w.id(), issue: it, user: sender, body: body, createdAt: now, updatedAt: now}
		it.comments = append(it.comments, c)
		it.updatedAt = now
		s.w.commentsByID[c.id] = c
		it.repo.version++
		gc = s.w.comment(c)
		e = s.w.repoEvent(it.repo, "issue_comment", "created", sender, map[string]any{"comment": raw(commentJSON(gc)), "issue": raw(issueJSON(s.w.issue(it)))})
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return gc, s.fire(ctx, e), nil
}

// lookupComment finds issue comment id of r. Its author is the sender of
// a change unless By says otherwise.
func (w *world) lookupComment(r *repo, id int64) (*comment, error) {
	c := w.commentsByID[id]
	if c == nil || c.issue.repo != r {
		return nil, fmt.Errorf("issue comment %d: %w", id, ErrNotFound)
	}
	return c, nil
}

// EditIssueComment changes a comment's body. Sends issue_comment.edited.
func (s *Server) EditIssueComment(ctx context.Context, owner, name string, id int64, body string, o ...Option) (*github.IssueComment, *Delivery, error) {
	var c *comment
	var gc *github.IssueComment
	var e *event
	err := s.inRepo(owner, name, o, func(r *repo) (*account, error) {
		var err error
		if c, err = s.w.lookupComment(r, id); err != nil {
			return nil, err
		}
		return c.user, nil
	}, func(_ *repo, sender *account) error {
		old := c.body
		c.body, c.updatedAt = body, s.stamp()
		c.issue.repo.version++
		gc = s.w.comment(c)
		e = s.w.repoEvent(c.issue.repo, "issue_comment", "edited", sender, map[string]any{"comment": raw(commentJSON(gc)),
			"issue": raw(issueJSON(s.w.issue(c.issue))), "changes": map[string]any{"body": from(old)}})
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return gc, s.fire(ctx, e), nil
}

// DeleteIssueComment deletes a comment. Sends issue_comment.deleted.
func (s *Server) DeleteIssueComment(ctx context.Context, owner, name string, id int64, o ...Option) (*Delivery, error) {
	var c *comment
	var e *event
	err := s.inRepo(owner, name, o, func(r *repo) (*account, error) {
		var err error
		if c, err = s.w.lookupComment(r, id); err != nil {
			return nil, err
		}
		return c.user, nil
	}, func(_ *repo, sender *account) error {
		it := c.issue
		gc := s.w.comment(c)
		for i, x := range it.comments {
			if x == c {
				it.comments = append(it.comments[:i:i], it.comments[i+1:]...)
				break
			}
		}
		delete(s.w.commentsByID, id)
		it.repo.version++
		e = s.w.repoEvent(it.repo, "issue_comment", "deleted", sender, map[string]any{"comment": raw(commentJSON(gc)), "issue": raw(issueJSON(s.w.issue(it)))})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.fire(ctx, e), nil
}
