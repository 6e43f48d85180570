package ui

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The pages are html/template files embedded in the binary (templates/),
// each rendered inside templates/base.html (the header every page shares);
// the CSS and the little JavaScript are embedded too (static/), so the UI
// works offline and needs no CDN.

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static/*
var staticFiles embed.FS

// StaticPrefix is where the embedded CSS and JavaScript are served.
const StaticPrefix = "/static/"

// templates are the parsed pages by name ("home", "repo", ...): base.html
// with one page file each. Built once by New; never changed after.
type templates map[string]*template.Template

var templateFuncs = template.FuncMap{
	// ago says how long before now t was, for freshness ("5 minutes ago").
	"ago": func(t time.Time) string { return agoText(time.Since(t)) },
	// percent is done of total as a whole percentage (0 when total is 0).
	"percent": func(done, total int) int {
		if total <= 0 {
			return 0
		}
		return done * 100 / total
	},
}

// parseTemplates parses base.html with each other page file.
func parseTemplates() (templates, error) {
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("list the page templates: %w", err)
	}
	out := templates{}
	for _, n := range names {
		if n == "templates/base.html" {
			continue
		}
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		t, err := template.New("base.html").Funcs(templateFuncs).ParseFS(templateFiles, "templates/base.html", n)
		if err != nil {
			return nil, fmt.Errorf("parse page %s: %w", name, err)
		}
		out[name] = t
	}
	if len(out) == 0 {
		return nil, errors.New("no page templates embedded")
	}
	return out, nil
}

// page is what base.html reads of every page; Data is the page's own.
type page struct {
	Title string
	// Login is the logged-in user ("" when anonymous); CSRF the token
	// every form posts as csrf_token.
	Login, CSRF string
	// AuthRoute is the login route ("" when login is not configured);
	// LogoutRoute the log-out form's action.
	AuthRoute, LogoutRoute string
	// InstallURL is the app's installation page on GitHub ("" when the
	// app's slug is not known).
	InstallURL string
	Data       any
}

// render writes page name with status, as HTML. A template error after
// the header is sent can only be logged.
func (u *UI) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	t, ok := u.tmpl[name]
	if !ok {
		u.deps.Logger.Error().Str("page", name).Msg("no such page template")
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	p.LogoutRoute = LogoutRoute
	if u.deps.GitHubConfig.OAuth.ClientID != "" {
		p.AuthRoute = AuthRoute
	}
	p.InstallURL = u.installURL(r.Context())
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := t.ExecuteTemplate(w, "base.html", p); err != nil {
		u.deps.Logger.Warn().Err(err).Str("page", name).Msg("render page")
	}
}

// installURL is the app's page on GitHub where an organization installs
// it: <web_url>/apps/<slug>/installations/new ("" while the slug is not
// known).
func (u *UI) installURL(ctx context.Context) string {
	slug := u.appSlug(ctx)
	if slug == "" {
		return ""
	}
	web := strings.TrimRight(u.deps.GitHubConfig.WebURL, "/")
	if web == "" {
		web = "https://github.com"
	}
	return web + "/apps/" + url.PathEscape(slug) + "/installations/new"
}

// notFound answers 404 with the page layout: the same for a repository
// that does not exist and one the user cannot reach.
func (u *UI) notFound(w http.ResponseWriter, r *http.Request, p page) {
	p.Title = "Not found"
	u.render(w, r, http.StatusNotFound, "notfound", p)
}

// static serves the embedded CSS and JavaScript.
func staticHandler() http.Handler {
	sub, err := fs.Sub(staticFiles, "static")
	if err != nil {
		panic(err) // the embed pattern above guarantees the directory
	}
	files := http.StripPrefix(StaticPrefix, http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	})
}

// agoText is a duration as people say it.
func agoText(d time.Duration) string {
	switch {
	case d < 0:
		return "just now"
	case d < time.Minute:
		if s := int(d.Seconds()); s != 1 {
			return fmt.Sprintf("%d seconds ago", s)
		}
		return "1 second ago"
	case d < 2*time.Minute:
		return "a minute ago"
	case d < time.Hour:
		return fmt.Sprintf("%d minutes ago", int(d.Minutes()))
	case d < 2*time.Hour:
		return "an hour ago"
	case d < 48*time.Hour:
		return fmt.Sprintf("%d hours ago", int(d.Hours()))
	}
	return fmt.Sprintf("%d days ago", int(d.Hours()/24))
}
