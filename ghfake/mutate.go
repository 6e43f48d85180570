package ghfake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/google/uuid"
)

// Mutations change the world as people do on GitHub and send the webhook
// GitHub would send to the app. Delivery is synchronous: they return after
// the receiver answered, with the recorded *Delivery (nil when no live
// installation of the app covers the repository, so GitHub sends nothing).
// Errors are for changes GitHub would refuse (no such object).

// ErrNotFound is returned (wrapped) for an object that does not exist.
var ErrNotFound = errors.New("not found")

// Option adjusts a mutation.
type Option func(*mutOpts)

type mutOpts struct {
	by string
}

// By makes login the person doing the change (the webhook's sender).
func By(login string) Option { return func(m *mutOpts) { m.by = login } }

func opts(o []Option) mutOpts {
	var m mutOpts
	for _, f := range o {
		f(&m)
	}
	return m
}

// now is the server clock at GitHub's one-second resolution.
func (s *Server) stamp() time.Time { return s.ctl.now().UTC().Truncate(time.Second) }

// sender resolves By, else def, else the owner's first admin, else the owner.
func (w *world) sender(o mutOpts, def *account, owner *account) (*account, error) {
	if o.by != "" {
		a := w.accountsByLogin[strings.ToLower(o.by)]
		if a == nil {
			return nil, fmt.Errorf("user %s: %w", o.by, ErrNotFound)
		}
		return a, nil
	}
	if def != nil {
		return def, nil
	}
	if owner != nil && owner.isOrg {
		for _, m := range owner.members {
			if owner.admins[m] {
				return w.accountsByID[m], nil
			}
		}
		if len(owner.members) > 0 {
			return w.accountsByID[owner.members[0]], nil
		}
	}
	return owner, nil
}

// event is a webhook about to be sent.
type event struct {
	name, action string
	inst         *installation
	repo         *repo
	fields       map[string]any // the event's own keys (main object, changes...)
	body         []byte
}

// build renders the payload; the world lock is held.
func (w *world) build(e *event, sender *account) {
	m := map[string]any{"action": e.action, "sender": json.RawMessage(enc(w.user(sender)))}
	if e.action == "" {
		delete(m, "action")
	}
	for k, v := range e.fields {
		m[k] = v
	}
	if e.repo != nil {
		if _, ok := m["repository"]; !ok {
			m["repository"] = json.RawMessage(repoJSON(w.repository(e.repo)))
		}
		if e.repo.owner.isOrg {
			m["organization"] = w.org(e.repo.owner)
		}
	}
	if e.inst != nil {
		if _, ok := m["installation"]; !ok {
			m["installation"] = map[string]any{"id": e.inst.id, "node_id": nodeID("Installation", e.inst.id)}
		}
	}
	e.body = enc(m)
}

// repoEvent prepares an event about r, or nil if no installation covers r.
func (w *world) repoEvent(r *repo, name, action string, sender *account, fields map[string]any) *event {
	in := w.installationFor(r)
	if in == nil {
		return nil
	}
	e := &event{name: name, action: action, inst: in, repo: r, fields: fields}
	w.build(e, sender)
	return e
}

func (s *Server) fire(ctx context.Context, e *event) *Delivery {
	if e == nil {
		return nil
	}
	d := &Delivery{GUID: uuid.NewString(), Event: e.name, Action: e.action, Payload: e.body}
	if e.inst != nil {
		d.InstallationID = e.inst.id
	}
	if e.repo != nil {
		d.RepositoryID = e.repo.id
	}
	s.send(ctx, d)
	return d
}

func raw(b []byte) json.RawMessage { return json.RawMessage(b) }

func from(v any) map[string]any { return map[string]any{"from": v} }

// setChange sets *field to *v when v is given, and records the old value
// under key in a webhook's changes, as GitHub does.
func setChange(changes map[string]any, key string, field *string, v *string) {
	if v == nil {
		return
	}
	changes[key] = from(*field)
	*field = *v
}

// lookupRepo finds a live repository; the world lock is held.
func (w *world) lookupRepo(owner, name string) (*repo, error) {
	r := w.repo(owner, name)
	if r == nil {
		return nil, fmt.Errorf("repository %s/%s: %w", owner, name, ErrNotFound)
	}
	return r, nil
}

func (w *world) lookupItem(owner, name string, number int) (*issue, error) {
	r, err := w.lookupRepo(owner, name)
	if err != nil {
		return nil, err
	}
	it := r.item(number)
	if it == nil || it.deleted || it.transferredTo != nil {
		return nil, fmt.Errorf("issue %s/%s#%d: %w", owner, name, number, ErrNotFound)
	}
	return it, nil
}

func (w *world) lookupPull(owner, name string, number int) (*issue, error) {
	it, err := w.lookupItem(owner, name, number)
	if err != nil {
		return nil, err
	}
	if it.pr == nil {
		return nil, fmt.Errorf("pull request %s/%s#%d: %w", owner, name, number, ErrNotFound)
	}
	return it, nil
}

func (w *world) account(login string) (*account, error) {
	a := w.accountsByLogin[strings.ToLower(login)]
	if a == nil {
		return nil, fmt.Errorf("account %s: %w", login, ErrNotFound)
	}
	return a, nil
}

// ---- accounts ----

// AddUser adds a user account (no webhook: GitHub sends none).
func (s *Server) AddUser(login string) (*github.User, error) {
	return s.addAccount(login, false)
}

// AddOrganization adds an organization; members (logins) join it, the
// first as an admin.
func (s *Server) AddOrganization(login string, members ...string) (*github.User, error) {
	u, err := s.addAccount(login, true)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	org := s.w.accountsByLogin[strings.ToLower(login)]
	for i, m := range members {
		a, err := s.w.account(m)
		if err != nil {
			return nil, err
		}
		org.members = append(org.members, a.id)
		if i == 0 {
			org.admins[a.id] = true
		}
	}
	return u, nil
}

func (s *Server) addAccount(login string, isOrg bool) (*github.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if login == "" || s.w.accountsByLogin[strings.ToLower(login)] != nil {
		return nil, fmt.Errorf("account %q: already exists or empty", login)
	}
	a := s.w.addAccount(login, isOrg, s.stamp())
	return s.w.user(a), nil
}

// ---- installations ----

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

// ---- repositories ----

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
	s.mu.Lock()
	r, err := s.w.lookupRepo(owner, name)
	if err == nil && s.w.repo(owner, newName) != nil {
		err = fmt.Errorf("repository %s/%s already exists", owner, newName)
	}
	var sender *account
	if err == nil {
		sender, err = s.w.sender(opts(o), nil, r.owner)
	}
	if err != nil {
		s.mu.Unlock()
		return nil, nil, err
	}
	delete(s.w.reposByName, strings.ToLower(r.owner.login+"/"+r.name))
	s.w.renamed[strings.ToLower(r.owner.login+"/"+r.name)] = r
	old := r.name
	r.name = newName
	r.updatedAt = s.stamp()
	r.version++
	s.w.reposByName[strings.ToLower(r.owner.login+"/"+r.name)] = r
	gr := s.w.repository(r)
	e := s.w.repoEvent(r, "repository", "renamed", sender, map[string]any{"changes": map[string]any{"repository": map[string]any{"name": from(old)}}})
	s.mu.Unlock()
	return gr, s.fire(ctx, e), nil
}

// EditRepo changes a repository's description. Sends repository.edited.
func (s *Server) EditRepo(ctx context.Context, owner, name, description string, o ...Option) (*github.Repository, *Delivery, error) {
	s.mu.Lock()
	r, err := s.w.lookupRepo(owner, name)
	var sender *account
	if err == nil {
		sender, err = s.w.sender(opts(o), nil, r.owner)
	}
	if err != nil {
		s.mu.Unlock()
		return nil, nil, err
	}
	old := r.description
	r.description = description
	r.updatedAt = s.stamp()
	r.version++
	gr := s.w.repository(r)
	e := s.w.repoEvent(r, "repository", "edited", sender, map[string]any{"changes": map[string]any{"description": from(old)}})
	s.mu.Unlock()
	return gr, s.fire(ctx, e), nil
}

// DeleteRepo deletes a repository. Sends repository.deleted.
func (s *Server) DeleteRepo(ctx context.Context, owner, name string, o ...Option) (*Delivery, error) {
	s.mu.Lock()
	r, err := s.w.lookupRepo(owner, name)
	var sender *account
	if err == nil {
		sender, err = s.w.sender(opts(o), nil, r.owner)
	}
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	e := s.w.repoEvent(r, "repository", "deleted", sender, nil)
	r.deleted = true
	r.version++
	delete(s.w.reposByName, strings.ToLower(r.owner.login+"/"+r.name))
	s.mu.Unlock()
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
	s.mu.Lock()
	r, err := s.w.lookupRepo(owner, name)
	var sender, u *account
	if err == nil {
		u, err = s.w.account(login)
	}
	if err == nil {
		sender, err = s.w.sender(opts(o), nil, r.owner)
	}
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	fields := map[string]any{"member": s.w.user(u)}
	action := "added"
	if perm == "" {
		if _, ok := r.collaborators[u.id]; !ok {
			s.mu.Unlock()
			return nil, fmt.Errorf("collaborator %s of %s/%s: %w", login, owner, name, ErrNotFound)
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
	e := s.w.repoEvent(r, "member", action, sender, fields)
	s.mu.Unlock()
	return s.fire(ctx, e), nil
}

// ---- pull requests ----

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

func (s *Server) open(owner, name, user, title, body string, labels []string, ms int, assignee string, np *NewPull, o []Option) (any, *event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.w.lookupRepo(owner, name)
	if err != nil {
		return nil, nil, err
	}
	var author *account
	if user != "" {
		if author, err = s.w.account(user); err != nil {
			return nil, nil, err
		}
	}
	author, err = s.w.sender(mutOpts{}, author, r.owner)
	if err != nil {
		return nil, nil, err
	}
	sender, err := s.w.sender(opts(o), author, r.owner)
	if err != nil {
		return nil, nil, err
	}
	now := s.stamp()
	n := len(r.items) + 1
	if title == "" {
		title = fmt.Sprintf("Change number %d", n)
	}
	it := &issue{id: s.w.id(), repo: r, number: n, title: title, body: body, user: author, state: "open", createdAt: now, updatedAt: now}
	for _, l := range labels {
		if r.label(l) == nil {
			return nil, nil, fmt.Errorf("label %q of %s/%s: %w", l, owner, name, ErrNotFound)
		}
		it.labels = append(it.labels, r.label(l).name)
	}
	if assignee != "" {
		if it.assignee, err = s.w.account(assignee); err != nil {
			return nil, nil, err
		}
	}
	var m *milestone
	if ms != 0 {
		if m = r.milestone(ms); m == nil {
			return nil, nil, fmt.Errorf("milestone %d of %s/%s: %w", ms, owner, name, ErrNotFound)
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
		gp := s.w.pull(it, true)
		e := s.w.repoEvent(r, "pull_request", "opened", sender, map[string]any{"number": n, "pull_request": raw(s.w.pullJSON(it, true))})
		return gp, e, nil
	}
	gi := s.w.issue(it)
	e := s.w.repoEvent(r, "issues", "opened", sender, map[string]any{"issue": raw(issueJSON(gi))})
	return gi, e, nil
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
	s.mu.Lock()
	var it *issue
	var err error
	if pullOnly {
		it, err = s.w.lookupPull(owner, name, number)
	} else {
		it, err = s.w.lookupItem(owner, name, number)
	}
	var sender *account
	if err == nil {
		sender, err = s.w.sender(opts(o), nil, it.repo.owner)
	}
	var action string
	var extra map[string]any
	if err == nil {
		action, extra, err = fn(it, s.stamp(), sender)
	}
	if err != nil {
		s.mu.Unlock()
		return changed{}, nil, err
	}
	it.repo.version++
	obj, e := s.w.itemEvent(it, action, sender, extra)
	out := changed{obj: obj, issue: s.w.issueFull(it)}
	s.mu.Unlock()
	return out, s.fire(ctx, e), nil
}

// changed is what change returns: the object of the event (a pull
// request or an issue) and the issue side of the number.
type changed struct {
	obj   any
	issue *github.Issue
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

// issueResult answers the issue side, also for a pull request's number
// (as GET /repos/{o}/{r}/issues/{n} would).
func issueResult(c changed, d *Delivery, err error) (*github.Issue, *Delivery, error) {
	if err != nil {
		return nil, nil, err
	}
	return c.issue, d, nil
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

func closeItem(it *issue, now time.Time, by *account) {
	it.setState("closed")
	it.closedAt, it.closedBy, it.updatedAt = now, by, now
	it.stateReason = "completed"
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

func reopen(it *issue, now time.Time, _ *account) (string, map[string]any, error) {
	if it.state == "open" || (it.pr != nil && it.pr.merged) {
		return "", nil, fmt.Errorf("#%d cannot be reopened", it.number)
	}
	it.setState("open")
	it.closedAt, it.closedBy, it.stateReason, it.updatedAt = time.Time{}, nil, "reopened", now
	return "reopened", nil, nil
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

// ---- issues ----

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
	s.mu.Lock()
	it, err := s.w.lookupItem(owner, name, number)
	if err == nil && it.pr != nil {
		err = fmt.Errorf("#%d is a pull request; it cannot be deleted", number)
	}
	var sender *account
	if err == nil {
		sender, err = s.w.sender(opts(o), nil, it.repo.owner)
	}
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	_, e := s.w.itemEvent(it, "deleted", sender, nil)
	it.detach()
	it.deleted = true
	for _, c := range it.comments {
		delete(s.w.commentsByID, c.id)
	}
	it.repo.version++
	s.mu.Unlock()
	return s.fire(ctx, e), nil
}

// TransferIssue moves an issue to another repository: GET of the old one
// answers 301 to the new one afterwards. Sends issues.transferred (old
// repository) then issues.opened (new repository); both deliveries are
// returned in that order (nil where no installation covers the repository).
func (s *Server) TransferIssue(ctx context.Context, owner, name string, number int, newOwner, newName string, o ...Option) (*github.Issue, []*Delivery, error) {
	s.mu.Lock()
	it, err := s.w.lookupItem(owner, name, number)
	if err == nil && it.pr != nil {
		err = fmt.Errorf("#%d is a pull request; it cannot be transferred", number)
	}
	var to *repo
	if err == nil {
		to, err = s.w.lookupRepo(newOwner, newName)
	}
	var sender *account
	if err == nil {
		sender, err = s.w.sender(opts(o), nil, it.repo.owner)
	}
	if err != nil {
		s.mu.Unlock()
		return nil, nil, err
	}
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
	gi := s.w.issue(ni)
	e1 := s.w.repoEvent(it.repo, "issues", "transferred", sender, map[string]any{"issue": raw(oldJSON),
		"changes": map[string]any{"new_issue": raw(issueJSON(gi)), "new_repository": raw(repoJSON(s.w.repository(to)))}})
	e2 := s.w.repoEvent(to, "issues", "opened", sender, map[string]any{"issue": raw(issueJSON(gi)),
		"changes": map[string]any{"old_issue": raw(oldJSON), "old_repository": raw(oldRepo)}})
	s.mu.Unlock()
	return gi, []*Delivery{s.fire(ctx, e1), s.fire(ctx, e2)}, nil
}

// ---- labels ----

// LabelSpec describes a label.
type LabelSpec struct {
	Name, Color, Description string
}

// CreateLabel creates a label. Sends label.created.
func (s *Server) CreateLabel(ctx context.Context, owner, name string, ls LabelSpec, o ...Option) (*github.Label, *Delivery, error) {
	s.mu.Lock()
	r, err := s.w.lookupRepo(owner, name)
	if err == nil && (ls.Name == "" || r.label(ls.Name) != nil) {
		err = fmt.Errorf("label %q of %s/%s already exists or is empty", ls.Name, owner, name)
	}
	var sender *account
	if err == nil {
		sender, err = s.w.sender(opts(o), nil, r.owner)
	}
	if err != nil {
		s.mu.Unlock()
		return nil, nil, err
	}
	if ls.Color == "" {
		ls.Color = "ededed"
	}
	l := &label{id: s.w.id(), name: ls.Name, color: ls.Color, description: ls.Description}
	r.labels = append(r.labels, l)
	r.version++
	gl := s.w.label(r, l)
	e := s.w.repoEvent(r, "label", "created", sender, map[string]any{"label": gl})
	s.mu.Unlock()
	return gl, s.fire(ctx, e), nil
}

// LabelEdit names the fields to change; nil leaves one as it is.
type LabelEdit struct {
	Name, Color, Description *string
}

// EditLabel edits a label (a rename follows it onto every issue). Sends
// label.edited with the changes.
func (s *Server) EditLabel(ctx context.Context, owner, name, labelName string, le LabelEdit, o ...Option) (*github.Label, *Delivery, error) {
	s.mu.Lock()
	r, err := s.w.lookupRepo(owner, name)
	var l *label
	if err == nil {
		if l = r.label(labelName); l == nil {
			err = fmt.Errorf("label %q: %w", labelName, ErrNotFound)
		}
	}
	var sender *account
	if err == nil {
		sender, err = s.w.sender(opts(o), nil, r.owner)
	}
	if err != nil {
		s.mu.Unlock()
		return nil, nil, err
	}
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
	gl := s.w.label(r, l)
	e := s.w.repoEvent(r, "label", "edited", sender, map[string]any{"label": gl, "changes": changes})
	s.mu.Unlock()
	return gl, s.fire(ctx, e), nil
}

// DeleteLabel deletes a label and takes it off every issue. Sends
// label.deleted.
func (s *Server) DeleteLabel(ctx context.Context, owner, name, labelName string, o ...Option) (*Delivery, error) {
	s.mu.Lock()
	r, err := s.w.lookupRepo(owner, name)
	var l *label
	if err == nil {
		if l = r.label(labelName); l == nil {
			err = fmt.Errorf("label %q: %w", labelName, ErrNotFound)
		}
	}
	var sender *account
	if err == nil {
		sender, err = s.w.sender(opts(o), nil, r.owner)
	}
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
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
	e := s.w.repoEvent(r, "label", "deleted", sender, map[string]any{"label": gl})
	s.mu.Unlock()
	return s.fire(ctx, e), nil
}

// ---- milestones ----

// MilestoneSpec describes a milestone.
type MilestoneSpec struct {
	Title, Description string
	DueOn              time.Time
}

// CreateMilestone creates a milestone. Sends milestone.created.
func (s *Server) CreateMilestone(ctx context.Context, owner, name string, ms MilestoneSpec, o ...Option) (*github.Milestone, *Delivery, error) {
	s.mu.Lock()
	r, err := s.w.lookupRepo(owner, name)
	var sender *account
	if err == nil {
		sender, err = s.w.sender(opts(o), nil, r.owner)
	}
	if err != nil {
		s.mu.Unlock()
		return nil, nil, err
	}
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
	gm := s.w.milestone(r, m)
	e := s.w.repoEvent(r, "milestone", "created", sender, map[string]any{"milestone": raw(milestoneJSON(gm))})
	s.mu.Unlock()
	return gm, s.fire(ctx, e), nil
}

// MilestoneEdit names the fields to change; nil leaves one as it is.
type MilestoneEdit struct {
	Title, Description *string
}

func (s *Server) changeMilestone(ctx context.Context, owner, name string, number int, o []Option,
	fn func(m *milestone, now time.Time) (string, map[string]any, error)) (*github.Milestone, *Delivery, error) {
	s.mu.Lock()
	r, err := s.w.lookupRepo(owner, name)
	var m *milestone
	if err == nil {
		if m = r.milestone(number); m == nil {
			err = fmt.Errorf("milestone %d of %s/%s: %w", number, owner, name, ErrNotFound)
		}
	}
	var sender *account
	if err == nil {
		sender, err = s.w.sender(opts(o), nil, r.owner)
	}
	var action string
	var extra map[string]any
	if err == nil {
		action, extra, err = fn(m, s.stamp())
	}
	if err != nil {
		s.mu.Unlock()
		return nil, nil, err
	}
	r.version++
	gm := s.w.milestone(r, m)
	fields := map[string]any{"milestone": raw(milestoneJSON(gm))}
	for k, v := range extra {
		fields[k] = v
	}
	e := s.w.repoEvent(r, "milestone", action, sender, fields)
	s.mu.Unlock()
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

// ---- issue comments ----

// CreateIssueComment comments on an issue or pull request. Sends
// issue_comment.created.
func (s *Server) CreateIssueComment(ctx context.Context, owner, name string, number int, body string, o ...Option) (*github.IssueComment, *Delivery, error) {
	s.mu.Lock()
	it, err := s.w.lookupItem(owner, name, number)
	var sender *account
	if err == nil {
		sender, err = s.w.sender(opts(o), nil, it.repo.owner)
	}
	if err != nil {
		s.mu.Unlock()
		return nil, nil, err
	}
	now := s.stamp()
	c := &comment{id: s.w.id(), issue: it, user: sender, body: body, createdAt: now, updatedAt: now}
	it.comments = append(it.comments, c)
	it.updatedAt = now
	s.w.commentsByID[c.id] = c
	it.repo.version++
	gc := s.w.comment(c)
	e := s.w.repoEvent(it.repo, "issue_comment", "created", sender, map[string]any{"comment": raw(commentJSON(gc)), "issue": raw(issueJSON(s.w.issue(it)))})
	s.mu.Unlock()
	return gc, s.fire(ctx, e), nil
}

func (w *world) lookupComment(owner, name string, id int64) (*comment, error) {
	r, err := w.lookupRepo(owner, name)
	if err != nil {
		return nil, err
	}
	c := w.commentsByID[id]
	if c == nil || c.issue.repo != r {
		return nil, fmt.Errorf("issue comment %d: %w", id, ErrNotFound)
	}
	return c, nil
}

// EditIssueComment changes a comment's body. Sends issue_comment.edited.
func (s *Server) EditIssueComment(ctx context.Context, owner, name string, id int64, body string, o ...Option) (*github.IssueComment, *Delivery, error) {
	s.mu.Lock()
	c, err := s.w.lookupComment(owner, name, id)
	var sender *account
	if err == nil {
		sender, err = s.w.sender(opts(o), c.user, c.issue.repo.owner)
	}
	if err != nil {
		s.mu.Unlock()
		return nil, nil, err
	}
	old := c.body
	c.body, c.updatedAt = body, s.stamp()
	c.issue.repo.version++
	gc := s.w.comment(c)
	e := s.w.repoEvent(c.issue.repo, "issue_comment", "edited", sender, map[string]any{"comment": raw(commentJSON(gc)),
		"issue": raw(issueJSON(s.w.issue(c.issue))), "changes": map[string]any{"body": from(old)}})
	s.mu.Unlock()
	return gc, s.fire(ctx, e), nil
}

// DeleteIssueComment deletes a comment. Sends issue_comment.deleted.
func (s *Server) DeleteIssueComment(ctx context.Context, owner, name string, id int64, o ...Option) (*Delivery, error) {
	s.mu.Lock()
	c, err := s.w.lookupComment(owner, name, id)
	var sender *account
	if err == nil {
		sender, err = s.w.sender(opts(o), c.user, c.issue.repo.owner)
	}
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
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
	e := s.w.repoEvent(it.repo, "issue_comment", "deleted", sender, map[string]any{"comment": raw(commentJSON(gc)), "issue": raw(issueJSON(s.w.issue(it)))})
	s.mu.Unlock()
	return s.fire(ctx, e), nil
}

// ---- reviews ----

// SubmitReview submits a review: state is APPROVED, COMMENTED or
// CHANGES_REQUESTED. Sends pull_request_review.submitted.
func (s *Server) SubmitReview(ctx context.Context, owner, name string, number int, state, body string, o ...Option) (*github.PullRequestReview, *Delivery, error) {
	state = strings.ToUpper(state)
	switch state {
	case "APPROVED", "COMMENTED", "CHANGES_REQUESTED":
	default:
		return nil, nil, fmt.Errorf("review state %q: want APPROVED, COMMENTED or CHANGES_REQUESTED", state)
	}
	s.mu.Lock()
	it, err := s.w.lookupPull(owner, name, number)
	var sender *account
	if err == nil {
		sender, err = s.w.sender(opts(o), nil, it.repo.owner)
	}
	if err != nil {
		s.mu.Unlock()
		return nil, nil, err
	}
	rv := &review{id: s.w.id(), user: sender, state: state, body: body, commitID: it.pr.headSHA, submittedAt: s.stamp()}
	it.pr.reviews = append(it.pr.reviews, rv)
	it.updatedAt = rv.submittedAt
	it.repo.version++
	gr, e := s.reviewEvent(it, rv, "submitted", sender, nil)
	s.mu.Unlock()
	return gr, s.fire(ctx, e), nil
}

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
	s.mu.Lock()
	it, err := s.w.lookupPull(owner, name, number)
	var rv *review
	if err == nil {
		for _, x := range it.pr.reviews {
			if x.id == reviewID {
				rv = x
			}
		}
		if rv == nil {
			err = fmt.Errorf("review %d: %w", reviewID, ErrNotFound)
		}
	}
	var sender *account
	if err == nil {
		sender, err = s.w.sender(opts(o), nil, it.repo.owner)
	}
	if err != nil {
		s.mu.Unlock()
		return nil, nil, err
	}
	rv.state = "DISMISSED"
	it.repo.version++
	gr, e := s.reviewEvent(it, rv, "dismissed", sender, nil)
	s.mu.Unlock()
	return gr, s.fire(ctx, e), nil
}

// ---- review comments ----

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
	s.mu.Lock()
	it, err := s.w.lookupPull(owner, name, number)
	var sender *account
	if err == nil {
		sender, err = s.w.sender(opts(o), nil, it.repo.owner)
	}
	if err != nil {
		s.mu.Unlock()
		return nil, nil, err
	}
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
	gc := s.w.reviewComment(it, c)
	e := s.w.repoEvent(it.repo, "pull_request_review_comment", "created", sender, map[string]any{
		"comment": raw(reviewCommentJSON(gc)), "pull_request": raw(s.w.pullJSON(it, false))})
	s.mu.Unlock()
	return gc, s.fire(ctx, e), nil
}

func (w *world) lookupRC(owner, name string, id int64) (*issue, *reviewComment, error) {
	r, err := w.lookupRepo(owner, name)
	if err != nil {
		return nil, nil, err
	}
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
	s.mu.Lock()
	it, c, err := s.w.lookupRC(owner, name, id)
	var sender *account
	if err == nil {
		sender, err = s.w.sender(opts(o), c.user, it.repo.owner)
	}
	if err != nil {
		s.mu.Unlock()
		return nil, nil, err
	}
	old := c.body
	c.body, c.updatedAt = body, s.stamp()
	it.repo.version++
	gc := s.w.reviewComment(it, c)
	e := s.w.repoEvent(it.repo, "pull_request_review_comment", "edited", sender, map[string]any{
		"comment": raw(reviewCommentJSON(gc)), "pull_request": raw(s.w.pullJSON(it, false)),
		"changes": map[string]any{"body": from(old)}})
	s.mu.Unlock()
	return gc, s.fire(ctx, e), nil
}

// DeleteReviewComment deletes a review comment. Sends
// pull_request_review_comment.deleted.
func (s *Server) DeleteReviewComment(ctx context.Context, owner, name string, id int64, o ...Option) (*Delivery, error) {
	s.mu.Lock()
	it, c, err := s.w.lookupRC(owner, name, id)
	var sender *account
	if err == nil {
		sender, err = s.w.sender(opts(o), c.user, it.repo.owner)
	}
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
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
	e := s.w.repoEvent(it.repo, "pull_request_review_comment", "deleted", sender, map[string]any{
		"comment": raw(reviewCommentJSON(gc)), "pull_request": raw(s.w.pullJSON(it, false))})
	s.mu.Unlock()
	return s.fire(ctx, e), nil
}

// Ping sends the ping event GitHub sends when the app's hook is set up
// (an app hook: no repository).
func (s *Server) Ping(ctx context.Context) *Delivery {
	api := s.APIURL() + "app/hook"
	at := ts(seedEpoch)
	s.mu.RLock()
	var sender *github.User
	for _, a := range s.w.accounts {
		if !a.isOrg {
			sender = s.w.user(a)
			break
		}
	}
	s.mu.RUnlock()
	body := map[string]any{"zen": "Keep it logically awesome.", "hook_id": 1, "hook": map[string]any{
		"type": "App", "id": 1, "name": "web", "active": true, "events": appEvents, "app_id": s.opts.AppID,
		"config":     map[string]any{"content_type": "json", "insecure_ssl": "0", "url": s.WebhookURL()},
		"updated_at": at, "created_at": at, "url": api + "/config", "test_url": api + "/test", "ping_url": api + "/pings",
		"deliveries_url": api + "/deliveries", "last_response": map[string]any{"code": nil, "status": "active", "message": nil}}}
	if sender != nil {
		body["sender"] = sender
	}
	return s.SendEvent(ctx, "ping", enc(body))
}
