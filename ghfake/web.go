package ghfake

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ---- OAuth web flow ----

// oauthAuthorize approves at once as the configured user (there is no one
// to click) and redirects back with code and state, as GitHub does after
// the user clicks Authorize.
func (s *Server) oauthAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != s.opts.OAuthClientID {
		http.Error(w, "The client_id is not valid.", http.StatusNotFound)
		return
	}
	redirect := q.Get("redirect_uri")
	if redirect == "" {
		http.Error(w, "redirect_uri is required by ghfake", http.StatusBadRequest)
		return
	}
	s.ctl.mu.Lock()
	login := s.ctl.oauthUser
	s.ctl.mu.Unlock()
	s.mu.RLock()
	var u *account
	if login != "" {
		u = s.w.accountsByLogin[strings.ToLower(login)]
	} else {
		for _, a := range s.w.accounts {
			if !a.isOrg {
				u = a
				break
			}
		}
	}
	s.mu.RUnlock()
	if u == nil {
		http.Error(w, "ghfake: no user to log in as (seed one or SetOAuthUser)", http.StatusForbidden)
		return
	}
	code := randomHex(10)
	s.ctl.mu.Lock()
	s.ctl.codes[code] = oauthCode{userID: u.id, state: q.Get("state")}
	s.ctl.mu.Unlock()
	target, err := url.Parse(redirect)
	if err != nil {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	tq := target.Query()
	tq.Set("code", code)
	if st := q.Get("state"); st != "" {
		tq.Set("state", st)
	}
	target.RawQuery = tq.Encode()
	http.Redirect(w, r, target.String(), http.StatusFound)
}

// oauthErrorURI is where GitHub's token endpoint errors point.
const oauthErrorURI = "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/"

// oauthAccessToken is GitHub's token endpoint: it exchanges a code
// (grant_type absent or authorization_code) or a refresh token
// (grant_type=refresh_token) for a user token that expires, with a
// one-use refresh token. It answers JSON or a form by Accept, and its
// errors with 200 and an error body, as GitHub does.
func (s *Server) oauthAccessToken(w http.ResponseWriter, r *http.Request) {
	p := oauthParams(r)
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = p.Get("client_id"), p.Get("client_secret")
	}
	answer := func(v map[string]any) {
		if strings.Contains(r.Header.Get("Accept"), "json") {
			writeJSON(w, http.StatusOK, enc(v))
			return
		}
		f := url.Values{}
		for k, x := range v {
			f.Set(k, fmt.Sprint(x))
		}
		w.Header().Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		_, _ = io.WriteString(w, f.Encode())
	}
	fail := func(code, desc, anchor string) {
		answer(map[string]any{"error": code, "error_description": desc, "error_uri": oauthErrorURI + anchor})
	}
	if id != s.opts.OAuthClientID || secret != s.opts.OAuthClientSecret {
		fail("incorrect_client_credentials", "The client_id and/or client_secret passed are incorrect.", "#incorrect-client-credentials")
		return
	}
	var g userGrant
	switch p.Get("grant_type") {
	case "", "authorization_code":
		code := p.Get("code")
		s.ctl.mu.Lock()
		c, found := s.ctl.codes[code]
		delete(s.ctl.codes, code)
		s.ctl.mu.Unlock()
		if !found {
			fail("bad_verification_code", "The code passed is incorrect or expired.", "#bad-verification-code")
			return
		}
		g = s.ctl.mintUserToken(c.userID)
	case "refresh_token":
		if g, ok = s.ctl.refreshUserToken(p.Get("refresh_token")); !ok {
			fail("bad_refresh_token", "The refresh token passed is incorrect or expired.", "")
			return
		}
	default:
		fail("unsupported_grant_type", "The grant type passed is not supported.", "")
		return
	}
	answer(map[string]any{"access_token": g.access, "token_type": "bearer", "scope": "",
		"expires_in": g.expiresIn, "refresh_token": g.refresh, "refresh_token_expires_in": g.refreshExpiresIn})
}

// oauthParams reads the token request's parameters from the query and a
// form or JSON body, all of which GitHub takes. An unreadable body leaves
// its parameters out, so the request fails as one without them would.
func oauthParams(r *http.Request) url.Values {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/json" {
		_ = r.ParseForm()
		return r.Form
	}
	v := r.URL.Query()
	var body map[string]any
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err == nil {
		for k, x := range body {
			v.Set(k, fmt.Sprint(x))
		}
	}
	return v
}

// ---- control routes for scripts ----

// ControlRequest is the JSON body of POST /_fake/{action}. Actions:
// open-pull, open-issue, close, reopen, merge, synchronize, comment, label,
// unlabel, install, uninstall, add-repos, remove-repos, expire-tokens,
// reset-rate-limits, spend-rate-limit, ping, seed, simulate, webhook-url.
type ControlRequest struct {
	Owner          string       `json:"owner"`
	Repo           string       `json:"repo"`
	Number         int          `json:"number"`
	Title          string       `json:"title"`
	Body           string       `json:"body"`
	User           string       `json:"user"`
	Label          string       `json:"label"`
	Account        string       `json:"account"`
	Repos          []string     `json:"repos"`
	InstallationID int64        `json:"installation_id"`
	Token          string       `json:"token"`
	URL            string       `json:"url"`
	Seed           *SeedOptions `json:"seed"`
	Steps          int          `json:"steps"` // simulate
}

func (s *Server) control(w http.ResponseWriter, r *http.Request) {
	var req ControlRequest
	if r.ContentLength != 0 {
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil && err != io.EOF {
			writeJSON(w, http.StatusBadRequest, enc(map[string]string{"message": "bad JSON: " + err.Error()}))
			return
		}
	}
	ctx := r.Context()
	var by []Option
	if req.User != "" {
		by = append(by, By(req.User))
	}
	var obj any
	var d *Delivery
	var err error
	switch r.PathValue("action") {
	case "open-pull":
		obj, d, err = s.OpenPullRequest(ctx, req.Owner, req.Repo, NewPull{Title: req.Title, Body: req.Body, User: req.User})
	case "open-issue":
		obj, d, err = s.OpenIssue(ctx, req.Owner, req.Repo, NewIssue{Title: req.Title, Body: req.Body, User: req.User})
	case "close":
		obj, d, err = s.CloseIssue(ctx, req.Owner, req.Repo, req.Number, by...)
	case "reopen":
		obj, d, err = s.ReopenIssue(ctx, req.Owner, req.Repo, req.Number, by...)
	case "merge":
		obj, d, err = s.MergePullRequest(ctx, req.Owner, req.Repo, req.Number, by...)
	case "synchronize":
		obj, d, err = s.SynchronizePullRequest(ctx, req.Owner, req.Repo, req.Number, by...)
	case "comment":
		obj, d, err = s.CreateIssueComment(ctx, req.Owner, req.Repo, req.Number, req.Body, by...)
	case "label":
		obj, d, err = s.LabelIssue(ctx, req.Owner, req.Repo, req.Number, req.Label, by...)
	case "unlabel":
		obj, d, err = s.UnlabelIssue(ctx, req.Owner, req.Repo, req.Number, req.Label, by...)
	case "install":
		obj, d, err = s.InstallApp(ctx, req.Account, req.Repos, by...)
	case "uninstall":
		d, err = s.UninstallApp(ctx, req.InstallationID, by...)
	case "add-repos":
		d, err = s.AddInstallationRepos(ctx, req.InstallationID, req.Repos, by...)
	case "remove-repos":
		d, err = s.RemoveInstallationRepos(ctx, req.InstallationID, req.Repos, by...)
	case "expire-tokens":
		s.ExpireTokens()
	case "reset-rate-limits":
		s.ResetRateLimits()
	case "spend-rate-limit":
		s.SpendRateLimit(req.Token)
	case "ping":
		d = s.Ping(ctx)
	case "seed":
		if req.Seed == nil {
			req.Seed = &SeedOptions{}
		}
		err = s.Seed(*req.Seed)
		obj = s.World().Size()
	case "simulate":
		var ds []*Delivery
		ds, err = s.Simulate(ctx, ActivityOptions{Seed: time.Now().UnixNano(), Steps: req.Steps, Owner: req.Owner})
		obj = map[string]int{"deliveries": len(ds)}
	case "webhook-url":
		s.SetWebhookURL(req.URL)
	default:
		writeJSON(w, http.StatusNotFound, enc(map[string]string{"message": "unknown action " + r.PathValue("action")}))
		return
	}
	if err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, enc(map[string]string{"message": err.Error()}))
		return
	}
	out := map[string]any{"object": obj}
	if d != nil {
		out["delivery"] = map[string]any{"id": d.ID, "guid": d.GUID, "event": d.Event, "action": d.Action, "status_code": d.StatusCode, "error": d.Error,
			"duration": fmt.Sprint(d.Duration.Round(time.Microsecond))}
	}
	writeJSON(w, http.StatusOK, enc(out))
}
