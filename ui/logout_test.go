package ui

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/webhookdb/webhookdb/ghfake"
)

// postLogout posts the log-out form with token (none when ""), or sends
// token as the X-CSRF-Token header when header is set.
func (s *ghSite) postLogout(t *testing.T, token string, header bool) *http.Response {
	t.Helper()
	var body io.Reader
	if token != "" && !header {
		body = strings.NewReader(url.Values{CSRFField: {token}}.Encode())
	}
	req, _ := http.NewRequest(http.MethodPost, s.srv.URL+LogoutRoute, body)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if header {
		req.Header.Set(CSRFHeader, token)
	}
	noFollow := *s.client
	noFollow.CheckRedirect = noRedirect
	res, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res
}

// sessionToken is the client's session cookie value.
func (s *ghSite) sessionToken() string {
	u, _ := url.Parse(s.srv.URL)
	for _, c := range s.client.Jar.Cookies(u) {
		if c.Name == s.ui.Sessions.Cookie.Name {
			return c.Value
		}
	}
	return ""
}

var logoutForm = regexp.MustCompile(`<form method="post" action="/logout"><input type="hidden" name="csrf_token" value="([0-9a-f]{64})">`)

func TestLogout(t *testing.T) {
	tests := []struct {
		name string
		// token picks what the log-out sends from the page's CSRF token.
		token  func(csrf string) string
		header bool
		code   int
	}{
		{"no token", func(string) string { return "" }, false, http.StatusForbidden},
		{"wrong token", func(c string) string { return strings.Repeat("0", len(c)) }, false, http.StatusForbidden},
		{"truncated token", func(c string) string { return c[:32] }, true, http.StatusForbidden},
		{"form token", func(c string) string { return c }, false, http.StatusSeeOther},
		{"header token", func(c string) string { return c }, true, http.StatusSeeOther},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newGHSite(t, ghfake.Options{})
			clearSessions(t)
			s.login(t)
			m := logoutForm.FindStringSubmatch(s.get(t, "/"))
			if m == nil {
				t.Fatalf("home page has no log-out form")
			}
			token := s.sessionToken()
			res := s.postLogout(t, tc.token(m[1]), tc.header)
			if res.StatusCode != tc.code {
				t.Fatalf("POST /logout: %d, want %d", res.StatusCode, tc.code)
			}
			var rows int
			if err := env.DB.QueryRow(`SELECT count(*) FROM sessions WHERE token = $1`, token).Scan(&rows); err != nil {
				t.Fatal(err)
			}
			if tc.code == http.StatusForbidden {
				if rows != 1 {
					t.Errorf("a refused log-out removed the session row")
				}
				if _, status := s.whoami(t); status != http.StatusOK {
					t.Errorf("session after a refused log-out: GET /user %d", status)
				}
				return
			}
			if loc := res.Header.Get("Location"); loc != "/" {
				t.Errorf("log-out redirects to %q, want /", loc)
			}
			if rows != 0 {
				t.Errorf("the session row outlived the log-out")
			}
			if got := s.get(t, "/test/whoami"); got != "anonymous" {
				t.Errorf("after log-out: %q, want anonymous", got)
			}
			if page := s.get(t, "/"); !strings.Contains(page, "Sign in with GitHub") {
				t.Errorf("home page after log-out: %s", page)
			}
			// The old session cookie, replayed, is no session either.
			req, _ := http.NewRequest(http.MethodGet, s.srv.URL+"/test/whoami", nil)
			req.AddCookie(&http.Cookie{Name: s.ui.Sessions.Cookie.Name, Value: token})
			replay, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(replay.Body)
			replay.Body.Close()
			if string(b) != "anonymous" {
				t.Errorf("the logged-out session cookie still works: %q", b)
			}
		})
	}
}

// TestLogoutAnonymous: a log-out without a session is refused and stores
// nothing.
func TestLogoutAnonymous(t *testing.T) {
	s := newGHSite(t, ghfake.Options{})
	clearSessions(t)
	if res := s.postLogout(t, strings.Repeat("0", 64), false); res.StatusCode != http.StatusForbidden {
		t.Errorf("anonymous POST /logout: %d, want 403", res.StatusCode)
	}
	if n := sessionRows(t); n != 0 {
		t.Errorf("anonymous POST /logout stored %d session rows", n)
	}
}
