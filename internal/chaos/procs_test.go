//go:build chaos

package chaos

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/webhookdb/webhookdb/ghfake"
)

// catchupInterval is WEBHOOKDB_CATCHUP_INTERVAL of every process: the
// shortest the configuration allows, so that catch-up runs often.
const catchupInterval = 10 * time.Second

// stack is one webhookdb deployment: a database, a Redis and a namespace,
// and the processes (serve, web, worker) running against them.
type stack struct {
	name      string
	bin       string // the webhookdb binary
	gh        *ghfake.Server
	dbURL     string
	db        *sql.DB
	redisURL  string
	namespace string
	dir       string

	mu    sync.Mutex
	procs []*proc
	n     int
	// counted sums webhookdb_webhook_deliveries_total{status=processed or
	// stale} of the web processes already stopped (scraped before).
	counted int
}

// proc is one webhookdb process.
type proc struct {
	role string // serve, web or worker
	addr string // "" for a worker
	log  string // its stderr, a file
	cmd  *exec.Cmd
	done chan struct{} // closed when it has exited
}

// newStack migrates dbURL with the binary's `migrate` and prepares the
// stack; it starts no process.
func newStack(ctx context.Context, t *testing.T, bin string, gh *ghfake.Server, name, dbURL, redisURL string) *stack {
	t.Helper()
	st := &stack{name: name, bin: bin, gh: gh, dbURL: dbURL, redisURL: redisURL, namespace: "webhookdb_chaos_" + name + "_" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36), dir: t.TempDir()}
	cmd := exec.CommandContext(ctx, bin, "migrate")
	cmd.Dir = st.dir
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: webhookdb migrate: %v\n%s", name, err, out)
	}
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatalf("%s: open the database: %v", name, err)
	}
	st.db = db
	t.Cleanup(func() {
		st.stopAll(context.Background(), t)
		db.Close()
	})
	return st
}

// env is the complete environment of a process: no config file (the
// process runs in its own empty directory), everything from variables.
func (st *stack) env(role, addr string) []string {
	gh := st.gh
	vars := map[string]string{
		"DATABASE_URL":               st.dbURL,
		"REDIS_URL":                  st.redisURL,
		"WEBHOOKDB_NAMESPACE":        st.namespace,
		"WEBHOOKDB_SESSION_KEY":      strings.Repeat("k", 32),
		"WEBHOOKDB_WORKERS":          "4",
		"WEBHOOKDB_SHUTDOWN_TIMEOUT": "15s",
		"WEBHOOKDB_CATCHUP_INTERVAL": catchupInterval.String(),
		"WEBHOOKDB_LOG_LEVEL":        "info",
		"GITHUB_APP_INTEGRATION_ID":  strconv.FormatInt(gh.AppID(), 10),
		"GITHUB_APP_WEBHOOK_SECRET":  gh.WebhookSecret(),
		"GITHUB_APP_PRIVATE_KEY":     gh.PrivateKeyPEM(),
		"GITHUB_V3_API_URL":          gh.APIURL(),
		"GITHUB_V4_API_URL":          gh.GraphQLURL(),
		"GITHUB_WEB_URL":             gh.URL() + "/",
		"GITHUB_OAUTH_CLIENT_ID":     gh.OAuthClientID(),
		"GITHUB_OAUTH_CLIENT_SECRET": gh.OAuthClientSecret(),
	}
	switch {
	case role == "worker":
		// A worker serves its health and its own metrics (replays it ran)
		// there, and nothing else.
		vars["WEBHOOKDB_METRICS_ADDR"] = addr
	case addr != "":
		vars["WEBHOOKDB_ADDR"] = addr
	}
	out := os.Environ()
	for k, v := range vars {
		out = append(out, k+"="+v)
	}
	return out
}

// start runs a process of role (serve, web, worker) and waits until it is
// ready: /readyz answers 200 (a worker's on its metrics address). addr ""
// picks a free port.
func (st *stack) start(ctx context.Context, t *testing.T, role, addr string) *proc {
	t.Helper()
	if addr == "" {
		addr = freeAddr(t)
	}
	st.mu.Lock()
	st.n++
	p := &proc{role: role, addr: addr, log: filepath.Join(st.dir, fmt.Sprintf("%s-%d.log", role, st.n)), done: make(chan struct{})}
	st.mu.Unlock()
	logf, err := os.Create(p.log)
	if err != nil {
		t.Fatalf("%s: %v", st.name, err)
	}
	p.cmd = exec.Command(st.bin, role)
	p.cmd.Dir = st.dir
	p.cmd.Env = st.env(role, addr)
	p.cmd.Stdout = logf
	p.cmd.Stderr = logf
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("%s: start %s: %v", st.name, role, err)
	}
	go func() {
		_ = p.cmd.Wait() // its exit is read through done; the log says why
		logf.Close()
		close(p.done)
	}()
	st.mu.Lock()
	st.procs = append(st.procs, p)
	st.mu.Unlock()
	ready := func() (bool, error) {
		select {
		case <-p.done:
			return false, fmt.Errorf("%s exited:\n%s", role, tailFile(p.log, 3000))
		default:
		}
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	}
	if err := waitUntil(ctx, 60*time.Second, st.name+": "+role+" ready", ready); err != nil {
		t.Fatal(err)
	}
	return p
}

// stop scrapes a process's delivery counts, then stops it with
// SIGTERM, waiting for its graceful shutdown (SIGKILL after 40 s).
func (st *stack) stop(ctx context.Context, t *testing.T, p *proc) {
	t.Helper()
	select {
	case <-p.done:
		return
	default:
	}
	if p.addr != "" {
		n, err := scrapeProcessed(ctx, p.addr)
		if err != nil {
			t.Errorf("%s: scrape %s's /metrics before stopping it: %v", st.name, p.role, err)
		}
		st.mu.Lock()
		st.counted += n
		st.mu.Unlock()
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(40 * time.Second):
		t.Errorf("%s: %s did not stop within 40 s of SIGTERM", st.name, p.role)
		p.kill()
	}
}

// kill stops the process with SIGKILL, as a crash or the OOM killer would:
// no shutdown, jobs in progress cut off.
func (p *proc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// stopAll stops every process still running.
func (st *stack) stopAll(ctx context.Context, t *testing.T) {
	st.mu.Lock()
	procs := append([]*proc(nil), st.procs...)
	st.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st.stop(ctx, t, p)
		}()
	}
	wg.Wait()
}

// logs are the tails of every process's log, for a failure message.
func (st *stack) logs() string {
	st.mu.Lock()
	defer st.mu.Unlock()
	var b strings.Builder
	for _, p := range st.procs {
		fmt.Fprintf(&b, "--- %s %s (%s)\n%s\n", st.name, p.role, p.log, tailFile(p.log, 2000))
	}
	return b.String()
}

// scrapeProcessed reads webhookdb_webhook_deliveries_total from /metrics
// and sums the processed and stale deliveries over events.
func scrapeProcessed(ctx context.Context, addr string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return 0, fmt.Errorf("build the request: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("get /metrics: %w", err)
	}
	defer resp.Body.Close()
	sum := 0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "webhookdb_webhook_deliveries_total{") ||
			!(strings.Contains(line, `status="processed"`) || strings.Contains(line, `status="stale"`)) {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return 0, fmt.Errorf("parse %q: %w", line, err)
		}
		sum += int(v)
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("read /metrics: %w", err)
	}
	return sum, nil
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitUntil polls cond until it is true, returns its error, or bound
// passes; every wait of the harness is bounded this way.
func waitUntil(ctx context.Context, bound time.Duration, what string, cond func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
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
	return string(b)
}
