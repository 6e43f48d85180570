package readapi

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// docsURL is where GitHub's error answers point; ours point at the same
// documentation, since the paths and shapes are GitHub's.
const docsURL = "https://docs.github.com/rest"

// ReplicatedAtHeader says when the data of an answer was last replicated:
// the newest last_replicated_at of the rows it was built from.
const ReplicatedAtHeader = "X-Webhookdb-Replicated-At"

// apiError is an answer other than 200, with GitHub's JSON shape.
type apiError struct {
	status  int
	message string
	errors  []fieldError
}

// fieldError is one entry of a 422's "errors", as GitHub writes them.
type fieldError struct {
	Resource string `json:"resource,omitempty"`
	Field    string `json:"field"`
	Code     string `json:"code"`
	Message  string `json:"message,omitempty"`
}

func (e *apiError) Error() string { return e.message }

func notFound() *apiError { return &apiError{status: http.StatusNotFound, message: "Not Found"} }

// invalid is GitHub's 422 for a value it does not take.
func invalid(resource, field, value string) *apiError {
	return &apiError{status: http.StatusUnprocessableEntity, message: "Validation Failed",
		errors: []fieldError{{Resource: resource, Field: field, Code: "invalid", Message: field + " " + quote(value) + " is not valid"}}}
}

// unsupported is our 422 for a parameter or value GitHub takes and
// webhookdb does not: a made-up answer would be worse than none.
func unsupported(field, what string) *apiError {
	return &apiError{status: http.StatusUnprocessableEntity,
		message: "webhookdb does not support " + what + " (see docs/read-api.md)",
		errors:  []fieldError{{Field: field, Code: "unsupported"}}}
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// writeError answers status with {"message", "documentation_url"}.
func writeError(w http.ResponseWriter, status int, message string) {
	writeAPIError(w, &apiError{status: status, message: message})
}

func writeAPIError(w http.ResponseWriter, e *apiError) {
	body := map[string]any{"message": e.message, "documentation_url": docsURL}
	if len(e.errors) > 0 {
		body["errors"] = e.errors
	}
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", itoa(len(b)))
	w.WriteHeader(e.status)
	_, _ = w.Write(b)
}

// writeJSON answers 200 with body, its ETag, and 304 without a body when
// the client already holds that ETag.
func writeJSON(w http.ResponseWriter, r *http.Request, body []byte, replicatedAt time.Time) {
	sum := sha256.Sum256(body)
	etag := `W/"` + hex.EncodeToString(sum[:16]) + `"`
	h := w.Header()
	h.Set("ETag", etag)
	h.Set("Cache-Control", "private, max-age=60, s-maxage=60")
	h.Set("Vary", "Accept, Authorization, Cookie")
	if !replicatedAt.IsZero() {
		h.Set(ReplicatedAtHeader, replicatedAt.UTC().Format(time.RFC3339Nano))
	}
	if etagMatches(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// etagMatches compares If-None-Match with etag weakly, as RFC 9110 says
// If-None-Match does: W/"x" and "x" match.
func etagMatches(header, etag string) bool {
	if header == "" {
		return false
	}
	want := strings.TrimPrefix(etag, "W/")
	for _, part := range strings.Split(header, ",") {
		part = strings.TrimSpace(part)
		if part == "*" || strings.TrimPrefix(part, "W/") == want {
			return true
		}
	}
	return false
}
