package ui

import (
	"crypto/subtle"
	"net/http"

	"github.com/alexedwards/scs/v2"
)

// StateStore keeps the OAuth state in the scs/v2 session, since
// go-githubapp's SessionStateStore only fits scs v1. A state is random,
// used once, and compared in constant time.
type StateStore struct {
	Sessions *scs.SessionManager
}

// GenerateState makes a new random state and remembers it in the session.
func (s *StateStore) GenerateState(w http.ResponseWriter, r *http.Request) (string, error) {
	state, err := randomHex(32)
	if err != nil {
		return "", err
	}
	s.Sessions.Put(r.Context(), keyState, state)
	return state, nil
}

// VerifyState checks state against the session's, which it forgets.
func (s *StateStore) VerifyState(r *http.Request, state string) (bool, error) {
	want := s.Sessions.PopString(r.Context(), keyState)
	if want == "" || state == "" {
		return false, nil
	}
	return subtle.ConstantTimeCompare([]byte(want), []byte(state)) == 1, nil
}
