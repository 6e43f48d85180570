package ui

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
)

// User is the logged-in user of r's session: login and a GitHub user
// access token, renewed first if it was about to expire. ok is false
// without a login, and when the login could not be renewed (the session
// is then ended). r must have passed through Sessions.LoadAndSave.
func (u *UI) User(r *http.Request) (login, token string, ok bool) {
	login, token, ok, err := u.userToken(r)
	if err != nil && !errors.Is(err, errLoginEnded) {
		u.deps.Logger.Error().Err(err).Msg("read the session's user")
	}
	return login, token, ok && err == nil
}

// hasSession says whether the session middleware ran for ctx; scs panics
// on a context it did not load.
func (u *UI) hasSession(ctx context.Context) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	u.Sessions.Status(ctx)
	return true
}

// SessionUser is what the load endpoints ask of a request's session: the
// logged-in user's login and access token (renewed as User does), and
// whether the request carries the session's CSRF token. ok is false
// without a logged-in session, or when its login has ended.
func (u *UI) SessionUser(r *http.Request) (login, token string, csrfOK, ok bool) {
	login, token, ok = u.User(r)
	if !ok {
		return "", "", false, false
	}
	return login, token, u.CheckCSRF(r), true
}

// seal encrypts the user's GitHub token for the session row, so the
// sessions table alone does not give it away.
func (u *UI) seal(plain string) (string, error) {
	aead, err := u.aead()
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("random nonce: %w", err)
	}
	return hex.EncodeToString(aead.Seal(nonce, nonce, []byte(plain), []byte(keyToken))), nil
}

// open decrypts what seal made; ok is false for anything else (a session
// from before a change of the session key).
func (u *UI) open(sealed string) (string, bool) {
	raw, err := hex.DecodeString(sealed)
	if err != nil || sealed == "" {
		return "", false
	}
	aead, err := u.aead()
	if err != nil || len(raw) < aead.NonceSize() {
		return "", false
	}
	plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(keyToken))
	if err != nil {
		return "", false
	}
	return string(plain), true
}

func (u *UI) aead() (cipher.AEAD, error) {
	m := hmac.New(sha256.New, u.key)
	m.Write([]byte("session token encryption"))
	block, err := aes.NewCipher(m.Sum(nil))
	if err != nil {
		return nil, fmt.Errorf("session token cipher: %w", err)
	}
	return cipher.NewGCM(block)
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random bytes: %w", err)
	}
	return hex.EncodeToString(b), nil
}
