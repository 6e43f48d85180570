package ghfake

import (
	"context"
	"fmt"
	"math/rand"
	"time"

	"github.com/google/go-github/v60/github"
)

// NewPull describes a pull request to open. Empty fields take defaults.
type NewPull struct {
	Title, Body string
	User        string // author login; default a member of the owner
	Head, Base  string // branches; default feature-N and the default branch
	Draft       bool
	Files       int // changed files; default 3
	Commits     int // default 1
	Labels      []string
	Milestone   int
	Assignee    string
}

// OpenPullRequest opens a pull request. Sends pull_request.opened.
func (s *Server) OpenPullRequest(ctx context.Context, owner, name string, np NewPull, o ...Option) (*github.PullRequest, *Delivery, error) {
	it, e, err := s.open(owner, name, np.User, np.Title, np.Body, np.Labels, np.Milestone, np.Assignee, &np, o)
	if err != nil {
		return nil, nil, err
	}
	return it.(*github.PullRequest), s.fire(ctx, e), nil
}

func pullResult(c changed, d *Delivery, err error) (*github.PullRequest, *Delivery, error) {
	if err != nil {
		return nil, nil, err
	}
	p, ok := c.obj.(*github.PullRequest)
	if !ok {
		return nil, nil, fmt.Errorf("not a pull request: %w", ErrNotFound)
	}
	return p, d, nil
}

// PullEdit names the fields to change; nil leaves one as it is.
type PullEdit struct {
	Title, Body, Base *string
}

// EditPullRequest edits title, body or base. Sends pull_request.edited
// with the changes.
func (s *Server) EditPullRequest(ctx context.Context, owner, name string, number int, pe PullEdit, o ...Option) (*github.PullRequest, *Delivery, error) {
	return pullResult(s.change(ctx, owner, name, number, true, o, func(it *issue, now time.Time, _ *account) (string, map[string]any, error) {
		changes := map[string]any{}
		setChange(changes, "title", &it.title, pe.Title)
		setChange(changes, "body", &it.body, pe.Body)
		if pe.Base != nil {
			changes["base"] = map[string]any{"ref": from(it.pr.baseRef), "sha": from(it.pr.baseSHA)}
			it.pr.baseRef = *pe.Base
		}
		it.updatedAt = now
		return "edited", map[string]any{"changes": changes}, nil
	}))
}

// ClosePullRequest closes without merging. Sends pull_request.closed.
func (s *Server) ClosePullRequest(ctx context.Context, owner, name string, number int, o ...Option) (*github.PullRequest, *Delivery, error) {
	return pullResult(s.change(ctx, owner, name, number, true, o, func(it *issue, now time.Time, by *account) (string, map[string]any, error) {
		if it.state == "closed" {
			return "", nil, fmt.Errorf("pull request #%d is closed already", number)
		}
		closeItem(it, now, by)
		return "closed", nil, nil
	}))
}

// MergePullRequest merges (and closes). Sends pull_request.closed with
// merged true.
func (s *Server) MergePullRequest(ctx context.Context, owner, name string, number int, o ...Option) (*github.PullRequest, *Delivery, error) {
	return pullResult(s.change(ctx, owner, name, number, true, o, func(it *issue, now time.Time, by *account) (string, map[string]any, error) {
		if it.state == "closed" {
			return "", nil, fmt.Errorf("pull request #%d is closed already", number)
		}
		closeItem(it, now, by)
		p := it.pr
		p.merged, p.mergedAt, p.mergedBy = true, now, by
		p.mergeCommitSHA = sha(rand.New(rand.NewSource(p.id + int64(p.rev))))
		return "closed", nil, nil
	}))
}

// ReopenPullRequest reopens a closed, unmerged pull request. Sends
// pull_request.reopened.
func (s *Server) ReopenPullRequest(ctx context.Context, owner, name string, number int, o ...Option) (*github.PullRequest, *Delivery, error) {
	return pullResult(s.change(ctx, owner, name, number, true, o, reopen))
}

// SynchronizePullRequest pushes a commit to the head branch: new head sha,
// new files, mergeable unknown again. Sends pull_request.synchronize.
func (s *Server) SynchronizePullRequest(ctx context.Context, owner, name string, number int, o ...Option) (*github.PullRequest, *Delivery, error) {
	return pullResult(s.change(ctx, owner, name, number, true, o, func(it *issue, now time.Time, _ *account) (string, map[string]any, error) {
		p := it.pr
		before := p.headSHA
		p.rev++
		p.commits++
		p.headSHA = sha(rand.New(rand.NewSource(p.id*31 + int64(p.rev))))
		p.mergeableRead.Store(false)
		it.updatedAt = now
		it.repo.pushedAt = now
		return "synchronize", map[string]any{"before": before, "after": p.headSHA}, nil
	}))
}
