package ghfake

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
)

// Mutations of issues, and the machinery pull requests share with them
// (open, change, itemEvent): a pull request is an issue with pr set.

// NewIssue describes an issue to open.
type NewIssue struct {
	Title, Body string
	User        string // author login; default a member of the owner
	Labels      []string
	Milestone   int
	Assignee    string
}

// OpenIssue opens an issue. Sends issues.opened.
func (s *Server) OpenIssue(ctx context.Context, owner, name string, ni NewIssue, o ...Option) (*github.Issue, *Delivery, error) {
	it, e, err := s.open(owner, name, ni.User, ni.Title, ni.Body, ni.Labels, ni.Milestone, ni.Assignee, nil, o)
	if err != nil {
		return nil, nil, err
	}
	return it.(*github.Issue), s.fire(ctx, e), nil
}

// open adds an issue, or a pull request when np is set, and prepares its
// opened event; the caller fires it.
func (s *Server) open(owner, name, user, title, body string, labels []string, ms int, assignee string, np *NewPull, o []Option) (any, *event, error) {
	var author *account
	var obj any
	var e *event
	err := s.inRepo(owner, name, o, func(r *repo) (*account, error) {
		var err error
		if user != "" {
			if author, err = s.w.account(user); err != nil {
				return nil, err
			}
		}
		// The author defaults as the sender does; By changes only the sender.
		author, err = s.w.sender(mutOpts{}, author, r.owner)
		return author, err
	}, func(r *repo, sender *account) error {
		var err error
		now := s.stamp()
		n := len(r.items) + 1
		if title == "" {
			title = fmt.Sprintf("Change number %d", n)
		}
		it := &issue{id: s.w.id(), repo: r, number: n, title: title, body: body, user: author, state: "open", createdAt: now, updatedAt: now}
		for _, l := range labels {
			if r.label(l) == nil {
				return fmt.Errorf("label %q of %s/%s: %w", l, owner, name, ErrNotFound)
			}
			it.labels = append(it.labels, r.label(l).name)
		}
		if assignee != "" {
			if it.assignee, err = s.w.account(assignee); err != nil {
				return err
			}
		}
		var m *milestone
		if ms != 0 {
			if m = r.milestone(ms); m == nil {
				return fmt.Errorf("milestone %d of %s/%s: %w", ms, owner, name, ErrNotFound)
			}
		}
		rng := rand.New(rand.NewSource(it.id))
		if np != nil {
			p := &pull{id: s.w.id(), headRef: np.Head, baseRef: np.Base, headSHA: sha(rng), baseSHA: sha(rng), draft: np.Draft,
				commits: def(np.Commits, 1), files: def(np.Files, 3)}
			if p.headRef == "" {
				p.headRef = fmt.Sprintf("feature-%d", n)
			}
			if p.baseRef == "" {
				p.baseRef = r.defaultBranch
			}
			it.pr = p
		}
		r.items = append(r.items, it)
		r.openCount++
		it.setMilestone(m)
		r.version++
		if np != nil {
			obj = s.w.pull(it, true)
			e = s.w.repoEvent(r, "pull_request", "opened", sender, map[string]any{"number": n, "pull_request": raw(s.w.pullJSON(it, true))})
			return nil
		}
		gi := s.w.issue(it)
		obj = gi
		e = s.w.repoEvent(r, "issues", "opened", sender, map[string]any{"issue": raw(issueJSON(gi))})
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return obj, e, nil
}

// itemEvent sends the pull_request or issues event of an item with its
// current state; the world lock is held.
func (w *world) itemEvent(it *issue, action string, sender *account, extra map[string]any) (any, *event) {
	fields := map[string]any{}
	for k, v := range extra {
		fields[k] = v
	}
	if it.pr != nil {
		gp := w.pull(it, true)
		fields["number"] = it.number
		fields["pull_request"] = raw(w.pullJSON(it, true))
		return gp, w.repoEvent(it.repo, "pull_request", action, sender, fields)
	}
	gi := w.issue(it)
	fields["issue"] = raw(issueJSON(gi))
	return gi, w.repoEvent(it.repo, "issues", action, sender, fields)
}

// change runs fn on the item under the world lock and sends the event it
// names. fn returns the action ("" for no event) and extra payload keys.
func (s *Server) change(ctx context.Context, owner, name string, number int, pullOnly bool, o []Option,
	fn func(it *issue, now time.Time, sender *account) (string, map[string]any, error)) (changed, *Delivery, error) {
	var out changed
	var e *event
	var it *issue
	err := s.inRepo(owner, name, o, func(r *repo) (*account, error) {
		var err error
		if pullOnly {
			it, err = r.lookupPull(owner, name, number)
		} else {
			it, err = r.lookupItem(owner, name, number)
		}
		return nil, err
	}, func(_ *repo, sender *account) error {
		action, extra, err := fn(it, s.stamp(), sender)
		if err != nil {
			return err
		}
		it.repo.version++
		var obj any
		obj, e = s.w.itemEvent(it, action, sender, extra)
		out = changed{obj: obj, issue: s.w.issueFull(it)}
		return nil
	})
	if err != nil {
		return changed{}, nil, err
	}
	return out, s.fire(ctx, e), nil
}

// changed is what change returns: the object of the event (a pull
// request or an issue) and the issue side of the number.
type changed struct {
	obj   any
	issue *github.Issue
}

// issueResult answers the issue side, also for a pull request's number
// (as GET /repos/{o}/{r}/issues/{n} would).
func issueResult(c changed, d *Delivery, err error) (*github.Issue, *Delivery, error) {
	if err != nil {
		return nil, nil, err
	}
	return c.issue, d, nil
}

// IssueEdit names the fields to change; nil leaves one as it is.
type IssueEdit struct {
	Title, Body *string
}

// EditIssue edits an issue (or a pull request's title/body). Sends
// issues.edited (pull_request.edited) with the changes.
func (s *Server) EditIssue(ctx context.Context, owner, name string, number int, ie IssueEdit, o ...Option) (*github.Issue, *Delivery, error) {
	return issueResult(s.change(ctx, owner, name, number, false, o, func(it *issue, now time.Time, _ *account) (string, map[string]any, error) {
		changes := map[string]any{}
		setChange(changes, "title", &it.title, ie.Title)
		setChange(changes, "body", &it.body, ie.Body)
		it.updatedAt = now
		return "edited", map[string]any{"changes": changes}, nil
	}))
}

func closeItem(it *issue, now time.Time, by *account) {
	it.setState("closed")
	it.closedAt, it.closedBy, it.updatedAt = now, by, now
	it.stateReason = "completed"
}

// CloseIssue closes an issue (or pull request). Sends issues.closed.
func (s *Server) CloseIssue(ctx context.Context, owner, name string, number int, o ...Option) (*github.Issue, *Delivery, error) {
	return issueResult(s.change(ctx, owner, name, number, false, o, func(it *issue, now time.Time, by *account) (string, map[string]any, error) {
		if it.state == "closed" {
			return "", nil, fmt.Errorf("#%d is closed already", number)
		}
		closeItem(it, now, by)
		return "closed", nil, nil
	}))
}

func reopen(it *issue, now time.Time, _ *account) (string, map[string]any, error) {
	if it.state == "open" || (it.pr != nil && it.pr.merged) {
		return "", nil, fmt.Errorf("#%d cannot be reopened", it.number)
	}
	it.setState("open")
	it.closedAt, it.closedBy, it.stateReason, it.updatedAt = time.Time{}, nil, "reopened", now
	return "reopened", nil, nil
}

// ReopenIssue reopens an issue. Sends issues.reopened.
func (s *Server) ReopenIssue(ctx context.Context, owner, name string, number int, o ...Option) (*github.Issue, *Delivery, error) {
	return issueResult(s.change(ctx, owner, name, number, false, o, reopen))
}

// LabelIssue adds an existing label to an issue or pull request. Sends
// issues.labeled (pull_request.labeled).
func (s *Server) LabelIssue(ctx context.Context, owner, name string, number int, labelName string, o ...Option) (*github.Issue, *Delivery, error) {
	return issueResult(s.change(ctx, owner, name, number, false, o, func(it *issue, now time.Time, _ *account) (string, map[string]any, error) {
		l := it.repo.label(labelName)
		if l == nil {
			return "", nil, fmt.Errorf("label %q: %w", labelName, ErrNotFound)
		}
		for _, n := range it.labels {
			if n == l.name {
				return "", nil, fmt.Errorf("#%d has label %q already", number, l.name)
			}
		}
		it.labels = append(it.labels, l.name)
		it.updatedAt = now
		return "labeled", map[string]any{"label": s.w.label(it.repo, l)}, nil
	}))
}

// UnlabelIssue removes a label from an issue or pull request. Sends
// issues.unlabeled (pull_request.unlabeled).
func (s *Server) UnlabelIssue(ctx context.Context, owner, name string, number int, labelName string, o ...Option) (*github.Issue, *Delivery, error) {
	return issueResult(s.change(ctx, owner, name, number, false, o, func(it *issue, now time.Time, _ *account) (string, map[string]any, error) {
		for i, n := range it.labels {
			if strings.EqualFold(n, labelName) {
				l := it.repo.label(n)
				it.labels = append(it.labels[:i:i], it.labels[i+1:]...)
				it.updatedAt = now
				return "unlabeled", map[string]any{"label": s.w.label(it.repo, l)}, nil
			}
		}
		return "", nil, fmt.Errorf("label %q on #%d: %w", labelName, number, ErrNotFound)
	}))
}

// MilestoneIssue sets (number > 0) or clears (0) an issue's milestone.
// Sends issues.milestoned or issues.demilestoned.
func (s *Server) MilestoneIssue(ctx context.Context, owner, name string, number, milestoneNumber int, o ...Option) (*github.Issue, *Delivery, error) {
	return issueResult(s.change(ctx, owner, name, number, false, o, func(it *issue, now time.Time, _ *account) (string, map[string]any, error) {
		if milestoneNumber == 0 {
			old := it.milestone
			if old == nil {
				return "", nil, fmt.Errorf("#%d has no milestone", number)
			}
			it.setMilestone(nil)
			it.updatedAt = now
			return "demilestoned", map[string]any{"milestone": raw(milestoneJSON(s.w.milestone(it.repo, old)))}, nil
		}
		m := it.repo.milestone(milestoneNumber)
		if m == nil {
			return "", nil, fmt.Errorf("milestone %d: %w", milestoneNumber, ErrNotFound)
		}
		it.setMilestone(m)
		it.updatedAt = now
		return "milestoned", map[string]any{"milestone": raw(milestoneJSON(s.w.milestone(it.repo, m)))}, nil
	}))
}

// DeleteIssue deletes an issue (not a pull request); GET answers 410
// afterwards. Sends issues.deleted.
func (s *Server) DeleteIssue(ctx context.Context, owner, name string, number int, o ...Option) (*Delivery, error) {
	var it *issue
	var e *event
	err := s.inRepo(owner, name, o, func(r *repo) (*account, error) {
		var err error
		if it, err = r.lookupItem(owner, name, number); err != nil {
			return nil, err
		}
		if it.pr != nil {
			return nil, fmt.Errorf("#%d is a pull request; it cannot be deleted", number)
		}
		return nil, nil
	}, func(_ *repo, sender *account) error {
		_, e = s.w.itemEvent(it, "deleted", sender, nil)
		it.detach()
		it.deleted = true
		for _, c := range it.comments {
			delete(s.w.commentsByID, c.id)
		}
		it.repo.version++
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.fire(ctx, e), nil
}

// TransferIssue moves an issue to another repository: GET of the old one
// answers 301 to the new one afterwards. Sends issues.transferred (old
// repository) then issues.opened (new repository); both deliveries are
// returned in that order (nil where no installation covers the repository).
func (s *Server) TransferIssue(ctx context.Context, owner, name string, number int, newOwner, newName string, o ...Option) (*github.Issue, []*Delivery, error) {
	var it *issue
	var to *repo
	var gi *github.Issue
	var e1, e2 *event
	err := s.inRepo(owner, name, o, func(r *repo) (*account, error) {
		var err error
		if it, err = r.lookupItem(owner, name, number); err != nil {
			return nil, err
		}
		if it.pr != nil {
			return nil, fmt.Errorf("#%d is a pull request; it cannot be transferred", number)
		}
		to, err = s.w.lookupRepo(newOwner, newName)
		return nil, err
	}, func(_ *repo, sender *account) error {
		now := s.stamp()
		ni := &issue{id: s.w.id(), repo: to, number: len(to.items) + 1, title: it.title, body: it.body, user: it.user,
			state: "open", createdAt: now, updatedAt: now}
		to.items = append(to.items, ni)
		to.openCount++
		if it.state == "closed" {
			ni.setState("closed")
			ni.closedAt, ni.closedBy = now, it.closedBy
		}
		for _, c := range it.comments {
			c.issue = ni
			ni.comments = append(ni.comments, c)
		}
		it.comments = nil
		oldJSON := issueJSON(s.w.issue(it))
		oldRepo := repoJSON(s.w.repository(it.repo))
		it.detach()
		it.transferredTo = ni
		it.repo.version++
		to.version++
		gi = s.w.issue(ni)
		e1 = s.w.repoEvent(it.repo, "issues", "transferred", sender, map[string]any{"issue": raw(oldJSON),
			"changes": map[string]any{"new_issue": raw(issueJSON(gi)), "new_repository": raw(repoJSON(s.w.repository(to)))}})
		e2 = s.w.repoEvent(to, "issues", "opened", sender, map[string]any{"issue": raw(issueJSON(gi)),
			"changes": map[string]any{"old_issue": raw(oldJSON), "old_repository": raw(oldRepo)}})
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return gi, []*Delivery{s.fire(ctx, e1), s.fire(ctx, e2)}, nil
}
