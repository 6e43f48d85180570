package load

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"

	"github.com/webhookdb/webhookdb/jobs"
	"github.com/webhookdb/webhookdb/models"
)

// authenticate finds the caller and checks that it may load what req
// names. It fills req.InstallationID and returns who asked, or the status
// to answer with and why.
func (h *Handler) authenticate(ctx context.Context, r *http.Request, req *jobs.ScanRequest, rate *rateLimitHeaders) (who string, status int, err error) {
	token, session, status, err := h.credentials(r, true)
	if err != nil {
		return session, status, err
	}
	t := target{installationID: req.InstallationID, owner: req.Owner, repo: req.Repo}
	who, status, err = h.authorizeTarget(ctx, token, &t, rate)
	req.InstallationID = t.installationID
	if err != nil {
		if session != "" && errors.Is(err, errBadCredentials) {
			err = fmt.Errorf("%w: the login of %s has expired, log in again at /api/github/auth", err, session)
		}
		return session, status, err
	}
	return who, 0, nil
}

// credentials reads the caller's token: Authorization: Bearer, else the
// UI session's, which must carry its CSRF token when csrf is set (a load
// changes state; reading a status does not). session is the session's
// login, if any.
func (h *Handler) credentials(r *http.Request, csrf bool) (token, session string, status int, err error) {
	token, isBearer := bearerToken(r)
	if !isBearer && h.deps.Sessions != nil {
		login, tok, csrfOK, ok := h.deps.Sessions.SessionUser(r)
		if ok {
			if csrf && !csrfOK {
				return "", login, http.StatusForbidden, errors.New("the session's CSRF token is missing or wrong: send it as X-CSRF-Token")
			}
			token, session = tok, login
		}
	}
	if token == "" {
		return "", session, http.StatusUnauthorized, errNoCredentials
	}
	return token, session, 0, nil
}

// authorizeTarget checks that token may load t, filling in the
// installation of a repository target. A token GitHub refused within the
// last minute is refused again without asking GitHub.
func (h *Handler) authorizeTarget(ctx context.Context, token string, t *target, rate *rateLimitHeaders) (string, int, error) {
	if h.auth.wasRefused(token) {
		return "", http.StatusUnauthorized, errBadCredentials
	}
	if t.repo == "" {
		return h.authorizeInstallation(ctx, token, *t, rate)
	}
	return h.authorizeRepo(ctx, token, t, rate)
}

// authorizeRepo: GitHub must first show the caller the repository, with
// the caller's own token and budget; one it does not show answers 404 as
// one that does not exist, and the app's installations are not looked up
// (nor its budget spent) for such a caller.
func (h *Handler) authorizeRepo(ctx context.Context, token string, t *target, rate *rateLimitHeaders) (string, int, error) {
	if !h.auth.confirmed(token, *t) {
		if err := h.auth.visible(ctx, token, t.owner, t.repo, rate); err != nil {
			if errors.Is(err, errNotVisible) {
				return "", http.StatusNotFound, errors.New(notVisible(t.owner, t.repo))
			}
			return "", authStatus(err), err
		}
	}
	id, err := h.repoInstallation(ctx, t.owner, t.repo)
	switch {
	case errors.Is(err, jobs.ErrNoInstallation):
		// The caller sees the repository: saying so tells it nothing new.
		return "", http.StatusNotFound, errors.New(notInstalled(t.owner, t.repo))
	case err != nil:
		status, err := lookupStatus(err)
		return "", status, err
	}
	t.installationID = id
	who, err := h.auth.authorize(ctx, token, *t, rate)
	if err != nil {
		if errors.Is(err, errForbidden) {
			err = fmt.Errorf("%w: %s", err, t.fullName())
		}
		return "", authStatus(err), err
	}
	return who, 0, nil
}

// authorizeInstallation: the token must prove the whole installation
// (authorizer.proveInstallation, or a user GitHub lists under it). An
// installation not stored is asked of GitHub only for a token GitHub
// accepts, so garbage costs the app nothing.
func (h *Handler) authorizeInstallation(ctx context.Context, token string, t target, rate *rateLimitHeaders) (string, int, error) {
	exists, known, err := h.storedInstallation(ctx, t.installationID)
	if err != nil {
		return "", http.StatusBadGateway, err
	}
	checked := false
	if !known {
		if err := h.auth.check(ctx, token, rate); err != nil {
			return "", authStatus(err), err
		}
		checked = true
		if exists, err = h.githubHasInstallation(ctx, t.installationID); err != nil {
			status, err := lookupStatus(err)
			return "", status, err
		}
	}
	if !exists {
		// Bad credentials are told as such before anything about the
		// app's installations.
		if !checked {
			if err := h.auth.check(ctx, token, rate); err != nil {
				return "", authStatus(err), err
			}
		}
		return "", http.StatusNotFound, fmt.Errorf("installation %d of the webhookdb app does not exist", t.installationID)
	}
	who, err := h.auth.authorize(ctx, token, t, rate)
	if err != nil {
		if errors.Is(err, errForbidden) {
			err = fmt.Errorf("%w: installation %d", err, t.installationID)
		}
		return "", authStatus(err), err
	}
	return who, 0, nil
}

// authStatus is the answer to an authentication failure.
func authStatus(err error) int {
	var rl *rateLimited
	switch {
	case errors.Is(err, errBadCredentials):
		return http.StatusUnauthorized
	case errors.Is(err, errForbidden):
		return http.StatusForbidden
	case errors.As(err, &rl):
		return http.StatusServiceUnavailable
	}
	return http.StatusBadGateway
}

// lookupStatus is the answer to a failed look-up of the app's
// installations: 503 when GitHub rate-limited the app, else 502.
func lookupStatus(err error) (int, error) {
	if rl, ok := jobs.RateLimitFromError(0, err); ok {
		return http.StatusServiceUnavailable, &rateLimited{until: rl.Until, of: "the app", cause: err}
	}
	return http.StatusBadGateway, err
}

// repoInstallation finds the installation covering owner/repo: the stored
// mapping first, then GitHub with the app's JWT. jobs.ErrNoInstallation
// when none does.
func (h *Handler) repoInstallation(ctx context.Context, owner, repo string) (int64, error) {
	return jobs.InstallationFor(ctx, h.deps.DB, h.deps.GitHub, owner, repo)
}

// storedInstallation says whether installation id is stored (known) and
// then whether it is live; a deleted installation stays deleted and GitHub
// is not asked.
func (h *Handler) storedInstallation(ctx context.Context, id int64) (exists, known bool, err error) {
	stored, err := models.FindGithubInstallation(ctx, h.deps.DB, id, models.GithubInstallationColumns.DeletedAt)
	switch {
	case err == nil:
		return !stored.DeletedAt.Valid, true, nil
	case errors.Is(err, sql.ErrNoRows):
		return false, false, nil
	}
	return false, false, fmt.Errorf("look up installation %d: %w", id, err)
}

// githubHasInstallation asks GitHub, with the app's JWT, whether the app
// has installation id.
func (h *Handler) githubHasInstallation(ctx context.Context, id int64) (bool, error) {
	if h.deps.GitHub == nil {
		return false, nil
	}
	app, err := h.deps.GitHub.NewAppClient()
	if err != nil {
		return false, fmt.Errorf("app client: %w", err)
	}
	_, _, err = app.Apps.GetInstallation(ctx, id)
	if err != nil {
		if classify(err) == http.StatusNotFound {
			return false, nil
		}
		return false, fmt.Errorf("ask GitHub for installation %d: %w", id, err)
	}
	return true, nil
}

// notVisible is the answer for a repository GitHub does not show the
// caller: the same words whether it does not exist, is private, or has no
// installation of the app.
func notVisible(owner, repo string) string {
	return fmt.Sprintf("the webhookdb app is not installed on %s/%s, or these credentials cannot see it", owner, repo)
}
