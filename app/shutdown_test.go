package app

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// sessionCleanups counts the goroutines of the session store's periodic
// cleanup (scs postgresstore), which run until the UI is closed.
func sessionCleanups() int {
	buf := make([]byte, 1<<22)
	buf = buf[:runtime.Stack(buf, true)]
	return strings.Count(string(buf), "postgresstore.(*PostgresStore).startCleanup")
}

// TestServeReleasesTheSessionStore: a stopped server leaves no session
// cleanup behind; it would otherwise keep deleting through a closed pool
// every five minutes (logging errors), one more after each start in the
// same process (the demo, tests, an embedder).
func TestServeReleasesTheSessionStore(t *testing.T) {
	before := sessionCleanups()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	var stderr bytes.Buffer
	go func() {
		done <- Run(ctx, []string{"web"}, Env{Stderr: &stderr, Getenv: envMap(serveEnv(t, addr, env.DatabaseURL))})
	}()
	waitStatus(t, "http://"+addr+"/readyz", 200)
	if n := sessionCleanups(); n != before+1 {
		t.Fatalf("%d session cleanups while serving, want %d", n, before+1)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("web exited %d; stderr:\n%s", code, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("web did not stop")
	}
	// StopCleanup hands over to the goroutine, which then returns: give it
	// the moment it needs.
	deadline := time.Now().Add(5 * time.Second)
	for sessionCleanups() != before && time.Now().Before(deadline) {
		runtime.Gosched()
		time.Sleep(5 * time.Millisecond)
	}
	if n := sessionCleanups(); n != before {
		t.Errorf("%d session cleanups after the server stopped, want %d", n, before)
	}
}

// TestSecondSignalStopsAtOnce: SIGTERM starts the graceful shutdown, which
// waits for the requests in flight (up to shutdown_timeout); a second
// signal (a person pressing Ctrl-C again, an impatient supervisor) ends the
// process at once instead of being swallowed.
func TestSecondSignalStopsAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	addr := freeAddr(t)
	cmd := exec.Command(bin, "serve")
	cmd.Dir = t.TempDir()
	cmd.Env = os.Environ()
	vars := serveEnv(t, addr, env.DatabaseURL)
	vars["WEBHOOKDB_SHUTDOWN_TIMEOUT"] = "2m"
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	lines := make(chan string, 1000)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		close(lines)
	}()
	waitStatus(t, "http://"+addr+"/readyz", http.StatusOK)

	// A webhook whose body never comes: the server waits for it.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /replication HTTP/1.1\r\nHost: %s\r\nX-GitHub-Event: ping\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{", addr)

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for line := range lines {
		if strings.Contains(line, "shutting down") {
			break
		}
	}
	// SIGTERM again: SIGINT may be ignored in a child of a non-interactive
	// shell, which is where tests run.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- cmd.Wait() }()
	select {
	case err := <-errc:
		if err == nil {
			t.Errorf("exit status 0 after a forced stop; want the signal's")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the second signal did not stop the process; it still waits for the request in flight")
	}
}
