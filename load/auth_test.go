package load

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/webhookdb/webhookdb/internal/ttlcache"
)

// TestAuthMatrix: who may load, with the exact status codes.
func TestAuthMatrix(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	repoPath := "/load/repos/privorg/vault/pulls"
	instPath := fmt.Sprintf("/load/installations/%d", h.instP)

	tests := []struct {
		name string
		path string
		// send returns the answer; it mints its credentials itself so
		// that the expired case expires only what was minted before it.
		send func(t *testing.T) answer
		code int
		// by is the scan's requested_by on success.
		by string
	}{
		{name: "no credentials", path: repoPath, code: http.StatusUnauthorized,
			send: func(t *testing.T) answer { return h.do(t, nil, http.MethodPost, repoPath) }},
		{name: "basic auth is no credentials", path: repoPath, code: http.StatusUnauthorized,
			send: func(t *testing.T) answer {
				return h.do(t, nil, http.MethodPost, repoPath, "Authorization", "Basic dXNlcjpwYXNz")
			}},
		{name: "installation token of the right installation", path: repoPath, code: http.StatusAccepted, by: fmt.Sprintf("installation:%d", h.instP),
			send: func(t *testing.T) answer {
				return h.do(t, nil, http.MethodPost, repoPath, bearer(h.gh.InstallationToken(h.instP))...)
			}},
		{name: "installation token with the token scheme", path: repoPath, code: http.StatusAccepted, by: fmt.Sprintf("installation:%d", h.instP),
			send: func(t *testing.T) answer {
				return h.do(t, nil, http.MethodPost, repoPath, "Authorization", "token "+h.gh.InstallationToken(h.instP))
			}},
		// GitHub shows it no privorg/vault: 404, as for no repository.
		{name: "installation token of another installation", path: repoPath, code: http.StatusNotFound,
			send: func(t *testing.T) answer {
				return h.do(t, nil, http.MethodPost, repoPath, bearer(h.gh.InstallationToken(h.inst1))...)
			}},
		{name: "token GitHub does not know", path: repoPath, code: http.StatusUnauthorized,
			send: func(t *testing.T) answer { return h.do(t, nil, http.MethodPost, repoPath, bearer("ghs_notatoken")...) }},
		{name: "user token with access", path: repoPath, code: http.StatusAccepted, by: "user-0",
			send: func(t *testing.T) answer {
				return h.do(t, nil, http.MethodPost, repoPath, bearer(h.gh.UserToken("user-0"))...)
			}},
		{name: "user token without access", path: repoPath, code: http.StatusNotFound,
			send: func(t *testing.T) answer {
				return h.do(t, nil, http.MethodPost, repoPath, bearer(h.gh.UserToken("outsider"))...)
			}},
		{name: "session with CSRF header", path: repoPath, code: http.StatusAccepted, by: "user-0",
			send: func(t *testing.T) answer {
				c, csrf := h.login(t, "user-0")
				return h.do(t, c, http.MethodPost, repoPath, "X-CSRF-Token", csrf)
			}},
		{name: "session with CSRF form field", path: repoPath, code: http.StatusAccepted, by: "user-0",
			send: func(t *testing.T) answer {
				c, csrf := h.login(t, "user-0")
				resp, err := c.PostForm(h.srv.URL+repoPath, url.Values{"csrf_token": {csrf}})
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				a := answer{code: resp.StatusCode, header: resp.Header}
				return a
			}},
		{name: "session without CSRF", path: repoPath, code: http.StatusForbidden,
			send: func(t *testing.T) answer {
				c, _ := h.login(t, "user-0")
				return h.do(t, c, http.MethodPost, repoPath)
			}},
		{name: "session with a wrong CSRF", path: repoPath, code: http.StatusForbidden,
			send: func(t *testing.T) answer {
				c, csrf := h.login(t, "user-0")
				return h.do(t, c, http.MethodPost, repoPath, "X-CSRF-Token", strings.Repeat("0", len(csrf)))
			}},
		{name: "session of a user without access", path: repoPath, code: http.StatusNotFound,
			send: func(t *testing.T) answer {
				c, csrf := h.login(t, "outsider")
				return h.do(t, c, http.MethodPost, repoPath, "X-CSRF-Token", csrf)
			}},
		{name: "installation: its own token", path: instPath, code: http.StatusAccepted, by: fmt.Sprintf("installation:%d", h.instP),
			send: func(t *testing.T) answer {
				return h.do(t, nil, http.MethodPost, instPath, bearer(h.gh.InstallationToken(h.instP))...)
			}},
		{name: "installation: another installation's token", path: instPath, code: http.StatusForbidden,
			send: func(t *testing.T) answer {
				return h.do(t, nil, http.MethodPost, instPath, bearer(h.gh.InstallationToken(h.inst1))...)
			}},
		{name: "installation: user with access", path: instPath, code: http.StatusAccepted, by: "user-0",
			send: func(t *testing.T) answer {
				return h.do(t, nil, http.MethodPost, instPath, bearer(h.gh.UserToken("user-0"))...)
			}},
		{name: "installation: user without access", path: instPath, code: http.StatusForbidden,
			send: func(t *testing.T) answer {
				return h.do(t, nil, http.MethodPost, instPath, bearer(h.gh.UserToken("outsider"))...)
			}},
		{name: "bad token on a repository without the app", path: "/load/repos/loner/solo", code: http.StatusUnauthorized,
			send: func(t *testing.T) answer {
				return h.do(t, nil, http.MethodPost, "/load/repos/loner/solo", bearer("ghs_notatoken")...)
			}},
		{name: "user token on a repository without the app", path: "/load/repos/loner/solo", code: http.StatusNotFound,
			send: func(t *testing.T) answer {
				return h.do(t, nil, http.MethodPost, "/load/repos/loner/solo", bearer(h.gh.UserToken("loner"))...)
			}},
		{name: "bad token on an installation that does not exist", path: "/load/installations/987654", code: http.StatusUnauthorized,
			send: func(t *testing.T) answer {
				return h.do(t, nil, http.MethodPost, "/load/installations/987654", bearer("ghs_notatoken")...)
			}},
		{name: "session whose GitHub token expired", path: repoPath, code: http.StatusUnauthorized,
			send: func(t *testing.T) answer {
				c, csrf := h.login(t, "user-0")
				h.gh.ExpireTokens()
				return h.do(t, c, http.MethodPost, repoPath, "X-CSRF-Token", csrf)
			}},
		{name: "expired installation token", path: repoPath, code: http.StatusUnauthorized,
			send: func(t *testing.T) answer {
				tok := h.gh.InstallationToken(h.instP)
				h.gh.ExpireTokens()
				return h.do(t, nil, http.MethodPost, repoPath, bearer(tok)...)
			}},
		{name: "expired user token", path: repoPath, code: http.StatusUnauthorized,
			send: func(t *testing.T) answer {
				tok := h.gh.UserToken("user-0")
				h.gh.ExpireTokens()
				return h.do(t, nil, http.MethodPost, repoPath, bearer(tok)...)
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := env.DB.Exec(`DELETE FROM scan`); err != nil {
				t.Fatal(err)
			}
			a := tc.send(t)
			if a.code != tc.code {
				t.Fatalf("got %d %s, want %d", a.code, a.raw, tc.code)
			}
			if tc.code == http.StatusUnauthorized && !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate %q, want Bearer", a.header.Get("WWW-Authenticate"))
			}
			if tc.code != http.StatusAccepted {
				if n := scanCount(t); n != 0 {
					t.Errorf("refused request created %d scans", n)
				}
				return
			}
			loc := a.header.Get("Location")
			id, err := strconv.ParseInt(strings.TrimPrefix(loc, "/status/"), 10, 64)
			if err != nil {
				t.Fatalf("Location %q", loc)
			}
			if got := readScan(t, id); got.requestedBy != tc.by {
				t.Errorf("requested_by %q, want %q", got.requestedBy, tc.by)
			}
		})
	}
}

// TestConfirmationCache: a confirmed token is not checked with GitHub
// again within the minute, the cache never holds the token in clear, and
// GitHub's rate-limit headers of the check are passed back.
func TestConfirmationCache(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	now := time.Now()
	h.handler.auth.cache = ttlcache.New[string](time.Minute, 10000, func() time.Time { return now })
	tok := h.gh.InstallationToken(h.inst0)
	path := "/load/repos/org-0/repo-0/labels"

	a := h.post(t, path, tok)
	if a.code != http.StatusAccepted {
		t.Fatalf("first: %d %s", a.code, a.raw)
	}
	if a.header.Get("X-RateLimit-Remaining") == "" || a.header.Get("X-RateLimit-Limit") == "" {
		t.Errorf("GitHub's rate-limit headers not passed back: %v", a.header)
	}
	calls := h.gh.Stats().ByToken[tok].Requests
	if calls == 0 {
		t.Fatalf("the token was never checked with GitHub")
	}
	if a := h.post(t, path, tok); a.code != http.StatusAccepted {
		t.Fatalf("second: %d %s", a.code, a.raw)
	}
	if got := h.gh.Stats().ByToken[tok].Requests; got != calls {
		t.Errorf("second request asked GitHub again: %d calls, want %d", got, calls)
	}
	for _, k := range h.handler.auth.cache.Keys() {
		who, _ := h.handler.auth.cache.Get(k)
		if strings.Contains(k, tok) || strings.Contains(who, tok) {
			t.Errorf("cache holds the token in clear: %q", k)
		}
	}

	// After a minute GitHub is asked again.
	now = now.Add(61 * time.Second)
	if a := h.post(t, path, tok); a.code != http.StatusAccepted {
		t.Fatalf("third: %d %s", a.code, a.raw)
	}
	if got := h.gh.Stats().ByToken[tok].Requests; got <= calls {
		t.Errorf("after the minute GitHub was not asked again (%d calls)", got)
	}
}

// TestCallerRateLimitSpent: when the caller's own GitHub budget is spent,
// the check cannot be made: 503 with Retry-After.
func TestCallerRateLimitSpent(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	tok := h.gh.UserToken("user-0")
	h.gh.SpendRateLimit(tok)
	a := h.post(t, "/load/repos/org-0/repo-0/labels", tok)
	if a.code != http.StatusServiceUnavailable {
		t.Fatalf("got %d %s, want 503", a.code, a.raw)
	}
	secs, err := strconv.Atoi(a.header.Get("Retry-After"))
	// The reset is a whole second (rounded up), so a fresh window can be
	// a fraction over an hour away.
	if err != nil || secs < 1 || secs > 3601 {
		t.Errorf("Retry-After %q, want the seconds until the reset", a.header.Get("Retry-After"))
	}
	if n := scanCount(t); n != 0 {
		t.Errorf("%d scans created", n)
	}
}

// TestGitHubDown: when GitHub cannot confirm anything, 502 and nothing
// queued; once it answers again, the same request is accepted.
func TestGitHubDown(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	tok := h.gh.InstallationToken(h.inst0)
	h.gh.FailNext(20, http.StatusInternalServerError)
	a := h.post(t, "/load/repos/org-0/repo-0/issues", tok)
	if a.code != http.StatusBadGateway {
		t.Fatalf("got %d %s, want 502", a.code, a.raw)
	}
	if n := scanCount(t); n != 0 {
		t.Errorf("%d scans created", n)
	}
	h.gh.FailNext(0, http.StatusInternalServerError)
	if a := h.post(t, "/load/repos/org-0/repo-0/issues", tok); a.code != http.StatusAccepted {
		t.Errorf("after recovery: %d %s", a.code, a.raw)
	}
}
