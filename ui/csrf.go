package ui

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"
)

// CSRFHeader and CSRFField carry the CSRF token of a session request.
const (
	CSRFHeader = "X-CSRF-Token"
	CSRFField  = "csrf_token"
)

// CSRFToken is the CSRF token of r's session ("" without a login). Pages
// put it in forms (csrf_token) or scripts send it as X-CSRF-Token.
func (u *UI) CSRFToken(r *http.Request) string {
	if !u.hasSession(r.Context()) {
		return ""
	}
	nonce := u.Sessions.GetString(r.Context(), keyCSRFNonce)
	if nonce == "" {
		return ""
	}
	return u.csrfFor(nonce)
}

func (u *UI) csrfFor(nonce string) string {
	m := hmac.New(sha256.New, u.key)
	m.Write([]byte("csrf:" + nonce))
	return hex.EncodeToString(m.Sum(nil))
}

// CheckCSRF says whether r carries its session's CSRF token in the
// X-CSRF-Token header or the csrf_token form field.
func (u *UI) CheckCSRF(r *http.Request) bool {
	want := u.CSRFToken(r)
	if want == "" {
		return false
	}
	got := r.Header.Get(CSRFHeader)
	if got == "" {
		ct := r.Header.Get("Content-Type")
		if strings.HasPrefix(ct, "application/x-www-form-urlencoded") || strings.HasPrefix(ct, "multipart/form-data") {
			got = r.PostFormValue(CSRFField)
		}
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}
