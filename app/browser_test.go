package app

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/webhookdb/webhookdb/ghfake"
)

// seededPulls is the number of pull requests of each seeded repository:
// the count the repository page must show once "Load pull requests" is
// done (and no other number on that row before).
const seededPulls = 7

// TestBrowser walks the UI in a real headless Chromium as a person would
// (issue 11's acceptance): log in through GitHub's (ghfake's) OAuth, see
// the installation and its repositories, open a repository, load its pull
// requests and watch the progress bar finish and the count change, see a
// webhook arrive in the deliveries list, redeliver a failed one, be
// refused a POST without the CSRF token, log out, and as a second user
// without access get 404 for the repository. Every page is saved as a
// screenshot (WEBHOOKDB_SCREENSHOTS names the folder; a temporary one by
// default).
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser tests skipped in -short mode")
	}
	path := chromiumPath(t)
	w := startUIWorld(t, ghfake.SeedOptions{Accounts: 1, Users: 2, ReposPerAccount: 2, PullsPerRepo: seededPulls, IssuesPerRepo: 3,
		CommentsPerIssue: 1, LabelsPerRepo: 2, MilestonesPerRepo: 1})
	b := newBrowser(t, path, 90*time.Second)
	ctx := context.Background()

	// GitHub tells webhookdb about repo-0 (a webhook: its description
	// changed), so the replica has the repository but none of its pull
	// requests, and its page offers a load per collection.
	if _, d, err := w.gh.EditRepo(ctx, "org-0", "repo-0", "replicated by webhookdb"); err != nil || !d.OK() {
		t.Fatalf("edit repository: %v, delivery %+v", err, d)
	}
	// A private repository too: ghfake, like GitHub, lets anyone read a
	// public one, so only a private one is out of a stranger's reach.
	if _, d, err := w.gh.CreateRepo(ctx, "org-0", "private-0", true); err != nil || !d.OK() {
		t.Fatalf("create private repository: %v, delivery %+v", err, d)
	}

	// Anonymous home, then GitHub's login: ghfake approves user-0 and
	// sends the browser back to the app's OAuth callback, which lands on /.
	if st := b.open(w.base + "/"); st != http.StatusOK {
		t.Fatalf("anonymous home: status %d", st)
	}
	b.screenshot("home-anonymous")
	b.submit("sign in", `a[href="/api/github/auth"]`)
	if got := b.text("header"); !strings.Contains(got, "Logged in as user-0") {
		t.Fatalf("after the login the header says %q, want Logged in as user-0", got)
	}

	// Home: the installation and its repositories, each linking to its
	// page; repo-1, which no webhook has named yet, is "not loaded yet".
	home := waitText(b, "main", 10*time.Second, "org-0", "org-0/repo-0", "org-0/repo-1", "org-0/private-0")
	if !strings.Contains(strings.ToLower(home), "not loaded yet") {
		t.Errorf("home does not say repo-1 is not loaded yet:\n%s", home)
	}
	b.screenshot("home")

	// The repository page: the pull requests row before the load.
	const repoPath = "/repos/org-0/repo-0"
	const pullsForm = `form[action="/load/repos/org-0/repo-0/pulls"]`
	if st := b.submit("open org-0/repo-0", `a[href="`+repoPath+`"]`); st != http.StatusOK {
		t.Fatalf("repository page: status %d", st)
	}
	if h := b.text("main h1"); !strings.Contains(h, "org-0/repo-0") {
		t.Errorf("repository page heading %q, want org-0/repo-0", h)
	}
	before := rowText(b, pullsForm)
	if strings.Contains(before, strconv.Itoa(seededPulls)) {
		t.Fatalf("the pull requests row shows %d before any load: %q", seededPulls, before)
	}
	button := eval[string](b, "load button", `document.querySelector('`+pullsForm+` button').innerText`)
	if !strings.Contains(button, "Load pull requests") {
		t.Errorf("the pull requests button says %q, want Load pull requests", button)
	}
	if n := eval[int](b, "csrf field", `document.querySelectorAll('`+pullsForm+` input[type=hidden][name=csrf_token]').length`); n != 1 {
		t.Errorf("the load form has %d hidden csrf_token fields, want 1", n)
	}

	// Press it. GitHub answers slowly, so the bar is seen running; the
	// page updates it by itself (no reload here) until it is done.
	w.gh.SetLatency(150*time.Millisecond, 0)
	b.do("press Load pull requests", chromedp.Click(chromedp.CSS(pullsForm+` button`), chromedp.NodeVisible))
	scanID := waitJS[string](b, "a progress bar", `(() => {
		const p = document.querySelector("progress[data-scan-id], [data-scan-id] progress");
		return p ? (p.dataset.scanId || p.closest("[data-scan-id]").dataset.scanId) : "";
	})()`, 10*time.Second)
	b.screenshot("repo-loading")
	state := waitJS[string](b, "the progress bar to reach done", progressState(scanID), 30*time.Second)
	w.gh.SetLatency(0, 0)
	if state != "done" {
		t.Fatalf("scan %s ended %q, want done", scanID, state)
	}
	var status string
	if err := env.DB.QueryRowContext(ctx, `SELECT status FROM scan WHERE id = $1`, scanID).Scan(&status); err != nil || status != "done" {
		t.Fatalf("scan %s in the database: %q, %v; want done", scanID, status, err)
	}

	// The counts changed: the page (reloaded, as a person would) shows
	// the seeded pull requests.
	b.open(w.base + repoPath)
	if after := rowText(b, pullsForm); !strings.Contains(after, strconv.Itoa(seededPulls)) || after == before {
		t.Errorf("after the load the pull requests row says %q (before %q), want %d pull requests", after, before, seededPulls)
	}
	b.screenshot("repo")

	// A webhook: ghfake opens an issue and delivers it; the deliveries
	// list shows it, processed.
	_, d, err := w.gh.OpenIssue(ctx, "org-0", "repo-0", ghfake.NewIssue{Title: "opened while the browser watches"})
	if err != nil || !d.OK() {
		t.Fatalf("open issue: %v, delivery %+v", err, d)
	}
	b.open(w.base + "/deliveries")
	row := waitRow(b, d.GUID, 10*time.Second)
	if !strings.Contains(row, "issues") || !strings.Contains(row, "processed") {
		t.Errorf("the delivery's row says %q, want event issues, processed", row)
	}
	b.screenshot("deliveries")

	// A failed delivery: the database refuses one issue (a check the
	// test adds for a moment), so the webhook is answered 500 and stored
	// as failed, as a real outage would leave it. Filtered by status, it
	// is there with a Redeliver button; pressed, GitHub redelivers it and
	// this time it is stored.
	failed := failDelivery(t, w.gh)
	b.open(w.base + "/deliveries")
	b.do("choose the failed filter", chromedp.SetValue(chromedp.CSS("#status-filter"), "failed"))
	b.submit("filter by status", `form.filter button[type=submit]`)
	if row := waitRow(b, failed, 10*time.Second); !strings.Contains(row, "failed") {
		t.Errorf("the failed delivery's row says %q, want failed", row)
	}
	if strings.Contains(b.text("main"), d.GUID) {
		t.Errorf("the failed filter lists the processed delivery %s", d.GUID)
	}
	b.screenshot("deliveries-failed")
	redeliver := `form[action="/deliveries/` + failed + `/redeliver"]`
	if n := eval[int](b, "redeliver csrf", `document.querySelectorAll('`+redeliver+` input[name=csrf_token]').length`); n != 1 {
		t.Errorf("the redeliver form has %d csrf_token fields, want 1", n)
	}
	if st := b.submit("press Redeliver", redeliver+` button`); st != http.StatusOK {
		t.Fatalf("redeliver: status %d", st)
	}
	if got := b.text(".notice"); !strings.Contains(strings.ToLower(got), "redeliver") {
		t.Errorf("after Redeliver the page says %q", got)
	}
	waitDB(t, "the redelivered delivery to be processed", 15*time.Second, func() (bool, error) {
		var st string
		err := env.DB.QueryRowContext(ctx, `SELECT status FROM webhook_delivery WHERE delivery_id = $1`, failed).Scan(&st)
		return st == "processed", err
	})
	b.open(w.base + "/deliveries")
	if row := waitRow(b, failed, 10*time.Second); !strings.Contains(row, "processed") {
		t.Errorf("after the redelivery the row says %q, want processed", row)
	}

	// A POST without the CSRF token is refused, from the logged-in page
	// itself (its cookies, no token), and does nothing.
	b.open(w.base + repoPath)
	scansBefore := countScans(t)
	for _, tt := range []struct{ path, body string }{
		{"/load/repos/org-0/repo-0/pulls", ""},
		{"/load/repos/org-0/repo-0/pulls", "csrf_token=forged"},
		{"/deliveries/" + failed + "/redeliver", ""},
		{"/logout", ""},
	} {
		if st := b.fetchStatus("POST", tt.path, tt.body); st != http.StatusForbidden {
			t.Errorf("POST %s with body %q without the CSRF token: %d, want 403", tt.path, tt.body, st)
		}
	}
	if n := countScans(t); n != scansBefore {
		t.Errorf("a load without the CSRF token started a scan (%d scans, had %d)", n, scansBefore)
	}
	if got := b.text("header"); !strings.Contains(got, "Logged in as user-0") {
		t.Errorf("a log-out without the CSRF token logged out: header %q", got)
	}

	// Log out: back to the anonymous home, and the pages need a login.
	b.submit("log out", `header form[action="/logout"] button`)
	if got := b.text("header"); !strings.Contains(got, "Sign in with GitHub") || strings.Contains(got, "Logged in") {
		t.Errorf("after log-out the header says %q", got)
	}
	b.screenshot("logged-out")
	// The session is gone: its pages send the browser to the login (or
	// refuse). Asked with fetch, because following that redirect would
	// log straight in again: ghfake, like GitHub, remembers who approved.
	for _, p := range []string{repoPath, "/deliveries"} {
		if st := b.fetchStatus("GET", p, ""); st == http.StatusOK {
			t.Errorf("after log-out GET %s answers 200", p)
		}
	}

	// A second user, a member of no organization: GitHub lists them no
	// installation (its lists are of repositories a user has an explicit
	// permission on), so no repository of org-0 is on their home page,
	// and each answers 404 like one that does not exist, the public
	// repo-0 too.
	w.gh.SetOAuthUser("outsider")
	b.open(w.base + "/")
	b.submit("sign in as outsider", `a[href="/api/github/auth"]`)
	if got := b.text("header"); !strings.Contains(got, "Logged in as outsider") {
		t.Fatalf("after the second login the header says %q", got)
	}
	if got := b.text("main"); strings.Contains(got, "org-0/") {
		t.Errorf("the outsider's home lists org-0's repositories:\n%s", got)
	}
	var notFound string
	for _, p := range []string{"/repos/org-0/private-0", "/repos/org-0/no-such-repo", "/repos/org-0/repo-0"} {
		if st := b.open(w.base + p); st != http.StatusNotFound {
			t.Errorf("outsider GET %s: %d, want 404", p, st)
		}
		got := b.text("main")
		if strings.Contains(got, "Load pull requests") || strings.Contains(got, "private-0") && !strings.Contains(p, "private-0") {
			t.Errorf("the outsider's 404 page for %s shows the repository:\n%s", p, got)
		}
		if notFound == "" {
			notFound = got
		} else if got != strings.ReplaceAll(notFound, "private-0", strings.TrimPrefix(p, "/repos/org-0/")) && got != notFound {
			t.Errorf("the 404 of a private repository differs from a missing one's:\n%s\n---\n%s", notFound, got)
		}
	}
	b.screenshot("not-found")
}

// rowText is the text of the row (table row, list item or section) that
// holds the form matching sel: where the page shows that collection's
// count and last scan.
func rowText(b *browser, sel string) string {
	b.t.Helper()
	return waitJS[string](b, "the row of "+sel, fmt.Sprintf(`(() => {
		const f = document.querySelector(%s);
		if (!f) return "";
		const row = f.closest("tr, li, article, section, .collection") || f.parentElement;
		return row.innerText;
	})()`, strconv.Quote(sel)), 10*time.Second)
}

// waitRow waits for the row of the page (table row or list item) that
// mentions guid and returns its text.
func waitRow(b *browser, guid string, d time.Duration) string {
	b.t.Helper()
	return waitJS[string](b, "a row with delivery "+guid, fmt.Sprintf(`(() => {
		const row = [...document.querySelectorAll("tr, li")].find(e => e.innerText.includes(%s));
		return row ? row.innerText : "";
	})()`, strconv.Quote(guid)), d)
}

// waitText waits until the text of sel holds every one of wants.
func waitText(b *browser, sel string, d time.Duration, wants ...string) string {
	b.t.Helper()
	conds := make([]string, len(wants))
	for i, w := range wants {
		conds[i] = "t.includes(" + strconv.Quote(w) + ")"
	}
	return waitJS[string](b, sel+" to show "+strings.Join(wants, ", "), fmt.Sprintf(`(() => {
		const e = document.querySelector(%s);
		const t = e ? e.innerText : "";
		return (%s) ? t : "";
	})()`, strconv.Quote(sel), strings.Join(conds, " && ")), d)
}

// progressState is a predicate on the live progress of scan id: "done"
// or "failed" once the page says so (the scan's status field, and for
// done a full bar), "" while it runs. The page drops data-scan-id from a
// finished scan (it stops polling), so the scan is also found by its label.
func progressState(id string) string {
	return fmt.Sprintf(`(() => {
		const id = %s;
		const box = [...document.querySelectorAll("[data-scan-id], .scan")].find(e =>
			e.dataset.scanId === id || (e.querySelector(".scan-what") || e).innerText.startsWith("Scan " + id + ":"));
		if (!box) return "";
		const p = box.tagName === "PROGRESS" ? box : box.querySelector("progress");
		const f = box.querySelector('[data-field="status"]');
		const st = box.dataset.status || (f ? f.innerText.trim() : "");
		if (st === "failed") return "failed: " + box.innerText;
		if (st === "done" && p && p.max > 0 && p.value >= p.max) return "done";
		return "";
	})()`, strconv.Quote(id))
}

// failDelivery makes one webhook delivery fail to store, for real: a
// check constraint (added for the moment of the delivery) refuses the
// issue it carries, so webhookdb answers 500 and records the delivery as
// failed, and ghfake's log has it as failed. It returns the GUID.
func failDelivery(t *testing.T, gh *ghfake.Server) string {
	t.Helper()
	ctx := context.Background()
	const add = `ALTER TABLE github_issue ADD CONSTRAINT browser_test_refuses CHECK (title <> 'refused by the database') NOT VALID`
	if _, err := env.DB.ExecContext(ctx, add); err != nil {
		t.Fatal(err)
	}
	drop := func() error {
		_, err := env.DB.ExecContext(ctx, `ALTER TABLE github_issue DROP CONSTRAINT IF EXISTS browser_test_refuses`)
		return err
	}
	t.Cleanup(func() { _ = drop() })
	_, d, err := gh.OpenIssue(ctx, "org-0", "repo-0", ghfake.NewIssue{Title: "refused by the database"})
	if err != nil {
		t.Fatal(err)
	}
	if d.OK() {
		t.Fatalf("the refused issue's delivery succeeded: %+v", d)
	}
	if err := drop(); err != nil {
		t.Fatal(err)
	}
	var st string
	if err := env.DB.QueryRowContext(ctx, `SELECT status FROM webhook_delivery WHERE delivery_id = $1`, d.GUID).Scan(&st); err != nil || st != "failed" {
		t.Fatalf("the refused delivery is stored as %q (%v), want failed", st, err)
	}
	return d.GUID
}

func countScans(t *testing.T) int {
	t.Helper()
	var n int
	if err := env.DB.QueryRow(`SELECT count(*) FROM scan`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
