package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/webhookdb/webhookdb/ghfake"
)

// ErrOptions marks options Run refuses (no result is made).
var ErrOptions = errors.New("invalid options")

// ErrGoalFailed is returned (with the result) when the run lost a
// delivery: the one outcome that fails the run whatever the speed.
var ErrGoalFailed = errors.New("deliveries answered 2xx are missing from webhook_delivery")

// ingestWorld is the busy organization the deliveries are about: three
// repositories of one installation, 50 pull requests and 50 issues each.
var ingestWorld = &ghfake.SeedOptions{Seed: 7, Accounts: 1, Users: 8, ReposPerAccount: 3, PullsPerRepo: 50,
	IssuesPerRepo: 50, FilesPerPull: 3, CommentsPerIssue: 1, LabelsPerRepo: 5, MilestonesPerRepo: 1}

// Run runs the parts of the benchmark and returns what they measured. A
// part that fails is recorded in Result.Errors and the others still run;
// the error is non-nil when any part failed or a delivery was lost.
func Run(ctx context.Context, o Options) (*Result, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("bench: %w: %w", ErrOptions, err)
	}
	if o.Binary == "" {
		if o.Binary, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("bench: find the webhookdb binary: %w", err)
		}
	}
	if o.Dir == "" {
		if o.Dir, err = os.MkdirTemp("", "webhookdb-bench-*"); err != nil {
			return nil, fmt.Errorf("bench: make the log directory: %w", err)
		}
	}
	r := &Result{Date: time.Now().UTC().Truncate(time.Second), Logs: o.Dir,
		Machine: Machine{Cores: runtime.NumCPU(), Go: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}}
	r.Ingest.Senders, r.Ingest.PhaseS = o.Senders, o.Phase.Seconds()
	r.Backfill.LatencyMs = float64(o.Latency) / float64(time.Millisecond)
	r.Backfill.Concurrency, r.Backfill.RateLimitPerH, r.Backfill.PullRequests = o.InstallationConcurrency, o.RateLimit, o.Size
	r.Memory.LargeFactor = o.LargeFactor
	r.Memory.LargeLatencyMs = float64(o.LargeLatency) / float64(time.Millisecond)
	r.Read.Clients, r.Read.PerPage, r.Read.Items, r.Read.PhaseS = o.Senders, readPerPage, readPulls, o.Phase.Seconds()

	if o.runs("ingest") && ctx.Err() == nil {
		if err := ingestPart(ctx, o, r); err != nil {
			fail(r, "ingest", err)
		}
	}
	var small *backfillRun
	if (o.runs("backfill") || o.runs("memory")) && ctx.Err() == nil {
		small, err = backfillPart(ctx, o, r)
		if err != nil {
			fail(r, "backfill", err)
		}
	}
	if small != nil {
		small.close()
	}
	// Its own world and replica: the backfill world's repositories hold
	// under 100 pull requests each, too few for whole pages of 100.
	if o.runs("read") && ctx.Err() == nil {
		if err := readPart(ctx, o, r); err != nil {
			fail(r, "read", err)
		}
	}
	if o.runs("memory") && ctx.Err() == nil {
		if err := memoryPart(ctx, o, r); err != nil {
			fail(r, "memory", err)
		}
	}
	if ctx.Err() != nil {
		fail(r, "run", fmt.Errorf("interrupted: %w", ctx.Err()))
	}
	switch {
	case r.Ingest.Lost != nil && *r.Ingest.Lost > 0:
		return r, fmt.Errorf("bench: %d %w", *r.Ingest.Lost, ErrGoalFailed)
	case len(r.Errors) > 0:
		return r, fmt.Errorf("bench: %d part(s) failed", len(r.Errors))
	}
	return r, nil
}

// ingestPart is the ingest and its baseline, on a fresh database.
func ingestPart(ctx context.Context, o Options, r *Result) error {
	gh, err := ghfake.New(ghfake.Options{RateLimit: 1_000_000, Seed: ingestWorld})
	if err != nil {
		return fmt.Errorf("seed ghfake: %w", err)
	}
	defer gh.Close()
	if err := gh.Start(); err != nil {
		return fmt.Errorf("start ghfake: %w", err)
	}
	gh.SetLatency(o.Latency, 0)
	insts := gh.World().Installations()
	if len(insts) == 0 {
		return fmt.Errorf("the ingest world has no installation")
	}
	b, err := newBuilder(gh, insts[0].GetID())
	if err != nil {
		return err
	}
	d, err := freshDatabase(ctx, o.Binary, o.DatabaseURL, o.Name, o.Dir)
	if err != nil {
		return err
	}
	defer d.close()
	if err := d.db.QueryRowContext(ctx, `SHOW server_version`).Scan(&r.Machine.Postgres); err != nil {
		return fmt.Errorf("read the PostgreSQL version: %w", err)
	}
	r.Machine.Postgres = "PostgreSQL " + r.Machine.Postgres
	if err := prepareBaseline(ctx, d); err != nil {
		return err
	}
	srv, err := startServe(ctx, procConfig{bin: o.Binary, dir: o.Dir, name: "ingest", prefix: o.Name, dbURL: d.url, redisURL: o.RedisURL,
		gh: gh, workers: o.Workers, conc: o.InstallationConcurrency})
	if err != nil {
		return err
	}
	defer srv.stop()
	gh.SetWebhookURL(srv.url() + "/replication")

	var before, after float64
	baseline := func(when string) error {
		// The pull request deliveries queue files scans; the baseline
		// measures the database, so it waits for that work to end first.
		if err := quiet(ctx, d, 4*o.Phase); err != nil {
			o.Log.Warn().Err(err).Str("when", when).Msg("bench: the ingest's follow-up scans still run; the baseline shares the database with them")
		}
		o.Log.Info().Str("when", when).Int("senders", o.Senders).Dur("for", o.Phase).Msg("bench: baseline upserts")
		v, err := runBaseline(ctx, d, o.Senders, o.Phase)
		if err != nil {
			return fmt.Errorf("baseline %s the ingest: %w", when, err)
		}
		if when == "before" {
			before = v
		} else {
			after = v
		}
		return nil
	}
	run, err := runIngest(ctx, o, srv, b, baseline)
	in := &r.Ingest
	if run.busy.sent > 0 {
		in.Deliveries = run.busy.sent
		in.DeliveriesPerS = round(run.busy.perS())
		in.P50Ms, in.P99Ms = round(run.busy.quantileMs(0.50)), round(run.busy.quantileMs(0.99))
	}
	if run.single.sent > 0 {
		in.SinglePerS = round(run.single.perS())
		in.SingleP50Ms, in.SingleP99Ms = round(run.single.quantileMs(0.50)), round(run.single.quantileMs(0.99))
	}
	if before > 0 {
		in.BaselineBeforePerS = round(before)
	}
	if after > 0 {
		in.BaselineAfterPerS = round(after)
	}
	if before > 0 && after > 0 {
		// Measured on both sides of the ingest, so a drift of the machine
		// shows as a gap between the two and is averaged out.
		in.BaselineUpsertsPerS = round((before + after) / 2)
		in.Ratio = ratio(in.DeliveriesPerS, in.BaselineUpsertsPerS)
	}
	errs := run.warm.errors + run.busy.errors + run.single.errors
	in.Errors = ptr(errs)
	if errs > 0 {
		o.Log.Warn().Int("errors", errs).Str("first", firstOf(run.warm.firstErr, run.busy.firstErr, run.single.firstErr)).
			Msg("bench: deliveries answered non-2xx")
	}
	// Every delivery answered 2xx was committed first, so it must be
	// there now, whatever else failed.
	var ok []string
	for _, p := range []phase{run.warm, run.busy, run.single} {
		ok = append(ok, p.ok...)
	}
	n, lerr := lost(context.WithoutCancel(ctx), d, ok)
	if lerr != nil {
		return errors.Join(err, lerr)
	}
	in.Lost = ptr(n)
	return err
}

func firstOf(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// backfillPart is the small backfill and its re-scan (the memory part
// measures peaks on runs of its own). The caller closes the run it returns.
func backfillPart(ctx context.Context, o Options, r *Result) (*backfillRun, error) {
	bound := 150 * time.Second
	if o.Quick {
		bound = 45 * time.Second
	}
	b, err := runBackfill(ctx, o, "backfill", o.Size, o.Latency, bound, o.Dir)
	if err != nil {
		return b, err
	}
	bf := &r.Backfill
	bf.Objects, bf.Requests, bf.MinRequests = ptr(b.objects), ptr(b.requests), ptr(b.minimum)
	bf.RateLimitViolations = ptr(b.violations)
	bf.WallS = round(b.wall.Seconds())
	bf.RequestsRatio = round(float64(b.requests) / float64(b.minimum))
	ideal, limitBound := idealWall(b.requests, o.Latency, o.InstallationConcurrency, o.RateLimit)
	bf.IdealWallS, bf.RateLimitBoundS = round(ideal), round(limitBound)
	bf.WallRatio = ratio(bf.WallS, bf.IdealWallS)
	if !o.runs("backfill") {
		return b, nil
	}
	o.Log.Info().Msg("bench: re-scan of the unchanged installation")
	rs, err := runRescan(ctx, b, bound)
	if err != nil {
		return b, fmt.Errorf("re-scan: %w", err)
	}
	r.Rescan.PrimarySpent, r.Rescan.WallS, r.Rescan.Requests = ptr(rs.spent), round(rs.wall.Seconds()), ptr(rs.requests)
	return b, nil
}
