package bench

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver, as the product uses

	"github.com/webhookdb/webhookdb/ghfake"
)

// database is one fresh bench database on the configured server.
type database struct {
	url string
	db  *sql.DB
}

// freshDatabase drops and creates the database name on the server of
// serverURL and migrates it with the binary's own `migrate`.
func freshDatabase(ctx context.Context, bin, serverURL, name, dir string) (*database, error) {
	u, err := url.Parse(serverURL)
	if err != nil {
		return nil, fmt.Errorf("parse the database URL: %w", err)
	}
	admin := *u
	admin.Path = "/postgres"
	adb, err := sql.Open("pgx", admin.String())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", admin.Redacted(), err)
	}
	defer adb.Close()
	id := pgx.Identifier{name}.Sanitize()
	// FORCE ends the connections a previous, interrupted run left.
	if _, err := adb.ExecContext(ctx, "DROP DATABASE IF EXISTS "+id+" WITH (FORCE)"); err != nil {
		return nil, fmt.Errorf("drop database %s on %s: %w", name, admin.Redacted(), err)
	}
	if _, err := adb.ExecContext(ctx, "CREATE DATABASE "+id); err != nil {
		return nil, fmt.Errorf("create database %s on %s: %w", name, admin.Redacted(), err)
	}
	du := *u
	du.Path = "/" + name
	d := &database{url: du.String()}
	cmd := exec.CommandContext(ctx, bin, "migrate")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DATABASE_URL="+d.url)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("webhookdb migrate %s: %w: %s", name, err, strings.TrimSpace(string(out)))
	}
	if d.db, err = sql.Open("pgx", d.url); err != nil {
		return nil, fmt.Errorf("open %s: %w", du.Redacted(), err)
	}
	d.db.SetMaxOpenConns(64)
	d.db.SetMaxIdleConns(64)
	return d, nil
}

func (d *database) close() { d.db.Close() }

// serveProc is one `webhookdb serve` subprocess.
type serveProc struct {
	name string
	addr string
	log  string
	cmd  *exec.Cmd
	done chan struct{}
}

// procConfig is what a serve process is pointed at.
type procConfig struct {
	bin, dir, name  string
	prefix          string // of the Redis namespaces
	dbURL, redisURL string
	gh              *ghfake.Server
	workers, conc   int
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("pick a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startServe runs `webhookdb serve` with its whole configuration in
// variables (no config file: it runs in dir, where there is none), its
// log in a file, and waits until /readyz answers 200.
func startServe(ctx context.Context, pc procConfig) (*serveProc, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	p := &serveProc{name: pc.name, addr: addr, log: filepath.Join(pc.dir, pc.name+".log"), done: make(chan struct{})}
	logf, err := os.Create(p.log)
	if err != nil {
		return nil, fmt.Errorf("create the log of %s: %w", pc.name, err)
	}
	gh := pc.gh
	vars := map[string]string{
		"DATABASE_URL":                       pc.dbURL,
		"REDIS_URL":                          pc.redisURL,
		"WEBHOOKDB_ADDR":                     addr,
		"WEBHOOKDB_PUBLIC_URL":               "http://" + addr,
		"WEBHOOKDB_NAMESPACE":                pc.prefix + "_" + pc.name + "_" + randomHex(4),
		"WEBHOOKDB_SESSION_KEY":              randomHex(32),
		"WEBHOOKDB_WORKERS":                  strconv.Itoa(pc.workers),
		"WEBHOOKDB_INSTALLATION_CONCURRENCY": strconv.Itoa(pc.conc),
		"WEBHOOKDB_LOG_LEVEL":                "info",
		// The bench has measured what it needs when it stops a process; a
		// cut backfill's jobs are not worth waiting for.
		"WEBHOOKDB_SHUTDOWN_TIMEOUT": "5s",
		"WEBHOOKDB_LOG_FORMAT":       "json",
		// The read part measures the read API's speed, not its limiter.
		"WEBHOOKDB_READ_RATE_LIMIT":  "100000000",
		"GITHUB_APP_INTEGRATION_ID":  strconv.FormatInt(gh.AppID(), 10),
		"GITHUB_APP_WEBHOOK_SECRET":  gh.WebhookSecret(),
		"GITHUB_APP_PRIVATE_KEY":     gh.PrivateKeyPEM(),
		"GITHUB_V3_API_URL":          gh.APIURL(),
		"GITHUB_V4_API_URL":          gh.GraphQLURL(),
		"GITHUB_WEB_URL":             gh.URL() + "/",
		"GITHUB_OAUTH_CLIENT_ID":     gh.OAuthClientID(),
		"GITHUB_OAUTH_CLIENT_SECRET": gh.OAuthClientSecret(),
	}
	env := os.Environ()
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	p.cmd = exec.Command(pc.bin, "serve")
	p.cmd.Dir = pc.dir
	p.cmd.Env = env
	p.cmd.Stdout = logf
	p.cmd.Stderr = logf
	// It stays in the bench's process group: a Ctrl-C on the terminal
	// reaches it too, so even a bench stopped at once by a second Ctrl-C
	// leaves no serve behind; the bench's own SIGTERM covers the rest.
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start webhookdb serve (%s): %w", pc.name, err)
	}
	go func() {
		_ = p.cmd.Wait() // its exit shows through done; the log says why
		logf.Close()
		close(p.done)
	}()
	client := &http.Client{Timeout: 2 * time.Second}
	err = waitUntil(ctx, 60*time.Second, pc.name+" /readyz", func() (bool, error) {
		select {
		case <-p.done:
			return false, fmt.Errorf("webhookdb serve exited; its log %s ends: %s", p.log, tailFile(p.log, 800))
		default:
		}
		resp, err := client.Get("http://" + addr + "/readyz")
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

func (p *serveProc) url() string { return "http://" + p.addr }

// stop ends the process with SIGTERM (its graceful shutdown, bounded by
// WEBHOOKDB_SHUTDOWN_TIMEOUT), SIGKILL after 15 s.
func (p *serveProc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(15 * time.Second)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// peakRSSMB is VmHWM of /proc/PID/status: the most resident memory the
// process has had, in MB (10^6 bytes).
func (p *serveProc) peakRSSMB() (float64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, fmt.Errorf("read the status of %s: %w", p.name, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) == 3 && fs[0] == "VmHWM:" && fs[2] == "kB" {
			kb, err := strconv.ParseFloat(fs[1], 64)
			if err != nil {
				return 0, fmt.Errorf("parse VmHWM of %s: %w", p.name, err)
			}
			return kb * 1024 / 1e6, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("read the status of %s: %w", p.name, err)
	}
	return 0, fmt.Errorf("no VmHWM in the status of %s", p.name)
}

// waitUntil polls cond until it is true, fails, or bound passes: the
// product runs in other processes, so its state is all there is to wait on.
func waitUntil(ctx context.Context, bound time.Duration, what string, cond func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, err := cond()
		if err != nil {
			return fmt.Errorf("wait for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: gave up after %s: %w", what, bound, ctx.Err())
		}
	}
}

func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "(no log)"
		}
		return err.Error()
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.Join(strings.Fields(string(b)), " ")
}
