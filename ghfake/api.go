package ghfake

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The request pipeline every REST route goes through: authentication,
// faults and secondary limits, the handler under the world's read lock,
// ETag, Last-Modified and 304 (conditional.go), the primary rate limit and
// its headers, then the body.

const docsURL = "https://docs.github.com/rest"

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
			if ra, ok := s.ctl.secondaryRetryAfter(); ok {
				hdr.Set("Retry-After", strconv.Itoa(int(ra/time.Second)))
			}
			out = jsonResp(s.ctl.limitStatus(), enc(map[string]string{
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
		// GitHub's clock, which Last-Modified and token expiry follow.
		hdr.Set("Date", s.ctl.now().UTC().Format(http.TimeFormat))
		if r.Method == http.MethodGet && out.status == http.StatusOK {
			etag := etagOf(c, out.body)
			hdr.Set("ETag", etag)
			lastMod, hasLM := lastModifiedOf(out.body)
			if hasLM {
				hdr.Set("Last-Modified", lastMod.UTC().Format(http.TimeFormat))
			}
			hdr.Set("Cache-Control", "private, max-age=60, s-maxage=60")
			hdr.Set("Vary", "Accept, Authorization, Cookie, X-GitHub-OTP")
			if notModified(r, etag, lastMod, hasLM) {
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
				out = jsonResp(s.ctl.limitStatus(), enc(map[string]string{
					"message":           "API rate limit exceeded for " + limitSubject(c) + ".",
					"documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-the-primary-rate-limit"}))
				hdr.Del("ETag")
				hdr.Del("Last-Modified")
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

func (c *reqCtx) number(name string) int {
	n, _ := strconv.Atoi(c.r.PathValue(name))
	return n
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
