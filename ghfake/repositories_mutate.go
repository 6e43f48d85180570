package ghfake

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/go-github/v60/github"
)

// CreateRepo creates a repository. Sends repository.created.
func (s *Server) CreateRepo(ctx context.Context, owner, name string, private bool, o ...Option) (*github.Repository, *Delivery, error) {
	s.mu.Lock()
	a, err := s.w.account(owner)
	if err != nil {
		s.mu.Unlock()
		return nil, nil, err
	}
	if s.w.repo(owner, name) != nil {
		s.mu.Unlock()
		return nil, nil, fmt.Errorf("repository %s/%s already exists", owner, name)
	}
	sender, err := s.w.sender(opts(o), nil, a)
	if err != nil {
		s.mu.Unlock()
		return nil, nil, err
	}
	r := s.w.addRepo(a, name, s.stamp())
	r.private = private
	gr := s.w.repository(r)
	e := s.w.repoEvent(r, "repository", "created", sender, nil)
	s.mu.Unlock()
	return gr, s.fire(ctx, e), nil
}

// RenameRepo renames a repository. Sends repository.renamed.
func (s *Server) RenameRepo(ctx context.Context, owner, name, newName string, o ...Option) (*github.Repository, *Delivery, error) {
	var gr *github.Repository
	var e *event
	err := s.inRepo(owner, name, o, func(r *repo) (*account, error) {
		if s.w.repo(owner, newName) != nil {
			return nil, fmt.Errorf("repository %s/%s already exists", owner, newName)
		}
		return nil, nil
	}, func(r *repo, sender *account) error {
		delete(s.w.reposByName, strings.ToLower(r.owner.login+"/"+r.name))
		s.w.renamed[strings.ToLower(r.owner.login+"/"+r.name)] = r
		old := r.name
		r.name = newName
		r.updatedAt = s.stamp()
		r.version++
		s.w.reposByName[strings.ToLower(r.owner.login+"/"+r.name)] = r
		gr = s.w.repository(r)
		e = s.w.repoEvent(r, "repository", "renamed", sender, map[string]any{"changes": map[string]any{"repository": map[string]any{"name": from(old)}}})
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return gr, s.fire(ctx, e), nil
}

// EditRepo changes a repository's description. Sends repository.edited.
func (s *Server) EditRepo(ctx context.Context, owner, name, description string, o ...Option) (*github.Repository, *Delivery, error) {
	var gr *github.Repository
	var e *event
	err := s.inRepo(owner, name, o, nil, func(r *repo, sender *account) error {
		old := r.description
		r.description = description
		r.updatedAt = s.stamp()
		r.version++
		gr = s.w.repository(r)
		e = s.w.repoEvent(r, "repository", "edited", sender, map[string]any{"changes": map[string]any{"description": from(old)}})
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return gr, s.fire(ctx, e), nil
}

// DeleteRepo deletes a repository. Sends repository.deleted.
func (s *Server) DeleteRepo(ctx context.Context, owner, name string, o ...Option) (*Delivery, error) {
	var e *event
	err := s.inRepo(owner, name, o, nil, func(r *repo, sender *account) error {
		e = s.w.repoEvent(r, "repository", "deleted", sender, nil)
		r.deleted = true
		r.version++
		delete(s.w.reposByName, strings.ToLower(r.owner.login+"/"+r.name))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.fire(ctx, e), nil
}

// AddCollaborator gives login permission ("pull", "push" or "admin") on a
// repository. Sends member.added.
func (s *Server) AddCollaborator(ctx context.Context, owner, name, login, permission string, o ...Option) (*Delivery, error) {
	return s.member(ctx, owner, name, login, permission, o)
}

// RemoveCollaborator takes login off a repository. Sends member.removed.
func (s *Server) RemoveCollaborator(ctx context.Context, owner, name, login string, o ...Option) (*Delivery, error) {
	return s.member(ctx, owner, name, login, "", o)
}

func (s *Server) member(ctx context.Context, owner, name, login, perm string, o []Option) (*Delivery, error) {
	var u *account
	var e *event
	err := s.inRepo(owner, name, o, func(*repo) (*account, error) {
		var err error
		u, err = s.w.account(login)
		return nil, err
	}, func(r *repo, sender *account) error {
		fields := map[string]any{"member": s.w.user(u)}
		action := "added"
		if perm == "" {
			if _, ok := r.collaborators[u.id]; !ok {
				return fmt.Errorf("collaborator %s of %s/%s: %w", login, owner, name, ErrNotFound)
			}
			action = "removed"
			delete(r.collaborators, u.id)
		} else {
			r.collaborators[u.id] = perm
			word := map[string]string{"pull": "read", "push": "write", "admin": "admin"}[perm]
			if word == "" {
				word = perm
			}
			_ = word // GitHub's examples of member.added carry no changes.
		}
		r.version++
		e = s.w.repoEvent(r, "member", action, sender, fields)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.fire(ctx, e), nil
}
