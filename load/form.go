package load

import (
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/webhookdb/webhookdb/internal/httpjson"
	"github.com/webhookdb/webhookdb/jobs"
)

// A load button of the UI is a plain HTML form posting to the load
// endpoint itself, so that it works without JavaScript. Such a post wants
// to land back on a page, not on a JSON answer: it is told apart from an
// API client by its body and what it accepts (browserForm), and answered
// 303 See Other to the page it came from with the scan id (?scan=N) for the
// page to show. Scripts (the UI's app.js) and API clients ask for JSON and
// keep the 202.

// RedirectField is the form field that asks for the 303 whatever the
// request accepts (redirect=1); a client that cannot set Accept uses it.
const RedirectField = "redirect"

// browserForm says whether r is a browser's form post: an
// application/x-www-form-urlencoded (or multipart) body, no bearer token,
// and either Accept naming text/html but not application/json (what
// browsers send for a form submission; fetch with Accept:
// application/json does not qualify) or the form field redirect=1.
func browserForm(r *http.Request) bool {
	if _, bearer := bearerToken(r); bearer {
		return false
	}
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (ct != "application/x-www-form-urlencoded" && ct != "multipart/form-data") {
		return false
	}
	// The body was read for the CSRF field already; ParseForm again is free.
	if v := r.PostFormValue(RedirectField); v == "1" || v == "true" {
		return true
	}
	accept := strings.ToLower(r.Header.Get("Accept"))
	return strings.Contains(accept, "text/html") && !strings.Contains(accept, "application/json")
}

// formTarget is the UI page a browser's load returns to: the repository's
// page, or the home page for an installation load.
func formTarget(req jobs.ScanRequest) string {
	if req.Owner == "" || req.Repo == "" {
		return "/"
	}
	return "/repos/" + url.PathEscape(req.Owner) + "/" + url.PathEscape(req.Repo)
}

// answerQueued answers a queued load: 303 to the page for a browser's
// form post, else 202 with the scan id and Location: /status/N.
func answerQueued(w http.ResponseWriter, r *http.Request, req jobs.ScanRequest, id int64) {
	sid := strconv.FormatInt(id, 10)
	if browserForm(r) {
		http.Redirect(w, r, formTarget(req)+"?scan="+sid, http.StatusSeeOther)
		return
	}
	w.Header().Set("Location", "/status/"+sid)
	httpjson.Write(w, http.StatusAccepted, map[string]any{"message": "queued", "scan_id": id})
}
