package load

import (
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/webhookdb/webhookdb/internal/httpjson"
	"github.com/webhookdb/webhookdb/jobs"
	"github.com/webhookdb/webhookdb/models"
)

// statusBody is what GET /status/{scan_id} answers: the design's fields,
// for the scan and every scan it started (children), added up.
// PagesFailed and Incomplete tell a load that lost pages for good: it ends
// "done", but rows may be missing.
type statusBody struct {
	ScanID      int64      `json:"scan_id"`
	Kind        string     `json:"kind"`
	Status      string     `json:"status"`
	PagesTotal  *int       `json:"pages_total"`
	PagesDone   int        `json:"pages_done"`
	PagesFailed int        `json:"pages_failed"`
	Incomplete  bool       `json:"incomplete"`
	Items       int        `json:"items"`
	Requests    int        `json:"requests"`
	NotModified int        `json:"not_modified"`
	StartedAt   *time.Time `json:"started_at"`
	FinishedAt  *time.Time `json:"finished_at"`
	Error       *string    `json:"error"`
	// Scans counts the scan and its descendants.
	Scans int `json:"scans"`
}

// status answers GET /status/{scan_id} to a caller who may load the
// scan's target; any other caller, and any id without a scan, gets the
// same 404, so ids cannot be probed.
func (h *Handler) status(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	log := h.deps.Logger.With().Str("route", "/status/{scan_id}").Logger()
	id, err := parseID("scan id", r.PathValue("scan_id"))
	if err != nil {
		httpjson.Message(w, http.StatusBadRequest, err.Error())
		return
	}
	log = log.With().Int64("scan_id", id).Logger()
	hidden := fmt.Sprintf("there is no scan %d that these credentials may see", id)
	token, _, status, err := h.credentials(r, false)
	if err != nil {
		h.statusRefused(w, status, err, hidden, log)
		return
	}
	var rate rateLimitHeaders
	row, err := models.FindScan(ctx, h.deps.DB, id,
		models.ScanColumns.ID, models.ScanColumns.Kind, models.ScanColumns.InstallationID,
		models.ScanColumns.Owner, models.ScanColumns.Repo)
	if errors.Is(err, sql.ErrNoRows) {
		// A bad token hears 401 here too, or a missing id would tell
		// itself apart from an existing one.
		if err := h.auth.check(ctx, token, &rate); err != nil {
			rate.copyTo(w.Header())
			h.statusRefused(w, authStatus(err), err, hidden, log)
			return
		}
		rate.copyTo(w.Header())
		httpjson.Message(w, http.StatusNotFound, hidden)
		return
	}
	if err != nil {
		log.Error().Err(err).Msg("read scan")
		httpjson.Message(w, http.StatusInternalServerError, "could not read the scan")
		return
	}
	t := target{installationID: row.InstallationID.Int64, owner: row.Owner.String, repo: row.Repo.String}
	if row.Kind != jobs.CollectionRepositories && (t.owner == "" || t.repo == "") {
		// A scan of no repository and no installation: nobody's to see.
		log.Warn().Str("kind", row.Kind).Msg("status: scan has no target")
		httpjson.Message(w, http.StatusNotFound, hidden)
		return
	}
	if row.Kind == jobs.CollectionRepositories {
		t.owner, t.repo = "", ""
	}
	if _, status, err := h.authorizeTarget(ctx, token, &t, &rate); err != nil {
		rate.copyTo(w.Header())
		h.statusRefused(w, status, err, hidden, log)
		return
	}
	rate.copyTo(w.Header())
	st, err := h.deps.Scheduler.TreeStatus(ctx, id)
	if errors.Is(err, jobs.ErrNoScan) {
		httpjson.Message(w, http.StatusNotFound, hidden)
		return
	}
	if err != nil {
		log.Error().Err(err).Msg("read scan status")
		httpjson.Message(w, http.StatusInternalServerError, "could not read the scan")
		return
	}
	body := statusBody{
		ScanID: st.ID, Kind: st.Kind, Status: st.Status, PagesTotal: st.PagesTotal,
		PagesDone: st.PagesDone, PagesFailed: st.PagesFailed, Incomplete: st.Incomplete,
		Items: st.Items, Requests: st.Requests, NotModified: st.NotModified,
		StartedAt: st.StartedAt, FinishedAt: st.FinishedAt, Scans: st.Scans,
	}
	if st.Error != nil {
		// The stored text names paths and GitHub's words; it stays in the
		// log (jobs logs it when the scan or page fails).
		reason := publicReason(*st.Error)
		body.Error = &reason
		log.Debug().Str("error", *st.Error).Str("public", reason).Msg("status: error told as its public reason")
	}
	httpjson.Write(w, http.StatusOK, body)
}

// statusRefused answers a status request that may not see the scan: 401
// and 503 as for a load, any refusal of the target as the 404 of a
// missing scan.
func (h *Handler) statusRefused(w http.ResponseWriter, status int, err error, hidden string, log zerolog.Logger) {
	log.Info().Err(err).Int("status", status).Msg("status refused")
	switch status {
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="webhookdb"`)
		httpjson.Message(w, status, err.Error())
	case http.StatusForbidden, http.StatusNotFound:
		httpjson.Message(w, http.StatusNotFound, hidden)
	case http.StatusServiceUnavailable:
		var rl *rateLimited
		if errors.As(err, &rl) {
			setRetryAfter(w, rl.until, h.deps.Now())
		}
		httpjson.Message(w, status, err.Error())
	default:
		log.Error().Err(err).Msg("status: credentials could not be checked")
		httpjson.Message(w, http.StatusBadGateway, "could not check the credentials with GitHub; try again")
	}
}

// resumesAt finds the end of a rate limit in a stored error
// (jobs.RateLimitedError's text).
var resumesAt = regexp.MustCompile(`rate limit\b.*\bspent until (\S+)`)

// githubStatus finds a GitHub answer's status in a stored error: jobs'
// "GitHub answered 502" or go-github's "GET <url>: 502 ...".
var githubStatus = regexp.MustCompile(`GitHub answered [0-9]{3}|: [45][0-9]{2} `)

// publicReason is the short reason /status tells for a stored error.
func publicReason(internal string) string {
	switch {
	case strings.Contains(internal, jobs.ErrNotFound.Error()):
		return "GitHub has no such object"
	case resumesAt.MatchString(internal):
		return "rate limited, resumes at " + resumesAt.FindStringSubmatch(internal)[1]
	case internal == "installation deleted":
		return "the installation was deleted"
	case githubStatus.MatchString(internal):
		return "GitHub failed"
	}
	return "internal error"
}
