package app

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestWorkerServesItsMetrics: `webhookdb worker` with metrics_addr serves
// its health and its own metrics there (a web process cannot count a
// worker's jobs), and nothing else; it stops on SIGTERM with exit 0.
func TestWorkerServesItsMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	addr := freeAddr(t)
	cmd := exec.Command(bin, "worker")
	cmd.Dir = t.TempDir()
	cmd.Env = os.Environ()
	for k, v := range serveEnv(t, freeAddr(t), env.DatabaseURL) {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, "WEBHOOKDB_METRICS_ADDR="+addr)
	stderr := &bytes.Buffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill() //nolint:errcheck // a no-op once it exited
	waitStatus(t, "http://"+addr+"/readyz", http.StatusOK)

	// Catch-up runs at start-up; GitHub is a closed port here, so the run
	// fails, and the worker's own counters say so.
	deadline := time.Now().Add(20 * time.Second)
	var body string
	for {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(b)
		if strings.Contains(body, `webhookdb_job_runs_total{job="catch_up_deliveries"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the worker's metrics never counted the catch-up run:\n%s\nstderr:\n%s", body, stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, name := range []string{"webhookdb_catchup_runs_total", "webhookdb_job_duration_seconds"} {
		if !strings.Contains(body, name) {
			t.Errorf("worker metrics lack %s", name)
		}
	}
	resp, err := http.Post("http://"+addr+"/replication", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("POST /replication on the worker's metrics address: %d, want 404", resp.StatusCode)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("worker did not exit cleanly: %v\n%s", err, stderr)
	}
}
