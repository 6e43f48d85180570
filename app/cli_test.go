package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/webhookdb/webhookdb/internal/testutil"
)

var env testutil.Env

func TestMain(m *testing.M) { os.Exit(testutil.Main(m, &env)) }

func TestCommandLineMistakes(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		wantCode int
		wantErr  string
	}{
		{"no command", nil, nil, 2, "no command given"},
		{"unknown command", []string{"frobnicate"}, nil, 2, `unknown command "frobnicate"`},
		{"unknown flag", []string{"migrate", "--bogus"}, nil, 2, "flag provided but not defined: -bogus"},
		{"unknown global flag", []string{"--bogus", "migrate"}, nil, 2, "flag provided but not defined: -bogus"},
		{"stray argument", []string{"migrate", "now"}, nil, 2, `unexpected argument "now"`},
		{"named config missing", []string{"-c", "/nonexistent/webhookdb.yml", "migrate"}, nil, 1, "config file /nonexistent/webhookdb.yml: no such file or directory"},
		{"named config missing after command", []string{"serve", "-c", "/nonexistent/webhookdb.yml"}, nil, 1, "no such file or directory"},
		{"invalid value", []string{"migrate"}, map[string]string{"WEBHOOKDB_WORKERS": "lots"}, 1, `WEBHOOKDB_WORKERS: "lots" is not a whole number`},
		{"serve without an app", []string{"serve"}, nil, 1, "github.app.integration_id (GITHUB_APP_INTEGRATION_ID) is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			// Run from an empty directory so no config.yml is found by default.
			t.Chdir(t.TempDir())
			code := Run(context.Background(), tt.args, Env{Stdout: &stdout, Stderr: &stderr, Getenv: envMap(tt.env)})
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tt.wantCode, stderr.String())
			}
			msg := stderr.String()
			if strings.Count(msg, "\n") != 1 || !strings.Contains(msg, tt.wantErr) {
				t.Errorf("stderr = %q; want one line containing %q", msg, tt.wantErr)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	var stdout bytes.Buffer
	if code := Run(context.Background(), []string{"-h"}, Env{Stdout: &stdout}); code != 0 {
		t.Fatalf("-h exit code %d", code)
	}
	for _, cmd := range []string{"migrate", "serve", "web", "worker", "demo", "fake-github", "bench"} {
		if !strings.Contains(stdout.String(), cmd) {
			t.Errorf("help does not mention %s", cmd)
		}
	}
}

// buildBinary builds the webhookdb command once per test that needs the
// real process (exit codes, signals).
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "webhookdb")
	cmd := exec.Command("go", "build", "-o", bin, "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func scratchDatabase(t *testing.T, suffix string) string {
	t.Helper()
	name := env.DatabaseName + "_" + suffix
	u, err := testutil.CreateDatabase(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := testutil.DropDatabase(context.Background(), name); err != nil {
			t.Error(err)
		}
	})
	return u
}

func TestMigrateTwiceExitsZero(t *testing.T) {
	bin := buildBinary(t)
	dbURL := scratchDatabase(t, "migrate")
	for i, want := range []string{"migrated database from version 0", "database is up to date"} {
		cmd := exec.Command(bin, "migrate")
		cmd.Dir = t.TempDir()
		cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("migrate run %d: %v\n%s", i+1, err, out)
		}
		if !strings.Contains(string(out), want) {
			t.Errorf("migrate run %d said %q; want %q", i+1, out, want)
		}
	}
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

// serveEnv is a complete environment for `webhookdb serve` on addr against db.
func serveEnv(t *testing.T, addr, dbURL string) map[string]string {
	return map[string]string{
		"DATABASE_URL":               dbURL,
		"REDIS_URL":                  env.RedisURL,
		"WEBHOOKDB_NAMESPACE":        env.Namespace,
		"WEBHOOKDB_ADDR":             addr,
		"WEBHOOKDB_SESSION_KEY":      strings.Repeat("s", 32),
		"WEBHOOKDB_WORKERS":          "2",
		"WEBHOOKDB_SHUTDOWN_TIMEOUT": "10s",
		"GITHUB_APP_INTEGRATION_ID":  "1",
		"GITHUB_APP_WEBHOOK_SECRET":  "secret",
		"GITHUB_APP_PRIVATE_KEY":     testutil.PrivateKeyPEM(t),
		// Never reached by these tests; a closed port, not the internet.
		"GITHUB_V3_API_URL": "http://127.0.0.1:1/api/v3/",
		"GITHUB_WEB_URL":    "http://127.0.0.1:1/",
	}
}

// waitStatus polls url until it answers want, or fails the test after 20 s.
func waitStatus(t *testing.T, url string, want int) map[string]any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	client := &http.Client{Timeout: 5 * time.Second}
	var last string
	for time.Now().Before(deadline) {
		resp, err := client.Get(url)
		if err == nil {
			var body map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if resp.StatusCode == want {
				return body
			}
			last = fmt.Sprintf("status %d %v", resp.StatusCode, body)
		} else {
			last = err.Error()
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never answered %d; last: %s", url, want, last)
	return nil
}

func TestServeReadyzFollowsTheDatabase(t *testing.T) {
	u, err := url.Parse(env.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := testutil.NewProxy(t, u.Host)
	u.Host = proxy.Addr()
	addr := freeAddr(t)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	var stderr bytes.Buffer
	go func() {
		done <- Run(ctx, []string{"serve"}, Env{Stderr: &stderr, Getenv: envMap(serveEnv(t, addr, u.String()))})
	}()

	waitStatus(t, "http://"+addr+"/healthz", http.StatusOK)
	waitStatus(t, "http://"+addr+"/readyz", http.StatusOK)
	proxy.Down()
	body := waitStatus(t, "http://"+addr+"/readyz", http.StatusServiceUnavailable)
	if !strings.Contains(fmt.Sprint(body["error"]), "database") {
		t.Errorf("503 body %v does not name the database", body)
	}
	proxy.Up()
	waitStatus(t, "http://"+addr+"/readyz", http.StatusOK)

	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	var metrics bytes.Buffer
	metrics.ReadFrom(resp.Body)
	resp.Body.Close()
	if !strings.Contains(metrics.String(), `webhookdb_http_requests_total{code="503",route="GET /readyz"}`) {
		t.Errorf("/metrics does not count the 503 answers of /readyz")
	}

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("serve exited %d after shutdown; stderr:\n%s", code, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop within 20 s of its context ending")
	}
}

// A real process: SIGTERM stops it gracefully with exit code 0.
func TestServeStopsOnSIGTERM(t *testing.T) {
	cmd, _, stderr := startServe(t)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- cmd.Wait() }()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("serve after SIGTERM: %v\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("serve did not stop within 30 s of SIGTERM\n%s", stderr.String())
	}
	if !strings.Contains(stderr.String(), "stopped") {
		t.Errorf("no shutdown log line in:\n%s", stderr.String())
	}
}

// startServe runs the real binary's `serve` against the test database on a
// free port and waits until it is ready; it returns the process, its
// address and its stderr.
func startServe(t *testing.T) (*exec.Cmd, string, *bytes.Buffer) {
	t.Helper()
	bin := buildBinary(t)
	addr := freeAddr(t)
	cmd := exec.Command(bin, "serve")
	cmd.Dir = t.TempDir()
	cmd.Env = os.Environ()
	for k, v := range serveEnv(t, addr, env.DatabaseURL) {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stderr := &bytes.Buffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, "http://"+addr+"/readyz", http.StatusOK)
	return cmd, addr, stderr
}
