package ui

import "net/http"

// LogoutRoute ends the session (POST, with the session's CSRF token).
const LogoutRoute = "/logout"

// maxLogoutBody bounds the form a log-out reads: it holds one token.
const maxLogoutBody = 4 << 10

// logout destroys the session and sends the browser home. It needs the
// session's CSRF token, so another site cannot log a user out.
func (u *UI) logout(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxLogoutBody)
	if !u.CheckCSRF(r) {
		http.Error(w, "log-out needs the session's CSRF token", http.StatusForbidden)
		return
	}
	login := u.Sessions.GetString(r.Context(), keyLogin)
	if err := u.Sessions.Destroy(r.Context()); err != nil {
		u.deps.Logger.Error().Err(err).Str("login", login).Msg("log out: destroy the session")
		http.Error(w, "session store unavailable", http.StatusInternalServerError)
		return
	}
	u.deps.Logger.Info().Str("login", login).Msg("user logged out")
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
