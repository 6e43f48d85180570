package load

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/webhookdb/webhookdb/jobs"
)

// FuzzParse feeds arbitrary path values and query strings to every load
// route's parser: it never panics, and either refuses with a *badInput (a
// 400) or returns a request whose every part passed GitHub's rules.
func FuzzParse(f *testing.F) {
	f.Add(uint8(0), "1", "org-0", "repo-0", "1", "bug", "full=true")
	f.Add(uint8(1), "", "org-0", "repo.0_x", "", "", "inline=1&children=0&full=false")
	f.Add(uint8(2), "", "a", "b", "", "", "state=all&children=true")
	f.Add(uint8(3), "", "-a", "..", "0", "", "inline=yes")
	f.Add(uint8(3), "", "a", "b", "2147483648", "", "")
	f.Add(uint8(3), "", "a", "b", "0", "", "")
	f.Add(uint8(6), "", "a", "b", "00", "", "inline=false")
	f.Add(uint8(9), "", "a", "b", "", "\x00", "inline=true&inline=true")
	f.Add(uint8(9), "", "a", "b", "", strings.Repeat("é", 51), "%zz")
	f.Add(uint8(5), "", "a", "b", "", "", "state=open;x=1")
	f.Add(uint8(0), "9223372036854775808", "", "", "", "", "full")
	f.Add(uint8(0), "-1", "", "", "", "", "=&&=")
	f.Add(uint8(11), "", "\xff", "\xfe", "+1", "\u202e", "state=%00")
	f.Fuzz(func(t *testing.T, which uint8, id, owner, repo, number, name, rawQuery string) {
		ep := endpoints[int(which)%len(endpoints)]
		r := &http.Request{Method: http.MethodPost, URL: &url.URL{Path: ep.pattern, RawQuery: rawQuery}}
		for k, v := range map[string]string{"id": id, "owner": owner, "repo": repo, "number": number, "name": name} {
			r.SetPathValue(k, v)
		}
		req, err := parse(ep, r)
		if err != nil {
			var bi *badInput
			if !errors.As(err, &bi) {
				t.Fatalf("%s: error %T %v, want a *badInput (400)", ep.pattern, err, err)
			}
			return
		}
		s := req.scan
		switch {
		case s.Kind != ep.kind:
			t.Fatalf("kind %q, want %q", s.Kind, ep.kind)
		case ep.installation && s.InstallationID <= 0:
			t.Fatalf("installation id %d accepted", s.InstallationID)
		case !ep.installation && (checkOwner(s.Owner) != nil || checkRepo(s.Repo) != nil):
			t.Fatalf("repository %q/%q accepted", s.Owner, s.Repo)
		case ep.number && s.Number <= 0:
			t.Fatalf("number %d accepted", s.Number)
		case ep.name && checkLabelName(s.Name) != nil:
			t.Fatalf("label name %q accepted", s.Name)
		case s.State != "" && !contains(ep.query, "state"):
			t.Fatalf("state %q accepted by %s", s.State, ep.pattern)
		case req.inline && !contains(ep.query, "inline"):
			t.Fatalf("inline accepted by %s", ep.pattern)
		case s.Full && !contains(ep.query, "full"):
			t.Fatalf("full accepted by %s", ep.pattern)
		}
	})
}

// refusingScheduler fails the test if anything is queued: no request
// without credentials may reach it.
type refusingScheduler struct{ t *testing.T }

func (s refusingScheduler) Scan(context.Context, jobs.ScanRequest) (int64, bool, error) {
	s.t.Error("a scan was queued for a request without credentials")
	return 0, false, errors.New("refused")
}

func (s refusingScheduler) TreeStatus(context.Context, int64) (jobs.ScanStatus, error) {
	s.t.Error("a scan status was read for a request without credentials")
	return jobs.ScanStatus{}, errors.New("refused")
}

// FuzzRoutes sends arbitrary methods, paths and query strings without
// credentials through the routes as the app mounts them: nothing panics,
// nothing is queued, and every answer is a 4xx (or ServeMux's redirect to
// a clean path), never a 2xx or a 5xx.
func FuzzRoutes(f *testing.F) {
	for _, ep := range endpoints {
		path := strings.NewReplacer("{id}", "1", "{owner}", "org-0", "{repo}", "repo-0", "{number}", "2", "{name}", "bug").Replace(ep.pattern)
		f.Add("POST", path, "full=true")
		f.Add("GET", path, "")
	}
	f.Add("GET", "/status/1", "")
	f.Add("GET", "/status/-1", "")
	f.Add("GET", "/status/99999999999999999999", "")
	f.Add("POST", "/load/repos/org-0/repo-0/pulls/0", "state=x")
	f.Add("POST", "/load/repos/org-0/repo-0/labels/%00", "")
	f.Add("POST", "/load/repos//repo-0", "")
	f.Add("POST", "/load/repos/a/../../status/1", "")
	f.Add("POST", "/load/repos/a/b/pulls/1/files/", "%zz")
	f.Add("DELETE", "/load/installations/1", "")
	f.Add("POST", "/load/installations/1%2F2", "full=1&full=1")
	f.Add("POST", "/load/installations/", "")
	deps := Deps{DB: env.DB, V3APIURL: "http://127.0.0.1:1", Logger: zerolog.Nop()}
	f.Fuzz(func(t *testing.T, method, path, rawQuery string) {
		u, err := url.ParseRequestURI(path)
		if err != nil || !strings.HasPrefix(path, "/") || !validMethod(method) {
			return // net/http's server refuses it before any handler runs
		}
		u.RawQuery = rawQuery
		deps.Scheduler = refusingScheduler{t}
		h, err := New(deps)
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		h.Register(mux, nil)
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Method, r.URL, r.RequestURI = method, u, u.RequestURI()
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, r)
		switch c := rec.Code; {
		case c == http.StatusMovedPermanently, c == http.StatusTemporaryRedirect, c == http.StatusPermanentRedirect:
		case c >= 400 && c < 500:
		default:
			t.Fatalf("%s %s?%s without credentials answered %d: %s", method, path, rawQuery, c, rec.Body)
		}
	})
}

// validMethod is net/http's rule for a request method: a token.
func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for _, c := range m {
		if c <= ' ' || c >= 0x7f || strings.ContainsRune(`()<>@,;:\"/[]?={}`, c) {
			return false
		}
	}
	return true
}
