package load

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/webhookdb/webhookdb/internal/httpjson"
	"github.com/webhookdb/webhookdb/jobs"
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

func (h *Handler) status(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id, err := parseID("scan id", r.PathValue("scan_id"))
	if err != nil {
		httpjson.Message(w, http.StatusBadRequest, err.Error())
		return
	}
	st, err := h.deps.Scheduler.TreeStatus(ctx, id)
	if errors.Is(err, jobs.ErrNoScan) {
		httpjson.Message(w, http.StatusNotFound, fmt.Sprintf("there is no scan %d", id))
		return
	}
	if err != nil {
		h.deps.Logger.Error().Err(err).Int64("scan_id", id).Msg("read scan status")
		httpjson.Message(w, http.StatusInternalServerError, "could not read the scan")
		return
	}
	body := statusBody{
		ScanID: st.ID, Kind: st.Kind, Status: st.Status, PagesTotal: st.PagesTotal,
		PagesDone: st.PagesDone, PagesFailed: st.PagesFailed, Incomplete: st.Incomplete,
		Items: st.Items, Requests: st.Requests, NotModified: st.NotModified,
		StartedAt: st.StartedAt, FinishedAt: st.FinishedAt, Error: st.Error, Scans: st.Scans,
	}
	httpjson.Write(w, http.StatusOK, body)
}
