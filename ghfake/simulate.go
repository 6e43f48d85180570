package ghfake

import (
	"context"
	"fmt"
	"math/rand"
)

// ActivityOptions shape Simulate.
type ActivityOptions struct {
	// Seed makes the sequence of changes repeatable.
	Seed int64
	// Steps is the number of changes to make.
	Steps int
	// Owner limits the changes to one account's repositories; empty means
	// every repository an installation covers.
	Owner string
}

// Simulate makes Steps random changes of the kinds people make all day
// (open, edit, label, comment on, review, synchronize, close, merge and
// reopen pull requests and issues) in repositories covered by an
// installation, each sending its webhook. It returns the deliveries, for
// the demo and the webhook-ingest benchmark.
func (s *Server) Simulate(ctx context.Context, o ActivityOptions) ([]*Delivery, error) {
	rng := rand.New(rand.NewSource(o.Seed))
	type target struct {
		owner, name string
		labels      []string
		users       []string
	}
	s.mu.RLock()
	var targets []target
	for _, r := range s.w.repos {
		if r.deleted || s.w.installationFor(r) == nil || (o.Owner != "" && r.owner.login != o.Owner) {
			continue
		}
		t := target{owner: r.owner.login, name: r.name}
		for _, l := range r.labels {
			t.labels = append(t.labels, l.name)
		}
		for _, m := range r.owner.members {
			t.users = append(t.users, s.w.accountsByID[m].login)
		}
		targets = append(targets, t)
	}
	s.mu.RUnlock()
	if len(targets) == 0 {
		return nil, fmt.Errorf("simulate: no repository is covered by an installation")
	}
	// pick returns a random open (or, with open false, closed) item of the
	// repository: a pull request when pull is true.
	pick := func(t target, pull, open bool) int {
		s.mu.RLock()
		defer s.mu.RUnlock()
		r := s.w.repo(t.owner, t.name)
		if r == nil || len(r.items) == 0 {
			return 0
		}
		for try := 0; try < 20; try++ {
			it := r.items[rng.Intn(len(r.items))]
			if it == nil || it.deleted || it.transferredTo != nil || (it.pr != nil) != pull || (it.state == "open") != open {
				continue
			}
			if pull && !open && it.pr.merged {
				continue
			}
			return it.number
		}
		return 0
	}
	var out []*Delivery
	for step := 0; step < o.Steps; step++ {
		if err := ctx.Err(); err != nil {
			return out, fmt.Errorf("simulate step %d: %w", step, err)
		}
		t := targets[rng.Intn(len(targets))]
		var by []Option
		if len(t.users) > 0 {
			by = append(by, By(t.users[rng.Intn(len(t.users))]))
		}
		word := seedWords[rng.Intn(len(seedWords))] + " " + seedWords[rng.Intn(len(seedWords))]
		var d *Delivery
		var err error
		switch k := rng.Intn(100); {
		case k < 12:
			_, d, err = s.OpenPullRequest(ctx, t.owner, t.name, NewPull{Title: "Please " + word, Body: "This changes " + word + ".", Files: 1 + rng.Intn(6)}, by...)
		case k < 20:
			_, d, err = s.OpenIssue(ctx, t.owner, t.name, NewIssue{Title: "Trouble with " + word, Body: "Steps to reproduce: " + word + "."}, by...)
		case k < 40:
			if n := pick(t, rng.Intn(2) == 0, true); n != 0 {
				_, d, err = s.CreateIssueComment(ctx, t.owner, t.name, n, "Thoughts on "+word+".", by...)
			}
		case k < 50:
			if n := pick(t, true, true); n != 0 {
				_, d, err = s.SynchronizePullRequest(ctx, t.owner, t.name, n, by...)
			}
		case k < 58:
			if n := pick(t, true, true); n != 0 {
				states := []string{"APPROVED", "COMMENTED", "CHANGES_REQUESTED"}
				_, d, err = s.SubmitReview(ctx, t.owner, t.name, n, states[rng.Intn(3)], "Reviewed: "+word, by...)
			}
		case k < 64:
			if n := pick(t, true, true); n != 0 {
				_, d, err = s.CreateReviewComment(ctx, t.owner, t.name, n, NewReviewComment{Body: "Here: " + word, Line: 1 + rng.Intn(20)}, by...)
			}
		case k < 72:
			if n := pick(t, rng.Intn(2) == 0, true); n != 0 && len(t.labels) > 0 {
				_, d, err = s.LabelIssue(ctx, t.owner, t.name, n, t.labels[rng.Intn(len(t.labels))], by...)
			}
		case k < 78:
			if n := pick(t, false, true); n != 0 {
				title := "Trouble with " + word
				_, d, err = s.EditIssue(ctx, t.owner, t.name, n, IssueEdit{Title: &title}, by...)
			}
		case k < 86:
			if n := pick(t, true, true); n != 0 {
				_, d, err = s.MergePullRequest(ctx, t.owner, t.name, n, by...)
			}
		case k < 94:
			if n := pick(t, rng.Intn(2) == 0, true); n != 0 {
				_, d, err = s.CloseIssue(ctx, t.owner, t.name, n, by...)
			}
		default:
			if n := pick(t, rng.Intn(2) == 0, false); n != 0 {
				_, d, err = s.ReopenIssue(ctx, t.owner, t.name, n, by...)
			}
		}
		if err != nil {
			// A state the random pick did not foresee (a label already on
			// the issue): people get such refusals too; go on.
			continue
		}
		if d != nil {
			out = append(out, d)
		}
	}
	return out, nil
}
