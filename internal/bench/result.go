package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Result is what a run measured. Its JSON is nested objects, one per part
// ({"ingest": {"deliveries_per_s": ...}, ...}): the dotted keys
// are the paths into it. A figure that was not measured (its part failed
// or was not run) is null, never a made-up zero.
type Result struct {
	Date     time.Time `json:"date"`
	Machine  Machine   `json:"machine"`
	Ingest   Ingest    `json:"ingest"`
	Backfill Backfill  `json:"backfill"`
	Rescan   Rescan    `json:"rescan"`
	Memory   Memory    `json:"memory"`
	Read     Read      `json:"read"`
	// Errors holds, per part, why it failed; empty when all went well.
	Errors map[string]string `json:"errors,omitempty"`
	// Logs is the directory of the serve processes' logs.
	Logs string `json:"logs"`
}

// Machine is where the run happened.
type Machine struct {
	Cores    int    `json:"cores"`
	Go       string `json:"go"`
	OS       string `json:"os"`
	Postgres string `json:"postgres"`
}

// Ingest is the webhook part: 16 senders, 1 sender, the baseline.
type Ingest struct {
	DeliveriesPerS      *float64 `json:"deliveries_per_s"`
	P50Ms               *float64 `json:"p50_ms"`
	P99Ms               *float64 `json:"p99_ms"`
	SingleP99Ms         *float64 `json:"single_p99_ms"`
	BaselineUpsertsPerS *float64 `json:"baseline_upserts_per_s"`
	Ratio               *float64 `json:"ratio"`
	Errors              *int     `json:"errors"`
	Lost                *int     `json:"lost"`
	Senders             int      `json:"senders"`
	Deliveries          int      `json:"deliveries"`
	SinglePerS          *float64 `json:"single_per_s"`
	SingleP50Ms         *float64 `json:"single_p50_ms"`
	BaselineBeforePerS  *float64 `json:"baseline_before_per_s"`
	BaselineAfterPerS   *float64 `json:"baseline_after_per_s"`
	PhaseS              float64  `json:"phase_s"`
}

// Backfill is the initial load of the installation.
type Backfill struct {
	Objects             *int     `json:"objects"`
	WallS               *float64 `json:"wall_s"`
	Requests            *int     `json:"requests"`
	MinRequests         *int     `json:"min_requests"`
	RequestsRatio       *float64 `json:"requests_ratio"`
	IdealWallS          *float64 `json:"ideal_wall_s"`
	WallRatio           *float64 `json:"wall_ratio"`
	RateLimitViolations *int     `json:"rate_limit_violations"`
	PullRequests        int      `json:"pull_requests"`
	LatencyMs           float64  `json:"latency_ms"`
	Concurrency         int      `json:"concurrency"`
	RateLimitPerH       int      `json:"rate_limit_per_h"`
	RateLimitBoundS     *float64 `json:"rate_limit_bound_s"`
}

// Rescan is the re-scan of the unchanged installation.
type Rescan struct {
	PrimarySpent *int     `json:"primary_spent"`
	WallS        *float64 `json:"wall_s"`
	Requests     *int     `json:"requests"`
}

// Memory is the peak RSS of two backfills, the second 10x larger.
type Memory struct {
	SmallPeakRSSMB *float64 `json:"small_peak_rss_mb"`
	LargePeakRSSMB *float64 `json:"large_peak_rss_mb"`
	Ratio          *float64 `json:"ratio"`
	LargeFactor    int      `json:"large_factor"`
	LargeFinished  *bool    `json:"large_finished"`
	LargeWallS     *float64 `json:"large_wall_s"`
	LargeLatencyMs float64  `json:"large_latency_ms"`
}

// Read is the read API's pulls list beside ghfake's own answer to the
// same reads, in the same run.
type Read struct {
	PullsPerS       *float64 `json:"pulls_per_s"` // pages of PerPage pull requests, by webhookdb
	P50Ms           *float64 `json:"p50_ms"`
	P99Ms           *float64 `json:"p99_ms"`
	GhfakePullsPerS *float64 `json:"ghfake_pulls_per_s"`
	Ratio           *float64 `json:"ratio"` // webhookdb ÷ ghfake
	GhfakeP50Ms     *float64 `json:"ghfake_p50_ms"`
	GhfakeP99Ms     *float64 `json:"ghfake_p99_ms"`
	Reads           *int     `json:"reads"` // timed 200 answers of webhookdb
	GhfakeReads     *int     `json:"ghfake_reads"`
	Clients         int      `json:"clients"`
	PerPage         int      `json:"per_page"`
	Items           int      `json:"items"` // pull requests of the repository
	PhaseS          float64  `json:"phase_s"`
}

func ptr[T any](v T) *T { return &v }

// round keeps figures readable in the JSON: three significant decimals.
func round(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return ptr(math.Round(v*1000) / 1000)
}

func ratio(a, b *float64) *float64 {
	if a == nil || b == nil || *b == 0 {
		return nil
	}
	return round(*a / *b)
}

func fail(r *Result, part string, err error) {
	if r.Errors == nil {
		r.Errors = map[string]string{}
	}
	r.Errors[part] = strings.Join(strings.Fields(err.Error()), " ")
}

// WriteJSON writes r to path, indented.
func (r *Result) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode the result: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// row is one line of the table: a figure, its value, the goal, whether
// the goal is met ("" when it has none).
type row struct{ figure, value, goal, met string }

func fnum(v *float64, unit string) string {
	if v == nil {
		return "-"
	}
	switch {
	case *v >= 100:
		return fmt.Sprintf("%.0f%s", *v, unit)
	case *v >= 10:
		return fmt.Sprintf("%.1f%s", *v, unit)
	}
	return fmt.Sprintf("%.2f%s", *v, unit)
}

func inum(v *int) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprint(*v)
}

func met(ok bool, known bool) string {
	switch {
	case !known:
		return "-"
	case ok:
		return "yes"
	}
	return "NO"
}

func fcheck(v *float64, ok func(float64) bool) string {
	if v == nil {
		return met(false, false)
	}
	return met(ok(*v), true)
}

func icheck(v *int, ok func(int) bool) string {
	if v == nil {
		return met(false, false)
	}
	return met(ok(*v), true)
}

// rows are the table, in the order of goals.
func (r *Result) rows() []row {
	in, bf, rs, m, rd := r.Ingest, r.Backfill, r.Rescan, r.Memory, r.Read
	lt := func(l float64) func(float64) bool { return func(v float64) bool { return v < l } }
	le := func(l float64) func(float64) bool { return func(v float64) bool { return v <= l } }
	ge := func(l float64) func(float64) bool { return func(v float64) bool { return v >= l } }
	zero := func(v int) bool { return v == 0 }
	return []row{
		{fmt.Sprintf("ingest: deliveries/s at %d senders", in.Senders), fnum(in.DeliveriesPerS, "/s"), "", ""},
		{"ingest: baseline upserts/s (same db, same senders)", fnum(in.BaselineUpsertsPerS, "/s"), "", ""},
		{"ingest: ratio deliveries/baseline", fnum(in.Ratio, ""), ">= 0.5", fcheck(in.Ratio, ge(0.5))},
		{"ingest: p50 answer", fnum(in.P50Ms, " ms"), "", ""},
		{"ingest: p99 answer", fnum(in.P99Ms, " ms"), "< 50 ms", fcheck(in.P99Ms, lt(50))},
		{"ingest: p99 answer, 1 sender", fnum(in.SingleP99Ms, " ms"), "< 10 ms", fcheck(in.SingleP99Ms, lt(10))},
		{"ingest: non-2xx answers", inum(in.Errors), "0", icheck(in.Errors, zero)},
		{"ingest: 2xx deliveries not stored", inum(in.Lost), "0", icheck(in.Lost, zero)},
		{"backfill: objects written", inum(bf.Objects), "", ""},
		{"backfill: requests / design minimum", fmt.Sprintf("%s / %s = %s", inum(bf.Requests), inum(bf.MinRequests), fnum(bf.RequestsRatio, "")), "<= 1.05", fcheck(bf.RequestsRatio, le(1.05))},
		{"backfill: wall / ideal", fmt.Sprintf("%s / %s = %s", fnum(bf.WallS, " s"), fnum(bf.IdealWallS, " s"), fnum(bf.WallRatio, "")), "<= 1.5", fcheck(bf.WallRatio, le(1.5))},
		{"backfill: rate-limit violations", inum(bf.RateLimitViolations), "0", icheck(bf.RateLimitViolations, zero)},
		{"rescan: primary rate limit spent", inum(rs.PrimarySpent), "0", icheck(rs.PrimarySpent, zero)},
		{"rescan: wall", fnum(rs.WallS, " s"), "", ""},
		{fmt.Sprintf("memory: peak RSS, 1x backfill at %g ms", m.LargeLatencyMs), fnum(m.SmallPeakRSSMB, " MB"), "", ""},
		{fmt.Sprintf("memory: peak RSS, %dx backfill at %g ms%s", m.LargeFactor, m.LargeLatencyMs, unfinished(m.LargeFinished)), fnum(m.LargePeakRSSMB, " MB"), "", ""},
		{"memory: growth large/small", fnum(m.Ratio, "x"), "< 1.3", fcheck(m.Ratio, lt(1.3))},
		{fmt.Sprintf("read: pulls pages/s (%d per page of %d, %d clients), webhookdb / ghfake", rd.PerPage, rd.Items, rd.Clients),
			fmt.Sprintf("%s / %s = %s", fnum(rd.PullsPerS, "/s"), fnum(rd.GhfakePullsPerS, "/s"), fnum(rd.Ratio, "")), "", ""},
		{"read: p50 / p99 answer, webhookdb (ghfake)", fmt.Sprintf("%s / %s (%s / %s)", fnum(rd.P50Ms, " ms"), fnum(rd.P99Ms, " ms"),
			fnum(rd.GhfakeP50Ms, " ms"), fnum(rd.GhfakeP99Ms, " ms")), "", ""},
	}
}

func unfinished(done *bool) string {
	if done != nil && !*done {
		return " (unfinished)"
	}
	return ""
}

// PrintTable writes the table, then the setting and any failures.
func (r *Result) PrintTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\tvalue\tgoal\tmet?")
	for _, x := range r.rows() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", x.figure, x.value, x.goal, x.met)
	}
	_ = tw.Flush()
	bf := r.Backfill
	fmt.Fprintf(w, "\nsetting: %d pull requests in the backfill world, GitHub latency %.0f ms, %d requests in flight per installation, rate limit %d/h (bound %s); ingest phases %.1f s each\n",
		bf.PullRequests, bf.LatencyMs, bf.Concurrency, bf.RateLimitPerH, fnum(bf.RateLimitBoundS, " s"), r.Ingest.PhaseS)
	fmt.Fprintf(w, "machine: %d cores, %s, %s, %s; logs in %s\n", r.Machine.Cores, r.Machine.Go, r.Machine.OS, r.Machine.Postgres, r.Logs)
	parts := make([]string, 0, len(r.Errors))
	for p := range r.Errors {
		parts = append(parts, p)
	}
	sort.Strings(parts)
	for _, p := range parts {
		fmt.Fprintf(w, "FAILED %s: %s\n", p, r.Errors[p])
	}
}
