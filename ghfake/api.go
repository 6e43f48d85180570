package ghfake

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/golang-jwt/jwt/v4"
	"github.com/google/go-github/v60/github"
)

const docsURL = "https://docs.github.com/rest"

// authKind says what a route accepts.
type authKind int

const (
	authToken authKind = iota // installation, user or no token
	authJWT                   // the app's JWT
)

// reqCtx is one API request after authentication.
type reqCtx struct {
	r         *http.Request
	s         *Server
	tok       *token // installation or user token; nil for JWT or anonymous
	jwt       bool
	principal string // whose rate limit
}

// resp is what a route answers before the common headers are added.
type resp struct {
	status   int
	body     []byte
	link     string
	location string
	noSpend  bool // GET /rate_limit costs nothing
}

type apiFunc func(c *reqCtx) resp

func jsonResp(status int, body []byte) resp { return resp{status: status, body: body} }

func errResp(status int, msg string) resp {
	return jsonResp(status, enc(map[string]string{"message": msg, "documentation_url": docsURL}))
}

func notFound() resp { return errResp(http.StatusNotFound, "Not Found") }

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	api := func(method, path string, kind authKind, h apiFunc) {
		mux.Handle(method+" /api/v3"+path, s.apiHandler(method+" "+path, kind, h))
		// GitHub serves every repository route by id too (its Link headers
		// point there).
		if rest, ok := strings.CutPrefix(path, "/repos/{owner}/{repo}"); ok && kind == authToken {
			byID := "/repositories/{id}" + rest
			mux.Handle(method+" /api/v3"+byID, s.apiHandler(method+" "+byID, kind, h))
		}
	}
	// App (JWT).
	api("GET", "/app", authJWT, s.getApp)
	api("GET", "/app/installations", authJWT, s.listAppInstallations)
	api("GET", "/app/installations/{id}", authJWT, s.getAppInstallation)
	api("POST", "/app/installations/{id}/access_tokens", authJWT, s.createAccessToken)
	api("GET", "/repos/{owner}/{repo}/installation", authJWT, s.findInstallation("repo"))
	api("GET", "/orgs/{org}/installation", authJWT, s.findInstallation("org"))
	api("GET", "/users/{username}/installation", authJWT, s.findInstallation("user"))
	api("GET", "/app/hook/deliveries", authJWT, s.listDeliveries)
	api("GET", "/app/hook/deliveries/{id}", authJWT, s.getDelivery)
	api("POST", "/app/hook/deliveries/{id}/attempts", authJWT, s.redeliver)
	// Tokens.
	api("GET", "/installation/repositories", authToken, s.installationRepos)
	api("GET", "/user", authToken, s.getAuthUser)
	api("GET", "/user/installations", authToken, s.userInstallations)
	api("GET", "/user/installations/{id}/repositories", authToken, s.userInstallationRepos)
	api("GET", "/users/{username}", authToken, s.getUser)
	api("GET", "/rate_limit", authToken, s.rateLimit)
	// Data.
	api("GET", "/repos/{owner}/{repo}", authToken, s.getRepo)
	api("GET", "/repos/{owner}/{repo}/pulls", authToken, s.listPulls)
	api("GET", "/repos/{owner}/{repo}/pulls/comments", authToken, s.listRepoReviewComments)
	api("GET", "/repos/{owner}/{repo}/pulls/{number}", authToken, s.getPull)
	api("GET", "/repos/{owner}/{repo}/pulls/{number}/files", authToken, s.listFiles)
	api("GET", "/repos/{owner}/{repo}/pulls/{number}/reviews", authToken, s.listReviews)
	api("GET", "/repos/{owner}/{repo}/pulls/{number}/comments", authToken, s.listReviewComments)
	api("GET", "/repos/{owner}/{repo}/issues", authToken, s.listIssues)
	api("GET", "/repos/{owner}/{repo}/issues/comments", authToken, s.listRepoComments)
	api("GET", "/repos/{owner}/{repo}/issues/{number}", authToken, s.getIssue)
	api("GET", "/repos/{owner}/{repo}/issues/{number}/comments", authToken, s.listComments)
	api("GET", "/repos/{owner}/{repo}/labels", authToken, s.listLabels)
	api("GET", "/repos/{owner}/{repo}/labels/{name}", authToken, s.getLabel)
	api("GET", "/repos/{owner}/{repo}/milestones", authToken, s.listMilestones)
	api("GET", "/repos/{owner}/{repo}/milestones/{number}", authToken, s.getMilestone)
	api("GET", "/repos/{owner}/{repo}/collaborators/{username}/permission", authToken, s.getPermission)
	mux.Handle("/api/v3/", s.apiHandler("unknown", authToken, func(*reqCtx) resp { return notFound() }))

	// Web.
	mux.HandleFunc("GET /login/oauth/authorize", s.oauthAuthorize)
	mux.HandleFunc("POST /login/oauth/access_token", s.oauthAccessToken)
	// Control, for scripts.
	mux.HandleFunc("GET /_fake/stats", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, enc(s.Stats())) })
	mux.HandleFunc("POST /_fake/stats/reset", func(w http.ResponseWriter, r *http.Request) { s.ResetStats(); w.WriteHeader(204) })
	mux.HandleFunc("POST /_fake/{action}", s.control)
	return mux
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// credentials reads the Authorization header: a JWT, a token, or nothing.
func credentials(r *http.Request) (tok string, isJWT bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", false
	}
	scheme, v, _ := strings.Cut(h, " ")
	v = strings.TrimSpace(v)
	switch strings.ToLower(scheme) {
	case "bearer":
		return v, strings.Count(v, ".") == 2
	case "token":
		return v, false
	case "basic":
		// go-github's BasicAuthTransport; not supported: as a bad token.
		return "basic", false
	}
	return h, false
}

// checkJWT verifies the app JWT as GitHub does: RS256 by the app key,
// iss the app id, at most 10 minutes long, not expired.
func (s *Server) checkJWT(raw string) string {
	claims := jwt.MapClaims{}
	p := jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithoutClaimsValidation())
	if _, err := p.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) { return &s.key.PublicKey, nil }); err != nil {
		return "A JSON web token could not be decoded"
	}
	iss := fmt.Sprint(claims["iss"])
	if f, ok := claims["iss"].(float64); ok {
		iss = strconv.FormatInt(int64(f), 10)
	}
	if iss != strconv.FormatInt(s.opts.AppID, 10) {
		return "A JSON web token could not be decoded"
	}
	iat, ok1 := claims["iat"].(float64)
	exp, ok2 := claims["exp"].(float64)
	if !ok1 || !ok2 {
		return "Missing 'issued at' or 'expiration time' claim ('iat' and 'exp' are required)"
	}
	now := float64(s.opts.Now().Unix())
	if exp-iat > 600 {
		return "Expiration time' claim ('exp') is too far in the future"
	}
	if exp <= now {
		return "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires"
	}
	if iat > now+60 {
		return "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"
	}
	return ""
}

func (s *Server) apiHandler(route string, kind authKind, h apiFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, isJWT := credentials(r)
		c := &reqCtx{r: r, s: s, principal: "anonymous:" + hostOnly(r.RemoteAddr)}
		statsToken := raw
		var instID int64
		var authErr string
		switch {
		case raw == "":
		case isJWT:
			if msg := s.checkJWT(raw); msg != "" {
				authErr = msg
			} else {
				c.jwt, c.principal, statsToken = true, "app", "jwt"
			}
		default:
			t, _ := s.ctl.lookup(raw)
			if t == nil {
				authErr = "Bad credentials"
			} else {
				c.tok, c.principal, instID = t, t.principal(), t.installationID
			}
		}
		if authErr == "" && kind == authJWT && !c.jwt {
			authErr = "A JSON web token could not be decoded"
			if raw == "" {
				authErr = "You must authenticate with a JSON web token to access this endpoint."
			}
		}

		points := 1
		if r.Method != http.MethodGet {
			points = 5
		}
		f := s.ctl.nextFault(c.principal, route, points)
		if f.hang {
			// Counted hanging until it has left the in-flight count, so a
			// test waiting for the release sees both.
			s.ctl.hang(1)
			defer s.ctl.hang(-1)
		}
		defer s.ctl.leave(c.principal)
		if f.sleep > 0 {
			t := time.NewTimer(f.sleep)
			select {
			case <-t.C:
			case <-r.Context().Done():
			case <-s.closed:
			}
			t.Stop()
		}
		if f.hang {
			select {
			case <-r.Context().Done():
			case <-s.closed:
			}
			s.ctl.count(statsToken, instID, route, outError)
			return
		}
		hdr := w.Header()
		hdr.Set("X-GitHub-Request-Id", strings.ToUpper(randomHex(8)))
		hdr.Set("X-GitHub-Media-Type", "github.v3; format=json")
		hdr.Set("X-GitHub-Api-Version-Selected", "2022-11-28")
		var out resp
		switch {
		case f.status != 0:
			out = errResp(f.status, http.StatusText(f.status))
			out.noSpend = true
		case f.secondary:
			hdr.Set("Retry-After", strconv.Itoa(int(s.ctl.retryAfter()/time.Second)))
			out = jsonResp(http.StatusForbidden, enc(map[string]string{
				"message":           "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID " + hdr.Get("X-GitHub-Request-Id") + ".",
				"documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}))
		case authErr != "":
			out = errResp(http.StatusUnauthorized, authErr)
			out.noSpend = true
		default:
			s.mu.RLock()
			out = h(c)
			s.mu.RUnlock()
		}

		o := outOK
		if out.status >= 400 {
			o = outError
		}
		if f.secondary {
			o = outRateLimited
		}
		var rs rateState
		if r.Method == http.MethodGet && out.status == http.StatusOK {
			// A fast 64-bit hash is plenty to tell bodies apart.
			etag := fmt.Sprintf(`W/"%016x%08x"`, xxhash.Sum64(out.body), len(out.body))
			hdr.Set("ETag", etag)
			hdr.Set("Cache-Control", "private, max-age=60, s-maxage=60")
			hdr.Set("Vary", "Accept, Authorization, Cookie, X-GitHub-OTP")
			if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatch(inm, etag) {
				out = resp{status: http.StatusNotModified, link: out.link}
				out.noSpend = true
				o = outNotModified
			}
		}
		if out.noSpend || f.secondary {
			rs = s.ctl.peek(c.principal)
		} else {
			var ok bool
			rs, ok = s.ctl.spend(c.principal, 1)
			if !ok {
				out = jsonResp(http.StatusForbidden, enc(map[string]string{
					"message":           "API rate limit exceeded for " + limitSubject(c) + ".",
					"documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-the-primary-rate-limit"}))
				hdr.Del("ETag")
				o = outRateLimited
			}
		}
		hdr.Set("X-RateLimit-Limit", strconv.Itoa(rs.limit))
		hdr.Set("X-RateLimit-Remaining", strconv.Itoa(rs.remaining))
		hdr.Set("X-RateLimit-Used", strconv.Itoa(rs.used))
		hdr.Set("X-RateLimit-Reset", strconv.FormatInt(rs.reset.Unix(), 10))
		hdr.Set("X-RateLimit-Resource", "core")
		if out.link != "" {
			hdr.Set("Link", out.link)
		}
		if out.location != "" {
			hdr.Set("Location", out.location)
		}
		s.ctl.count(statsToken, instID, route, o)
		if out.status == http.StatusNotModified || out.status == http.StatusNoContent {
			w.WriteHeader(out.status)
			return
		}
		writeJSON(w, out.status, out.body)
	})
}

func limitSubject(c *reqCtx) string {
	switch {
	case c.tok != nil && c.tok.installationID != 0:
		return "installation ID " + formatInt(c.tok.installationID)
	case c.tok != nil:
		return "user ID " + formatInt(c.tok.userID)
	case c.jwt:
		return "integration ID " + formatInt(c.s.opts.AppID)
	}
	return strings.TrimPrefix(c.principal, "anonymous:")
}

func hostOnly(addr string) string {
	if i := strings.LastIndex(addr, ":"); i > 0 {
		return addr[:i]
	}
	return addr
}

func etagMatch(header, etag string) bool {
	strip := func(s string) string { return strings.TrimPrefix(strings.TrimSpace(s), "W/") }
	for _, v := range strings.Split(header, ",") {
		if strings.TrimSpace(v) == "*" || strip(v) == strip(etag) {
			return true
		}
	}
	return false
}

// ---- paging ----

// paginate picks the page of n items the request asks for and writes the
// Link header the way GitHub does.
func (c *reqCtx) paginate(n int) (lo, hi int, link string) {
	q := c.r.URL.Query()
	per, err := strconv.Atoi(q.Get("per_page"))
	if err != nil || per <= 0 {
		per = 30
	}
	if per > 100 {
		per = 100
	}
	page, err := strconv.Atoi(q.Get("page"))
	if err != nil || page <= 0 {
		page = 1
	}
	last := (n + per - 1) / per
	if last < 1 {
		last = 1
	}
	lo = min((page-1)*per, n)
	hi = min(lo+per, n)
	// GitHub keeps the client's parameters in their order, puts page last
	// and writes repository paths as /repositories/{id}/...
	var keep []string
	for _, kv := range strings.Split(c.r.URL.RawQuery, "&") {
		if kv != "" && !strings.HasPrefix(kv, "page=") {
			keep = append(keep, kv)
		}
	}
	prefix := c.s.w.base + c.linkPath() + "?" + strings.Join(keep, "&")
	if len(keep) > 0 {
		prefix += "&"
	}
	at := func(p int) string { return "<" + prefix + "page=" + strconv.Itoa(p) + ">" }
	var parts []string
	if page > 1 {
		parts = append(parts, at(min(page-1, last))+`; rel="prev"`)
	}
	if page < last {
		parts = append(parts, at(page+1)+`; rel="next"`, at(last)+`; rel="last"`)
	}
	if page > 1 {
		parts = append(parts, at(1)+`; rel="first"`)
	}
	return lo, hi, strings.Join(parts, ", ")
}

// linkPath is the request path, with /repos/{owner}/{repo} written as
// /repositories/{id} the way GitHub's Link headers do.
func (c *reqCtx) linkPath() string {
	p := c.r.URL.Path
	owner, name := c.r.PathValue("owner"), c.r.PathValue("repo")
	if owner == "" || name == "" {
		return p
	}
	r := c.s.w.repo(owner, name)
	prefix := "/api/v3/repos/" + owner + "/" + name
	if r == nil || !strings.HasPrefix(p, prefix) {
		return p
	}
	return "/api/v3/repositories/" + formatInt(r.id) + strings.TrimPrefix(p, prefix)
}

func pagedArray(c *reqCtx, n int, render func(i int) []byte) resp {
	lo, hi, link := c.paginate(n)
	items := make([][]byte, 0, hi-lo)
	for i := lo; i < hi; i++ {
		items = append(items, render(i))
	}
	return resp{status: 200, body: array(items), link: link}
}

// ---- access ----

// canRead says whether the caller may see r, as GitHub decides it; a repo
// it may not see answers 404.
func (c *reqCtx) canRead(r *repo) bool {
	w := c.s.w
	switch {
	case c.tok != nil && c.tok.installationID != 0:
		in := w.installations[c.tok.installationID]
		return in != nil && in.covers(r) && (c.tok.repos == nil || c.tok.repos[r.id])
	case c.tok != nil:
		u := w.accountsByID[c.tok.userID]
		return u != nil && w.permission(u, r) != "" && w.installationFor(r) != nil
	case c.jwt:
		return false
	}
	return !r.private
}

func (c *reqCtx) repo() (*repo, *resp) {
	owner, name := c.r.PathValue("owner"), c.r.PathValue("repo")
	if owner == "" && name == "" {
		id, _ := strconv.ParseInt(c.r.PathValue("id"), 10, 64)
		if r := c.s.w.reposByID[id]; r != nil && !r.deleted {
			owner, name = r.owner.login, r.name
		}
	}
	r := c.s.w.repo(owner, name)
	if r == nil {
		// A renamed repository answers 301 to its new name, as on GitHub.
		if old := c.s.w.renamed[strings.ToLower(owner+"/"+name)]; old != nil && !old.deleted && c.canRead(old) &&
			c.s.w.repo(old.owner.login, old.name) == old {
			prefix := "/api/v3/repos/" + owner + "/" + name
			loc := c.s.w.base + "/api/v3/repos/" + old.owner.login + "/" + old.name + strings.TrimPrefix(c.r.URL.Path, prefix)
			if c.r.URL.RawQuery != "" {
				loc += "?" + c.r.URL.RawQuery
			}
			return nil, &resp{status: http.StatusMovedPermanently, location: loc,
				body: enc(map[string]string{"message": "Moved Permanently", "url": loc, "documentation_url": docsURL})}
		}
	}
	if r == nil || !c.canRead(r) {
		nf := notFound()
		return nil, &nf
	}
	return r, nil
}

func (c *reqCtx) number(name string) int {
	n, _ := strconv.Atoi(c.r.PathValue(name))
	return n
}

func (c *reqCtx) pullItem() (*issue, *resp) {
	r, e := c.repo()
	if e != nil {
		return nil, e
	}
	it := r.item(c.number("number"))
	if it == nil || it.pr == nil || it.deleted {
		nf := notFound()
		return nil, &nf
	}
	return it, nil
}

// ---- app routes ----

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

// ---- token routes ----

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

func (c *reqCtx) user() *account {
	if c.tok == nil || c.tok.userID == 0 {
		return nil
	}
	return c.s.w.accountsByID[c.tok.userID]
}

func (s *Server) getAuthUser(c *reqCtx) resp {
	u := c.user()
	if u == nil {
		if c.tok != nil {
			return errResp(http.StatusForbidden, "Resource not accessible by integration")
		}
		return errResp(http.StatusUnauthorized, "Requires authentication")
	}
	return jsonResp(200, fullUserJSON(s.w.fullUser(u)))
}

func (s *Server) getUser(c *reqCtx) resp {
	a := s.w.accountsByLogin[strings.ToLower(c.r.PathValue("username"))]
	if a == nil {
		return notFound()
	}
	return jsonResp(200, fullUserJSON(s.w.fullUser(a)))
}

// userInstalls are the installations whose account the user can reach.
func (s *Server) userInstalls(u *account) []*installation {
	var out []*installation
	for _, in := range s.liveInstallations() {
		for _, r := range s.w.reposOf(in) {
			if s.w.permission(u, r) != "" {
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

func permissions(p string) map[string]bool {
	return map[string]bool{"admin": p == "admin", "maintain": p == "admin", "push": p == "admin" || p == "push",
		"triage": p == "admin" || p == "push", "pull": p != ""}
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
		if s.w.permission(u, r) != "" {
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

func (s *Server) rateLimit(c *reqCtx) resp {
	rs := s.ctl.peek(c.principal)
	core := map[string]any{"limit": rs.limit, "remaining": rs.remaining, "used": rs.used, "reset": rs.reset.Unix(), "resource": "core"}
	other := func(name string, limit int) map[string]any {
		return map[string]any{"limit": limit, "remaining": limit, "used": 0, "reset": rs.reset.Unix(), "resource": name}
	}
	body := map[string]any{"resources": map[string]any{"core": core, "search": other("search", 30), "graphql": other("graphql", 5000),
		"integration_manifest": other("integration_manifest", 5000)}, "rate": core}
	return resp{status: 200, body: enc(body), noSpend: true}
}

// ---- data routes ----

func (s *Server) getRepo(c *reqCtx) resp {
	r, e := c.repo()
	if e != nil {
		return *e
	}
	gr := s.w.repository(r)
	if u := c.user(); u != nil {
		gr.Permissions = permissions(s.w.permission(u, r))
	} else if c.tok != nil {
		gr.Permissions = permissions("pull")
	}
	if r.owner.isOrg {
		o := s.w.user(r.owner)
		gr.Organization = &github.Organization{Login: o.Login, ID: o.ID, NodeID: o.NodeID, AvatarURL: o.AvatarURL, URL: o.URL,
			HTMLURL: o.HTMLURL, ReposURL: o.ReposURL, EventsURL: o.EventsURL, Type: o.Type}
	}
	b := withRaw(repoJSON(gr), "network_count", strconv.Itoa(r.forks))
	return jsonResp(200, withRaw(b, "subscribers_count", strconv.Itoa(r.stars/3)))
}

func (s *Server) getPermission(c *reqCtx) resp {
	r, e := c.repo()
	if e != nil {
		return *e
	}
	u := s.w.accountsByLogin[strings.ToLower(c.r.PathValue("username"))]
	if u == nil {
		return notFound()
	}
	p := s.w.permission(u, r)
	word := map[string]string{"admin": "admin", "push": "write", "pull": "read", "": "none"}[p]
	return jsonResp(200, enc(map[string]any{"permission": word, "role_name": word, "user": s.w.user(u)}))
}

// listOpts reads state, sort and direction with GitHub's defaults.
func (c *reqCtx) listOpts(sorts ...string) (state, sortBy, direction string, bad *resp) {
	q := c.r.URL.Query()
	state = q.Get("state")
	if state == "" {
		state = "open"
	}
	if state != "open" && state != "closed" && state != "all" {
		e := errResp(http.StatusUnprocessableEntity, "Validation Failed")
		return "", "", "", &e
	}
	sortBy = q.Get("sort")
	if sortBy == "" {
		sortBy = "created"
	}
	ok := false
	for _, v := range sorts {
		ok = ok || v == sortBy
	}
	if !ok {
		e := errResp(http.StatusUnprocessableEntity, "Validation Failed")
		return "", "", "", &e
	}
	direction = q.Get("direction")
	if direction == "" {
		direction = "desc"
	}
	return state, sortBy, direction, nil
}

func (s *Server) listPulls(c *reqCtx) resp {
	r, e := c.repo()
	if e != nil {
		return *e
	}
	state, sortBy, direction, bad := c.listOpts("created", "updated", "popularity", "long-running")
	if bad != nil {
		return *bad
	}
	// GitHub: desc when sort is created or not given, otherwise asc.
	if sortBy != "created" && c.r.URL.Query().Get("direction") == "" {
		direction = "asc"
	}
	if sortBy == "popularity" || sortBy == "long-running" {
		sortBy = "comments"
	}
	return s.cachedPage(c, r, func() resp { return s.listPullsPage(c, r, state, sortBy, direction) })
}

func (s *Server) listPullsPage(c *reqCtx, r *repo, state, sortBy, direction string) resp {
	items := s.listItems(r, true, state, sortBy, direction)
	if base := c.r.URL.Query().Get("base"); base != "" {
		var f []*issue
		for _, it := range items {
			if it.pr.baseRef == base {
				f = append(f, it)
			}
		}
		items = f
	}
	return pagedArray(c, len(items), func(i int) []byte { return s.w.pullJSON(items[i], false) })
}

func (s *Server) getPull(c *reqCtx) resp {
	it, e := c.pullItem()
	if e != nil {
		return *e
	}
	body := s.w.pullJSON(it, true)
	// GitHub computes mergeability in the background after a push: the
	// first read answers null.
	it.pr.mergeableRead.Store(true)
	return jsonResp(200, body)
}

func (s *Server) listFiles(c *reqCtx) resp {
	it, e := c.pullItem()
	if e != nil {
		return *e
	}
	files := s.w.files(it)
	return pagedArray(c, len(files), func(i int) []byte { return enc(files[i]) })
}

func (s *Server) listReviews(c *reqCtx) resp {
	it, e := c.pullItem()
	if e != nil {
		return *e
	}
	rvs := it.pr.reviews
	return pagedArray(c, len(rvs), func(i int) []byte { return reviewJSON(s.w.review(it, rvs[i])) })
}

func (s *Server) listReviewComments(c *reqCtx) resp {
	it, e := c.pullItem()
	if e != nil {
		return *e
	}
	cs := it.pr.reviewComments
	return pagedArray(c, len(cs), func(i int) []byte { return reviewCommentJSON(s.w.reviewComment(it, cs[i])) })
}

func (c *reqCtx) since() (time.Time, *resp) {
	v := c.r.URL.Query().Get("since")
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		e := errResp(http.StatusUnprocessableEntity, "Validation Failed")
		return t, &e
	}
	return t, nil
}

// rcPair is a review comment with its pull request.
type rcPair struct {
	it *issue
	c  *reviewComment
}

func (s *Server) listRepoReviewComments(c *reqCtx) resp {
	r, e := c.repo()
	if e != nil {
		return *e
	}
	since, bad := c.since()
	if bad != nil {
		return *bad
	}
	q := c.r.URL.Query()
	sorted := s.sortedOnce(r, "review_comments", q.Get("sort"), q.Get("direction"), func() any {
		var all []rcPair
		for _, it := range r.items {
			if it == nil || it.pr == nil || it.deleted {
				continue
			}
			for _, rc := range it.pr.reviewComments {
				all = append(all, rcPair{it, rc})
			}
		}
		sortComments(all, func(p rcPair) (int64, time.Time, time.Time) { return p.c.id, p.c.createdAt, p.c.updatedAt }, q)
		return all
	}).([]rcPair)
	all := sorted
	if !since.IsZero() {
		all = nil
		for _, p := range sorted {
			if !p.c.updatedAt.Before(since) {
				all = append(all, p)
			}
		}
	}
	return s.cachedPage(c, r, func() resp {
		return pagedArray(c, len(all), func(i int) []byte { return reviewCommentJSON(s.w.reviewComment(all[i].it, all[i].c)) })
	})
}

func (s *Server) listIssues(c *reqCtx) resp {
	r, e := c.repo()
	if e != nil {
		return *e
	}
	state, sortBy, direction, bad := c.listOpts("created", "updated", "comments")
	if bad != nil {
		return *bad
	}
	since, bad := c.since()
	if bad != nil {
		return *bad
	}
	return s.cachedPage(c, r, func() resp { return s.listIssuesPage(c, r, state, sortBy, direction, since) })
}

func (s *Server) listIssuesPage(c *reqCtx, r *repo, state, sortBy, direction string, since time.Time) resp {
	items := s.listItems(r, false, state, sortBy, direction)
	if !since.IsZero() {
		var f []*issue
		for _, it := range items {
			if !it.updatedAt.Before(since) {
				f = append(f, it)
			}
		}
		items = f
	}
	return pagedArray(c, len(items), func(i int) []byte { return issueJSON(s.w.issue(items[i])) })
}

func (s *Server) getIssue(c *reqCtx) resp {
	r, e := c.repo()
	if e != nil {
		return *e
	}
	it := r.item(c.number("number"))
	switch {
	case it == nil:
		return notFound()
	case it.deleted:
		return errResp(http.StatusGone, "This issue was deleted")
	case it.transferredTo != nil:
		to := it.transferredTo
		loc := fmt.Sprintf("%s/repos/%s/%s/issues/%d", s.w.api(), to.repo.owner.login, to.repo.name, to.number)
		return resp{status: http.StatusMovedPermanently, body: enc(map[string]string{"message": "Moved Permanently", "url": loc, "documentation_url": docsURL}), location: loc}
	}
	return jsonResp(200, issueJSON(s.w.issueFull(it)))
}

func (s *Server) listComments(c *reqCtx) resp {
	r, e := c.repo()
	if e != nil {
		return *e
	}
	it := r.item(c.number("number"))
	if it == nil || it.deleted || it.transferredTo != nil {
		return notFound()
	}
	since, bad := c.since()
	if bad != nil {
		return *bad
	}
	var cs []*comment
	for _, x := range it.comments {
		if !x.updatedAt.Before(since) {
			cs = append(cs, x)
		}
	}
	return pagedArray(c, len(cs), func(i int) []byte { return commentJSON(s.w.comment(cs[i])) })
}

func (s *Server) listRepoComments(c *reqCtx) resp {
	r, e := c.repo()
	if e != nil {
		return *e
	}
	since, bad := c.since()
	if bad != nil {
		return *bad
	}
	q := c.r.URL.Query()
	sorted := s.sortedOnce(r, "comments", q.Get("sort"), q.Get("direction"), func() any {
		var cs []*comment
		for _, it := range r.items {
			if it == nil || it.deleted || it.transferredTo != nil {
				continue
			}
			cs = append(cs, it.comments...)
		}
		sortComments(cs, func(x *comment) (int64, time.Time, time.Time) { return x.id, x.createdAt, x.updatedAt }, q)
		return cs
	}).([]*comment)
	cs := sorted
	if !since.IsZero() {
		cs = nil
		for _, x := range sorted {
			if !x.updatedAt.Before(since) {
				cs = append(cs, x)
			}
		}
	}
	return s.cachedPage(c, r, func() resp {
		return pagedArray(c, len(cs), func(i int) []byte { return commentJSON(s.w.comment(cs[i])) })
	})
}

func (s *Server) listLabels(c *reqCtx) resp {
	r, e := c.repo()
	if e != nil {
		return *e
	}
	return pagedArray(c, len(r.labels), func(i int) []byte { return enc(s.w.label(r, r.labels[i])) })
}

func (s *Server) getLabel(c *reqCtx) resp {
	r, e := c.repo()
	if e != nil {
		return *e
	}
	l := r.label(c.r.PathValue("name"))
	if l == nil {
		return notFound()
	}
	return jsonResp(200, enc(s.w.label(r, l)))
}

func (s *Server) listMilestones(c *reqCtx) resp {
	r, e := c.repo()
	if e != nil {
		return *e
	}
	q := c.r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	var ms []*milestone
	for _, m := range r.milestones {
		if !m.deleted && (state == "all" || m.state == state) {
			ms = append(ms, m)
		}
	}
	if q.Get("direction") == "desc" {
		for i, j := 0, len(ms)-1; i < j; i, j = i+1, j-1 {
			ms[i], ms[j] = ms[j], ms[i]
		}
	}
	return pagedArray(c, len(ms), func(i int) []byte { return milestoneJSON(s.w.milestone(r, ms[i])) })
}

func (s *Server) getMilestone(c *reqCtx) resp {
	r, e := c.repo()
	if e != nil {
		return *e
	}
	m := r.milestone(c.number("number"))
	if m == nil {
		return notFound()
	}
	return jsonResp(200, milestoneJSON(s.w.milestone(r, m)))
}

// ---- deliveries ----

func hookDelivery(d *Delivery, full bool) *github.HookDelivery {
	status := "OK"
	if !d.OK() {
		status = d.Error
		if status == "" {
			status = fmt.Sprintf("Invalid HTTP Response: %d", d.StatusCode)
		}
	}
	hd := &github.HookDelivery{ID: ptr(d.ID), GUID: ptr(d.GUID), DeliveredAt: ts(d.DeliveredAt), Redelivery: ptr(d.Redelivery),
		Duration: ptr(d.Duration.Seconds()), Status: ptr(status), StatusCode: ptr(d.StatusCode), Event: ptr(d.Event),
		Action: ptr(d.Action), InstallationID: ptr(d.InstallationID), RepositoryID: ptr(d.RepositoryID)}
	if full {
		p := json.RawMessage(d.Payload)
		hd.Request = &github.HookRequest{Headers: d.RequestHeaders, RawPayload: &p}
		rb := json.RawMessage(enc(string(d.ResponseBody)))
		hd.Response = &github.HookResponse{Headers: d.ResponseHeaders, RawPayload: &rb}
	}
	return hd
}

func (s *Server) listDeliveries(c *reqCtx) resp {
	q := c.r.URL.Query()
	per, err := strconv.Atoi(q.Get("per_page"))
	if err != nil || per <= 0 {
		per = 30
	}
	per = min(per, 100)
	status := q.Get("status")
	cursor, _ := strconv.ParseInt(q.Get("cursor"), 10, 64)
	all := s.Deliveries()
	var page []*Delivery
	var next int64
	// Newest first; the cursor is the id to continue below.
	for i := len(all) - 1; i >= 0; i-- {
		d := all[i]
		if cursor != 0 && d.ID > cursor {
			continue
		}
		if (status == "success" && !d.OK()) || (status == "failure" && d.OK()) {
			continue
		}
		if len(page) == per {
			next = d.ID
			break
		}
		page = append(page, d)
	}
	items := make([][]byte, 0, len(page))
	for _, d := range page {
		items = append(items, enc(hookDelivery(d, false)))
	}
	out := resp{status: 200, body: array(items)}
	if next != 0 {
		q.Set("per_page", strconv.Itoa(per))
		q.Set("cursor", formatInt(next))
		out.link = "<" + s.w.base + c.r.URL.Path + "?" + q.Encode() + `>; rel="next"`
	}
	return out
}

func (s *Server) getDelivery(c *reqCtx) resp {
	id, _ := strconv.ParseInt(c.r.PathValue("id"), 10, 64)
	d := s.Delivery(id)
	if d == nil {
		return notFound()
	}
	return jsonResp(200, enc(hookDelivery(d, true)))
}

func (s *Server) redeliver(c *reqCtx) resp {
	id, _ := strconv.ParseInt(c.r.PathValue("id"), 10, 64)
	if s.Delivery(id) == nil {
		return notFound()
	}
	// Deliver after the world lock is released: the receiver may call back.
	s.mu.RUnlock()
	_, err := s.Redeliver(c.r.Context(), id)
	s.mu.RLock()
	if err != nil {
		return notFound()
	}
	return jsonResp(http.StatusAccepted, []byte("{}"))
}

// sortComments orders by sort=created|updated (default created) and
// direction (default asc), as the repository-wide comment lists do.
func sortComments[T any](xs []T, key func(T) (int64, time.Time, time.Time), q url.Values) {
	desc := q.Get("direction") == "desc"
	byUpdated := q.Get("sort") == "updated"
	sort.SliceStable(xs, func(i, j int) bool {
		ii, ci, ui := key(xs[i])
		ij, cj, uj := key(xs[j])
		ti, tj := ci, cj
		if byUpdated {
			ti, tj = ui, uj
		}
		l := ti.Before(tj) || (ti.Equal(tj) && ii < ij)
		if desc {
			return tj.Before(ti) || (ti.Equal(tj) && ij < ii)
		}
		return l
	})
}
