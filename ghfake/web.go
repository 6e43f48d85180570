package ghfake

import (
	"encoding/json"
	"fmt"
	"io"
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

// oauthAccessToken exchanges a code for a user token, answering JSON or a
// form by Accept, as GitHub does.
func (s *Server) oauthAccessToken(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	answer := func(v map[string]string) {
		if strings.Contains(r.Header.Get("Accept"), "json") {
			writeJSON(w, http.StatusOK, enc(v))
			return
		}
		f := url.Values{}
		for k, x := range v {
			f.Set(k, x)
		}
		w.Header().Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		_, _ = io.WriteString(w, f.Encode())
	}
	if id != s.opts.OAuthClientID || secret != s.opts.OAuthClientSecret {
		answer(map[string]string{"error": "incorrect_client_credentials", "error_description": "The client_id and/or client_secret passed are incorrect.",
			"error_uri": "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#incorrect-client-credentials"})
		return
	}
	code := r.PostForm.Get("code")
	s.ctl.mu.Lock()
	c, found := s.ctl.codes[code]
	delete(s.ctl.codes, code)
	s.ctl.mu.Unlock()
	if !found {
		answer(map[string]string{"error": "bad_verification_code", "error_description": "The code passed is incorrect or expired.",
			"error_uri": "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#bad-verification-code"})
		return
	}
	tok := s.ctl.mintUserToken(c.userID)
	answer(map[string]string{"access_token": tok, "token_type": "bearer", "scope": ""})
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
