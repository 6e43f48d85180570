// Package bench is `webhookdb bench`: it runs the real webhookdb binary
// (`serve` subprocesses) against ghfake on this machine and measures
// webhook ingest beside a plain-upsert baseline of the same database,
// the initial backfill beside its ideal, a re-scan of unchanged data, and
// the peak memory of a backfill ten times larger, and the read API's
// pulls list beside ghfake's own answer to the same reads. It drives the
// product from the outside only (HTTP, the database, process status), so
// it imports none of the product's packages.
package bench

import (
	"fmt"
	"io"
	"time"

	"github.com/rs/zerolog"
)

// Options configure a run. app/bench.go fills them from the flags and the
// loaded configuration.
type Options struct {
	// Binary is the webhookdb executable started as `serve` and `migrate`;
	// default os.Executable().
	Binary string
	// DatabaseURL names the PostgreSQL server (its database part is
	// replaced by the bench's own databases, dropped and created).
	DatabaseURL string
	// RedisURL is the Redis server; the bench uses its own namespaces.
	RedisURL string
	// Workers is WEBHOOKDB_WORKERS of the serve processes.
	Workers int
	// InstallationConcurrency is WEBHOOKDB_INSTALLATION_CONCURRENCY: the
	// GitHub requests one installation may have in flight, which sets the
	// backfill's ideal time.
	InstallationConcurrency int

	// Quick shortens every phase (within 90 s on 2 cores).
	Quick bool
	// Size is the pull requests of the backfill world (0: 250, or 60 with
	// Quick); the ingest duration does not depend on it.
	Size int
	// Senders is the concurrency of the ingest and of the baseline, and
	// the read part's clients.
	Senders int
	// Phase is the length of each timed phase (baseline, ingest, each
	// side of the read part, in two halves); the single-sender phase and
	// the warm-up take half of it.
	Phase time.Duration
	// Latency is ghfake's answer time for every API request.
	Latency time.Duration
	// RateLimit is ghfake's primary limit per installation and hour.
	RateLimit int
	// LargeFactor scales the world of the memory run (default 10).
	LargeFactor int
	// LargeLatency is ghfake's latency in the memory run (default a tenth
	// of Latency): at 50 ms the 10x world alone would take minutes even at
	// the ideal pace, and the requests in flight, which hold the memory
	// that latency could change, are as many either way.
	LargeLatency time.Duration
	// LargeTimeout bounds the large backfill; its peak so far is reported
	// (and marked unfinished) when it takes longer.
	LargeTimeout time.Duration
	// Parts limits the run to some of "ingest", "backfill", "memory",
	// "read" (nil: all).
	Parts []string

	// Name prefixes the bench's databases (Name, Name_backfill,
	// Name_large, Name_read: dropped and created at each run, left for inspection
	// after it) and Redis namespaces; default webhookdb_bench.
	Name string
	// Dir keeps the logs; a new temporary directory when empty.
	Dir string
	// Log receives the bench's progress lines.
	Log zerolog.Logger
	// Out receives the table.
	Out io.Writer
}

const (
	defaultSize      = 250
	quickSize        = 60
	defaultSenders   = 16
	defaultPhase     = 8 * time.Second
	quickPhase       = 4 * time.Second
	defaultLatency   = 50 * time.Millisecond
	defaultRateLimit = 15000
	defaultLarge     = 10
)

// withDefaults fills the zero fields.
func (o Options) withDefaults() (Options, error) {
	if o.Size == 0 {
		o.Size = defaultSize
		if o.Quick {
			o.Size = quickSize
		}
	}
	if o.Senders == 0 {
		o.Senders = defaultSenders
	}
	if o.Phase == 0 {
		o.Phase = defaultPhase
		if o.Quick {
			o.Phase = quickPhase
		}
	}
	if o.Latency == 0 {
		o.Latency = defaultLatency
	}
	if o.RateLimit == 0 {
		o.RateLimit = defaultRateLimit
	}
	if o.LargeFactor == 0 {
		o.LargeFactor = defaultLarge
	}
	if o.LargeLatency == 0 {
		o.LargeLatency = o.Latency / 10
	}
	if o.LargeTimeout == 0 {
		o.LargeTimeout = 70 * time.Second
		if o.Quick {
			o.LargeTimeout = 25 * time.Second
		}
	}
	if o.Name == "" {
		o.Name = "webhookdb_bench"
	}
	if o.Workers == 0 {
		o.Workers = 8
	}
	if o.InstallationConcurrency == 0 {
		o.InstallationConcurrency = 4
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	switch {
	case o.Size < 1:
		return o, fmt.Errorf("size must be at least 1, got %d", o.Size)
	case o.Senders < 1:
		return o, fmt.Errorf("senders must be at least 1, got %d", o.Senders)
	case o.Phase < 100*time.Millisecond:
		return o, fmt.Errorf("phase must be at least 100ms, got %s", o.Phase)
	case o.DatabaseURL == "":
		return o, fmt.Errorf("no database URL")
	case o.RedisURL == "":
		return o, fmt.Errorf("no Redis URL")
	}
	for _, p := range o.Parts {
		if p != "ingest" && p != "backfill" && p != "memory" && p != "read" {
			return o, fmt.Errorf("unknown part %q (ingest, backfill, memory, read)", p)
		}
	}
	return o, nil
}

func (o Options) runs(part string) bool {
	if len(o.Parts) == 0 {
		return true
	}
	for _, p := range o.Parts {
		if p == part {
			return true
		}
	}
	return false
}
