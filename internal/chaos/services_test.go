//go:build chaos

package chaos

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
)

// pgBin holds initdb and pg_ctl.
const pgBin = "/usr/lib/postgresql/15/bin"

// pgCluster is a private PostgreSQL server of the harness, so that it can
// be restarted without disturbing anything else on the machine.
type pgCluster struct {
	data string
	port int
}

// startPG initdbs and starts a cluster as the postgres user (initdb
// refuses root); nil when the harness is not root, and the caller falls
// back to cutting connections with a proxy.
func startPG(ctx context.Context, t *testing.T) *pgCluster {
	t.Helper()
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		t.Logf("no postgres user (%v): falling back to the TCP proxy", err)
		return nil
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	dir, err := os.MkdirTemp("", "webhookdb-chaos-pg-*")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	c := &pgCluster{data: filepath.Join(dir, "data"), port: freePort(t)}
	t.Cleanup(func() {
		_ = c.pgctl(context.Background(), "stop", "-m", "immediate")
		os.RemoveAll(dir)
	})
	if out, err := asPostgres(ctx, filepath.Join(pgBin, "initdb"), "-D", c.data, "-A", "trust", "-U", "postgres", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	if err := c.pgctl(ctx, "start"); err != nil {
		t.Fatal(err)
	}
	return c
}

func asPostgres(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "runuser", append([]string{"-u", "postgres", "--", name}, args...)...)
}

// pgctl runs pg_ctl start, stop or restart and waits for it (-w).
func (c *pgCluster) pgctl(ctx context.Context, action string, args ...string) error {
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200", c.port, filepath.Dir(c.data))
	all := append([]string{action, "-D", c.data, "-w", "-t", "60", "-l", filepath.Join(filepath.Dir(c.data), "log"), "-o", opts}, args...)
	out, err := asPostgres(ctx, filepath.Join(pgBin, "pg_ctl"), all...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl %s: %w\n%s", action, err, out)
	}
	return nil
}

// restart is `pg_ctl restart -m fast`: every connection is cut, the
// server is down for a moment and comes back with its data.
//
// It is a stop and a start, the start tried a few times: a server that
// did not come back is shown with its log's tail.
func (c *pgCluster) restart(ctx context.Context) error {
	if err := c.pgctl(ctx, "stop", "-m", "fast"); err != nil {
		// A server that went down by itself is an outage too: it is
		// started again like a stopped one; why it went is in its log.
		if asPostgres(ctx, filepath.Join(pgBin, "pg_ctl"), "status", "-D", c.data).Run() == nil {
			return err // running, and it would not stop
		}
	}
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if err = c.pgctl(ctx, "start"); err == nil {
			return nil
		}
		// A start that failed may have raced a server that was coming up
		// after all ("lock file postmaster.pid already exists"): if one
		// runs and answers, the restart is done.
		if c.ready(ctx) {
			return nil
		}
	}
	return fmt.Errorf("%w\nserver log:\n%s", err, tailFile(filepath.Join(filepath.Dir(c.data), "log"), 2000))
}

// ready says whether the cluster runs and accepts connections, waiting
// (pg_isready -t) up to 30 s for one that is still starting.
func (c *pgCluster) ready(ctx context.Context) bool {
	if asPostgres(ctx, filepath.Join(pgBin, "pg_ctl"), "status", "-D", c.data).Run() != nil {
		return false
	}
	return asPostgres(ctx, filepath.Join(pgBin, "pg_isready"), "-h", "127.0.0.1", "-p", strconv.Itoa(c.port), "-t", "30").Run() == nil
}

// createDB makes a database on the cluster and returns its URL.
func (c *pgCluster) createDB(ctx context.Context, name string) (string, error) {
	out, err := asPostgres(ctx, filepath.Join(pgBin, "createdb"), "-h", "127.0.0.1", "-p", strconv.Itoa(c.port), "-U", "postgres", name).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("createdb %s: %w\n%s", name, err, out)
	}
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, name), nil
}

// redisServer is a private redis-server without persistence: killed and
// started again it comes back empty, every queued job gone.
type redisServer struct {
	port int
	cmd  *exec.Cmd
	done chan struct{}
}

func startRedis(ctx context.Context, t *testing.T) *redisServer {
	t.Helper()
	r := &redisServer{port: freePort(t)}
	if err := r.start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.kill)
	return r
}

func (r *redisServer) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

func (r *redisServer) start(ctx context.Context) error {
	r.cmd = exec.Command("redis-server", "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	r.done = make(chan struct{})
	if err := r.cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	cmd, done := r.cmd, r.done
	go func() { _ = cmd.Wait(); close(done) }()
	return waitUntil(ctx, 20*time.Second, "redis-server to answer PING", func() (bool, error) {
		c, err := redis.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", r.port))
		if err != nil {
			return false, nil
		}
		defer c.Close()
		_, err = c.Do("PING")
		return err == nil, nil
	})
}

// kill is SIGKILL: nothing saved.
func (r *redisServer) kill() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	<-r.done
}

// restartEmpty kills the server and starts a new, empty one on its port.
func (r *redisServer) restartEmpty(ctx context.Context) error {
	r.kill()
	return r.start(ctx)
}

// fanout is the harness's webhook receiver in front of several stacks:
// each delivery goes to every stack (round-robin over a stack's web
// processes), so that they all see the same events of the same world.
// GitHub is told 2xx only when every stack answered 2xx; otherwise the
// delivery is failed in GitHub's log and catch-up redelivers it to all
// (the stacks that had it answer "duplicate").
type fanout struct {
	ln      net.Listener
	srv     *http.Server
	targets [][]string // per stack, its web addresses
	next    []atomic.Uint64
	client  *http.Client
	wg      sync.WaitGroup
}

func startFanout(t *testing.T, targets [][]string) *fanout {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fanout{ln: ln, targets: targets, next: make([]atomic.Uint64, len(targets)), client: &http.Client{Timeout: 30 * time.Second}}
	f.srv = &http.Server{Handler: f, ReadHeaderTimeout: 10 * time.Second}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		_ = f.srv.Serve(ln)
	}()
	t.Cleanup(func() {
		f.srv.Close()
		f.wg.Wait()
	})
	return f
}

func (f *fanout) url() string { return "http://" + f.ln.Addr().String() + "/replication" }

func (f *fanout) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	type answer struct {
		code int
		body string
	}
	answers := make([]answer, len(f.targets))
	var wg sync.WaitGroup
	for i, addrs := range f.targets {
		addr := addrs[int(f.next[i].Add(1)-1)%len(addrs)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, err := http.NewRequestWithContext(r.Context(), r.Method, "http://"+addr+r.URL.Path, bytes.NewReader(body))
			if err != nil {
				answers[i] = answer{0, err.Error()}
				return
			}
			req.Header = r.Header.Clone()
			resp, err := f.client.Do(req)
			if err != nil {
				answers[i] = answer{0, err.Error()}
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			answers[i] = answer{resp.StatusCode, string(b)}
		}()
	}
	wg.Wait()
	var bad []string
	for i, a := range answers {
		if a.code < 200 || a.code > 299 {
			bad = append(bad, fmt.Sprintf("stack %d: %d %s", i, a.code, strings.TrimSpace(a.body)))
		}
	}
	if len(bad) > 0 {
		http.Error(w, strings.Join(bad, "; "), http.StatusBadGateway)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(answers[0].code)
	_, _ = io.WriteString(w, answers[0].body)
}

func freePort(t *testing.T) int {
	t.Helper()
	_, p, _ := net.SplitHostPort(freeAddr(t))
	n, _ := strconv.Atoi(p)
	return n
}
