package ui

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/rs/zerolog"

	"github.com/webhookdb/webhookdb/ghfake"
)

// ghSite is the UI logging in through a ghfake GitHub, with a route
// /test/whoami that does what a load request does: it asks SessionUser
// for the token and calls GitHub with it.
type ghSite struct {
	gh     *ghfake.Server
	ui     *UI
	srv    *httptest.Server
	client *http.Client
}

// newGHSite starts ghfake with opts and the UI on it; the UI judges token
// expiry by ghfake's clock, so Advance moves both.
func newGHSite(t *testing.T, opts ghfake.Options) *ghSite {
	t.Helper()
	opts.Seed = &ghfake.SeedOptions{Seed: 1}
	gh, err := ghfake.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := gh.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gh.Close)
	gh.SetOAuthUser("user-0")
	s := &ghSite{gh: gh}
	var root http.Handler = http.NotFoundHandler()
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { root.ServeHTTP(w, r) }))
	t.Cleanup(s.srv.Close)
	s.ui, err = New(Deps{DB: env.DB, GitHubConfig: gh.GitHubConfig(), PublicURL: s.srv.URL, Now: gh.Now,
		SessionKey: strings.Repeat("s", 32), Logger: zerolog.New(zerolog.NewTestWriter(t)), CleanupInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.ui.Close)
	mux := http.NewServeMux()
	s.ui.Register(mux)
	mux.Handle("GET /test/whoami", s.ui.Sessions.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		login, token, _, ok := s.ui.SessionUser(r)
		if !ok {
			io.WriteString(w, "anonymous")
			return
		}
		fmt.Fprintf(w, "%s %s %d", login, token, s.userStatus(t, token))
	})))
	root = mux
	jar, _ := cookiejar.New(nil)
	s.client = &http.Client{Jar: jar}
	return s
}

// userStatus is ghfake's status for GET /user with token.
func (s *ghSite) userStatus(t *testing.T, token string) int {
	c := github.NewClient(nil).WithAuthToken(token)
	c.BaseURL, _ = url.Parse(s.gh.APIURL())
	_, res, err := c.Users.Get(context.Background(), "")
	if res == nil {
		t.Errorf("GET /user: %v", err)
		return 0
	}
	return res.StatusCode
}

// login runs the OAuth web flow through the UI.
func (s *ghSite) login(t *testing.T) {
	t.Helper()
	if page := s.get(t, AuthRoute); !strings.Contains(page, "<strong>user-0</strong>") {
		t.Fatalf("login flow ended on %s", page)
	}
}

func (s *ghSite) get(t *testing.T, path string) string {
	t.Helper()
	res, err := s.client.Get(s.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

// whoami returns the session's token and GitHub's status with it.
func (s *ghSite) whoami(t *testing.T) (token string, status int) {
	t.Helper()
	got := s.get(t, "/test/whoami")
	if _, err := fmt.Sscanf(got, "user-0 %s %d", &token, &status); err != nil {
		t.Fatalf("whoami: %q", got)
	}
	return token, status
}

func TestUserTokenRefreshed(t *testing.T) {
	tests := []struct {
		name string
		opts ghfake.Options
		// expire brings the session's token (tok) to where it needs renewing.
		expire func(t *testing.T, s *ghSite, tok string)
	}{
		{"in its last minute", ghfake.Options{}, func(t *testing.T, s *ghSite, tok string) {
			s.gh.Advance(8*time.Hour - 30*time.Second)
		}},
		{"expired", ghfake.Options{}, func(t *testing.T, s *ghSite, tok string) {
			s.gh.Advance(8*time.Hour + time.Second)
			if got := s.userStatus(t, tok); got != http.StatusUnauthorized {
				t.Fatalf("GitHub still takes the expired token: %d", got)
			}
		}},
		{"short lifetime, real clock", ghfake.Options{UserTokenTTL: 2 * time.Second}, func(t *testing.T, s *ghSite, tok string) {
			// Wait for GitHub to refuse the token: its expiry has passed.
			deadline := time.Now().Add(10 * time.Second)
			for s.userStatus(t, tok) != http.StatusUnauthorized {
				if time.Now().After(deadline) {
					t.Fatal("the 2-second token still works after 10 seconds")
				}
				time.Sleep(50 * time.Millisecond)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newGHSite(t, tc.opts)
			s.login(t)
			first, status := s.whoami(t)
			if status != http.StatusOK {
				t.Fatalf("token after login: GET /user %d", status)
			}
			if again, _ := s.whoami(t); again != first {
				t.Fatalf("a fresh token was renewed: %s, then %s", first, again)
			}
			tc.expire(t, s, first)
			second, status := s.whoami(t)
			if second == first || status != http.StatusOK {
				t.Fatalf("after expiry the session gave %s (GET /user %d), want a new working token", second, status)
			}
			// The refresh used the refresh token up and ended the old token;
			// the session keeps the new pair.
			if got := s.userStatus(t, first); got != http.StatusUnauthorized {
				t.Errorf("old token after the refresh: GET /user %d, want 401", got)
			}
			if third, status := s.whoami(t); third != second || status != http.StatusOK {
				t.Errorf("next request: %s (%d), want the refreshed %s", third, status, second)
			}
			var clear int
			if err := env.DB.QueryRow(`SELECT count(*) FROM sessions WHERE position($1::bytea in data) > 0 OR position('ghr_'::bytea in data) > 0`,
				second).Scan(&clear); err != nil || clear != 0 {
				t.Errorf("%d session rows hold a user or refresh token in clear (%v)", clear, err)
			}
		})
	}
}

func TestFailedRefreshEndsLogin(t *testing.T) {
	cases := []struct {
		name  string
		opts  ghfake.Options
		spoil func(s *ghSite)
	}{
		// GitHub answers bad_refresh_token.
		{"refresh refused", ghfake.Options{}, func(s *ghSite) { s.gh.RevokeUserTokens("user-0") }},
		// The UI knows without asking.
		{"refresh token expired", ghfake.Options{RefreshTokenTTL: 4 * time.Hour}, func(*ghSite) {}},
	}
	for _, tc := range cases {
		for _, via := range []string{"load request", "page"} {
			t.Run(tc.name+" via "+via, func(t *testing.T) {
				s := newGHSite(t, tc.opts)
				s.login(t)
				tc.spoil(s)
				s.gh.Advance(8 * time.Hour)
				if via == "page" {
					noFollow := *s.client
					noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
					res, err := noFollow.Get(s.srv.URL + "/")
					if err != nil {
						t.Fatal(err)
					}
					res.Body.Close()
					if res.StatusCode != http.StatusFound || res.Header.Get("Location") != AuthRoute {
						t.Errorf("home page: %d to %q, want a redirect to %s", res.StatusCode, res.Header.Get("Location"), AuthRoute)
					}
				}
				if got := s.get(t, "/test/whoami"); got != "anonymous" {
					t.Errorf("session after a failed refresh: %q, want logged out", got)
				}
				if page := s.get(t, "/"); !strings.Contains(page, "Sign in with GitHub") {
					t.Errorf("home page after the session ended: %s", page)
				}
				// Logging in again works.
				s.login(t)
				if _, status := s.whoami(t); status != http.StatusOK {
					t.Errorf("after logging in again: GET /user %d", status)
				}
			})
		}
	}
}

func TestSessionEndsWithRefreshToken(t *testing.T) {
	s := newGHSite(t, ghfake.Options{RefreshTokenTTL: time.Hour})
	s.login(t)
	u, _ := url.Parse(s.srv.URL)
	var token string
	for _, c := range s.client.Jar.Cookies(u) {
		if c.Name == "webhookdb_session" {
			token = c.Value
		}
	}
	var expiry time.Time
	if err := env.DB.QueryRow(`SELECT expiry FROM sessions WHERE token = $1`, token).Scan(&expiry); err != nil {
		t.Fatalf("session row: %v", err)
	}
	if left := time.Until(expiry); left > time.Hour || left < 59*time.Minute {
		t.Errorf("session expires in %s, want the refresh token's hour (not the 7-day lifetime)", left)
	}
}
