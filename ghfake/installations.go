package ghfake

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
)

// Installations of the app, the app itself (GET /app), and the routes
// that list what an installation or a user reaches.

type installation struct {
	id        int64
	account   *account
	all       bool
	repos     map[int64]bool // when !all
	createdAt time.Time
	updatedAt time.Time
	deleted   bool
}

func (w *world) addInstallation(a *account, all bool, repoIDs []int64, at time.Time) *installation {
	in := &installation{id: w.id(), account: a, all: all, repos: map[int64]bool{}, createdAt: at, updatedAt: at}
	for _, id := range repoIDs {
		in.repos[id] = true
	}
	w.installations[in.id] = in
	w.instOrder = append(w.instOrder, in.id)
	return in
}

// installationFor is the live installation covering r, or nil.
func (w *world) installationFor(r *repo) *installation {
	for _, id := range w.instOrder {
		in := w.installations[id]
		if in.deleted || in.account != r.owner {
			continue
		}
		if in.all || in.repos[r.id] {
			return in
		}
	}
	return nil
}

func (w *world) installationOf(a *account) *installation {
	for _, id := range w.instOrder {
		in := w.installations[id]
		if !in.deleted && in.account == a {
			return in
		}
	}
	return nil
}

func (in *installation) covers(r *repo) bool {
	return !in.deleted && !r.deleted && in.account == r.owner && (in.all || in.repos[r.id])
}

// reposOf lists the live repositories of an installation in id order.
func (w *world) reposOf(in *installation) []*repo {
	var out []*repo
	for _, r := range w.repos {
		if in.covers(r) {
			out = append(out, r)
		}
	}
	return out
}

var appPermissions = &github.InstallationPermissions{
	Metadata:     ptr("read"),
	Contents:     ptr("read"),
	Issues:       ptr("read"),
	PullRequests: ptr("read"),
	Members:      ptr("read"),
}

var appEvents = []string{"issue_comment", "issues", "label", "member", "milestone", "pull_request", "pull_request_review", "pull_request_review_comment", "repository"}

func (w *world) installation(in *installation) *github.Installation {
	sel := "all"
	if !in.all {
		sel = "selected"
	}
	typ := "Organization"
	if !in.account.isOrg {
		typ = "User"
	}
	htmlURL := w.base + "/organizations/" + in.account.login + "/settings/installations/" + formatInt(in.id)
	if !in.account.isOrg {
		htmlURL = w.base + "/settings/installations/" + formatInt(in.id)
	}
	return &github.Installation{
		ID:                  ptr(in.id),
		Account:             w.user(in.account),
		RepositorySelection: ptr(sel),
		AccessTokensURL:     ptr(w.api() + "/app/installations/" + formatInt(in.id) + "/access_tokens"),
		RepositoriesURL:     ptr(w.api() + "/installation/repositories"),
		HTMLURL:             ptr(htmlURL),
		AppID:               ptr(w.appID),
		AppSlug:             ptr(w.appSlug),
		TargetID:            ptr(in.account.id),
		TargetType:          ptr(typ),
		Permissions:         appPermissions,
		Events:              appEvents,
		CreatedAt:           ts(in.createdAt),
		UpdatedAt:           ts(in.updatedAt),
		SingleFileName:      nil,
	}
}

func installationJSON(i *github.Installation) []byte {
	return withNulls(enc(i), "single_file_name", "suspended_at", "suspended_by")
}

func (s *Server) getApp(c *reqCtx) resp {
	w := s.w
	owner := w.user(&account{id: 1, login: "webhookdb-owner", isOrg: true})
	app := &github.App{ID: ptr(s.opts.AppID), Slug: ptr(s.opts.AppSlug), NodeID: ptr(nodeID("Integration", s.opts.AppID)),
		Owner: owner, Name: ptr("webhookdb"), Description: ptr("A PostgreSQL replica of GitHub data."),
		ExternalURL: ptr(w.base), HTMLURL: ptr(w.base + "/apps/" + s.opts.AppSlug),
		CreatedAt: ts(seedEpoch), UpdatedAt: ts(seedEpoch), Permissions: appPermissions, Events: appEvents,
		InstallationsCount: ptr(len(w.instOrder))}
	return jsonResp(200, enc(app))
}

func (s *Server) liveInstallations() []*installation {
	var out []*installation
	for _, id := range s.w.instOrder {
		if in := s.w.installations[id]; !in.deleted {
			out = append(out, in)
		}
	}
	return out
}

func (s *Server) listAppInstallations(c *reqCtx) resp {
	ins := s.liveInstallations()
	return pagedArray(c, len(ins), func(i int) []byte { return installationJSON(s.w.installation(ins[i])) })
}

func (s *Server) getAppInstallation(c *reqCtx) resp {
	id, _ := strconv.ParseInt(c.r.PathValue("id"), 10, 64)
	in := s.w.installations[id]
	if in == nil || in.deleted {
		return notFound()
	}
	return jsonResp(200, installationJSON(s.w.installation(in)))
}

func (s *Server) createAccessToken(c *reqCtx) resp {
	id, _ := strconv.ParseInt(c.r.PathValue("id"), 10, 64)
	in := s.w.installations[id]
	if in == nil || in.deleted {
		return notFound()
	}
	// The body may narrow the token to some of the repositories.
	var opt github.InstallationTokenOptions
	if c.r.ContentLength != 0 {
		if err := json.NewDecoder(io.LimitReader(c.r.Body, 1<<20)).Decode(&opt); err != nil && err != io.EOF {
			return errResp(http.StatusBadRequest, "Problems parsing JSON")
		}
	}
	var narrow map[int64]bool
	var listed []*repo
	if len(opt.Repositories) > 0 || len(opt.RepositoryIDs) > 0 {
		narrow = map[int64]bool{}
		for _, name := range opt.Repositories {
			r := s.w.repo(in.account.login, name)
			if r == nil || !in.covers(r) {
				return errResp(http.StatusUnprocessableEntity, "There is at least one repository that does not exist or is not accessible to the parent installation.")
			}
			narrow[r.id] = true
			listed = append(listed, r)
		}
		for _, id := range opt.RepositoryIDs {
			r := s.w.reposByID[id]
			if r == nil || !in.covers(r) {
				return errResp(http.StatusUnprocessableEntity, "There is at least one repository that does not exist or is not accessible to the parent installation.")
			}
			narrow[r.id] = true
			listed = append(listed, r)
		}
	}
	tok, exp := s.ctl.mintNarrowToken(id, narrow)
	sel := "all"
	if !in.all || narrow != nil {
		sel = "selected"
	}
	out := map[string]any{"token": tok, "expires_at": ts(exp), "permissions": appPermissions, "repository_selection": sel}
	if narrow != nil {
		var rs []json.RawMessage
		for _, r := range listed {
			rs = append(rs, repoJSON(s.w.repository(r)))
		}
		out["repositories"] = rs
	}
	return jsonResp(http.StatusCreated, enc(out))
}

func (s *Server) findInstallation(by string) apiFunc {
	return func(c *reqCtx) resp {
		var in *installation
		switch by {
		case "repo":
			if r := s.w.repo(c.r.PathValue("owner"), c.r.PathValue("repo")); r != nil {
				in = s.w.installationFor(r)
			}
		case "org":
			if a := s.w.accountsByLogin[strings.ToLower(c.r.PathValue("org"))]; a != nil && a.isOrg {
				in = s.w.installationOf(a)
			}
		case "user":
			if a := s.w.accountsByLogin[strings.ToLower(c.r.PathValue("username"))]; a != nil {
				in = s.w.installationOf(a)
			}
		}
		if in == nil {
			return notFound()
		}
		return jsonResp(200, installationJSON(s.w.installation(in)))
	}
}

func (s *Server) installationRepos(c *reqCtx) resp {
	if c.tok == nil || c.tok.installationID == 0 {
		return errResp(http.StatusForbidden, "This endpoint requires you to be authenticated as an installation.")
	}
	in := s.w.installations[c.tok.installationID]
	var repos []*repo
	for _, r := range s.w.reposOf(in) {
		if c.tok.repos == nil || c.tok.repos[r.id] {
			repos = append(repos, r)
		}
	}
	lo, hi, link := c.paginate(len(repos))
	items := make([][]byte, 0, hi-lo)
	for _, r := range repos[lo:hi] {
		items = append(items, repoJSON(s.w.repository(r)))
	}
	sel := "all"
	if !in.all {
		sel = "selected"
	}
	body := fmt.Sprintf(`{"total_count":%d,"repository_selection":%q,"repositories":%s}`, len(repos), sel, array(items))
	return resp{status: 200, body: []byte(body), link: link}
}

// userInstalls are the installations with a repository the user has an
// explicit permission on.
func (s *Server) userInstalls(u *account) []*installation {
	var out []*installation
	for _, in := range s.liveInstallations() {
		for _, r := range s.w.reposOf(in) {
			if s.w.explicitPermission(u, r) != "" {
				out = append(out, in)
				break
			}
		}
	}
	return out
}

func (s *Server) userInstallations(c *reqCtx) resp {
	u := c.user()
	if u == nil {
		return errResp(http.StatusForbidden, "You must authenticate with an access token authorized to a GitHub App in order to list installations")
	}
	ins := s.userInstalls(u)
	lo, hi, link := c.paginate(len(ins))
	items := make([][]byte, 0, hi-lo)
	for _, in := range ins[lo:hi] {
		items = append(items, installationJSON(s.w.installation(in)))
	}
	return resp{status: 200, body: []byte(fmt.Sprintf(`{"total_count":%d,"installations":%s}`, len(ins), array(items))), link: link}
}

func (s *Server) userInstallationRepos(c *reqCtx) resp {
	u := c.user()
	if u == nil {
		return errResp(http.StatusForbidden, "You must authenticate with an access token authorized to a GitHub App in order to list repositories")
	}
	id, _ := strconv.ParseInt(c.r.PathValue("id"), 10, 64)
	in := s.w.installations[id]
	if in == nil || in.deleted {
		return notFound()
	}
	var repos []*repo
	for _, r := range s.w.reposOf(in) {
		if s.w.explicitPermission(u, r) != "" {
			repos = append(repos, r)
		}
	}
	if len(repos) == 0 {
		return notFound()
	}
	lo, hi, link := c.paginate(len(repos))
	items := make([][]byte, 0, hi-lo)
	for _, r := range repos[lo:hi] {
		gr := s.w.repository(r)
		gr.Permissions = permissions(s.w.permission(u, r))
		items = append(items, repoJSON(gr))
	}
	sel := "all"
	if !in.all {
		sel = "selected"
	}
	return resp{status: 200, body: []byte(fmt.Sprintf(`{"total_count":%d,"repository_selection":%q,"repositories":%s}`, len(repos), sel, array(items))), link: link}
}
