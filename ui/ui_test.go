package ui

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"

	"github.com/webhookdb/webhookdb/internal/testutil"
)

var env testutil.Env

func TestMain(m *testing.M) { os.Exit(testutil.Main(m, &env)) }

// site is a UI on the test database, with two extra routes: /test/login
// fills the session as a login would, /test/check reports SessionUser.
type site struct {
	ui     *UI
	srv    *httptest.Server
	client *http.Client
}

func newSite(t *testing.T) *site {
	t.Helper()
	var cfg githubapp.Config
	cfg.WebURL = "http://127.0.0.1:1"
	cfg.V3APIURL = "http://127.0.0.1:1/api/v3/"
	cfg.OAuth.ClientID = "Iv1.test"
	cfg.OAuth.ClientSecret = "secret"
	u, err := New(Deps{DB: env.DB, GitHubConfig: cfg, PublicURL: "http://example.test",
		SessionKey: strings.Repeat("s", 32), Logger: zerolog.Nop(), CleanupInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(u.Close)
	mux := http.NewServeMux()
	u.Register(mux)
	mux.Handle("POST /test/login", u.Sessions.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.Sessions.Put(r.Context(), keyLogin, "octocat")
		u.Sessions.Put(r.Context(), keyUserID, int64(1))
		sealed, err := u.seal("gho_usertoken")
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		u.Sessions.Put(r.Context(), keyToken, sealed)
		u.Sessions.Put(r.Context(), keyCSRFNonce, "nonce")
	})))
	mux.Handle("POST /test/check", u.Sessions.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		login, token, csrfOK, ok := u.SessionUser(r)
		if !ok {
			io.WriteString(w, "anonymous")
			return
		}
		if !csrfOK {
			io.WriteString(w, login+" "+token+" no-csrf")
			return
		}
		io.WriteString(w, login+" "+token+" csrf")
	})))
	// Under the login route, where the state cookie's Path sends it.
	mux.Handle("GET "+AuthRoute+"/test/state", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st, err := u.states.GenerateState(w, r)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		io.WriteString(w, st)
	}))
	mux.Handle("GET "+AuthRoute+"/test/verify", withStateWriter(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ok, err := u.states.VerifyState(r, r.URL.Query().Get("state"))
		if err != nil || !ok {
			io.WriteString(w, "invalid")
			return
		}
		io.WriteString(w, "valid")
	})))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	return &site{ui: u, srv: srv, client: &http.Client{Jar: jar}}
}

func (s *site) send(t *testing.T, req *http.Request) string {
	t.Helper()
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func (s *site) get(t *testing.T, path string) string {
	req, _ := http.NewRequest(http.MethodGet, s.srv.URL+path, nil)
	return s.send(t, req)
}

func TestSessionAndCSRF(t *testing.T) {
	s := newSite(t)
	check := func(header, form string) string {
		var body io.Reader
		if form != "" {
			body = strings.NewReader(url.Values{CSRFField: {form}}.Encode())
		}
		req, _ := http.NewRequest(http.MethodPost, s.srv.URL+"/test/check", body)
		if form != "" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if header != "" {
			req.Header.Set(CSRFHeader, header)
		}
		return s.send(t, req)
	}
	if got := check("", ""); got != "anonymous" {
		t.Fatalf("before login: %q", got)
	}
	if page := s.get(t, "/"); !strings.Contains(page, "Sign in with GitHub") || !strings.Contains(page, AuthRoute) {
		t.Errorf("home page before login: %s", page)
	}
	req, _ := http.NewRequest(http.MethodPost, s.srv.URL+"/test/login", nil)
	s.send(t, req)

	page := s.get(t, "/")
	if !strings.Contains(page, "octocat") {
		t.Fatalf("home page after login: %s", page)
	}
	want := s.ui.csrfFor("nonce")
	if !strings.Contains(page, want) {
		t.Fatalf("home page does not carry the CSRF token")
	}
	tests := []struct {
		name, header, form, want string
	}{
		{"no token", "", "", "octocat gho_usertoken no-csrf"},
		{"header", want, "", "octocat gho_usertoken csrf"},
		{"form field", "", want, "octocat gho_usertoken csrf"},
		{"wrong header", strings.Repeat("0", len(want)), "", "octocat gho_usertoken no-csrf"},
		{"truncated", want[:10], "", "octocat gho_usertoken no-csrf"},
	}
	for _, tc := range tests {
		if got := check(tc.header, tc.form); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	// The token is keyed by the session key: another key gives another.
	other := &UI{key: []byte(strings.Repeat("t", 32))}
	if other.csrfFor("nonce") == want {
		t.Errorf("CSRF token does not depend on the session key")
	}
	// Sessions live in PostgreSQL, without the GitHub token in clear.
	var n, clear int
	if err := env.DB.QueryRow(`SELECT count(*), count(*) FILTER (WHERE position('gho_usertoken'::bytea in data) > 0) FROM sessions`).Scan(&n, &clear); err != nil || n == 0 {
		t.Errorf("no session row in PostgreSQL (%d, %v)", n, err)
	}
	if clear != 0 {
		t.Errorf("%d session rows hold the GitHub token in clear", clear)
	}
	// A session sealed under another key reads as logged out.
	if _, ok := other.open(mustSeal(t, s.ui, "x")); ok {
		t.Errorf("a token sealed under another key opened")
	}
}

func TestStateStore(t *testing.T) {
	s := newSite(t)
	state, verify := AuthRoute+"/test/state", AuthRoute+"/test/verify?state="
	st := s.get(t, state)
	if len(st) != 64 {
		t.Fatalf("state %q is not 32 random bytes in hex", st)
	}
	if st2 := newSite(t).get(t, state); st2 == st {
		t.Errorf("two states are equal")
	}
	if got := s.get(t, verify+"wrong"); got != "invalid" {
		t.Errorf("wrong state: %s", got)
	}
	// A wrong guess used the state up: the right one no longer passes.
	if got := s.get(t, verify+st); got != "invalid" {
		t.Errorf("state reused after a failed check: %s", got)
	}
	st = s.get(t, state)
	if got := s.get(t, verify+st); got != "valid" {
		t.Errorf("right state: %s", got)
	}
	if got := s.get(t, verify+st); got != "invalid" {
		t.Errorf("state used twice: %s", got)
	}
	if got := s.get(t, verify); got != "invalid" {
		t.Errorf("empty state: %s", got)
	}
}

func TestLoginErrors(t *testing.T) {
	s := newSite(t)
	s.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	tests := []struct {
		path string
		code int
	}{
		// Without a code the handler redirects to GitHub's authorize page.
		{AuthRoute, http.StatusFound},
		// A callback whose state was never issued.
		{AuthRoute + "?code=abc&state=forged", http.StatusBadRequest},
		// GitHub said no.
		{AuthRoute + "?error=access_denied", http.StatusBadRequest},
	}
	for _, tc := range tests {
		resp, err := s.client.Get(s.srv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.code {
			t.Errorf("%s: %d, want %d", tc.path, resp.StatusCode, tc.code)
		}
		if tc.code == http.StatusFound {
			loc, _ := url.Parse(resp.Header.Get("Location"))
			if loc.Path != "/login/oauth/authorize" || loc.Query().Get("state") == "" ||
				loc.Query().Get("redirect_uri") != "http://example.test"+AuthRoute {
				t.Errorf("redirect to %s", loc)
			}
		}
	}
}

func mustSeal(t *testing.T, u *UI, plain string) string {
	t.Helper()
	v, err := u.seal(plain)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
