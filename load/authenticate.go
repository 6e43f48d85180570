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
	token, isBearer := bearerToken(r)
	session := ""
	if !isBearer && h.deps.Sessions != nil {
		login, tok, csrfOK, ok := h.deps.Sessions.SessionUser(r)
		if ok {
			if !csrfOK {
				return login, http.StatusForbidden, errors.New("the session's CSRF token is missing or wrong: send it as X-CSRF-Token")
			}
			token, session = tok, login
		}
	}
	if token == "" {
		return "", http.StatusUnauthorized, errNoCredentials
	}

	t := target{installationID: req.InstallationID, owner: req.Owner, repo: req.Repo}
	var missing error
	if req.InstallationID != 0 {
		ok, err := h.installationExists(ctx, req.InstallationID)
		if err != nil {
			status, err := lookupStatus(err)
			return session, status, err
		}
		if !ok {
			missing = fmt.Errorf("installation %d of the webhookdb app does not exist", req.InstallationID)
		}
	} else {
		id, err := h.repoInstallation(ctx, req.Owner, req.Repo)
		switch {
		case errors.Is(err, jobs.ErrNoInstallation):
			missing = errors.New(notInstalled(req.Owner, req.Repo))
		case err != nil:
			status, err := lookupStatus(err)
			return session, status, err
		}
		t.installationID = id
		req.InstallationID = id
	}
	if missing != nil {
		// Bad credentials are told as such before anything about the
		// app's installations.
		if err := h.auth.check(ctx, token, rate); err != nil {
			return session, authStatus(err), err
		}
		return session, http.StatusNotFound, missing
	}

	who, err = h.auth.authorize(ctx, token, t, rate)
	if err == nil {
		return who, 0, nil
	}
	if errors.Is(err, errForbidden) {
		if t.repo == "" {
			err = fmt.Errorf("%w: installation %d", err, t.installationID)
		} else {
			err = fmt.Errorf("%w: %s", err, t.fullName())
		}
	}
	if session != "" && errors.Is(err, errBadCredentials) {
		err = fmt.Errorf("%w: the login of %s has expired, log in again at /api/github/auth", err, session)
	}
	return session, authStatus(err), err
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

// installationExists says whether the app has installation id: stored
// first, then GitHub with the app's JWT.
func (h *Handler) installationExists(ctx context.Context, id int64) (bool, error) {
	stored, err := models.FindGithubInstallation(ctx, h.deps.DB, id, models.GithubInstallationColumns.DeletedAt)
	switch {
	case err == nil:
		// A deleted installation stays deleted: GitHub is not asked.
		return !stored.DeletedAt.Valid, nil
	case !errors.Is(err, sql.ErrNoRows):
		return false, fmt.Errorf("look up installation %d: %w", id, err)
	}
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
