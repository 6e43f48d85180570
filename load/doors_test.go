package load

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"
)

// narrowToken mints a token of installation id reaching only repos, as
// POST /app/installations/{id}/access_tokens with "repositories" does.
func (h *harness) narrowToken(t *testing.T, id int64, repos ...string) string {
	t.Helper()
	app, err := h.cc.NewAppClient()
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := app.Apps.CreateInstallationToken(context.Background(), id, &github.InstallationTokenOptions{Repositories: repos})
	if err != nil {
		t.Fatalf("narrow token of %d: %v", id, err)
	}
	return tok.GetToken()
}

// addAnnex gives privorg a second private repository, covered by its
// installation (on all repositories), so that a token of one repository
// is not a token of the installation.
func (h *harness) addAnnex(t *testing.T) {
	t.Helper()
	if _, _, err := h.gh.CreateRepo(context.Background(), "privorg", "annex", true); err != nil {
		t.Fatalf("create privorg/annex: %v", err)
	}
}

func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

// TestInstallationWideProof: POST /load/installations/{id} needs proof of
// the whole installation, not of one of its repositories.
func TestInstallationWideProof(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.addAnnex(t)
	path := fmt.Sprintf("/load/installations/%d", h.instP)
	tests := []struct {
		name  string
		token func() string
		code  int
	}{
		{"user GitHub lists under the installation", func() string { return h.gh.UserToken("user-0") }, http.StatusAccepted},
		{"user GitHub does not list under it", func() string { return h.gh.UserToken("outsider") }, http.StatusForbidden},
		{"the installation's own token", func() string { return h.gh.InstallationToken(h.instP) }, http.StatusAccepted},
		// Lists only repositories of the installation, but not all: as a
		// workflow's token of one repository would.
		{"its token narrowed to one repository", func() string { return h.narrowToken(t, h.instP, "vault") }, http.StatusForbidden},
		{"its token narrowed to all its repositories", func() string { return h.narrowToken(t, h.instP, "vault", "annex") }, http.StatusAccepted},
		{"a token of another installation", func() string { return h.gh.InstallationToken(h.inst1) }, http.StatusForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := env.DB.Exec(`DELETE FROM scan`); err != nil {
				t.Fatal(err)
			}
			a := h.do(t, nil, http.MethodPost, path, bearer(tc.token())...)
			if a.code != tc.code {
				t.Fatalf("got %d %s, want %d", a.code, a.raw, tc.code)
			}
			if n := scanCount(t); (n == 1) != (tc.code == http.StatusAccepted) {
				t.Errorf("%d scans after %d", n, a.code)
			}
		})
	}
	// A narrowed token still loads the repository it reaches.
	if a := h.post(t, "/load/repos/privorg/vault/labels", h.narrowToken(t, h.instP, "vault")); a.code != http.StatusAccepted {
		t.Errorf("narrowed token on its repository: %d %s", a.code, a.raw)
	}
}

// TestRefusedTokenRemembered: a token GitHub refused is refused again for
// a minute without a GitHub call, on every door.
func TestRefusedTokenRemembered(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	id := scanID(t, h.post(t, "/load/repos/privorg/vault/labels", h.gh.InstallationToken(h.instP)))
	paths := []struct{ method, path string }{
		{http.MethodPost, "/load/repos/privorg/vault/pulls"},
		{http.MethodPost, "/load/repos/nobody/nothing"},
		{http.MethodPost, fmt.Sprintf("/load/installations/%d", h.instP)},
		{http.MethodPost, "/load/installations/987654"},
		{http.MethodGet, "/status/" + strconv.FormatInt(id, 10)},
		{http.MethodGet, "/status/987654"},
	}
	for i, p := range paths {
		t.Run(p.method+" "+p.path, func(t *testing.T) {
			garbage := "ghs_garbage" + strconv.Itoa(i)
			first := h.do(t, nil, p.method, p.path, bearer(garbage)...)
			before := h.gh.Stats().Total.Requests
			second := h.do(t, nil, p.method, p.path, bearer(garbage)...)
			calls := h.gh.Stats().Total.Requests - before
			if first.code != http.StatusUnauthorized || second.code != http.StatusUnauthorized {
				t.Fatalf("got %d then %d (%s), want 401 twice", first.code, second.code, second.raw)
			}
			if calls != 0 {
				t.Errorf("the second try cost %d GitHub requests, want 0", calls)
			}
		})
	}
	for _, k := range h.handler.auth.refused.Keys() {
		if strings.Contains(k, "garbage") {
			t.Errorf("refusals hold a token in clear: %q", k)
		}
	}
}

// TestInvisibleLikeMissing: a private repository the caller cannot see,
// with the app installed, answers exactly as one that does not exist, so
// nobody learns which private repositories have the app; neither costs
// the app any GitHub call.
func TestInvisibleLikeMissing(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	callers := []struct {
		name  string
		token string
	}{
		{"user without access", h.gh.UserToken("outsider")},
		{"installation token of another installation", h.gh.InstallationToken(h.inst1)},
	}
	for _, c := range callers {
		t.Run(c.name, func(t *testing.T) {
			ask := func(repo string) (answer, int) {
				before := h.gh.Stats()
				a := h.do(t, nil, http.MethodPost, "/load/repos/"+repo+"/pulls", bearer(c.token)...)
				after := h.gh.Stats()
				if n := after.Total.Requests - before.Total.Requests - (after.ByToken[c.token].Requests - before.ByToken[c.token].Requests); n != 0 {
					t.Errorf("%s: %d GitHub requests not made with the caller's token", repo, n)
				}
				return a, after.ByToken[c.token].Requests - before.ByToken[c.token].Requests
			}
			hidden, hiddenCalls := ask("privorg/vault")
			missing, missingCalls := ask("privorg/nosuch")
			if hidden.code != http.StatusNotFound || missing.code != http.StatusNotFound {
				t.Fatalf("got %d and %d, want 404 for both", hidden.code, missing.code)
			}
			if strings.ReplaceAll(hidden.raw, "vault", "nosuch") != missing.raw {
				t.Errorf("bodies differ:\n%s\n%s", hidden.raw, missing.raw)
			}
			if hiddenCalls != missingCalls {
				t.Errorf("the caller's token spent %d and %d GitHub requests", hiddenCalls, missingCalls)
			}
			if n := scanCount(t); n != 0 {
				t.Errorf("%d scans created", n)
			}
		})
	}
}

// TestStatusDoor: /status/{id} answers only callers who may load the
// scan's target, the same 404 for others and for ids without a scan, and
// tells a stored error as a short public reason.
func TestStatusDoor(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.addAnnex(t)
	repoScan := scanID(t, h.post(t, "/load/repos/privorg/vault/pulls", h.gh.InstallationToken(h.instP)))
	instScan := scanID(t, h.post(t, fmt.Sprintf("/load/installations/%d", h.instP), h.gh.InstallationToken(h.instP)))
	internal := "GET repos/privorg/vault/pulls/9998: not found on GitHub"
	if _, err := env.DB.Exec(`UPDATE scan SET status = 'failed', error = $1 WHERE id = $2`, internal, repoScan); err != nil {
		t.Fatal(err)
	}
	status := func(id int64) string { return "/status/" + strconv.FormatInt(id, 10) }
	hidden := func(id int64) string {
		return fmt.Sprintf(`{"message":"there is no scan %d that these credentials may see"}`, id)
	}
	tests := []struct {
		name    string
		id      int64
		headers func() []string
		code    int
	}{
		{"no credentials", repoScan, func() []string { return nil }, http.StatusUnauthorized},
		{"garbage token", repoScan, func() []string { return bearer("ghs_nope") }, http.StatusUnauthorized},
		{"garbage token, no such scan", 987654, func() []string { return bearer("ghs_nope2") }, http.StatusUnauthorized},
		{"token of another repository", repoScan, func() []string { return bearer(h.gh.InstallationToken(h.inst0)) }, http.StatusNotFound},
		{"user without access", repoScan, func() []string { return bearer(h.gh.UserToken("outsider")) }, http.StatusNotFound},
		{"no such scan", 987654, func() []string { return bearer(h.gh.InstallationToken(h.instP)) }, http.StatusNotFound},
		{"the installation's token", repoScan, func() []string { return bearer(h.gh.InstallationToken(h.instP)) }, http.StatusOK},
		{"a user with access", repoScan, func() []string { return bearer(h.gh.UserToken("user-0")) }, http.StatusOK},
		{"a session, no CSRF needed to read", repoScan, nil, http.StatusOK},
		{"installation scan: its token", instScan, func() []string { return bearer(h.gh.InstallationToken(h.instP)) }, http.StatusOK},
		{"installation scan: a user listed", instScan, func() []string { return bearer(h.gh.UserToken("user-0")) }, http.StatusOK},
		{"installation scan: a token of one repository", instScan, func() []string { return bearer(h.narrowToken(t, h.instP, "vault")) }, http.StatusNotFound},
		{"installation scan: another installation", instScan, func() []string { return bearer(h.gh.InstallationToken(h.inst0)) }, http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var a answer
			if tc.headers == nil {
				c, _ := h.login(t, "user-0")
				a = h.do(t, c, http.MethodGet, status(tc.id))
			} else {
				a = h.do(t, nil, http.MethodGet, status(tc.id), tc.headers()...)
			}
			if a.code != tc.code {
				t.Fatalf("got %d %s, want %d", a.code, a.raw, tc.code)
			}
			switch tc.code {
			case http.StatusNotFound:
				if strings.TrimSpace(a.raw) != hidden(tc.id) {
					t.Errorf("body %s, want %s", a.raw, hidden(tc.id))
				}
			case http.StatusUnauthorized:
				if !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("WWW-Authenticate %q", a.header.Get("WWW-Authenticate"))
				}
			case http.StatusOK:
				if tc.id != repoScan {
					return
				}
				if msg, _ := a.body["error"].(string); msg != "GitHub has no such object" {
					t.Errorf("error %q, want the public reason", msg)
				}
				if strings.Contains(a.raw, "not found on GitHub") || strings.Contains(a.raw, "pulls/9998") {
					t.Errorf("the internal error text leaked: %s", a.raw)
				}
			}
		})
	}
}

func TestPublicReason(t *testing.T) {
	tests := []struct{ internal, public string }{
		{"GET repos/o/r/pulls/9: not found on GitHub", "GitHub has no such object"},
		{"page 2: GitHub secondary rate limit of installation 7 spent until 2030-01-02T03:04:05Z", "rate limited, resumes at 2030-01-02T03:04:05Z"},
		{"page 3 of scan: GitHub answered 502", "GitHub failed"},
		{"GET http://gh/api/v3/repos/o/r/issues: 500 Internal Server Error []", "GitHub failed"},
		{"installation deleted", "the installation was deleted"},
		{"write o/r: pq: duplicate key value violates unique constraint", "internal error"},
	}
	for _, tc := range tests {
		if got := publicReason(tc.internal); got != tc.public {
			t.Errorf("publicReason(%q) = %q, want %q", tc.internal, got, tc.public)
		}
	}
}
