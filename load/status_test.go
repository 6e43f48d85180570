package load

import (
	"net/http"
	"strconv"
	"testing"
)

// TestStatusIncomplete: a scan that lost pages for good ends "done" with
// incomplete set (jobs' fan-in); /status must say so, for the scan itself
// and for a load whose child scan lost pages, or a caller polling to
// "done" cannot tell that rows are missing.
func TestStatusIncomplete(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	insert := func(kind string, parent *int64, incomplete bool, pagesDone, pagesFailed int, errText *string) int64 {
		t.Helper()
		var id int64
		err := env.DB.QueryRow(`
			INSERT INTO scan (kind, scan_key, owner, repo, parent_scan_id, status, incomplete, pages_total, pages_done, pages_failed, started_at, finished_at, error)
			VALUES ($1, $1::text || random()::text, 'org-0', 'repo-0', $2, 'done', $3, $4::int + $5::int, $4, $5, now(), now(), $6)
			RETURNING id`, kind, parent, incomplete, pagesDone, pagesFailed, errText).Scan(&id)
		if err != nil {
			t.Fatalf("insert scan: %v", err)
		}
		return id
	}
	lost := "page 3 of scan: GitHub answered 502"
	complete := insert("labels", nil, false, 2, 0, nil)
	alone := insert("pull_requests", nil, true, 2, 1, &lost)
	parent := insert("sync_repository", nil, false, 1, 0, nil)
	insert("labels", &parent, false, 1, 0, nil)
	insert("pull_requests", &parent, true, 4, 1, &lost)

	tests := []struct {
		name        string
		id          int64
		incomplete  bool
		pagesFailed float64
		wantErr     bool
	}{
		{"complete scan", complete, false, 0, false},
		{"scan that lost a page", alone, true, 1, true},
		{"load whose child scan lost a page", parent, true, 1, true},
	}
	tok := h.gh.InstallationToken(h.inst0)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := h.do(t, nil, http.MethodGet, "/status/"+strconv.FormatInt(tc.id, 10), "Authorization", "Bearer "+tok)
			if a.code != http.StatusOK {
				t.Fatalf("got %d %s", a.code, a.raw)
			}
			if a.body["status"] != "done" {
				t.Errorf("status %v, want done", a.body["status"])
			}
			if got, _ := a.body["incomplete"].(bool); got != tc.incomplete {
				t.Errorf("incomplete %v, want %v: %s", a.body["incomplete"], tc.incomplete, a.raw)
			}
			if got, _ := a.body["pages_failed"].(float64); got != tc.pagesFailed {
				t.Errorf("pages_failed %v, want %v: %s", a.body["pages_failed"], tc.pagesFailed, a.raw)
			}
			// The stored error is told as its public reason only.
			if msg, _ := a.body["error"].(string); (msg == "GitHub failed") != tc.wantErr {
				t.Errorf("error %v, want the lost page's public reason: %v", a.body["error"], tc.wantErr)
			}
		})
	}
}
