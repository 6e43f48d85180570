package readapi

import (
	"io"

	"encoding/json"
	"github.com/rs/zerolog"
	"net/url"
	"strings"
	"testing"
)

// FuzzReads sends arbitrary paths and query strings under a replicated
// repository, with a token GitHub confirmed: whatever they are, the
// answer is GitHub-shaped JSON with a status a client can act on, never
// a 5xx (a panic or an unhandled database error would be one).
func FuzzReads(f *testing.F) {
	r := newReplica(f, func(d *Deps) {
		d.RateLimit = 1 << 30
		// A fuzz target may not log through f; the failure says enough.
		d.Logger = zerolog.New(io.Discard)
	})
	tok := r.token("org-0")
	for _, seed := range [][2]string{
		{"pulls", "state=all&per_page=100"},
		{"pulls", "head=org-0:&base=&sort=popularity&direction=asc"},
		{"pulls/1/files", "page=0&per_page=-1"},
		{"pulls/1/comments", "since=2020-01-01T00:00:00Z&sort=updated"},
		{"issues", "labels=a,,b&milestone=*&assignee=none&creator=%00"},
		{"issues", "since=not-a-time"},
		{"issues/comments", "sort=created&direction=desc&page=99999"},
		{"issues/1", ""},
		{"labels/%E2%9C%93", ""},
		{"milestones", "state=all&sort=completeness"},
		{"../../users/user-0", ""},
		{"pulls/99999999999999999999", ""},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, path, query string) {
		if strings.ContainsAny(path, "?#") || len(path)+len(query) > 4096 {
			return
		}
		u := "/repos/org-0/repo-0/" + path
		if query != "" {
			u += "?" + query
		}
		if _, err := url.Parse(u); err != nil || strings.IndexFunc(query, func(c rune) bool { return c <= ' ' || c == 0x7f }) >= 0 {
			return // no client can send it (net/http's server refuses it before us)
		}
		in := *r // the same replica, failing this input's test
		in.t = t
		resp, body := in.get(u, tok)
		switch resp.StatusCode {
		case 200, 301, 304, 404, 422:
		default:
			t.Fatalf("GET %s: %d %s", u, resp.StatusCode, body)
		}
		if resp.StatusCode != 304 && resp.StatusCode != 301 && !json.Valid(body) {
			t.Fatalf("GET %s: %d, not JSON: %.200s", u, resp.StatusCode, body)
		}
	})
}
