package handlers

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// fuzzEvents are the events a fuzzed body is sent as: every handled one
// and one nobody handles.
var fuzzEvents = []string{
	"ping", "installation", "installation_repositories", "repository", "issues", "issue_comment", "label",
	"milestone", "pull_request", "pull_request_review", "pull_request_review_comment", "member", "star",
}

// writtenRows counts the rows a delivery can write.
func writtenRows(t testing.TB) int {
	t.Helper()
	var n int
	q := "SELECT 0"
	for _, tb := range replicaTables {
		q += " + (SELECT count(*) FROM " + tb + ")"
	}
	if err := env.DB.QueryRow(q).Scan(&n); err != nil {
		t.Fatalf("count rows: %v", err)
	}
	return n
}

// FuzzWebhook sends arbitrary bodies as every event, signed and unsigned,
// straight into the handler (a panic would fail the fuzz rather than be
// recovered by net/http). It never panics, never writes for a bad
// signature, and answers a signed body with 200, 202 or 400, or with 500
// only when the database refused it for a reason other than the data.
func FuzzWebhook(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(payloadsDir, "*", "*.json"))
	for _, path := range files {
		body, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		event := filepath.Base(filepath.Dir(path))
		for i, e := range fuzzEvents {
			if e == event {
				f.Add(uint8(i), body, true)
				f.Add(uint8(i), body, false)
			}
		}
	}
	f.Add(uint8(4), []byte(`{"action":"opened","issue":{"id":1,"number":1,"title":"\u0000","state":"open"},"repository":{"id":1,"name":"r","full_name":"o/r","owner":{"id":2,"login":"o"}}}`), true)
	f.Add(uint8(4), []byte(`{"action":"opened","issue":{"id":1e30}}`), true)
	f.Add(uint8(0), []byte(`[]`), true)
	f.Add(uint8(0), []byte(`null`), true)
	f.Add(uint8(12), []byte(`{"zen":"x"}`), false)

	h := newHarness(f, harnessOptions{quiet: true})
	var seq int
	f.Fuzz(func(t *testing.T, eventIdx uint8, body []byte, signed bool) {
		event := fuzzEvents[int(eventIdx)%len(fuzzEvents)]
		seq++
		req := httptest.NewRequest(http.MethodPost, "/replication", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", event)
		req.Header.Set("X-GitHub-Delivery", "fuzz-"+strconv.Itoa(seq))
		if signed {
			req.Header.Set("X-Hub-Signature-256", sign(testSecret, body))
		} else {
			// The signature of other bytes, or of these bytes with another key.
			req.Header.Set("X-Hub-Signature-256", sign("wrong "+testSecret, body))
		}
		before := writtenRows(t)
		rec := httptest.NewRecorder()
		h.handler.ServeHTTP(rec, req)
		if !signed {
			if rec.Code != http.StatusUnauthorized {
				t.Fatalf("bad signature answered %d, want 401", rec.Code)
			}
			if after := writtenRows(t); after != before {
				t.Fatalf("bad signature wrote %d rows", after-before)
			}
			return
		}
		switch rec.Code {
		case http.StatusOK, http.StatusAccepted, http.StatusBadRequest:
		default:
			t.Fatalf("signed %s body answered %d: %s", event, rec.Code, rec.Body)
		}
	})
}
