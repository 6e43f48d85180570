package ghfake

import (
	"context"
	"fmt"

	"github.com/google/go-github/v60/github"
)

func (w *world) repoRefs(rs []*repo) []map[string]any {
	out := []map[string]any{}
	for _, r := range rs {
		out = append(out, map[string]any{"id": r.id, "node_id": nodeID("Repository", r.id), "name": r.name,
			"full_name": r.owner.login + "/" + r.name, "private": r.private})
	}
	return out
}

// InstallApp installs the app on account: on the named repositories, or on
// all of them when none are named. Sends installation.created.
func (s *Server) InstallApp(ctx context.Context, accountLogin string, repos []string, o ...Option) (*github.Installation, *Delivery, error) {
	s.mu.Lock()
	a, err := s.w.account(accountLogin)
	if err != nil {
		s.mu.Unlock()
		return nil, nil, err
	}
	if s.w.installationOf(a) != nil {
		s.mu.Unlock()
		return nil, nil, fmt.Errorf("install on %s: already installed", accountLogin)
	}
	var ids []int64
	for _, name := range repos {
		r, err := s.w.lookupRepo(a.login, name)
		if err != nil {
			s.mu.Unlock()
			return nil, nil, err
		}
		ids = append(ids, r.id)
	}
	sender, err := s.w.sender(opts(o), nil, a)
	if err != nil {
		s.mu.Unlock()
		return nil, nil, err
	}
	in := s.w.addInstallation(a, len(repos) == 0, ids, s.stamp())
	gi := s.w.installation(in)
	e := &event{name: "installation", action: "created", inst: in, fields: map[string]any{
		"installation": raw(installationJSON(gi)), "repositories": s.w.repoRefs(s.w.reposOf(in))}}
	s.w.build(e, sender)
	s.mu.Unlock()
	return gi, s.fire(ctx, e), nil
}

// UninstallApp removes an installation; its tokens stop working. Sends
// installation.deleted.
func (s *Server) UninstallApp(ctx context.Context, installationID int64, o ...Option) (*Delivery, error) {
	s.mu.Lock()
	in := s.w.installations[installationID]
	if in == nil || in.deleted {
		s.mu.Unlock()
		return nil, fmt.Errorf("installation %d: %w", installationID, ErrNotFound)
	}
	sender, err := s.w.sender(opts(o), nil, in.account)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	e := &event{name: "installation", action: "deleted", inst: in, fields: map[string]any{
		"installation": raw(installationJSON(s.w.installation(in))), "repositories": s.w.repoRefs(s.w.reposOf(in)), "requester": nil}}
	s.w.build(e, sender)
	in.deleted = true
	s.mu.Unlock()
	s.ctl.revokeInstallationTokens(installationID)
	return s.fire(ctx, e), nil
}

// AddInstallationRepos adds repositories to an installation on selected
// repositories. Sends installation_repositories.added.
func (s *Server) AddInstallationRepos(ctx context.Context, installationID int64, repos []string, o ...Option) (*Delivery, error) {
	return s.changeInstallationRepos(ctx, installationID, repos, true, o)
}

// RemoveInstallationRepos removes repositories from an installation (one
// on all repositories becomes one on the rest). Sends
// installation_repositories.removed.
func (s *Server) RemoveInstallationRepos(ctx context.Context, installationID int64, repos []string, o ...Option) (*Delivery, error) {
	return s.changeInstallationRepos(ctx, installationID, repos, false, o)
}

func (s *Server) changeInstallationRepos(ctx context.Context, id int64, names []string, add bool, o []Option) (*Delivery, error) {
	s.mu.Lock()
	in := s.w.installations[id]
	if in == nil || in.deleted {
		s.mu.Unlock()
		return nil, fmt.Errorf("installation %d: %w", id, ErrNotFound)
	}
	if add && in.all {
		s.mu.Unlock()
		return nil, fmt.Errorf("installation %d is on all repositories already", id)
	}
	var changed []*repo
	for _, n := range names {
		r, err := s.w.lookupRepo(in.account.login, n)
		if err != nil {
			s.mu.Unlock()
			return nil, err
		}
		changed = append(changed, r)
	}
	sender, err := s.w.sender(opts(o), nil, in.account)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	if !add && in.all {
		in.all = false
		for _, r := range s.w.reposOf(&installation{account: in.account, all: true}) {
			in.repos[r.id] = true
		}
	}
	for _, r := range changed {
		if add {
			in.repos[r.id] = true
		} else {
			delete(in.repos, r.id)
		}
	}
	in.updatedAt = s.stamp()
	addedRefs, removedRefs := s.w.repoRefs(nil), s.w.repoRefs(nil)
	action := "removed"
	if add {
		addedRefs, action = s.w.repoRefs(changed), "added"
	} else {
		removedRefs = s.w.repoRefs(changed)
	}
	gi := s.w.installation(in)
	e := &event{name: "installation_repositories", action: action, inst: in, fields: map[string]any{
		"installation": raw(installationJSON(gi)), "repository_selection": gi.GetRepositorySelection(),
		"repositories_added": addedRefs, "repositories_removed": removedRefs, "requester": nil}}
	s.w.build(e, sender)
	s.mu.Unlock()
	return s.fire(ctx, e), nil
}
