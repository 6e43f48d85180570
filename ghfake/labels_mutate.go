package ghfake

import (
	"context"
	"fmt"

	"github.com/google/go-github/v60/github"
)

// LabelSpec describes a label.
type LabelSpec struct {
	Name, Color, Description string
}

// CreateLabel creates a label. Sends label.created.
func (s *Server) CreateLabel(ctx context.Context, owner, name string, ls LabelSpec, o ...Option) (*github.Label, *Delivery, error) {
	var gl *github.Label
	var e *event
	err := s.inRepo(owner, name, o, func(r *repo) (*account, error) {
		if ls.Name == "" || r.label(ls.Name) != nil {
			return nil, fmt.Errorf("label %q of %s/%s already exists or is empty", ls.Name, owner, name)
		}
		return nil, nil
	}, func(r *repo, sender *account) error {
		if ls.Color == "" {
			ls.Color = "ededed"
		}
		l := &label{id: s.w.id(), name: ls.Name, color: ls.Color, description: ls.Description}
		r.labels = append(r.labels, l)
		r.version++
		gl = s.w.label(r, l)
		e = s.w.repoEvent(r, "label", "created", sender, map[string]any{"label": gl})
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return gl, s.fire(ctx, e), nil
}

// lookupLabel finds label name of r, in any case.
func (r *repo) lookupLabel(name string) (*label, error) {
	l := r.label(name)
	if l == nil {
		return nil, fmt.Errorf("label %q: %w", name, ErrNotFound)
	}
	return l, nil
}

// LabelEdit names the fields to change; nil leaves one as it is.
type LabelEdit struct {
	Name, Color, Description *string
}

// EditLabel edits a label (a rename follows it onto every issue). Sends
// label.edited with the changes.
func (s *Server) EditLabel(ctx context.Context, owner, name, labelName string, le LabelEdit, o ...Option) (*github.Label, *Delivery, error) {
	var l *label
	var gl *github.Label
	var e *event
	err := s.inRepo(owner, name, o, func(r *repo) (*account, error) {
		var err error
		l, err = r.lookupLabel(labelName)
		return nil, err
	}, func(r *repo, sender *account) error {
		changes := map[string]any{}
		if le.Name != nil && *le.Name != l.name {
			changes["name"] = from(l.name)
			for _, it := range r.items {
				for i, n := range it.labels {
					if n == l.name {
						it.labels[i] = *le.Name
					}
				}
			}
			l.name = *le.Name
		}
		setChange(changes, "color", &l.color, le.Color)
		setChange(changes, "description", &l.description, le.Description)
		r.version++
		gl = s.w.label(r, l)
		e = s.w.repoEvent(r, "label", "edited", sender, map[string]any{"label": gl, "changes": changes})
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return gl, s.fire(ctx, e), nil
}

// DeleteLabel deletes a label and takes it off every issue. Sends
// label.deleted.
func (s *Server) DeleteLabel(ctx context.Context, owner, name, labelName string, o ...Option) (*Delivery, error) {
	var l *label
	var e *event
	err := s.inRepo(owner, name, o, func(r *repo) (*account, error) {
		var err error
		l, err = r.lookupLabel(labelName)
		return nil, err
	}, func(r *repo, sender *account) error {
		gl := s.w.label(r, l)
		for i, x := range r.labels {
			if x == l {
				r.labels = append(r.labels[:i:i], r.labels[i+1:]...)
				break
			}
		}
		for _, it := range r.items {
			for i, n := range it.labels {
				if n == l.name {
					it.labels = append(it.labels[:i:i], it.labels[i+1:]...)
					break
				}
			}
		}
		r.version++
		e = s.w.repoEvent(r, "label", "deleted", sender, map[string]any{"label": gl})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.fire(ctx, e), nil
}
