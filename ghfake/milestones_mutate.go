package ghfake

import (
	"context"
	"fmt"
	"time"

	"github.com/google/go-github/v60/github"
)

// MilestoneSpec describes a milestone.
type MilestoneSpec struct {
	Title, Description string
	DueOn              time.Time
}

// CreateMilestone creates a milestone. Sends milestone.created.
func (s *Server) CreateMilestone(ctx context.Context, owner, name string, ms MilestoneSpec, o ...Option) (*github.Milestone, *Delivery, error) {
	var gm *github.Milestone
	var e *event
	err := s.inRepo(owner, name, o, nil, func(r *repo, sender *account) error {
		n := 1
		for _, m := range r.milestones {
			if m.number >= n {
				n = m.number + 1
			}
		}
		now := s.stamp()
		if ms.Title == "" {
			ms.Title = fmt.Sprintf("Milestone %d", n)
		}
		m := &milestone{id: s.w.id(), number: n, title: ms.Title, description: ms.Description, state: "open", creator: sender,
			createdAt: now, updatedAt: now, dueOn: ms.DueOn}
		r.milestones = append(r.milestones, m)
		r.version++
		gm = s.w.milestone(r, m)
		e = s.w.repoEvent(r, "milestone", "created", sender, map[string]any{"milestone": raw(milestoneJSON(gm))})
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return gm, s.fire(ctx, e), nil
}

// MilestoneEdit names the fields to change; nil leaves one as it is.
type MilestoneEdit struct {
	Title, Description *string
}

// changeMilestone runs fn on milestone number under the world lock and
// sends the milestone event of the action fn returns, with fn's extra
// payload keys.
func (s *Server) changeMilestone(ctx context.Context, owner, name string, number int, o []Option,
	fn func(m *milestone, now time.Time) (string, map[string]any, error)) (*github.Milestone, *Delivery, error) {
	var m *milestone
	var gm *github.Milestone
	var e *event
	err := s.inRepo(owner, name, o, func(r *repo) (*account, error) {
		if m = r.milestone(number); m == nil {
			return nil, fmt.Errorf("milestone %d of %s/%s: %w", number, owner, name, ErrNotFound)
		}
		return nil, nil
	}, func(r *repo, sender *account) error {
		action, extra, err := fn(m, s.stamp())
		if err != nil {
			return err
		}
		r.version++
		gm = s.w.milestone(r, m)
		fields := map[string]any{"milestone": raw(milestoneJSON(gm))}
		for k, v := range extra {
			fields[k] = v
		}
		e = s.w.repoEvent(r, "milestone", action, sender, fields)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return gm, s.fire(ctx, e), nil
}

// EditMilestone edits a milestone. Sends milestone.edited with the changes.
func (s *Server) EditMilestone(ctx context.Context, owner, name string, number int, me MilestoneEdit, o ...Option) (*github.Milestone, *Delivery, error) {
	return s.changeMilestone(ctx, owner, name, number, o, func(m *milestone, now time.Time) (string, map[string]any, error) {
		changes := map[string]any{}
		setChange(changes, "title", &m.title, me.Title)
		setChange(changes, "description", &m.description, me.Description)
		m.updatedAt = now
		return "edited", map[string]any{"changes": changes}, nil
	})
}

// CloseMilestone closes a milestone. Sends milestone.closed.
func (s *Server) CloseMilestone(ctx context.Context, owner, name string, number int, o ...Option) (*github.Milestone, *Delivery, error) {
	return s.changeMilestone(ctx, owner, name, number, o, func(m *milestone, now time.Time) (string, map[string]any, error) {
		if m.state == "closed" {
			return "", nil, fmt.Errorf("milestone %d is closed already", number)
		}
		m.state, m.closedAt, m.updatedAt = "closed", now, now
		return "closed", nil, nil
	})
}

// OpenMilestone reopens a milestone. Sends milestone.opened.
func (s *Server) OpenMilestone(ctx context.Context, owner, name string, number int, o ...Option) (*github.Milestone, *Delivery, error) {
	return s.changeMilestone(ctx, owner, name, number, o, func(m *milestone, now time.Time) (string, map[string]any, error) {
		if m.state == "open" {
			return "", nil, fmt.Errorf("milestone %d is open already", number)
		}
		m.state, m.closedAt, m.updatedAt = "open", time.Time{}, now
		return "opened", nil, nil
	})
}

// DeleteMilestone deletes a milestone and takes it off every issue. Sends
// milestone.deleted.
func (s *Server) DeleteMilestone(ctx context.Context, owner, name string, number int, o ...Option) (*Delivery, error) {
	_, d, err := s.changeMilestone(ctx, owner, name, number, o, func(m *milestone, now time.Time) (string, map[string]any, error) {
		m.deleted = true
		return "deleted", nil, nil
	})
	if err == nil {
		s.mu.Lock()
		if r := s.w.repo(owner, name); r != nil {
			for _, it := range r.items {
				if it.milestone != nil && it.milestone.deleted {
					it.milestone = nil
				}
			}
			r.version++
		}
		s.mu.Unlock()
	}
	return d, err
}
