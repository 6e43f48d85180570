package ui

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"

	"github.com/webhookdb/webhookdb/ghfake"
)

// noRedirect answers the first response instead of following it.
func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

func sessionRows(t *testing.T) int {
	t.Helper()
	var n int
	if err := env.DB.QueryRow(`SELECT count(*) FROM sessions`).Scan(&n); err != nil {
		t.Fatalf("count sessions: %v", err)
	}
	return n
}

func clearSessions(t *testing.T) {
	t.Helper()
	if _, err := env.DB.Exec(`DELETE FROM sessions`); err != nil {
		t.Fatalf("clear sessions: %v", err)
	}
}

func cookieNamed(res *http.Response, name string) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// TestAnonymousWritesNoSession: starting a login, failing one and reading
// the home page, anonymously and many times, store no session row.
func TestAnonymousWritesNoSession(t *testing.T) {
	s := newSite(t)
	clearSessions(t)
	client := &http.Client{CheckRedirect: noRedirect} // no jar: every request a new visitor
	tests := []struct {
		path string
		code int
	}{
		{AuthRoute, http.StatusFound},
		{"/", http.StatusOK},
		{AuthRoute + "?code=abc&state=forged", http.StatusBadRequest},
		{AuthRoute + "?error=access_denied", http.StatusBadRequest},
	}
	for _, tc := range tests {
		n := 100
		if tc.path != AuthRoute {
			n = 10
		}
		for i := 0; i < n; i++ {
			res, err := client.Get(s.srv.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != tc.code {
				t.Fatalf("%s: %d, want %d", tc.path, res.StatusCode, tc.code)
			}
			if c := cookieNamed(res, s.ui.Sessions.Cookie.Name); c != nil {
				t.Fatalf("%s set a session cookie", tc.path)
			}
		}
		if n := sessionRows(t); n != 0 {
			t.Fatalf("after anonymous GET %s: %d session rows, want 0", tc.path, n)
		}
	}
}

// TestStateCookie: the state cookie's attributes, by public URL.
func TestStateCookie(t *testing.T) {
	tests := []struct {
		publicURL string
		secure    bool
	}{
		{"http://example.test", false},
		{"https://example.test", true},
	}
	for _, tc := range tests {
		var cfg githubapp.Config
		cfg.WebURL = "http://127.0.0.1:1"
		cfg.V3APIURL = "http://127.0.0.1:1/api/v3/"
		cfg.OAuth.ClientID, cfg.OAuth.ClientSecret = "Iv1.test", "secret"
		u, err := New(Deps{DB: env.DB, GitHubConfig: cfg, PublicURL: tc.publicURL,
			SessionKey: strings.Repeat("s", 32), Logger: zerolog.Nop(), CleanupInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(u.Close)
		mux := http.NewServeMux()
		u.Register(mux)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, AuthRoute, nil))
		res := rec.Result()
		c := cookieNamed(res, StateCookie)
		if res.StatusCode != http.StatusFound || c == nil {
			t.Fatalf("%s: %d, state cookie %v", tc.publicURL, res.StatusCode, c)
		}
		loc, _ := url.Parse(res.Header.Get("Location"))
		if !strings.HasPrefix(c.Value, loc.Query().Get("state")+".") {
			t.Errorf("%s: cookie %q does not carry the state %q", tc.publicURL, c.Value, loc.Query().Get("state"))
		}
		if c.Path != AuthRoute || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode ||
			c.MaxAge != int(stateTTL/time.Second) || c.Secure != tc.secure {
			t.Errorf("%s: state cookie %s, want Path=%s HttpOnly SameSite=Lax Max-Age=600 Secure=%v",
				tc.publicURL, c.String(), AuthRoute, tc.secure)
		}
	}
}

// TestCallbackNeedsStateCookie: GitHub's redirect back with a good code
// and state logs in only with the state cookie of that login, signed by
// this server and unexpired.
func TestCallbackNeedsStateCookie(t *testing.T) {
	other := NewStateStore([]byte(strings.Repeat("t", 32)), false)
	tests := []struct {
		name string
		// cookie makes the callback's state cookie from the one the login
		// set (nil: none).
		cookie func(s *ghSite, c *http.Cookie, state string) *http.Cookie
		code   int
	}{
		{"good", func(_ *ghSite, c *http.Cookie, _ string) *http.Cookie { return c }, http.StatusFound},
		{"missing", func(*ghSite, *http.Cookie, string) *http.Cookie { return nil }, http.StatusBadRequest},
		{"expired", func(s *ghSite, c *http.Cookie, state string) *http.Cookie {
			c.Value = s.ui.states.value(state, time.Now().Add(-time.Second).Unix())
			return c
		}, http.StatusBadRequest},
		{"expiry pushed back", func(s *ghSite, c *http.Cookie, state string) *http.Cookie {
			i := strings.LastIndexByte(c.Value, '.')
			c.Value = state + "." + "99999999999" + c.Value[i:]
			return c
		}, http.StatusBadRequest},
		{"mac altered", func(s *ghSite, c *http.Cookie, _ string) *http.Cookie {
			last := c.Value[len(c.Value)-1]
			c.Value = c.Value[:len(c.Value)-1] + map[bool]string{true: "0", false: "1"}[last != '0']
			return c
		}, http.StatusBadRequest},
		{"another login's state", func(s *ghSite, c *http.Cookie, _ string) *http.Cookie {
			c.Value = s.ui.states.value(strings.Repeat("ab", 32), time.Now().Add(time.Minute).Unix())
			return c
		}, http.StatusBadRequest},
		{"signed by another key", func(s *ghSite, c *http.Cookie, state string) *http.Cookie {
			c.Value = other.value(state, time.Now().Add(time.Minute).Unix())
			return c
		}, http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newGHSite(t, ghfake.Options{})
			clearSessions(t)
			client := &http.Client{CheckRedirect: noRedirect}
			res, err := client.Get(s.srv.URL + AuthRoute)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			stateCookie := cookieNamed(res, StateCookie)
			if res.StatusCode != http.StatusFound || stateCookie == nil {
				t.Fatalf("login start: %d, state cookie %v", res.StatusCode, stateCookie)
			}
			// GitHub (ghfake) sends the browser back with a code and the state.
			res, err = client.Get(res.Header.Get("Location"))
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			back, err := url.Parse(res.Header.Get("Location"))
			if err != nil || back.Query().Get("code") == "" {
				t.Fatalf("authorize: %d to %q", res.StatusCode, res.Header.Get("Location"))
			}
			req, _ := http.NewRequest(http.MethodGet, back.String(), nil)
			if c := tc.cookie(s, stateCookie, back.Query().Get("state")); c != nil {
				req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
			}
			res, err = client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != tc.code {
				t.Fatalf("callback: %d, want %d", res.StatusCode, tc.code)
			}
			session := cookieNamed(res, s.ui.Sessions.Cookie.Name)
			loggedIn := session != nil && session.Value != "" && sessionRows(t) == 1
			if want := tc.code == http.StatusFound; loggedIn != want {
				t.Errorf("logged in: %v, want %v (session cookie %v, %d rows)", loggedIn, want, session, sessionRows(t))
			}
			// The callback used the state up.
			if c := cookieNamed(res, StateCookie); tc.code == http.StatusFound && (c == nil || c.MaxAge >= 0) {
				t.Errorf("callback did not delete the state cookie: %v", c)
			}
		})
	}
}
