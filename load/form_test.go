package load

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestBrowserFormAnswers303: a UI load button (a plain form post from a
// browser) lands back on the page with the scan id; scripts and API
// clients asking for JSON keep the 202.
func TestBrowserFormAnswers303(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	const browserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	tests := []struct {
		name   string
		path   string
		accept string
		fields url.Values
		bearer bool
		// where is the 303's page ("" for a 202).
		where string
	}{
		{name: "browser form", path: "/load/repos/privorg/vault/pulls", accept: browserAccept, where: "/repos/privorg/vault"},
		{name: "everything", path: "/load/repos/privorg/vault?children=true", accept: browserAccept, where: "/repos/privorg/vault"},
		{name: "installation", path: fmt.Sprintf("/load/installations/%d", h.instP), accept: browserAccept, where: "/"},
		{name: "redirect field", path: "/load/repos/privorg/vault/labels", fields: url.Values{"redirect": {"1"}}, where: "/repos/privorg/vault"},
		{name: "script asks for JSON", path: "/load/repos/privorg/vault/issues", accept: "application/json"},
		{name: "no Accept", path: "/load/repos/privorg/vault/milestones"},
		{name: "bearer token", path: "/load/repos/privorg/vault/pulls", accept: browserAccept, bearer: true},
	}
	client, csrf := h.login(t, "user-0")
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{"csrf_token": {csrf}}
			for k, v := range tc.fields {
				form[k] = v
			}
			req, err := http.NewRequest(http.MethodPost, h.srv.URL+tc.path, strings.NewReader(form.Encode()))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tc.accept != "" {
				req.Header.Set("Accept", tc.accept)
			}
			c := client
			if tc.bearer {
				c = &http.Client{CheckRedirect: client.CheckRedirect}
				req.Header.Set("Authorization", "Bearer "+h.gh.UserToken("user-0"))
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			var id int64
			if tc.where == "" {
				if resp.StatusCode != http.StatusAccepted || !strings.HasPrefix(resp.Header.Get("Location"), "/status/") {
					t.Fatalf("%d, Location %q; want 202 to /status/N", resp.StatusCode, resp.Header.Get("Location"))
				}
				id, _ = strconv.ParseInt(strings.TrimPrefix(resp.Header.Get("Location"), "/status/"), 10, 64)
			} else {
				loc := resp.Header.Get("Location")
				m := regexp.MustCompile(`^` + regexp.QuoteMeta(tc.where) + `\?scan=([0-9]+)$`).FindStringSubmatch(loc)
				if resp.StatusCode != http.StatusSeeOther || m == nil {
					t.Fatalf("%d, Location %q; want 303 to %s?scan=N", resp.StatusCode, loc, tc.where)
				}
				id, _ = strconv.ParseInt(m[1], 10, 64)
			}
			var by string
			if err := env.DB.QueryRow(`SELECT coalesce(requested_by, '') FROM scan WHERE id = $1`, id).Scan(&by); err != nil {
				t.Fatalf("scan %d: %v", id, err)
			}
			if by != "user-0" {
				t.Errorf("scan %d requested by %q, want user-0", id, by)
			}
		})
	}
	// Without the CSRF field a browser's form is refused, not redirected.
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/load/repos/privorg/vault/pulls", strings.NewReader("redirect=1"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", browserAccept)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("form without CSRF: %d, want 403", resp.StatusCode)
	}
}
