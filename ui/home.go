package ui

import (
	"errors"
	"html/template"
	"net/http"
)

var homePage = template.Must(template.New("home").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>webhookdb</title></head>
<body>
<h1>webhookdb</h1>
{{if .Login}}<p>Logged in as <strong>{{.Login}}</strong>.</p>
<meta name="csrf-token" content="{{.CSRF}}">
<form method="post" action="{{.LogoutRoute}}"><input type="hidden" name="csrf_token" value="{{.CSRF}}"><button type="submit">Log out</button></form>
{{else if .AuthRoute}}<p>Not logged in. <a href="{{.AuthRoute}}">Log in with GitHub</a>.</p>
{{else}}<p>Not logged in. Login with GitHub is not configured on this server.</p>
{{end}}</body></html>
`))

func (u *UI) home(w http.ResponseWriter, r *http.Request) {
	data := struct{ Login, CSRF, AuthRoute, LogoutRoute string }{LogoutRoute: LogoutRoute}
	if u.deps.GitHubConfig.OAuth.ClientID != "" {
		data.AuthRoute = AuthRoute
	}
	login, _, ok, err := u.userToken(r)
	switch {
	case errors.Is(err, errLoginEnded) && data.AuthRoute != "":
		// The login could not be renewed: through GitHub's login again.
		http.Redirect(w, r, AuthRoute, http.StatusFound)
		return
	case err != nil && !errors.Is(err, errLoginEnded):
		u.deps.Logger.Error().Err(err).Msg("read the session's user")
		http.Error(w, "session store unavailable", http.StatusInternalServerError)
		return
	case ok:
		data.Login = login
		data.CSRF = u.CSRFToken(r)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := homePage.Execute(w, data); err != nil {
		u.deps.Logger.Warn().Err(err).Msg("render home page")
	}
}
