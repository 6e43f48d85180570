package ghfake_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/webhookdb/webhookdb/ghfake"
)

// authorizeCode runs the authorize step and returns the code it gives.
func authorizeCode(t *testing.T, srv *ghfake.Server) string {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	q := url.Values{"client_id": {srv.OAuthClientID()}, "redirect_uri": {"http://app.test/cb"}, "state": {"s"}}
	res, err := c.Get(srv.URL() + "/login/oauth/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("authorize answered %d, Location %q", res.StatusCode, res.Header.Get("Location"))
	}
	return loc.Query().Get("code")
}

// tokenRequest posts p to the token endpoint as a form ("form") or JSON
// ("json") asking for a JSON answer, or as a form asking for a form
// ("form-answer"), and returns the status and the answer's fields.
func tokenRequest(t *testing.T, srv *ghfake.Server, how string, p url.Values) (int, map[string]string) {
	t.Helper()
	var body io.Reader = strings.NewReader(p.Encode())
	ct := "application/x-www-form-urlencoded"
	if how == "json" {
		m := map[string]string{}
		for k := range p {
			m[k] = p.Get(k)
		}
		b, _ := json.Marshal(m)
		body, ct = bytes.NewReader(b), "application/json"
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL()+"/login/oauth/access_token", body)
	req.Header.Set("Content-Type", ct)
	if how != "form-answer" {
		req.Header.Set("Accept", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := map[string]string{}
	if how == "form-answer" {
		f, err := url.ParseQuery(string(raw))
		if err != nil {
			t.Fatalf("form answer %q: %v", raw, err)
		}
		for k := range f {
			out[k] = f.Get(k)
		}
		return res.StatusCode, out
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("JSON answer %q: %v", raw, err)
	}
	for k, v := range m {
		if _, isNum := v.(float64); isNum {
			b, _ := json.Marshal(v)
			out[k] = "#" + string(b) // numbers marked, to tell them from strings
			continue
		}
		out[k], _ = v.(string)
	}
	return res.StatusCode, out
}

func clientParams(srv *ghfake.Server, kv ...string) url.Values {
	p := url.Values{"client_id": {srv.OAuthClientID()}, "client_secret": {srv.OAuthClientSecret()}}
	for i := 0; i+1 < len(kv); i += 2 {
		p.Set(kv[i], kv[i+1])
	}
	return p
}

// userStatus is the API's status for GET /user with token.
func userStatus(t *testing.T, srv *ghfake.Server, token string) int {
	t.Helper()
	_, res, err := tokenClient(t, srv, token).Users.Get(ctx, "")
	if res == nil {
		t.Fatalf("GET /user: %v", err)
	}
	return res.StatusCode
}

func TestUserTokenAnswerHasExpiryAndRefreshToken(t *testing.T) {
	srv := start(t, ghfake.Options{Seed: &ghfake.SeedOptions{Seed: 1}})
	num := func(s string) string { return "#" + s }
	tests := []struct {
		how  string
		want func(string) string // how a number reads in the answer
	}{
		{"form", num},
		{"json", num},
		{"form-answer", func(s string) string { return s }},
	}
	for _, tc := range tests {
		t.Run(tc.how, func(t *testing.T) {
			code, out := tokenRequest(t, srv, tc.how, clientParams(srv, "code", authorizeCode(t, srv)))
			if code != http.StatusOK || !strings.HasPrefix(out["access_token"], "ghu_") || !strings.HasPrefix(out["refresh_token"], "ghr_") ||
				out["token_type"] != "bearer" || out["scope"] != "" || out["expires_in"] != tc.want("28800") ||
				out["refresh_token_expires_in"] != tc.want("15897600") {
				t.Errorf("answer %d %v, want ghu_ and ghr_ tokens expiring in 28800 and 15897600 seconds", code, out)
			}
		})
	}
	// Lifetimes are options, for tests that cannot wait hours.
	short := start(t, ghfake.Options{Seed: &ghfake.SeedOptions{Seed: 1}, UserTokenTTL: 3 * time.Second, RefreshTokenTTL: 10 * time.Second})
	if _, out := tokenRequest(t, short, "json", clientParams(short, "code", authorizeCode(t, short))); out["expires_in"] != "#3" || out["refresh_token_expires_in"] != "#10" {
		t.Errorf("with short lifetimes: %v", out)
	}
}

func TestRefreshGrant(t *testing.T) {
	srv := start(t, ghfake.Options{Seed: &ghfake.SeedOptions{Seed: 1}})
	srv.SetOAuthUser("user-0")
	_, first := tokenRequest(t, srv, "form", clientParams(srv, "code", authorizeCode(t, srv)))
	refresh := func(how, rt string) (int, map[string]string) {
		return tokenRequest(t, srv, how, clientParams(srv, "grant_type", "refresh_token", "refresh_token", rt))
	}
	code, second := refresh("json", first["refresh_token"])
	if code != http.StatusOK || second["access_token"] == "" || second["access_token"] == first["access_token"] ||
		second["refresh_token"] == first["refresh_token"] || second["expires_in"] != "#28800" || second["refresh_token_expires_in"] != "#15897600" {
		t.Fatalf("refresh answered %d %v", code, second)
	}
	if got := userStatus(t, srv, second["access_token"]); got != http.StatusOK {
		t.Errorf("refreshed token: GET /user %d", got)
	}
	// Once used, the refresh token and the access token issued with it no
	// longer work.
	if got := userStatus(t, srv, first["access_token"]); got != http.StatusUnauthorized {
		t.Errorf("access token of a used refresh token: GET /user %d, want 401", got)
	}
	badRefresh := func(name string, code int, out map[string]string) {
		t.Helper()
		if code != http.StatusOK || out["error"] != "bad_refresh_token" || out["error_description"] == "" ||
			!strings.HasPrefix(out["error_uri"], "https://docs.github.com/") || out["access_token"] != "" {
			t.Errorf("%s: %d %v, want 200 with error bad_refresh_token", name, code, out)
		}
	}
	code, out := refresh("form", first["refresh_token"])
	badRefresh("used refresh token", code, out)
	code, out = refresh("form", "ghr_"+strings.Repeat("x", 76))
	badRefresh("unknown refresh token", code, out)
	if _, out := tokenRequest(t, srv, "form", url.Values{"client_id": {srv.OAuthClientID()}, "client_secret": {"wrong"},
		"grant_type": {"refresh_token"}, "refresh_token": {second["refresh_token"]}}); out["error"] != "incorrect_client_credentials" {
		t.Errorf("refresh with a wrong client secret: %v", out)
	}

	// After 8 hours the access token is refused; its refresh token still
	// renews it, until the refresh token's own lifetime has passed.
	srv.Advance(8 * time.Hour)
	if got := userStatus(t, srv, second["access_token"]); got != http.StatusUnauthorized {
		t.Errorf("access token after 8 hours: GET /user %d, want 401", got)
	}
	code, third := refresh("form", second["refresh_token"])
	if code != http.StatusOK || userStatus(t, srv, third["access_token"]) != http.StatusOK {
		t.Fatalf("refresh after the access token expired: %d %v", code, third)
	}
	srv.Advance(15897600 * time.Second)
	code, out = refresh("form", third["refresh_token"])
	badRefresh("expired refresh token", code, out)

	// A user revoking the app's authorization ends both tokens.
	_, fourth := tokenRequest(t, srv, "form", clientParams(srv, "code", authorizeCode(t, srv)))
	srv.RevokeUserTokens("user-0")
	if got := userStatus(t, srv, fourth["access_token"]); got != http.StatusUnauthorized {
		t.Errorf("revoked access token: GET /user %d, want 401", got)
	}
	code, out = refresh("form", fourth["refresh_token"])
	badRefresh("revoked refresh token", code, out)
}
