package handlers

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"
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

// FuzzWebhook sends arbitrary bodies, event names, delivery ids, content
// types and signature headers straight into the handler (a panic would
// fail the fuzz rather than be recovered by net/http). It never panics,
// never writes without a valid signature (401), and answers a signed body
// with 200, 202 or 400: a payload the database refuses for its values is
// bad input too, never a 5xx.
//
// sig is the X-Hub-Signature-256 header as sent, except two markers:
// sigValid sends the body's true signature, "" sends no header.
func FuzzWebhook(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(payloadsDir, "*", "*.json"))
	for _, path := range files {
		body, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		event := filepath.Base(filepath.Dir(path))
		f.Add(event, "d", body, sigValid, uint8(0))
		f.Add(event, "d", body, sign("wrong "+testSecret, body), uint8(0))
	}
	for _, e := range fuzzEvents {
		f.Add(e, "d", []byte(`{}`), sigValid, uint8(1))
	}
	f.Add("issues", "d", []byte(`{"action":"opened","issue":{"id":1,"number":1,"title":"\u0000","state":"open"},"repository":{"id":1,"name":"r","full_name":"o/r","owner":{"id":2,"login":"o"}}}`), sigValid, uint8(0))
	f.Add("issues", "d", []byte(`{"action":"opened","issue":{"id":1e30}}`), sigValid, uint8(0))
	f.Add("ping", "d", []byte(`[]`), sigValid, uint8(0))
	f.Add("ping", "d", []byte(`null`), sigValid, uint8(0))
	f.Add("star", "d", []byte(`{"zen":"x"}`), "", uint8(0))
	f.Add("star", "d", []byte(`{"zen":"x"}`), "sha256=", uint8(0))
	f.Add("star", "d", []byte(`{"zen":"x"}`), "sha1=00", uint8(0))
	f.Add("star", "d", []byte(`{"zen":"x"}`), "sha256=zz", uint8(0))
	f.Add("", "", []byte(`{}`), sigValid, uint8(0))
	f.Add("st\x00ar", "d\x00", []byte(`{}`), sigValid, uint8(0))
	f.Add("\xff\xfe", "\xff", []byte(`{"action":"\u0000"}`), sigValid, uint8(0))
	f.Add("star", "d", []byte(`payload=%7B%7D`), sigValid, uint8(2))
	f.Add("star", "d", []byte(`payload=%ZZ`), sigValid, uint8(2))

	h := newHarness(f, harnessOptions{quiet: true})
	var seq int
	f.Fuzz(func(t *testing.T, event, delivery string, body []byte, sig string, contentType uint8) {
		seq++
		req := httptest.NewRequest(http.MethodPost, "/replication", bytes.NewReader(body))
		req.Header.Set("Content-Type", fuzzContentTypes[int(contentType)%len(fuzzContentTypes)])
		req.Header.Set("X-GitHub-Event", event)
		// Unique, so that a signed delivery is stored rather than a duplicate.
		req.Header.Set("X-GitHub-Delivery", delivery+"-"+strconv.Itoa(seq))
		signed := sig == sigValid
		switch {
		case signed:
			req.Header.Set(github.SHA256SignatureHeader, sign(testSecret, body))
		case sig != "":
			if sign(testSecret, body) == sig {
				signed = true // the fuzzer found the signature: fine
			}
			req.Header.Set(github.SHA256SignatureHeader, sig)
		}
		before := writtenRows(t)
		rec := httptest.NewRecorder()
		h.handler.ServeHTTP(rec, req)
		if !signed {
			if rec.Code != http.StatusUnauthorized {
				t.Fatalf("signature %q answered %d, want 401", sig, rec.Code)
			}
			if after := writtenRows(t); after != before {
				t.Fatalf("bad signature wrote %d rows", after-before)
			}
			return
		}
		switch rec.Code {
		case http.StatusOK, http.StatusAccepted, http.StatusBadRequest:
		default:
			t.Fatalf("signed %q body answered %d: %s", event, rec.Code, rec.Body)
		}
	})
}

// sigValid, as FuzzWebhook's sig, stands for the body's true signature.
const sigValid = "valid"

// fuzzContentTypes are the Content-Type headers FuzzWebhook sends: GitHub's
// two and two it never sends.
var fuzzContentTypes = []string{"application/json", "", "application/x-www-form-urlencoded", "text/plain; charset=\x00"}

// TestWebhookFuzzFindings pins what FuzzWebhook found, with exact codes:
// signed deliveries whose headers PostgreSQL or Prometheus refuse are bad
// input (400, not a 500 or a panic), and an ignored event whose JSON jsonb
// refuses is still recorded as ignored (202), without its payload.
func TestWebhookFuzzFindings(t *testing.T) {
	h := newHarness(t, harnessOptions{quiet: true})
	tests := []struct {
		name, event, delivery, body string
		want                        int
		wantStatus                  string // of the recorded delivery; "" for none
	}{
		{"NUL in the event", "st\x00ar", "nul-event", `{}`, http.StatusBadRequest, ""},
		{"event not UTF-8", "\xff\xfe", "utf8-event", `{}`, http.StatusBadRequest, ""},
		{"NUL in the delivery id", "star", "nul\x00delivery", `{}`, http.StatusBadRequest, ""},
		{"long delivery id", "star", strings.Repeat("d", maxHeaderText+1), `{}`, http.StatusBadRequest, ""},
		{"ignored event, NUL in its JSON", "star", "nul-payload", `{"action":"created","x":"\u0000"}`, http.StatusAccepted, StatusIgnored},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := []byte(tc.body)
			req := httptest.NewRequest(http.MethodPost, "/replication", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-GitHub-Event", tc.event)
			req.Header.Set("X-GitHub-Delivery", tc.delivery)
			req.Header.Set(github.SHA256SignatureHeader, sign(testSecret, body))
			rec := httptest.NewRecorder()
			h.handler.ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Fatalf("answered %d (%s), want %d", rec.Code, rec.Body, tc.want)
			}
			var status string
			var hasPayload bool
			err := env.DB.QueryRow(`SELECT status, payload IS NOT NULL FROM webhook_delivery WHERE delivery_id = $1`,
				strings.ToValidUTF8(strings.ReplaceAll(tc.delivery, "\x00", ""), "")).Scan(&status, &hasPayload)
			if tc.wantStatus == "" {
				if err == nil {
					t.Fatalf("a refused delivery was recorded as %s", status)
				}
				return
			}
			if err != nil {
				t.Fatalf("read delivery: %v", err)
			}
			if status != tc.wantStatus || hasPayload {
				t.Fatalf("recorded %s with payload %v, want %s without", status, hasPayload, tc.wantStatus)
			}
		})
	}
}
