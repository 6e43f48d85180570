package app

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/webhookdb/webhookdb/ghfake"
	"github.com/webhookdb/webhookdb/migrations"
)

// demoOptions are the flags of `webhookdb demo`.
type demoOptions struct {
	addr        string
	githubAddr  string
	databaseURL string
	seed        int64
	repos       int
	pulls       int
	issues      int
	files       int
	comments    int
	activity    time.Duration
	steps       int
	plain       bool
	logFile     string
}

const (
	demoKey = "demo"
	// demoDatabaseURL is used unless DATABASE_URL, the config file or
	// --database-url names another database: the demo never writes into
	// the default webhookdb database.
	demoDatabaseURL = "postgres://postgres@127.0.0.1:5432/webhookdb_demo?sslmode=disable"
	demoNamespace   = "webhookdb_demo"
	demoOrg         = "org-0"
	demoUser        = "user-0"
)

// demoHooks let the demo's test compare the replica with the simulator's
// world once the activity is over. Env carries them (nil in production).
type demoHooks struct {
	// started receives the simulator once the app is installed on it.
	started func(*ghfake.Server)
	// batches, when positive, stops the activity after that many batches.
	batches int64
	// activityDone is called when the activity stops.
	activityDone func()
	// terminal replaces the check of stdout for a terminal (nil: the
	// process's real one), so a test can choose the panel.
	terminal terminalFunc
}

func demoFlags(fs *flag.FlagSet, cc *cmdContext) {
	o := &demoOptions{}
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "webhookdb listens on HOST:PORT (port 0 picks a free one)")
	fs.StringVar(&o.githubAddr, "github-addr", "127.0.0.1:9100", "the GitHub simulator listens on HOST:PORT (port 0 picks a free one)")
	fs.StringVar(&o.databaseURL, "database-url", "", "PostgreSQL URL, created if missing (default DATABASE_URL or "+demoDatabaseURL+")")
	fs.Int64Var(&o.seed, "seed", 1, "seed of the generated world and of the activity")
	fs.IntVar(&o.repos, "seed-repos", 3, "repositories of the organization")
	fs.IntVar(&o.pulls, "seed-pulls", 15, "pull requests per repository")
	fs.IntVar(&o.issues, "seed-issues", 15, "issues per repository")
	fs.IntVar(&o.files, "seed-files", 3, "changed files per pull request")
	fs.IntVar(&o.comments, "seed-comments", 2, "comments per issue and pull request")
	fs.DurationVar(&o.activity, "activity", 2*time.Second, "send a batch of simulated webhooks this often (0: none)")
	fs.IntVar(&o.steps, "activity-steps", 3, "changes (webhooks) per batch")
	fs.BoolVar(&o.plain, "plain", false, "no live panel: print the description and log to stderr, as when stdout is not a terminal")
	fs.StringVar(&o.logFile, "log-file", "", "write the log to FILE (default with the panel: a new file in the temporary directory; without: stderr)")
	cc.extra[demoKey] = o
}

func (o *demoOptions) check() error {
	switch {
	case o.repos < 1:
		return fmt.Errorf("%w: demo: --seed-repos must be at least 1, got %d", errUsage, o.repos)
	case o.pulls < 0 || o.issues < 0 || o.files < 0 || o.comments < 0:
		return fmt.Errorf("%w: demo: --seed-* counts must not be negative", errUsage)
	case o.activity < 0:
		return fmt.Errorf("%w: demo: --activity must not be negative, got %s", errUsage, o.activity)
	case o.steps < 1:
		return fmt.Errorf("%w: demo: --activity-steps must be at least 1, got %d", errUsage, o.steps)
	}
	return nil
}

// runDemo runs the whole product on this machine: a seeded GitHub
// simulator, webhookdb's web server and workers, the app's installation on
// the simulated organization (whose webhook starts the backfill), and
// simulated activity, until ctx ends.
func runDemo(ctx context.Context, cc *cmdContext) error {
	o, ok := cc.extra[demoKey].(*demoOptions)
	if !ok {
		return fmt.Errorf("demo: flags were not registered")
	}
	if err := o.check(); err != nil {
		return err
	}
	cfg, err := cc.loadConfig(true)
	if err != nil {
		return err
	}
	start := time.Now()
	hooks := cc.env.demo
	if hooks == nil {
		hooks = &demoHooks{}
	}
	isTerminal := hooks.terminal
	if isTerminal == nil {
		isTerminal = osTerminal
	}
	// On a terminal the live panel takes stdout and the log goes to a
	// file; elsewhere the log streams to stderr as it always did.
	termSize, usePanel := chooseDemoPanel(o.plain, cc.env.Stdout, isTerminal)
	logOut, logPath, closeLog, err := openDemoLog(o.logFile, usePanel, cc.env.Stderr)
	if err != nil {
		return err
	}
	defer func() {
		// The log itself is gone by now, so this is said on stderr.
		if err := closeLog(); err != nil {
			fmt.Fprintf(cc.env.Stderr, "webhookdb: demo: close the log file %s: %v\n", logPath, err)
		}
	}()
	// A person reads the demo's log, so it is text unless asked otherwise.
	if _, set := lookupEnv(cc.env, "WEBHOOKDB_LOG_FORMAT"); !set {
		cfg.Log.Format = "text"
	}
	logger := NewLogger(cfg.Log, logOut)

	gh, err := ghfake.New(ghfake.Options{
		OAuthUser: demoUser,
		Seed: &ghfake.SeedOptions{Seed: o.seed, Accounts: 1, ReposPerAccount: o.repos,
			PullsPerRepo: zeroAsNone(o.pulls), IssuesPerRepo: zeroAsNone(o.issues),
			FilesPerPull: zeroAsNone(o.files), CommentsPerIssue: zeroAsNone(o.comments),
			NoInstall: true},
	})
	if err != nil {
		return fmt.Errorf("demo: GitHub simulator: %w", err)
	}
	if err := gh.Listen(o.githubAddr); err != nil {
		return fmt.Errorf("demo: GitHub simulator: %w", err)
	}
	defer gh.Close()

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("demo: listen on %s: %w", o.addr, err)
	}
	// serve closes ln; this covers the returns before it runs.
	served := false
	defer func() {
		if !served {
			ln.Close()
		}
	}()
	if err := demoConfig(&cfg, cc.env, o, gh, ln.Addr().String()); err != nil {
		return err
	}
	gh.SetWebhookURL(cfg.PublicURL + "/replication")

	if err := prepareDemoDatabase(ctx, cfg.DatabaseURL); err != nil {
		return err
	}
	svc, err := NewServices(cfg, logger)
	if err != nil {
		return err
	}
	defer svc.Close()
	if _, err := migrations.Up(ctx, svc.DB); err != nil {
		return fmt.Errorf("demo: migrate %s: %w", redactURL(cfg.DatabaseURL), err)
	}

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	served = true
	serveErr := make(chan error, 1)
	go func() {
		// The listener is open, so the installation webhook below waits in
		// its backlog until the server accepts it.
		serveErr <- serve(runCtx, svc, ln, true)
		stop()
	}()

	in, d, err := gh.InstallApp(runCtx, demoOrg, nil)
	switch {
	case err != nil:
		stop()
		<-serveErr
		return fmt.Errorf("demo: install the app on %s: %w", demoOrg, err)
	case d == nil:
		logger.Error().Msg("demo: the simulator sent no installation webhook; the backfill did not start")
	case !d.OK():
		logger.Error().Int("status", d.StatusCode).Str("error", d.Error).Str("body", string(d.ResponseBody)).
			Msg("demo: the installation webhook was not accepted; the backfill did not start")
	default:
		logger.Info().Int64("installation_id", in.GetID()).Str("delivery", d.GUID).
			Msg("demo: app installed; installation.created delivered, backfill queued")
	}
	if hooks.started != nil {
		hooks.started(gh)
	}
	describeDemo(cc.env.Stdout, cfg, gh, o, in.GetID(), logPath)

	var wg sync.WaitGroup
	stats := &demoStats{}
	if o.activity > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			simulateActivity(runCtx, svc, gh, o, hooks, stats)
		}()
	}
	var panel *demoPanel
	if usePanel {
		panel = &demoPanel{out: cc.env.Stdout, size: termSize, db: svc.DB, log: logger, installationID: in.GetID(),
			since: start, logFile: logPath, stats: stats}
		wg.Add(1)
		go func() {
			defer wg.Done()
			panel.run(runCtx)
		}()
	}
	err = <-serveErr
	stop()
	wg.Wait()
	if panel != nil {
		panel.summary(ctx)
	}
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	fmt.Fprintln(cc.env.Stdout, "demo: stopped")
	return nil
}

func lookupEnv(env Env, name string) (string, bool) {
	if env.Getenv == nil {
		return "", false
	}
	return env.Getenv(name)
}

// demoConfig points the loaded configuration at the simulator and at the
// demo's own database and Redis namespace, keeping what the user set.
func demoConfig(cfg *Config, env Env, o *demoOptions, gh *ghfake.Server, addr string) error {
	def := Defaults()
	// The GitHub side is always the simulator's: that is the demo.
	cfg.GitHub = gh.GitHubConfig()
	switch {
	case o.databaseURL != "":
		cfg.DatabaseURL = o.databaseURL
	case cfg.DatabaseURL == def.DatabaseURL:
		cfg.DatabaseURL = demoDatabaseURL
	}
	if cfg.Namespace == def.Namespace {
		cfg.Namespace = demoNamespace
	}
	derived := cfg.PublicURL == "http://"+cfg.Addr
	if _, set := lookupEnv(env, "WEBHOOKDB_PUBLIC_URL"); set {
		derived = false
	}
	cfg.Addr = addr
	if derived {
		cfg.PublicURL = "http://" + addr
	}
	if cfg.SessionKey == "" {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return fmt.Errorf("demo: session key: %w", err)
		}
		cfg.SessionKey = hex.EncodeToString(key)
	}
	if err := cfg.finish(true); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	return cfg.RequireApp()
}

// prepareDemoDatabase creates the database of databaseURL when it does not
// exist, connecting to the server's postgres database to do so.
func prepareDemoDatabase(ctx context.Context, databaseURL string) error {
	err := pingDB(ctx, databaseURL)
	var pgErr *pgconn.PgError
	switch {
	case err == nil:
		return nil
	case !errors.As(err, &pgErr) || pgErr.Code != "3D000": // invalid_catalog_name
		return fmt.Errorf("demo: connect to %s: %w", redactURL(databaseURL), err)
	}
	u, err := url.Parse(databaseURL)
	if err != nil {
		return fmt.Errorf("demo: database URL: %w", err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	admin := *u
	admin.Path = "/postgres"
	db, err := OpenDB(admin.String())
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	if errors.As(err, &pgErr) && pgErr.Code == "42P04" { // duplicate_database: another demo made it
		err = nil
	}
	if err != nil {
		return fmt.Errorf("demo: create database %s on %s: %w", name, redactURL(admin.String()), err)
	}
	return nil
}

func pingDB(ctx context.Context, databaseURL string) error {
	db, err := sql.Open("pgx", databaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return db.PingContext(ctx)
}

// redactURL hides a password in a URL printed or logged.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// simulateActivity sends a batch of realistic changes every interval until
// ctx ends, logging one line per batch.
func simulateActivity(ctx context.Context, svc *Services, gh *ghfake.Server, o *demoOptions, hooks *demoHooks, stats *demoStats) {
	log := svc.Logger
	tick := time.NewTicker(o.activity)
	defer tick.Stop()
	if hooks.activityDone != nil {
		defer hooks.activityDone()
	}
	for batch := int64(1); hooks.batches <= 0 || batch <= hooks.batches; batch++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		ds, err := gh.Simulate(ctx, ghfake.ActivityOptions{Seed: o.seed*1_000_003 + batch, Steps: o.steps, Owner: demoOrg})
		if err != nil && ctx.Err() != nil {
			return
		}
		var events []string
		failed := 0
		for _, d := range ds {
			events = append(events, fmt.Sprintf("%s.%s=%d", d.Event, d.Action, d.StatusCode))
			if !d.OK() {
				failed++
			}
		}
		stats.batches.Add(1)
		stats.sent.Add(int64(len(ds)))
		stats.rejected.Add(int64(failed))
		ev := log.Info()
		if err != nil || failed > 0 {
			ev = log.Warn().AnErr("error", err)
		}
		ev.Int64("batch", batch).Int("webhooks", len(ds)).Int("failed", failed).
			Str("events", strings.Join(events, " ")).Msg("demo: simulated activity")
	}
}

// describeDemo prints, in words, where everything is and how to use it.
func describeDemo(out io.Writer, cfg Config, gh *ghfake.Server, o *demoOptions, installationID int64, logPath string) {
	sz := gh.World().Size()
	token := gh.InstallationToken(installationID)
	repo := "repo-0"
	fmt.Fprintf(out, `
webhookdb demo is running. Ctrl-C stops it.

  Web UI:            %[1]s/
  Log in:            %[1]s/api/github/auth  (the simulated GitHub approves you as %[2]s, no password)
  Simulated GitHub:  %[3]s  (REST API %[4]s, request counts %[3]s/_fake/stats)
  Organization:      %[5]s with %[6]d repositories, %[7]d pull requests, %[8]d issues; the app is
                     installed on it (installation %[9]d) and the backfill runs now.
  Webhooks:          %[3]s sends them to %[1]s/replication;
                     %[10]s
  Database:          %[11]s
  Redis:             %[12]s (namespace %[13]s)%[17]s

Query the replica:

  psql '%[16]s'

  SELECT number, state, merged, title FROM github_pull_request ORDER BY updated_at DESC LIMIT 10;
  SELECT event, action, status, received_at FROM webhook_delivery ORDER BY received_at DESC LIMIT 10;

Read it with GitHub's own REST API, served from the replica (point any GitHub
client there: GITHUB_API_URL, go-github's BaseURL, Octokit's baseUrl):

  curl -H "Authorization: token %[14]s" '%[1]s/api/v3/repos/%[5]s/%[15]s/pulls?state=all&per_page=5'

Load a repository again, with its children (this installation token
expires in an hour; the scan's progress is at the Location it answers):

  curl -X POST -H "Authorization: Bearer %[14]s" '%[1]s/load/repos/%[5]s/%[15]s?children=true'

`, cfg.PublicURL, demoUser, gh.URL(), gh.APIURL(), demoOrg, sz.Repos, sz.Pulls, sz.Issues, installationID,
		activityWords(o), redactURL(cfg.DatabaseURL), redactURL(cfg.RedisURL), cfg.Namespace, token, repo, cfg.DatabaseURL, logWords(logPath))
}

func logWords(logPath string) string {
	if logPath == "" {
		return ""
	}
	return "\n  Log:               " + logPath
}

func activityWords(o *demoOptions) string {
	if o.activity == 0 {
		return "no simulated activity (--activity 0)."
	}
	return fmt.Sprintf("%d simulated changes every %s (pull requests, issues, comments, reviews, labels).", o.steps, o.activity)
}
