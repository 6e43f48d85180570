package ui

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/google/go-github/v60/github"
	"github.com/volatiletech/null/v8"
	"github.com/volatiletech/sqlboiler/v4/boil"
	"github.com/volatiletech/sqlboiler/v4/queries/qm"

	"github.com/webhookdb/webhookdb/models"
)

// The deliveries page lists the recent webhook deliveries of the
// installations the user can reach, filtered by status, and redelivers a
// failed one through GitHub's delivery log with the app's JWT.

// deliveriesShown is how many deliveries the page lists.
const deliveriesShown = 100

// redeliverPages bounds how many pages (of 100) of GitHub's delivery log
// a redelivery reads looking for the GUID: older deliveries than that are
// left to the periodic catch-up.
const redeliverPages = 5

// deliveryStatuses are the statuses the filter offers ("" is all).
var deliveryStatuses = []string{"processed", "stale", "ignored", "failed"}

type deliveriesData struct {
	Status     string   // the filter ("" all)
	Statuses   []string // the filter's choices
	Deliveries []deliveryView
	// Flash is the outcome of a redelivery (from the 303's query); Bad
	// says it failed.
	Flash string
	Bad   bool
}

// deliveries serves GET /deliveries[?status=S].
func (u *UI) deliveries(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	login, token, ok := u.pageUser(w, r)
	if !ok {
		return
	}
	re, err := u.reach(ctx, login, token)
	if err != nil {
		u.deps.Logger.Error().Err(err).Str("login", login).Msg("deliveries page: what the user can reach")
		http.Error(w, "could not ask GitHub which installations you can reach; try again", http.StatusBadGateway)
		return
	}
	q := r.URL.Query()
	d := &deliveriesData{Statuses: deliveryStatuses}
	for _, s := range deliveryStatuses {
		if q.Get("status") == s {
			d.Status = s
		}
	}
	d.Flash, d.Bad = redeliverFlash(q)
	if d.Deliveries, err = u.readDeliveries(ctx, re, d.Status); err != nil {
		u.deps.Logger.Error().Err(err).Str("login", login).Msg("deliveries page")
		http.Error(w, "could not read the deliveries", http.StatusInternalServerError)
		return
	}
	u.render(w, r, http.StatusOK, "deliveries", page{Title: "Deliveries", Login: login, CSRF: u.CSRFToken(r), Data: d})
}

// redeliverFlash is the message of a redelivery's 303: the query names
// the outcome and the GUID, the words are the server's own.
func redeliverFlash(q url.Values) (string, bool) {
	switch {
	case q.Get("redelivered") != "":
		return "Asked GitHub to redeliver " + q.Get("redelivered") + ".", false
	case q.Get("not_in_log") != "":
		return "GitHub's delivery log no longer lists " + q.Get("not_in_log") + " among its recent deliveries: it cannot be redelivered from here.", true
	case q.Get("redeliver_failed") != "":
		return "GitHub refused to redeliver " + q.Get("redeliver_failed") + "; try again later.", true
	}
	return "", false
}

// readDeliveries lists the newest deliveries of re's installations, with
// the repository's full name where the replica or GitHub's answer has it.
func (u *UI) readDeliveries(ctx context.Context, re *reach, status string) ([]deliveryView, error) {
	ids := make([]int64, 0, len(re.Installations))
	names := map[int64]string{}
	for _, in := range re.Installations {
		ids = append(ids, in.ID)
		for _, rr := range in.Repos {
			names[rr.ID] = rr.Owner + "/" + rr.Name
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	mods := []qm.QueryMod{
		qm.Where(models.WebhookDeliveryColumns.InstallationID+" = ANY(?)", ids),
		qm.OrderBy(models.WebhookDeliveryColumns.ReceivedAt + " DESC"), qm.Limit(deliveriesShown),
	}
	if status != "" {
		mods = append(mods, models.WebhookDeliveryWhere.Status.EQ(status))
	}
	rows, err := models.WebhookDeliveries(mods...).All(ctx, u.deps.DB)
	if err != nil {
		return nil, fmt.Errorf("read the deliveries of installations %v: %w", ids, err)
	}
	var repoIDs []int64
	for _, row := range rows {
		if row.RepoID.Valid {
			repoIDs = append(repoIDs, row.RepoID.Int64)
		}
	}
	if len(repoIDs) > 0 {
		repos, err := models.GithubRepositories(qm.Select(models.GithubRepositoryColumns.ID, models.GithubRepositoryColumns.FullName),
			qm.Where(models.GithubRepositoryColumns.ID+" = ANY(?)", repoIDs)).All(ctx, u.deps.DB)
		if err != nil {
			return nil, fmt.Errorf("read the repositories of the deliveries: %w", err)
		}
		for _, r := range repos {
			names[r.ID] = r.FullName
		}
	}
	out := make([]deliveryView, 0, len(rows))
	for _, row := range rows {
		v := newDeliveryView(row)
		v.Repo = names[row.RepoID.Int64]
		out = append(out, v)
	}
	return out, nil
}

// redeliver serves POST /deliveries/{guid}/redeliver: CSRF first (403),
// then the delivery must be of an installation the user can reach (else
// 404, as for a GUID that does not exist); GitHub's log is searched for
// the GUID and its newest attempt redelivered, and a catch-up request is
// recorded first so the redelivery is ordered by the original time.
func (u *UI) redeliver(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if !u.CheckCSRF(r) {
		http.Error(w, "the CSRF token is missing or wrong: reload the page and try again", http.StatusForbidden)
		return
	}
	login, token, ok := u.pageUser(w, r)
	if !ok {
		return
	}
	p := page{Login: login, CSRF: u.CSRFToken(r)}
	guid := r.PathValue("guid")
	log := u.deps.Logger.With().Str("login", login).Str("guid", guid).Logger()
	re, err := u.reach(ctx, login, token)
	if err != nil {
		log.Error().Err(err).Msg("redeliver: what the user can reach")
		http.Error(w, "could not ask GitHub which installations you can reach; try again", http.StatusBadGateway)
		return
	}
	row, err := models.FindWebhookDelivery(ctx, u.deps.DB, guid)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		u.notFound(w, r, p)
		return
	case err != nil:
		log.Error().Err(err).Msg("redeliver: read the delivery")
		http.Error(w, "could not read the delivery", http.StatusInternalServerError)
		return
	}
	if !row.InstallationID.Valid || !reachesInstallation(re, row.InstallationID.Int64) {
		u.notFound(w, r, p)
		return
	}
	back := url.Values{}
	if s := r.PostFormValue("status"); s != "" {
		for _, known := range deliveryStatuses {
			if s == known {
				back.Set("status", s)
			}
		}
	}
	outcome, err := u.askRedelivery(ctx, row)
	if err != nil {
		log.Error().Err(err).Msg("redeliver")
	} else {
		log.Info().Str("outcome", outcome).Msg("redelivery asked for")
	}
	back.Set(outcome, guid)
	http.Redirect(w, r, "/deliveries?"+back.Encode(), http.StatusSeeOther)
}

// reachesInstallation says whether installation id is among re's.
func reachesInstallation(re *reach, id int64) bool {
	for _, in := range re.Installations {
		if in.ID == id {
			return true
		}
	}
	return false
}

// askRedelivery finds row's GUID in GitHub's delivery log and asks GitHub
// to redeliver it. The outcome names the 303's query key: redelivered,
// not_in_log or redeliver_failed (with the error).
func (u *UI) askRedelivery(ctx context.Context, row *models.WebhookDelivery) (string, error) {
	if u.deps.GitHub == nil {
		return "redeliver_failed", errors.New("the GitHub app is not configured")
	}
	app, err := u.deps.GitHub.NewAppClient()
	if err != nil {
		return "redeliver_failed", fmt.Errorf("app client: %w", err)
	}
	attempts, err := findAttempts(ctx, app, row.DeliveryID)
	if err != nil {
		return "redeliver_failed", err
	}
	if len(attempts) == 0 {
		return "not_in_log", nil
	}
	req, err := u.recordCatchup(ctx, row, attempts)
	if err != nil {
		return "redeliver_failed", err
	}
	_, res, err := app.Apps.RedeliverHookDelivery(ctx, req.GithubDeliveryID)
	var accepted *github.AcceptedError
	if err == nil || errors.As(err, &accepted) {
		return "redelivered", nil
	}
	outcome := "redeliver_failed"
	if res != nil && res.StatusCode == http.StatusNotFound {
		outcome = "not_in_log"
	}
	req.Error = null.StringFrom(err.Error())
	if _, uerr := req.Update(ctx, u.deps.DB, boil.Whitelist(models.CatchupRequestColumns.Error)); uerr != nil {
		return outcome, fmt.Errorf("record the failed redelivery of %s (%v): %w", row.DeliveryID, err, uerr)
	}
	return outcome, fmt.Errorf("ask GitHub to redeliver %s (delivery %d): %w", row.DeliveryID, req.GithubDeliveryID, err)
}

// findAttempts reads GitHub's delivery log, newest first, until it has
// the attempts of guid (they sit together; the page after the last one
// seen is read too when they reach a page's end), at most redeliverPages
// pages. Newest attempt first.
func findAttempts(ctx context.Context, app *github.Client, guid string) ([]*github.HookDelivery, error) {
	var out []*github.HookDelivery
	opts := &github.ListCursorOptions{PerPage: 100}
	for page := 0; page < redeliverPages; page++ {
		list, res, err := app.Apps.ListHookDeliveries(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("list GitHub's deliveries, page %d: %w", page+1, err)
		}
		for _, hd := range list {
			if hd.GetGUID() == guid {
				out = append(out, hd)
			}
		}
		endsWithIt := len(list) > 0 && list[len(list)-1].GetGUID() == guid
		if (len(out) > 0 && !endsWithIt) || res.Cursor == "" {
			break
		}
		opts.Cursor = res.Cursor
	}
	return out, nil
}

// recordCatchup records (or renews) the catch-up request of row's GUID
// before the redelivery is asked for, so that the redelivery, however
// fast, finds it: delivered_at is the first attempt's, the time the data
// is as of. The newest attempt is the one redelivered (the log keeps it
// longest).
func (u *UI) recordCatchup(ctx context.Context, row *models.WebhookDelivery, attempts []*github.HookDelivery) (*models.CatchupRequest, error) {
	newest, first := attempts[0], attempts[0]
	for _, a := range attempts {
		if a.GetID() > newest.GetID() {
			newest = a
		}
		if a.GetID() < first.GetID() {
			first = a
		}
	}
	now := u.now()
	req, err := models.FindCatchupRequest(ctx, u.deps.DB, row.DeliveryID)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		req = &models.CatchupRequest{
			GUID:             row.DeliveryID,
			GithubDeliveryID: newest.GetID(),
			Event:            first.GetEvent(),
			Action:           null.NewString(first.GetAction(), first.GetAction() != ""),
			InstallationID:   row.InstallationID,
			RepoID:           row.RepoID,
			DeliveredAt:      first.GetDeliveredAt().Time,
			RequestedAt:      now,
			Attempts:         1,
		}
		if req.Event == "" {
			req.Event = row.Event
		}
		if err := req.Insert(ctx, u.deps.DB, boil.Infer()); err != nil {
			return nil, fmt.Errorf("record the catch-up request of %s: %w", row.DeliveryID, err)
		}
		return req, nil
	case err != nil:
		return nil, fmt.Errorf("read the catch-up request of %s: %w", row.DeliveryID, err)
	}
	// Asked before (by the catch-up or a person): asked again, keeping the
	// original time, and open again until the redelivery arrives.
	req.GithubDeliveryID = max(req.GithubDeliveryID, newest.GetID())
	req.RequestedAt = now
	req.Attempts++
	req.Error = null.String{}
	req.RecoveredAt = null.Time{}
	if first.GetDeliveredAt().Time.Before(req.DeliveredAt) {
		req.DeliveredAt = first.GetDeliveredAt().Time
	}
	if _, err := req.Update(ctx, u.deps.DB, boil.Whitelist(models.CatchupRequestColumns.GithubDeliveryID,
		models.CatchupRequestColumns.RequestedAt, models.CatchupRequestColumns.Attempts, models.CatchupRequestColumns.Error,
		models.CatchupRequestColumns.RecoveredAt, models.CatchupRequestColumns.DeliveredAt)); err != nil {
		return nil, fmt.Errorf("renew the catch-up request of %s: %w", row.DeliveryID, err)
	}
	return req, nil
}
