package ghfake

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/go-github/v60/github"
)

// SubmitReview submits a review: state is APPROVED, COMMENTED or
// CHANGES_REQUESTED. Sends pull_request_review.submitted.
func (s *Server) SubmitReview(ctx context.Context, owner, name string, number int, state, body string, o ...Option) (*github.PullRequestReview, *Delivery, error) {
	state = strings.ToUpper(state)
	switch state {
	case "APPROVED", "COMMENTED", "CHANGES_REQUESTED":
	default:
		return nil, nil, fmt.Errorf("review state %q: want APPROVED, COMMENTED or CHANGES_REQUESTED", state)
	}
	var it *issue
	var gr *github.PullRequestReview
	var e *event
	err := s.inRepo(owner, name, o, func(r *repo) (*account, error) {
		var err error
		it, err = r.lookupPull(owner, name, number)
		return nil, err
	}, func(_ *repo, sender *account) error {
		rv := &review{id: s.w.id(), user: sender, state: state, body: body, commitID: it.pr.headSHA, submittedAt: s.stamp()}
		it.pr.reviews = append(it.pr.reviews, rv)
		it.updatedAt = rv.submittedAt
		it.repo.version++
		gr, e = s.reviewEvent(it, rv, "submitted", sender, nil)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return gr, s.fire(ctx, e), nil
}

// reviewEvent renders review rv of pull request it and prepares its
// pull_request_review event; the world lock is held.
func (s *Server) reviewEvent(it *issue, rv *review, action string, sender *account, extra map[string]any) (*github.PullRequestReview, *event) {
	gr := s.w.review(it, rv)
	// Webhooks spell the state in lower case; the API in upper case.
	hook := *gr
	hook.State = ptr(strings.ToLower(rv.state))
	fields := map[string]any{"review": raw(reviewJSON(&hook)), "pull_request": raw(s.w.pullJSON(it, false))}
	for k, v := range extra {
		fields[k] = v
	}
	return gr, s.w.repoEvent(it.repo, "pull_request_review", action, sender, fields)
}

// DismissReview dismisses a review. Sends pull_request_review.dismissed.
func (s *Server) DismissReview(ctx context.Context, owner, name string, number int, reviewID int64, o ...Option) (*github.PullRequestReview, *Delivery, error) {
	var it *issue
	var rv *review
	var gr *github.PullRequestReview
	var e *event
	err := s.inRepo(owner, name, o, func(r *repo) (*account, error) {
		var err error
		if it, err = r.lookupPull(owner, name, number); err != nil {
			return nil, err
		}
		for _, x := range it.pr.reviews {
			if x.id == reviewID {
				rv = x
			}
		}
		if rv == nil {
			return nil, fmt.Errorf("review %d: %w", reviewID, ErrNotFound)
		}
		return nil, nil
	}, func(_ *repo, sender *account) error {
		rv.state = "DISMISSED"
		it.repo.version++
		gr, e = s.reviewEvent(it, rv, "dismissed", sender, nil)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return gr, s.fire(ctx, e), nil
}
