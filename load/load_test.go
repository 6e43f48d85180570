package load

import (
	"database/sql"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// scanRow is the part of a scan row the load endpoints decide.
type scanRow struct {
	kind, owner, repo, requestedBy, params string
	installationID                         int64
	number                                 int
}

func readScan(t *testing.T, id int64) scanRow {
	t.Helper()
	var s scanRow
	var owner, repo, by sql.NullString
	var inst sql.NullInt64
	var number sql.NullInt32
	err := env.DB.QueryRow(`SELECT kind, owner, repo, requested_by, installation_id, number, params::text FROM scan WHERE id = $1`, id).
		Scan(&s.kind, &owner, &repo, &by, &inst, &number, &s.params)
	if err != nil {
		t.Fatalf("read scan %d: %v", id, err)
	}
	s.owner, s.repo, s.requestedBy, s.installationID, s.number = owner.String, repo.String, by.String, inst.Int64, int(number.Int32)
	return s
}

func scanID(t *testing.T, a answer) int64 {
	t.Helper()
	if a.code != http.StatusAccepted {
		t.Fatalf("want 202, got %d: %s", a.code, a.raw)
	}
	if a.body["message"] != "queued" {
		t.Fatalf("want message queued, got %s", a.raw)
	}
	f, ok := a.body["scan_id"].(float64)
	if !ok || f <= 0 {
		t.Fatalf("no scan_id in %s", a.raw)
	}
	id := int64(f)
	if loc := a.header.Get("Location"); loc != "/status/"+strconv.FormatInt(id, 10) {
		t.Fatalf("Location %q, want /status/%d", loc, id)
	}
	return id
}

// TestQueuedEndpoints: every load route answers 202 with a scan of the
// right kind, a second identical request joins it, /status reads it, and
// the same route on a repository without the app answers 404.
func TestQueuedEndpoints(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	tok := h.gh.InstallationToken(h.inst0)
	instBy := fmt.Sprintf("installation:%d", h.inst0)
	tests := []struct {
		path     string
		kind     string
		number   int
		params   string // substring of scan.params
		repoless bool
	}{
		{path: fmt.Sprintf("/load/installations/%d", h.inst0), kind: "repositories", repoless: true, params: `"children": true`},
		{path: "/load/repos/org-0/repo-0", kind: "sync_repository"},
		{path: "/load/repos/org-0/repo-0?children=true", kind: "sync_repository", params: `"children": true`},
		{path: "/load/repos/org-0/repo-0/pulls", kind: "pull_requests"},
		{path: "/load/repos/org-0/repo-0/pulls?state=open&children=true", kind: "pull_requests", params: `"state": "open"`},
		{path: "/load/repos/org-0/repo-0/pulls/1", kind: "sync_pull_request", number: 1},
		{path: "/load/repos/org-0/repo-0/pulls/1/files", kind: "pull_request_files", number: 1},
		{path: "/load/repos/org-0/repo-0/issues?state=closed", kind: "issues", params: `"state": "closed"`},
		{path: "/load/repos/org-0/repo-0/issues/2", kind: "sync_issue", number: 2},
		{path: "/load/repos/org-0/repo-0/issues/comments", kind: "issue_comments"},
		{path: "/load/repos/org-0/repo-0/labels", kind: "labels"},
		{path: "/load/repos/org-0/repo-0/labels/bug%20fix", kind: "sync_label", params: `"name": "bug fix"`},
		{path: "/load/repos/org-0/repo-0/milestones", kind: "milestones"},
		{path: "/load/repos/org-0/repo-0/milestones/1", kind: "sync_milestone", number: 1},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			if _, err := env.DB.Exec(`DELETE FROM scan`); err != nil {
				t.Fatal(err)
			}
			id := scanID(t, h.post(t, tc.path, tok))
			got := readScan(t, id)
			if got.kind != tc.kind || got.requestedBy != instBy || got.installationID != h.inst0 || got.number != tc.number {
				t.Errorf("scan = %+v, want kind %s requested_by %s installation %d number %d", got, tc.kind, instBy, h.inst0, tc.number)
			}
			if !tc.repoless && (got.owner != "org-0" || got.repo != "repo-0") {
				t.Errorf("scan of %s/%s, want org-0/repo-0", got.owner, got.repo)
			}
			if tc.params != "" && !strings.Contains(got.params, tc.params) {
				t.Errorf("scan params %s, want %s in them", got.params, tc.params)
			}

			// The same request while the first is queued joins it.
			if again := scanID(t, h.post(t, tc.path, tok)); again != id {
				t.Errorf("second identical request: scan %d, want the running %d", again, id)
			}
			if n := scanCount(t); n != 1 {
				t.Errorf("%d scans, want 1", n)
			}

			st := h.do(t, nil, http.MethodGet, "/status/"+strconv.FormatInt(id, 10), "Authorization", "Bearer "+tok)
			if st.code != http.StatusOK || st.body["status"] != "queued" {
				t.Errorf("status: %d %s, want 200 queued", st.code, st.raw)
			}
			for _, f := range []string{"status", "pages_total", "pages_done", "items", "requests", "not_modified", "started_at", "finished_at", "error"} {
				if _, ok := st.body[f]; !ok {
					t.Errorf("status has no %q: %s", f, st.raw)
				}
			}
		})
	}

	// 404: the same routes where the app is not installed.
	for _, tc := range tests {
		path := strings.Replace(tc.path, "org-0/repo-0", "loner/solo", 1)
		if tc.repoless {
			path = "/load/installations/987654321"
		}
		t.Run("404 "+path, func(t *testing.T) {
			before := scanCount(t)
			a := h.post(t, path, tok)
			if a.code != http.StatusNotFound {
				t.Fatalf("want 404, got %d: %s", a.code, a.raw)
			}
			msg, _ := a.body["message"].(string)
			if !strings.Contains(msg, "not installed") && !strings.Contains(msg, "does not exist") {
				t.Errorf("message %q does not say the app is not installed", msg)
			}
			if n := scanCount(t); n != before {
				t.Errorf("a scan was created")
			}
		})
	}
}

func TestStatus(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	tests := []struct {
		path string
		code int
	}{
		{"/status/0", http.StatusBadRequest},
		{"/status/abc", http.StatusBadRequest},
		{"/status/-3", http.StatusBadRequest},
		{"/status/424242", http.StatusNotFound},
	}
	tok := h.gh.InstallationToken(h.inst0)
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			a := h.do(t, nil, http.MethodGet, tc.path, "Authorization", "Bearer "+tok)
			if a.code != tc.code || a.body["message"] == nil {
				t.Errorf("got %d %s, want %d with a message", a.code, a.raw, tc.code)
			}
		})
	}
}

// TestMethods: the load routes take POST only, /status GET only; others
// answer 405 naming the allowed method.
func TestMethods(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	tests := []struct {
		method, path, allow string
	}{
		{http.MethodGet, "/load/repos/org-0/repo-0", "POST"},
		{http.MethodPut, "/load/repos/org-0/repo-0/pulls/1", "POST"},
		{http.MethodDelete, "/load/installations/1", "POST"},
		{http.MethodGet, "/load/repos/org-0/repo-0/issues/comments", "POST"},
		{http.MethodPost, "/status/1", "GET"},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			a := h.do(t, nil, tc.method, tc.path)
			if a.code != http.StatusMethodNotAllowed {
				t.Fatalf("got %d, want 405", a.code)
			}
			if !strings.Contains(a.header.Get("Allow"), tc.allow) {
				t.Errorf("Allow %q, want %s in it", a.header.Get("Allow"), tc.allow)
			}
		})
	}
	if n := scanCount(t); n != 0 {
		t.Errorf("%d scans created", n)
	}
}

// TestBadInput: every input GitHub would not allow answers 400 naming it,
// before anything is queued, even with valid credentials.
func TestBadInput(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	tok := h.gh.InstallationToken(h.inst0)
	long := strings.Repeat("a", 40)
	tests := []struct {
		path string
		says string // in the message
	}{
		{"/load/repos/-org/repo-0", "owner"},
		{"/load/repos/org_0/repo-0", "owner"},
		{"/load/repos/" + long + "/repo-0", "owner"},
		{"/load/repos/org.0/repo-0", "owner"},
		{"/load/repos/org-0/re%20po", "repo"},
		{"/load/repos/org-0/" + strings.Repeat("r", 101), "repo"},
		{"/load/repos/org-0/re$po/pulls", "repo"},
		{"/load/repos/org-0/repo-0/pulls/0", "number"},
		{"/load/repos/org-0/repo-0/pulls/-1", "number"},
		{"/load/repos/org-0/repo-0/pulls/1.5", "number"},
		{"/load/repos/org-0/repo-0/pulls/+7", "number"},
		{"/load/repos/org-0/repo-0/pulls/abc/files", "number"},
		{"/load/repos/org-0/repo-0/pulls/99999999999", "number"},
		{"/load/repos/org-0/repo-0/issues/x", "number"},
		{"/load/repos/org-0/repo-0/milestones/0", "number"},
		{"/load/installations/0", "installation id"},
		{"/load/installations/org-0", "installation id"},
		{"/load/repos/org-0/repo-0/pulls?state=merged", "state"},
		{"/load/repos/org-0/repo-0/issues?state=", "state"},
		{"/load/repos/org-0/repo-0?children=yes", "children"},
		{"/load/repos/org-0/repo-0/pulls/1?inline=maybe", "inline"},
		{"/load/repos/org-0/repo-0?page=2", `"page"`},
		{"/load/repos/org-0/repo-0/issues?children=true", `"children"`},
		{"/load/repos/org-0/repo-0/labels?state=open", `"state"`},
		{"/load/repos/org-0/repo-0/pulls/1/files?inline=true", `"inline"`},
		{"/load/installations/1?children=true", `"children"`},
		{"/load/repos/org-0/repo-0/pulls?state=open&state=closed", "state"},
		{"/load/repos/org-0/repo-0/issues?full=maybe", "full"},
		{"/load/repos/org-0/repo-0/issues/2?full=true", `"full"`},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			a := h.post(t, tc.path, tok)
			if a.code != http.StatusBadRequest {
				t.Fatalf("got %d %s, want 400", a.code, a.raw)
			}
			msg, _ := a.body["message"].(string)
			if !strings.Contains(msg, tc.says) {
				t.Errorf("message %q does not name %s", msg, tc.says)
			}
		})
	}
	if n := scanCount(t); n != 0 {
		t.Errorf("%d scans created by bad input", n)
	}
	if keys := h.redisKeys(t); len(keys) != 0 {
		t.Errorf("bad input queued work in Redis: %v", keys)
	}
	// The body is ignored: a good request with a body still queues.
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/load/repos/org-0/repo-0", strings.NewReader(`{"state":"bogus"}`))
	req.Header.Set("Authorization", "token "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Errorf("request with a body: %d, want 202", resp.StatusCode)
	}
}

// TestNames: GitHub's account and repository name rules, including the
// dot names a client cannot send through a cleaned URL path.
func TestNames(t *testing.T) {
	tests := []struct {
		owner, repo string
		ok          bool
	}{
		{"org-0", "repo-0", true},
		{"A1", "my.repo_name-2", true},
		{strings.Repeat("a", 39), strings.Repeat("r", 100), true},
		{"-org", "r", false},
		{"org_0", "r", false},
		{strings.Repeat("a", 40), "r", false},
		{"", "r", false},
		{"o", "", false},
		{"o", ".", false},
		{"o", "..", false},
		{"o", "...", true},
		{"o", strings.Repeat("r", 101), false},
		{"o", "a/b", false},
		{"o", "émoji", false},
	}
	for _, tc := range tests {
		err := checkOwner(tc.owner)
		if err == nil {
			err = checkRepo(tc.repo)
		}
		if (err == nil) != tc.ok {
			t.Errorf("%q/%q: err %v, want ok=%v", tc.owner, tc.repo, err, tc.ok)
		}
	}
}
