// Package app assembles webhookdb: configuration, the database and Redis
// pools, the HTTP routes, the job workers, and the command line.
package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/webhookdb/webhookdb/migrations"
)

// Env is what the command line reads from the outside world, passed in so
// that tests can run the command in-process.
type Env struct {
	Stdout io.Writer
	Stderr io.Writer
	// Stdin is read by `sql-user --password-stdin`; nil reads nothing.
	Stdin  io.Reader
	Getenv func(string) (string, bool)
	// demo lets a test of `webhookdb demo` observe it; nil otherwise.
	demo *demoHooks
}

// Main runs the command line of the webhookdb binary and returns its exit
// code. SIGINT and SIGTERM start a graceful shutdown.
func Main() int {
	// The signals are caught on a buffered channel from the start, so a
	// second one is never lost however soon it follows the first.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		if _, ok := <-sigs; !ok {
			return
		}
		cancel() // graceful: stop accepting, finish in-flight work
		// A second signal (Ctrl-C again) stops the process at once.
		sig := <-sigs
		fmt.Fprintf(os.Stderr, "webhookdb: second %s: stopping now\n", sig)
		code := 130
		if sig == syscall.SIGTERM {
			code = 143
		}
		os.Exit(code)
	}()
	return Run(ctx, os.Args[1:], Env{Stdout: os.Stdout, Stderr: os.Stderr, Stdin: os.Stdin, Getenv: os.LookupEnv})
}

const usage = `webhookdb keeps a PostgreSQL replica of GitHub data, fed by webhooks and backfills.

Usage: webhookdb [-c FILE] COMMAND [flags]

Commands:
  migrate       apply the database migrations (safe to run twice)
  serve         web server and job workers in one process
  web           the web server alone
  worker        the job workers alone
  demo          the whole product against a simulated GitHub
  fake-github   the GitHub simulator alone
  bench         the benchmarks
  sql-user      a read-only PostgreSQL role for analysts (sql-user NAME [--account LOGIN]...)

Every command takes -c FILE (default config.yml). Environment variables
override the file; see README.md.
`

// errUsage marks a mistake on the command line; it exits with code 2.
var errUsage = errors.New("usage")

type command struct {
	name string
	run  func(ctx context.Context, cc *cmdContext) error
	// flags adds the command's own flags.
	flags func(fs *flag.FlagSet, cc *cmdContext)
	// positional: the command takes arguments (cc.args), between its flags.
	positional bool
}

// cmdContext is what a command gets: its parsed flags and the environment.
type cmdContext struct {
	env        Env
	configPath string
	configSet  bool
	fs         *flag.FlagSet
	extra      map[string]any
	args       []string
}

func (cc *cmdContext) loadConfig(demo bool) (Config, error) {
	return LoadConfig(LoadOptions{Path: cc.configPath, PathGiven: cc.configSet, Getenv: cc.env.Getenv, Demo: demo})
}

func commands() []command {
	return []command{
		{name: "migrate", run: runMigrate},
		{name: "serve", run: func(ctx context.Context, cc *cmdContext) error { return runServer(ctx, cc, true, true) }},
		{name: "web", run: func(ctx context.Context, cc *cmdContext) error { return runServer(ctx, cc, true, false) }},
		{name: "worker", run: func(ctx context.Context, cc *cmdContext) error { return runServer(ctx, cc, false, true) }},
		{name: "demo", run: runDemo, flags: demoFlags},
		{name: "fake-github", run: runFakeGitHub, flags: fakeGitHubFlags},
		{name: "bench", run: runBench, flags: benchFlags},
		{name: "sql-user", run: runSQLUser, flags: sqlUserFlags, positional: true},
	}
}

// Run runs one command line (without the program name) and returns the
// exit code: 0 on success, 1 on failure, 2 on a usage mistake.
func Run(ctx context.Context, args []string, env Env) int {
	if env.Stdout == nil {
		env.Stdout = io.Discard
	}
	if env.Stderr == nil {
		env.Stderr = io.Discard
	}
	err := run(ctx, args, env)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(env.Stderr, "webhookdb: %s\n", strings.TrimPrefix(err.Error(), errUsage.Error()+": "))
		return 2
	default:
		fmt.Fprintf(env.Stderr, "webhookdb: %s\n", oneLine(err.Error()))
		return 1
	}
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func run(ctx context.Context, args []string, env Env) error {
	cc := &cmdContext{env: env, configPath: "config.yml", extra: map[string]any{}}
	global := flag.NewFlagSet("webhookdb", flag.ContinueOnError)
	global.SetOutput(io.Discard)
	global.Usage = func() {}
	global.Func("c", "configuration file", func(v string) error { cc.configPath, cc.configSet = v, true; return nil })
	if err := global.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(env.Stdout, usage)
			return err
		}
		return fmt.Errorf("%w: %v (see webhookdb -h)", errUsage, err)
	}
	rest := global.Args()
	if len(rest) == 0 {
		return fmt.Errorf("%w: no command given; one of migrate, serve, web, worker, demo, fake-github, bench, sql-user", errUsage)
	}
	name := rest[0]
	if name == "help" {
		fmt.Fprint(env.Stdout, usage)
		return nil
	}
	var cmd *command
	for _, c := range commands() {
		if c.name == name {
			cmd = &c
			break
		}
	}
	if cmd == nil {
		return fmt.Errorf("%w: unknown command %q; one of migrate, serve, web, worker, demo, fake-github, bench, sql-user", errUsage, name)
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.Func("c", "configuration file", func(v string) error { cc.configPath, cc.configSet = v, true; return nil })
	if cmd.flags != nil {
		cmd.flags(fs, cc)
	}
	cc.fs = fs
	err := fs.Parse(rest[1:])
	for err == nil && cmd.positional && fs.NArg() > 0 {
		cc.args = append(cc.args, fs.Arg(0))
		err = fs.Parse(fs.Args()[1:])
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(env.Stdout, "Usage: webhookdb %s [flags]\n", name)
			fs.SetOutput(env.Stdout)
			fs.PrintDefaults()
			return err
		}
		return fmt.Errorf("%w: %s: %v", errUsage, name, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: %s: unexpected argument %q", errUsage, name, fs.Arg(0))
	}
	return cmd.run(ctx, cc)
}

func runMigrate(ctx context.Context, cc *cmdContext) error {
	cfg, err := cc.loadConfig(false)
	if err != nil {
		return err
	}
	db, err := OpenDB(cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	res, err := migrations.Up(ctx, db)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if len(res.Applied) == 0 {
		fmt.Fprintf(cc.env.Stdout, "database is up to date at version %d\n", res.To)
	} else {
		fmt.Fprintf(cc.env.Stdout, "migrated database from version %d to %d\n", res.From, res.To)
	}
	return nil
}
