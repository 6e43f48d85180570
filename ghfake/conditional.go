package ghfake

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
)

// Conditional requests as GitHub answers them. An ETag is bound to the
// token that received it (GitHub support, eclipse-csi/otterdog#201 and
// github/docs#34689): another token's ETag misses, and installation tokens
// live an hour, so a rotation makes every stored ETag worthless. What
// survives a rotation is Last-Modified, which GitHub sends on objects and
// lists that have an updated_at (the newest one) and compares with
// If-Modified-Since whoever asks, at a second's resolution.

// etagOf is the ETag of body as the requester c receives it.
func etagOf(c *reqCtx, body []byte) string {
	// Tokens are told apart by their value; the app (whose JWT is minted
	// anew every few minutes) and anonymous callers by their principal.
	who := c.principal
	if c.tok != nil {
		who = "token:" + c.tok.value
	}
	h := sha256.New()
	h.Write([]byte(who))
	h.Write([]byte{0})
	// A fast hash of the body first: bodies run to megabytes, the
	// binding to the token needs only its digest.
	var sum [12]byte
	b := strconv.AppendUint(sum[:0], xxhash.Sum64(body), 16)
	b = strconv.AppendInt(b, int64(len(body)), 16)
	h.Write(b)
	return `W/"` + hex.EncodeToString(h.Sum(nil)[:16]) + `"`
}

// lastModifiedOf is the newest top-level updated_at of body (an object,
// or the items of a list); false when there is none (labels, files,
// reviews have no updated_at, and GitHub sends no Last-Modified for them).
func lastModifiedOf(body []byte) (time.Time, bool) {
	key := []byte(`"updated_at":"`)
	// updated_at of the object itself is at depth 1; of a list's items
	// at depth 2. Nested objects (a pull request's repositories, an
	// issue's milestone) are deeper and do not count.
	want := 1
	if len(body) > 0 && body[0] == '[' {
		want = 2
	}
	var newest time.Time
	depth, inStr := 0, false
	for i := 0; i < len(body); i++ {
		ch := body[i]
		if inStr {
			switch ch {
			case '\\':
				i++
			case '"':
				inStr = false
			}
			continue
		}
		switch ch {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		case '"':
			if depth == want && bytes.HasPrefix(body[i:], key) {
				start := i + len(key)
				end := bytes.IndexByte(body[start:], '"')
				if end < 0 {
					return newest, !newest.IsZero()
				}
				if t, err := time.Parse(time.RFC3339Nano, string(body[start:start+end])); err == nil && t.After(newest) {
					newest = t
				}
				i = start + end
				continue
			}
			inStr = true
		}
	}
	return newest, !newest.IsZero()
}

// notModified says whether r's validators match the answer (etag, and
// lastMod when hasLM): If-None-Match decides when sent (RFC 9110 13.2.2),
// else If-Modified-Since, compared at GitHub's resolution of a second.
func notModified(r *http.Request, etag string, lastMod time.Time, hasLM bool) bool {
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		return etagMatch(inm, etag)
	}
	ims := r.Header.Get("If-Modified-Since")
	if ims == "" || !hasLM {
		return false
	}
	since, err := http.ParseTime(ims)
	if err != nil {
		return false
	}
	return !lastMod.Truncate(time.Second).After(since)
}

func etagMatch(header, etag string) bool {
	strip := func(s string) string { return strings.TrimPrefix(strings.TrimSpace(s), "W/") }
	for _, v := range strings.Split(header, ",") {
		if strings.TrimSpace(v) == "*" || strip(v) == strip(etag) {
			return true
		}
	}
	return false
}
