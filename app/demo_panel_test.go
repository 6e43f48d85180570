package app

import (
	"bytes"
	"context"
	"database/sql"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/webhookdb/webhookdb/internal/testutil"
	"github.com/webhookdb/webhookdb/migrations"
)

// panelSnapshot is a backfill half done with two failed deliveries.
func panelSnapshot() panelState {
	at := func(sec int) time.Time { return time.Date(2026, 12, 2, 6, 4, sec, 0, time.Local) }
	return panelState{
		Elapsed:    65*time.Second + 400*time.Millisecond,
		LogFile:    "/tmp/webhookdb-demo-1.log",
		Backfill:   backfillProgress{Scans: 20, Done: 9, Open: 11, PagesTotal: 24, PagesDone: 12, Uncounted: 6, Items: 312},
		Deliveries: deliveryCounts{Total: 120, LastMinute: 42, Failed: 2},
		Events: []panelEvent{
			{At: at(26), Event: "pull_request", Action: "closed", Repo: "repo-1", Number: 27, Status: "processed"},
			{At: at(24), Event: "pull_request_review", Action: "submitted", Repo: "repo-1", Number: 33, Status: "processed"},
			{At: at(20), Event: "label", Action: "created", Repo: "repo-0", Status: "failed", Error: "insert label:\n  deadlock"},
			{At: at(10), Event: "installation", Action: "created", Repo: "org-0", Status: "processed"},
		},
		Failures: []panelEvent{
			{At: at(20), Event: "label", Action: "created", Repo: "repo-0", Status: "failed", Error: "insert label:\n  deadlock"},
		},
		Batches: 8, Sent: 23, Rejected: 1,
	}
}

func TestRenderPanel(t *testing.T) {
	got := renderPanel(panelSnapshot(), 100)
	want := []string{
		"── webhookdb demo · up 1m5s · Ctrl-C stops it ──",
		"Backfill    [████████████████░░░░░░░░░░░░░░░░░░░░░░░░]  40%  running",
		"            12/24 pages · 9/20 scans · 312 items",
		"Webhooks    42 in the last minute · 120 received · 2 failed",
		"Activity    8 batches · 23 webhooks sent · 1 not accepted",
		"Log         /tmp/webhookdb-demo-1.log",
		"Last events",
		"  06:04:26  pull_request.closed            repo-1 #27  processed",
		"  06:04:24  pull_request_review.submitted  repo-1 #33  processed",
		"  06:04:20  label.created                  repo-0      failed",
		"  06:04:10  installation.created           org-0       processed",
		"Failed deliveries",
		"  06:04:20  label.created  repo-0  failed: insert label: deadlock",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("panel at width 100:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// Narrow, the bar shortens, keeping its minimum, and every line fits
	// one column short of the width.
	for _, width := range []int{60, 40} {
		for _, l := range renderPanel(panelSnapshot(), width) {
			if n := len([]rune(l)); n > width-1 {
				t.Errorf("width %d: line of %d columns: %q", width, n, l)
			}
		}
	}
	if l := renderPanel(panelSnapshot(), 60)[1]; l != "Backfill    ["+strings.Repeat("█", 12)+strings.Repeat("░", 19)+"]  40%  running" {
		t.Errorf("backfill line at width 60: %q", l)
	}
	if l := renderPanel(panelSnapshot(), 30)[1]; l != "Backfill    [████░░░░░░]  40…" {
		t.Errorf("backfill line at width 30: %q", l)
	}
}

func TestRenderPanelStates(t *testing.T) {
	s := panelState{Elapsed: 2 * time.Second}
	got := strings.Join(renderPanel(s, 80), "\n")
	for _, want := range []string{"waiting for the first scan", "0 in the last minute", "Last events\n  none yet"} {
		if !strings.Contains(got, want) {
			t.Errorf("empty panel lacks %q:\n%s", want, got)
		}
	}
	for _, unwanted := range []string{"Activity", "Log ", "Failed deliveries", "Database"} {
		if strings.Contains(got, unwanted) {
			t.Errorf("empty panel shows %q:\n%s", unwanted, got)
		}
	}

	// Over with no open scan: a full bar even if a total was never counted.
	s.Backfill = backfillProgress{Scans: 3, Done: 3, PagesTotal: 5, PagesDone: 4, Items: 9}
	s.Err = "read the backfill's scans: connection refused"
	got = strings.Join(renderPanel(s, 100), "\n")
	for _, want := range []string{"[" + strings.Repeat("█", 40) + "] 100%  done\n            4/5 pages · 3/3 scans · 9 items", "Database    read the backfill's scans: connection refused (figures as last read)"} {
		if !strings.Contains(got, want) {
			t.Errorf("finished panel lacks %q:\n%s", want, got)
		}
	}
	s.Backfill = backfillProgress{Scans: 3, Done: 2, Failed: 1, PagesTotal: 5, PagesDone: 4}
	if got := renderPanel(s, 80)[1]; !strings.HasSuffix(got, "]  80%  over, 1 failed") {
		t.Errorf("backfill with a failed scan: %q", got)
	}
}

func TestRenderSummary(t *testing.T) {
	got := strings.Join(renderSummary(panelSnapshot()), "\n")
	want := `demo summary after 1m5s:
  backfill:  interrupted, 11 scans open; 12/24 pages of 20 scans, 312 items
  webhooks:  120 received, 2 failed, 42 in the last minute
  activity:  8 batches, 23 webhooks sent, 1 not accepted
  log:       /tmp/webhookdb-demo-1.log`
	if got != want {
		t.Errorf("summary:\n%s\nwant:\n%s", got, want)
	}
	if strings.Contains(got, "\x1b") {
		t.Errorf("the summary has escapes: %q", got)
	}
}

// fakeTerminal says every writer is a terminal of 100 columns by 40 rows.
func fakeTerminal(io.Writer) (func() (int, int), bool) {
	return func() (int, int) { return 100, 40 }, true
}

func notTerminal(io.Writer) (func() (int, int), bool) { return nil, false }

func TestChooseDemoPanel(t *testing.T) {
	var out bytes.Buffer
	if _, ok := chooseDemoPanel(false, &out, fakeTerminal); !ok {
		t.Error("a terminal without --plain: no panel")
	}
	if _, ok := chooseDemoPanel(true, &out, fakeTerminal); ok {
		t.Error("--plain on a terminal: a panel")
	}
	if _, ok := chooseDemoPanel(false, &out, notTerminal); ok {
		t.Error("stdout not a terminal: a panel")
	}
	// A pipe is not a terminal to the real check either.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if _, ok := chooseDemoPanel(false, w, osTerminal); ok {
		t.Error("a pipe counted as a terminal")
	}

	// Where the log goes: stderr when plain, a named or a new file else.
	var stderr bytes.Buffer
	lw, path, closeLog, err := openDemoLog("", false, &stderr)
	if err != nil || lw != &stderr || path != "" {
		t.Errorf("plain without --log-file: writer %T, path %q, %v; want stderr", lw, path, err)
	} else if err := closeLog(); err != nil {
		t.Error(err)
	}
	named := filepath.Join(t.TempDir(), "demo.log")
	for _, panel := range []bool{false, true} {
		lw, path, closeLog, err = openDemoLog(named, panel, &stderr)
		if err != nil || path != named {
			t.Fatalf("--log-file (panel %v): path %q, %v; want %s", panel, path, err, named)
		}
		_, _ = io.WriteString(lw, "line\n")
		if err := closeLog(); err != nil {
			t.Fatal(err)
		}
	}
	if b, err := os.ReadFile(named); err != nil || string(b) != "line\nline\n" {
		t.Errorf("--log-file holds %q (%v); want both runs' lines appended", b, err)
	}
	lw, path, closeLog, err = openDemoLog("", true, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(path)
	if err := closeLog(); err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(path) != filepath.Clean(os.TempDir()) || !strings.HasPrefix(filepath.Base(path), "webhookdb-demo-") {
		t.Errorf("panel without --log-file logs to %q, want a webhookdb-demo-* file in %s", path, os.TempDir())
	}
	if _, _, _, err := openDemoLog(filepath.Join(t.TempDir(), "missing", "demo.log"), true, &stderr); err == nil ||
		!strings.Contains(err.Error(), "open the log file") {
		t.Errorf("a log file in a missing directory: %v", err)
	}
}

// TestQueryPanelState reads the panel's figures from a database of its
// own (the package's is shared with tests that write deliveries), holding
// this run's scans and deliveries beside an earlier run's and another
// installation's.
func TestQueryPanelState(t *testing.T) {
	ctx := context.Background()
	dbName := env.DatabaseName + "_panel"
	dbURL, err := testutil.CreateDatabase(ctx, dbName)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := testutil.DropDatabase(context.Background(), dbName); err != nil {
			t.Errorf("drop %s: %v", dbName, err)
		}
	})
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := migrations.Up(ctx, db); err != nil {
		t.Fatal(err)
	}

	since := time.Now().Add(-10 * time.Minute).Truncate(time.Microsecond)
	before := since.Add(-time.Hour)
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	const scan = `INSERT INTO scan (kind, scan_key, installation_id, status, pages_total, pages_done, items, created_at)
		VALUES ($1, $1::text || ':' || $2::bigint || ':' || $7::timestamptz, $2, $3, $4, $5, $6, $7)`
	exec(scan, "installation", 7, "done", 1, 1, 3, since.Add(time.Second))
	exec(scan, "pull_requests", 7, "done", 4, 4, 120, since.Add(2*time.Second))
	exec(scan, "issues", 7, "running", 5, 2, 40, since.Add(3*time.Second))
	exec(scan, "labels", 7, "queued", nil, 0, 0, since.Add(4*time.Second))
	exec(scan, "milestones", 7, "failed", 2, 1, 5, since.Add(5*time.Second))
	exec(scan, "pull_requests", 8, "running", 9, 1, 1, since.Add(time.Second)) // another installation
	exec(scan, "issues", 7, "done", 6, 6, 60, before)                          // an earlier run

	const delivery = `INSERT INTO webhook_delivery (delivery_id, event, action, installation_id, received_at, status, error, payload)
		VALUES ($1, $2, $3, 7, now() - make_interval(secs => $4::double precision), $5, $6, $7::jsonb)`
	ago := func(t time.Time) float64 { return time.Since(t).Seconds() }
	exec(delivery, "d-old", "issues", "opened", ago(before), "processed", nil, `{"repository":{"name":"repo-9"},"issue":{"number":1}}`)
	exec(delivery, "d-install", "installation", "created", 300, "processed", nil, `{"installation":{"account":{"login":"org-0"}}}`)
	exec(delivery, "d-label", "label", "created", 40, "failed", "insert label: deadlock", `{"repository":{"name":"repo-0"},"label":{"name":"bug"}}`)
	exec(delivery, "d-pr", "pull_request", "closed", 20, "processed", nil, `{"repository":{"name":"repo-1"},"pull_request":{"number":27}}`)
	exec(delivery, "d-comment", "issue_comment", "created", 10, "stale", nil, `{"repository":{"name":"repo-2"},"issue":{"number":20}}`)
	exec(delivery, "d-ping", "ping", nil, 5, "processed", nil, nil) // no action, no payload kept

	s, err := queryPanelState(ctx, db, 7, since)
	if err != nil {
		t.Fatal(err)
	}
	wantBackfill := backfillProgress{Scans: 5, Done: 2, Failed: 1, Open: 2, PagesTotal: 12, PagesDone: 8, Uncounted: 1, Items: 168}
	if s.Backfill != wantBackfill {
		t.Errorf("backfill %+v, want %+v", s.Backfill, wantBackfill)
	}
	// The installation's delivery is 5 minutes old: not in the last minute.
	if want := (deliveryCounts{Total: 5, LastMinute: 4, Failed: 1}); s.Deliveries != want {
		t.Errorf("deliveries %+v, want %+v", s.Deliveries, want)
	}
	var events []string
	for _, e := range s.Events {
		events = append(events, strings.Join([]string{e.Event, e.Action, e.Repo, strconv.Itoa(e.Number), e.Status, e.Error}, "|"))
	}
	wantEvents := []string{
		"ping|||0|processed|",
		"issue_comment|created|repo-2|20|stale|",
		"pull_request|closed|repo-1|27|processed|",
		"label|created|repo-0|0|failed|insert label: deadlock",
		"installation|created|org-0|0|processed|",
	}
	if strings.Join(events, "\n") != strings.Join(wantEvents, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(events, "\n"), strings.Join(wantEvents, "\n"))
	}
	if len(s.Failures) != 1 || s.Failures[0].Event != "label" || s.Failures[0].Error != "insert label: deadlock" {
		t.Errorf("failures %+v, want the label delivery", s.Failures)
	}
	if s.Events[0].At.Before(since) || time.Since(s.Events[0].At) > time.Minute {
		t.Errorf("latest event at %s, want about 5 s ago", s.Events[0].At)
	}

	// A later run sees nothing of this one.
	s, err = queryPanelState(ctx, db, 7, time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if s.Backfill != (backfillProgress{}) || s.Deliveries != (deliveryCounts{}) || len(s.Events) != 0 || len(s.Failures) != 0 {
		t.Errorf("a run started later sees %+v", s)
	}

	// A database that does not answer is an error that says what was read.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := queryPanelState(cctx, db, 7, since); err == nil || !strings.Contains(err.Error(), "read the backfill's scans") {
		t.Errorf("canceled read: %v", err)
	}
}
