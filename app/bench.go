package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/webhookdb/webhookdb/internal/bench"
)

// benchOptions are the flags of `webhookdb bench`.
type benchOptions struct {
	quick     bool
	jsonPath  string
	size      int
	senders   int
	phase     time.Duration
	latency   time.Duration
	rateLimit int
	parts     string
	logDir    string
	binary    string
}

const benchKey = "bench"

func benchFlags(fs *flag.FlagSet, cc *cmdContext) {
	o := &benchOptions{}
	fs.BoolVar(&o.quick, "quick", false, "shorter phases and a smaller backfill (within 90 s on 2 cores)")
	fs.StringVar(&o.jsonPath, "json", "", "also write the figures to this file as JSON")
	fs.IntVar(&o.size, "size", 0, "pull requests of the backfill world (default 250, 60 with --quick); the memory run uses 10x")
	fs.IntVar(&o.senders, "senders", 16, "concurrent webhook senders, and baseline connections")
	fs.DurationVar(&o.phase, "phase", 0, "length of each timed ingest and baseline phase (default 8s, 4s with --quick)")
	fs.DurationVar(&o.latency, "latency", 50*time.Millisecond, "the simulated GitHub's answer time")
	fs.IntVar(&o.rateLimit, "rate-limit", 15000, "the simulated GitHub's primary rate limit per installation and hour")
	fs.StringVar(&o.parts, "parts", "", "comma-separated parts to run: ingest, backfill, memory, read (default all)")
	fs.StringVar(&o.logDir, "log-dir", "", "directory for the serve processes' logs (default a new temporary one)")
	fs.StringVar(&o.binary, "binary", "", "the webhookdb binary to run (default this one)")
	cc.extra[benchKey] = o
}

// runBench runs the benchmark against the PostgreSQL and Redis servers of
// the configuration (in databases and namespaces of its own) and prints
// the table; --json writes the figures too.
func runBench(ctx context.Context, cc *cmdContext) error {
	o, ok := cc.extra[benchKey].(*benchOptions)
	if !ok {
		return fmt.Errorf("bench: flags were not registered")
	}
	if o.size < 0 || o.senders < 1 || o.phase < 0 || o.latency < 0 || o.rateLimit < 1 {
		return fmt.Errorf("%w: bench: --size, --phase and --latency must not be negative, --senders and --rate-limit must be positive", errUsage)
	}
	// The GitHub side is the bench's own simulator, so the checks for a
	// real GitHub App do not apply.
	cfg, err := cc.loadConfig(true)
	if err != nil {
		return err
	}
	var parts []string
	if o.parts != "" {
		parts = strings.Split(o.parts, ",")
	}
	logger := NewLogger(LogConfig{Level: "info", Format: "text"}, cc.env.Stderr)
	res, runErr := bench.Run(ctx, bench.Options{
		Binary: o.binary, DatabaseURL: cfg.DatabaseURL, RedisURL: cfg.RedisURL,
		Workers: cfg.Workers, InstallationConcurrency: cfg.InstallationConcurrency,
		Quick: o.quick, Size: o.size, Senders: o.senders, Phase: o.phase, Latency: o.latency, RateLimit: o.rateLimit,
		Parts: parts, Dir: o.logDir, Log: logger, Out: cc.env.Stdout,
	})
	switch {
	case errors.Is(runErr, bench.ErrOptions):
		return fmt.Errorf("%w: %v", errUsage, runErr)
	case res == nil:
		return runErr
	}
	fmt.Fprintln(cc.env.Stdout)
	res.PrintTable(cc.env.Stdout)
	if o.jsonPath != "" {
		if err := res.WriteJSON(o.jsonPath); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
	}
	return runErr
}
