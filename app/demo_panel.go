package app

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/volatiletech/sqlboiler/v4/queries/qm"
	"golang.org/x/term"

	"github.com/webhookdb/webhookdb/models"
)

// The demo's live panel: on a terminal, `webhookdb demo` prints its
// description once and below it a region redrawn every second with the
// backfill's progress, the webhook rate, the last events and the failures;
// the log goes to a file instead of interleaving with it.

const (
	panelEvents = 5 // last events shown
	panelFailed = 3 // last failed deliveries shown
	// ANSI: erase from the cursor to the end of the screen, hide and show
	// the cursor.
	ansiEraseDown  = "\x1b[J"
	ansiHideCursor = "\x1b[?25l"
	ansiShowCursor = "\x1b[?25h"
)

// terminalFunc tells whether w is a terminal and, when it is, how to read
// its size (columns, rows) at each redraw, since the user may resize it.
type terminalFunc func(w io.Writer) (size func() (int, int), ok bool)

// osTerminal is the terminalFunc of the real process.
func osTerminal(w io.Writer) (func() (int, int), bool) {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil, false
	}
	return func() (int, int) {
		cols, rows, err := term.GetSize(int(f.Fd()))
		if err != nil || cols <= 0 {
			return 80, 24
		}
		return cols, rows
	}, true
}

// chooseDemoPanel decides between the live panel and plain output: the
// panel only when stdout is a terminal and --plain was not given.
func chooseDemoPanel(plain bool, stdout io.Writer, isTerminal terminalFunc) (func() (int, int), bool) {
	if plain {
		return nil, false
	}
	return isTerminal(stdout)
}

// openDemoLog returns where the demo logs: the file named by --log-file,
// else a new file in the temporary directory when the panel owns the
// terminal, else stderr. path is "" for stderr.
func openDemoLog(logFile string, panel bool, stderr io.Writer) (w io.Writer, path string, closeLog func() error, err error) {
	var f *os.File
	switch {
	case logFile != "":
		f, err = os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	case panel:
		f, err = os.CreateTemp("", "webhookdb-demo-*.log")
	default:
		return stderr, "", func() error { return nil }, nil
	}
	if err != nil {
		return nil, "", nil, fmt.Errorf("demo: open the log file: %w", err)
	}
	return f, f.Name(), f.Close, nil
}

// demoStats are the activity's own counts, kept by its goroutine and read
// by the panel's.
type demoStats struct {
	batches  atomic.Int64
	sent     atomic.Int64
	rejected atomic.Int64 // webhooks webhookdb did not answer 2xx
}

// panelState is one snapshot of what the panel shows.
type panelState struct {
	Elapsed    time.Duration
	LogFile    string
	Backfill   backfillProgress
	Deliveries deliveryCounts
	Events     []panelEvent // newest first
	Failures   []panelEvent // newest failed deliveries first
	Batches    int64
	Sent       int64
	Rejected   int64
	// Err says why the figures could not be refreshed; they are the last
	// ones read.
	Err string
}

// backfillProgress sums the installation's scans.
type backfillProgress struct {
	Scans      int `boil:"scans"`
	Done       int `boil:"done"`
	Failed     int `boil:"failed"`
	Open       int `boil:"open"`
	PagesTotal int `boil:"pages_total"`
	PagesDone  int `boil:"pages_done"`
	// Uncounted are the open scans whose pages are not counted yet.
	Uncounted int `boil:"uncounted"`
	Items     int `boil:"items"`
}

type deliveryCounts struct {
	Total      int `boil:"total"`
	LastMinute int `boil:"last_minute"`
	Failed     int `boil:"failed"`
}

// panelEvent is one webhook delivery as the panel lists it.
type panelEvent struct {
	At     time.Time
	Event  string
	Action string
	Repo   string
	Number int // 0 when the event is not about an issue or pull request
	Status string
	Error  string
}

// queryPanelState reads the panel's figures for one installation from the
// database, counting only what happened since since: the demo's database
// outlives a run, and the seeded installation keeps its id across runs.
func queryPanelState(ctx context.Context, db *sql.DB, installationID int64, since time.Time) (panelState, error) {
	var s panelState
	err := models.Scans(
		qm.Select(`count(*) AS scans,
			count(*) FILTER (WHERE status = 'done') AS done,
			count(*) FILTER (WHERE status = 'failed') AS failed,
			count(*) FILTER (WHERE status IN ('queued', 'running')) AS open,
			coalesce(sum(pages_total), 0) AS pages_total,
			coalesce(sum(pages_done), 0) AS pages_done,
			count(*) FILTER (WHERE pages_total IS NULL AND status IN ('queued', 'running')) AS uncounted,
			coalesce(sum(items), 0) AS items`),
		qm.Where("installation_id = ? AND created_at >= ?", installationID, since),
	).Bind(ctx, db, &s.Backfill)
	if err != nil {
		return s, fmt.Errorf("read the backfill's scans: %w", err)
	}
	err = models.WebhookDeliveries(
		qm.Select(`count(*) AS total,
			count(*) FILTER (WHERE received_at > now() - interval '1 minute') AS last_minute,
			count(*) FILTER (WHERE status = 'failed') AS failed`),
		qm.Where("received_at >= ?", since),
	).Bind(ctx, db, &s.Deliveries)
	if err != nil {
		return s, fmt.Errorf("count the webhook deliveries: %w", err)
	}
	if s.Events, err = queryPanelEvents(ctx, db, since, false, panelEvents); err != nil {
		return s, err
	}
	if s.Deliveries.Failed > 0 {
		if s.Failures, err = queryPanelEvents(ctx, db, since, true, panelFailed); err != nil {
			return s, err
		}
	}
	return s, nil
}

// queryPanelEvents lists the latest deliveries (only the failed ones when
// failed is set). Hand-written: the repository and the issue or pull
// request number live in the payload's JSON, which the models do not reach.
func queryPanelEvents(ctx context.Context, db *sql.DB, since time.Time, failed bool, limit int) ([]panelEvent, error) {
	q := `SELECT received_at, event, coalesce(action, ''),
		coalesce(payload->'repository'->>'name', payload->'installation'->'account'->>'login', ''),
		coalesce(payload->'pull_request'->>'number', payload->'issue'->>'number', ''),
		status, coalesce(error, '')
	FROM webhook_delivery WHERE received_at >= $1`
	if failed {
		q += ` AND status = 'failed'`
	}
	q += ` ORDER BY received_at DESC, delivery_id LIMIT $2`
	rows, err := db.QueryContext(ctx, q, since, limit)
	if err != nil {
		return nil, fmt.Errorf("list the last webhook deliveries: %w", err)
	}
	defer rows.Close()
	var out []panelEvent
	for rows.Next() {
		var e panelEvent
		var number string
		if err := rows.Scan(&e.At, &e.Event, &e.Action, &e.Repo, &number, &e.Status, &e.Error); err != nil {
			return nil, fmt.Errorf("read a webhook delivery: %w", err)
		}
		e.Number, _ = strconv.Atoi(number) // "" (no number) is 0
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list the last webhook deliveries: %w", err)
	}
	return out, nil
}

// renderPanel lays a snapshot out in lines no wider than width columns
// (one less, so that a full line never makes the terminal wrap).
func renderPanel(s panelState, width int) []string {
	width = max(width-1, 20)
	var lines []string
	add := func(format string, args ...any) { lines = append(lines, fmt.Sprintf(format, args...)) }
	add("── webhookdb demo · up %s · Ctrl-C stops it ──", s.Elapsed.Round(time.Second))
	bar, figures := backfillLines(s.Backfill, width-12)
	add("Backfill    %s", bar)
	if figures != "" {
		add("            %s", figures)
	}
	d := s.Deliveries
	add("Webhooks    %d in the last minute · %d received · %d failed", d.LastMinute, d.Total, d.Failed)
	if s.Batches > 0 || s.Sent > 0 {
		add("Activity    %d batches · %d webhooks sent · %d not accepted", s.Batches, s.Sent, s.Rejected)
	}
	if s.LogFile != "" {
		add("Log         %s", s.LogFile)
	}
	if s.Err != "" {
		add("Database    %s (figures as last read)", oneLine(s.Err))
	}
	add("Last events")
	if len(s.Events) == 0 {
		add("  none yet")
	}
	lines = append(lines, eventLines(s.Events, false)...)
	if len(s.Failures) > 0 {
		add("Failed deliveries")
		lines = append(lines, eventLines(s.Failures, true)...)
	}
	for i, l := range lines {
		lines[i] = truncateRunes(l, width)
	}
	return lines
}

// backfillLines are the progress bar in width columns, and the figures
// under it, so the bar stays long on a narrow terminal.
func backfillLines(b backfillProgress, width int) (bar, figures string) {
	if b.Scans == 0 {
		return "waiting for the first scan", ""
	}
	// A scan not counted yet has at least one page: without it, a
	// backfill with most of its child scans queued would look nearly over.
	frac := 0.0
	if expected := b.PagesTotal + b.Uncounted; expected > 0 {
		frac = min(float64(b.PagesDone)/float64(expected), 1)
	}
	state := "done"
	switch {
	case b.Open > 0:
		frac = min(frac, 0.99)
		state = "running"
	case b.Failed > 0:
		state = fmt.Sprintf("over, %d failed", b.Failed)
	default:
		frac = 1
	}
	label := fmt.Sprintf(" %3d%%  %s", int(frac*100), state)
	barWidth := min(max(width-len([]rune(label))-2, 10), 40)
	filled := int(frac * float64(barWidth))
	bar = "[" + strings.Repeat("█", filled) + strings.Repeat("░", barWidth-filled) + "]" + label
	return bar, fmt.Sprintf("%d/%d pages · %d/%d scans · %d items", b.PagesDone, b.PagesTotal, b.Done, b.Scans, b.Items)
}

// eventLines formats events in aligned columns; withError adds each one's
// error.
func eventLines(events []panelEvent, withError bool) []string {
	names := make([]string, len(events))
	targets := make([]string, len(events))
	nameW, targetW := 0, 0
	for i, e := range events {
		names[i] = e.Event
		if e.Action != "" {
			names[i] += "." + e.Action
		}
		targets[i] = e.Repo
		if e.Number > 0 {
			targets[i] += " #" + strconv.Itoa(e.Number)
		}
		nameW, targetW = max(nameW, len(names[i])), max(targetW, len(targets[i]))
	}
	out := make([]string, len(events))
	for i, e := range events {
		l := fmt.Sprintf("  %s  %-*s  %-*s  %s", e.At.Local().Format("15:04:05"), nameW, names[i], targetW, targets[i], e.Status)
		if withError && e.Error != "" {
			l += ": " + oneLine(e.Error)
		}
		out[i] = strings.TrimRight(l, " ")
	}
	return out
}

// renderSummary is what the panel leaves behind on exit: plain lines, no
// escapes, to read after the region is gone.
func renderSummary(s panelState) []string {
	b, d := s.Backfill, s.Deliveries
	state := "done"
	switch {
	case b.Scans == 0:
		state = "never started"
	case b.Open > 0:
		state = fmt.Sprintf("interrupted, %d scans open", b.Open)
	case b.Failed > 0:
		state = fmt.Sprintf("over, %d scans failed", b.Failed)
	}
	out := []string{
		fmt.Sprintf("demo summary after %s:", s.Elapsed.Round(time.Second)),
		fmt.Sprintf("  backfill:  %s; %d/%d pages of %d scans, %d items", state, b.PagesDone, b.PagesTotal, b.Scans, b.Items),
		fmt.Sprintf("  webhooks:  %d received, %d failed, %d in the last minute", d.Total, d.Failed, d.LastMinute),
	}
	if s.Sent > 0 {
		out = append(out, fmt.Sprintf("  activity:  %d batches, %d webhooks sent, %d not accepted", s.Batches, s.Sent, s.Rejected))
	}
	if s.Err != "" {
		out = append(out, "  (figures as last read: "+oneLine(s.Err)+")")
	}
	if s.LogFile != "" {
		out = append(out, "  log:       "+s.LogFile)
	}
	return out
}

func truncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// demoPanel redraws the live region below the demo's description.
type demoPanel struct {
	out            io.Writer
	size           func() (int, int)
	db             *sql.DB
	log            zerolog.Logger
	installationID int64
	since          time.Time
	logFile        string
	stats          *demoStats
	// drawn is the line count of the region on screen, to move back over.
	drawn int
	last  panelState
}

// run redraws the region every second until ctx ends, then erases it
// and shows the cursor again at once, before the demo's shutdown, so that
// the terminal is usable whatever happens next.
func (p *demoPanel) run(ctx context.Context) {
	fmt.Fprint(p.out, ansiHideCursor)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		p.refresh(ctx)
		if ctx.Err() == nil {
			p.draw()
		}
		select {
		case <-ctx.Done():
			p.erase()
			fmt.Fprint(p.out, ansiShowCursor+"demo: stopping (Ctrl-C again stops at once)\n")
			return
		case <-tick.C:
		}
	}
}

// refresh reads a new snapshot, keeping the last figures when the
// database does not answer.
func (p *demoPanel) refresh(parent context.Context) {
	ctx, cancel := context.WithTimeout(parent, 2*time.Second)
	defer cancel()
	s, err := queryPanelState(ctx, p.db, p.installationID, p.since)
	switch {
	case err == nil:
		p.last = s
	case parent.Err() != nil:
		// The demo is stopping; the summary reads again.
	default:
		if p.last.Err != err.Error() {
			p.log.Warn().Err(err).Msg("demo: panel: read the figures")
		}
		p.last.Err = err.Error()
	}
	p.last.Elapsed = time.Since(p.since)
	p.last.LogFile = p.logFile
	p.last.Batches, p.last.Sent, p.last.Rejected = p.stats.batches.Load(), p.stats.sent.Load(), p.stats.rejected.Load()
}

func (p *demoPanel) draw() {
	cols, rows := p.size()
	lines := renderPanel(p.last, cols)
	if rows > 1 && len(lines) > rows-1 {
		// Taller than the terminal, the region could not be moved back over.
		lines = lines[:rows-1]
	}
	var b strings.Builder
	p.moveBack(&b)
	for _, l := range lines {
		b.WriteString(l + "\n")
	}
	fmt.Fprint(p.out, b.String())
	p.drawn = len(lines)
}

func (p *demoPanel) erase() {
	var b strings.Builder
	p.moveBack(&b)
	fmt.Fprint(p.out, b.String())
	p.drawn = 0
}

// moveBack puts the cursor at the start of the region and erases it.
func (p *demoPanel) moveBack(b *strings.Builder) {
	b.WriteString("\r")
	if p.drawn > 0 {
		fmt.Fprintf(b, "\x1b[%dA", p.drawn)
	}
	b.WriteString(ansiEraseDown)
}

// summary prints the final plain summary; ctx may be over already (the
// demo stops on Ctrl-C), so it reads with a short grace of its own.
func (p *demoPanel) summary(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
	defer cancel()
	p.refresh(ctx)
	fmt.Fprintln(p.out, strings.Join(renderSummary(p.last), "\n"))
}
