package handlers

import (
	"context"
	"database/sql"
	"time"

	"github.com/palantir/go-githubapp/githubapp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/webhookdb/webhookdb/jobs"
)

// Deps is what the webhook endpoint needs, built once by the app.
type Deps struct {
	DB        *sql.DB
	Scheduler Scheduler
	GitHub    githubapp.ClientCreator
	Logger    zerolog.Logger
	// Metrics is the app's registry; nil registers nothing.
	Metrics prometheus.Registerer
	// WebhookSecret signs every delivery. Empty refuses every delivery:
	// an unsigned webhook would let anyone write the replica.
	WebhookSecret string
	// MaxBodyBytes caps a body; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// RevokedRetention is how long a private repository's data stays after
	// access to it ends; 0 removes it in the delivery that ended it.
	RevokedRetention time.Duration
	// MaxBodyBytesInFlight caps the body bytes held at once across all
	// webhook requests; past it a request answers 503 unread. 0 means
	// DefaultMaxBodyBytesInFlight; it is never below MaxBodyBytes.
	MaxBodyBytesInFlight int64
	// CommitLanes is how many group-commit transactions may run at once
	// (each on its own connection); 0 means 8. MaxBatch caps the
	// deliveries of one transaction; 0 means 32, 1 turns group commit off.
	CommitLanes int
	MaxBatch    int
}

// Scheduler is the part of *jobs.Scheduler the handlers use to queue
// follow-up work.
type Scheduler interface {
	// ScanInTx records a scan in the delivery's transaction (so a commit
	// never loses its follow-up work) and returns what queues it now.
	ScanInTx(ctx context.Context, tx *sql.Tx, req jobs.ScanRequest) (scanID int64, joined bool, enqueue func() error, err error)
	// CancelInstallationInTx ends an installation's queued and running
	// scans in the delivery's transaction.
	CancelInstallationInTx(ctx context.Context, tx *sql.Tx, installationID int64) error
}

// Base is embedded in every event handler: what a handler needs to store
// a delivery and queue its follow-up work.
type Base struct {
	DB        *sql.DB
	Scheduler Scheduler
	GitHub    githubapp.ClientCreator
	Logger    zerolog.Logger
	// RevokedRetention: see Deps.
	RevokedRetention time.Duration

	metrics *metrics
	// commits groups the deliveries that arrive together into one
	// transaction (groupcommit.go); nil stores each alone.
	commits *committer
	// hooks lets tests act at a precise point of a delivery (the database
	// going away before commit) without sleeping.
	hooks *hooks
}

type hooks struct {
	// beforeCommit runs after the effect is written, before the commit;
	// an error fails the delivery there.
	beforeCommit func() error
	// queued runs when a delivery waits in its lane for the running
	// batch to end (groupcommit.go).
	queued func()
}

// NewBase builds the Base every handler embeds.
func NewBase(d Deps) Base {
	b := Base{DB: d.DB, Scheduler: d.Scheduler, GitHub: d.GitHub, Logger: d.Logger, RevokedRetention: d.RevokedRetention, metrics: newMetrics(d.Metrics, d.Logger)}
	if d.MaxBatch != 1 {
		b.commits = newCommitter(d.CommitLanes, d.MaxBatch)
	}
	return b
}

// Handlers are every event handler, in dispatch order.
func Handlers(b Base) []githubapp.EventHandler {
	return []githubapp.EventHandler{
		&Ping{Base: b},
		&Installation{Base: b},
		&InstallationRepositories{Base: b},
		&Repository{Base: b},
		&Issues{Base: b},
		&IssueComment{Base: b},
		&Label{Base: b},
		&Milestone{Base: b},
		&PullRequest{Base: b},
		&PullRequestReview{Base: b},
		&PullRequestReviewComment{Base: b},
		&Member{Base: b},
	}
}
