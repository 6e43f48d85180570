package load

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/rs/zerolog"

	"github.com/webhookdb/webhookdb/internal/httpjson"
	"github.com/webhookdb/webhookdb/jobs"
)

// loadHandler serves one load route: it checks the input, authenticates
// the caller, then queues a scan (202) or, with ?inline=true, syncs at once.
func (h *Handler) loadHandler(ep endpoint) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		log := h.deps.Logger.With().Str("route", ep.pattern).Str("path", r.URL.Path).Logger()
		req, err := parse(ep, r)
		if err != nil {
			log.Info().Err(err).Msg("load refused: bad input")
			httpjson.Message(w, http.StatusBadRequest, err.Error())
			return
		}
		var rate rateLimitHeaders
		who, status, err := h.authenticate(ctx, r, &req.scan, &rate)
		rate.copyTo(w.Header())
		if err != nil {
			log.Info().Err(err).Int("status", status).Str("requested_by", who).Msg("load refused")
			if status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="webhookdb"`)
			}
			var rl *rateLimited
			if errors.As(err, &rl) {
				setRetryAfter(w, rl.until, h.deps.Now())
			}
			msg := err.Error()
			if status == http.StatusBadGateway {
				// The details (database, GitHub) are in the log.
				log.Error().Err(err).Msg("load: credentials or installation could not be checked")
				msg = "could not check the credentials and the installation with GitHub; try again"
			}
			httpjson.Message(w, status, msg)
			return
		}
		req.scan.RequestedBy = who
		log = log.With().Str("requested_by", who).Str("kind", req.scan.Kind).Int64("installation", req.scan.InstallationID).Logger()

		if req.inline {
			h.inline(ctx, w, req.scan, log)
			return
		}
		id, joined, err := h.deps.Scheduler.Scan(ctx, req.scan)
		if err != nil && id == 0 {
			log.Error().Err(err).Msg("load failed: cannot queue the scan")
			httpjson.Message(w, http.StatusInternalServerError, "could not queue the scan")
			return
		}
		if err != nil {
			// The scan row exists; its first job is queued again by the
			// scheduler's sweeper.
			log.Warn().Err(err).Int64("scan_id", id).Msg("scan recorded, first job not queued yet")
		}
		log.Info().Int64("scan_id", id).Bool("joined", joined).Msg("load queued")
		answerQueued(w, r, req.scan, id)
	})
}

// inline runs req at once with the installation's token and answers with
// its outcome and the rate-limit headers of its GitHub calls.
func (h *Handler) inline(ctx context.Context, w http.ResponseWriter, req jobs.ScanRequest, log zerolog.Logger) {
	if h.deps.Inline == nil {
		httpjson.Message(w, http.StatusNotImplemented, "inline loads are not available on this server")
		return
	}
	ctx, rate := withRateLimitHeaders(ctx)
	id, err := h.deps.Inline.Sync(ctx, req)
	rate.copyTo(w.Header())
	log = log.With().Int64("scan_id", id).Logger()
	// Any rate limit GitHub answered, 403 or 429, is a 503 with
	// Retry-After, never a 502.
	rle, limited := jobs.RateLimitFromError(req.InstallationID, err)
	switch {
	case err == nil:
		log.Info().Msg("load done inline")
		httpjson.Write(w, http.StatusOK, map[string]any{"message": "success", "scan_id": id})
	case errors.Is(err, jobs.ErrNotFound):
		log.Info().Err(err).Msg("load inline: not found on GitHub")
		httpjson.Message(w, http.StatusNotFound, describe(req)+" was not found on GitHub")
	case limited:
		secs := setRetryAfter(w, rle.Until, h.deps.Now())
		if !rle.Secondary && w.Header().Get("X-RateLimit-Remaining") == "" {
			// go-github refused locally, knowing the limit: say what it knew.
			w.Header().Set("X-RateLimit-Remaining", "0")
			w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(rle.Until.Unix(), 10))
		}
		log.Warn().Err(err).Int("retry_after", secs).Msg("load inline: rate limit spent")
		httpjson.Write(w, http.StatusServiceUnavailable, map[string]any{
			"message":     fmt.Sprintf("GitHub's rate limit of the installation is spent; retry in %d seconds (the load is queued to run then)", secs),
			"retry_after": secs,
			"scan_id":     id,
		})
	case errors.Is(err, jobs.ErrNoInstallation):
		httpjson.Message(w, http.StatusNotFound, notInstalled(req.Owner, req.Repo))
	default:
		log.Error().Err(err).Msg("load inline failed")
		httpjson.Message(w, http.StatusBadGateway, "could not load "+describe(req)+" from GitHub")
	}
}

// setRetryAfter sets Retry-After to the whole seconds until t (at least 1)
// and returns them.
func setRetryAfter(w http.ResponseWriter, t, now time.Time) int {
	secs := int(math.Ceil(t.Sub(now).Seconds()))
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	return secs
}

// describe names what req loads, for messages.
func describe(req jobs.ScanRequest) string {
	repo := req.Owner + "/" + req.Repo
	switch req.Kind {
	case jobs.JobSyncPullRequest:
		return fmt.Sprintf("pull request %s#%d", repo, req.Number)
	case jobs.JobSyncIssue:
		return fmt.Sprintf("issue %s#%d", repo, req.Number)
	case jobs.JobSyncMilestone:
		return fmt.Sprintf("milestone %d of %s", req.Number, repo)
	case jobs.JobSyncLabel:
		return fmt.Sprintf("label %q of %s", req.Name, repo)
	}
	return repo
}

func notInstalled(owner, repo string) string {
	return fmt.Sprintf("the webhookdb app is not installed on %s/%s", owner, repo)
}
