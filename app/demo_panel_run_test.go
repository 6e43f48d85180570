package app

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/webhookdb/webhookdb/internal/testutil"
)

// TestDemoPanel runs `webhookdb demo` in-process as on a terminal: stdout
// gets the description and then the live panel, the log goes to the named
// file and nothing to stderr, and Ctrl-C (cancel) leaves the cursor shown
// and a plain summary.
func TestDemoPanel(t *testing.T) {
	ctx := context.Background()
	dbName := env.DatabaseName + "_demo_panel"
	u, err := url.Parse(env.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + dbName
	namespace := env.Namespace + "_demo_panel"
	t.Cleanup(func() {
		if err := testutil.DropDatabase(context.Background(), dbName); err != nil {
			t.Errorf("drop %s: %v", dbName, err)
		}
		if err := testutil.DeleteNamespace(env.Redis, namespace); err != nil {
			t.Errorf("delete namespace %s: %v", namespace, err)
		}
	})
	logFile := filepath.Join(t.TempDir(), "demo.log")
	activityOver := make(chan struct{})
	hooks := &demoHooks{batches: 2, activityDone: func() { close(activityOver) }, terminal: fakeTerminal}
	getenv := map[string]string{"REDIS_URL": env.RedisURL, "WEBHOOKDB_NAMESPACE": namespace, "WEBHOOKDB_WORKERS": "4"}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Run(runCtx, []string{"demo", "--addr", "127.0.0.1:0", "--github-addr", "127.0.0.1:0", "--database-url", u.String(),
			"--seed-repos", "1", "--seed-pulls", "2", "--seed-issues", "2", "--seed-files", "1", "--seed-comments", "1",
			"--activity", "100ms", "--activity-steps", "2", "--log-file", logFile},
			Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) (string, bool) { v, ok := getenv[k]; return v, ok }, demo: hooks})
	}()

	select {
	case <-activityOver:
	case code := <-done:
		t.Fatalf("demo exited with %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	case <-time.After(25 * time.Second):
		t.Fatalf("the two batches of activity did not end\nstdout (tail):\n%s", tail(stdout.String(), 3000))
	}
	// The panel redraws every second and says nothing when the backfill
	// is over, so its output is polled until a frame shows it done.
	deadline := time.Now().Add(25 * time.Second)
	for !strings.Contains(stdout.String(), "scans · ") || !strings.Contains(lastFrame(stdout.String()), "100%  done") {
		if time.Now().After(deadline) {
			t.Fatalf("no frame shows the backfill done\nstdout (tail):\n%s", tail(stdout.String(), 3000))
		}
		select {
		case code := <-done:
			t.Fatalf("demo exited with %d", code)
		case <-time.After(100 * time.Millisecond):
		}
	}
	frame := lastFrame(stdout.String())
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit code %d after cancel, want 0\nstderr:\n%s", code, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not stop within 30s of cancel")
	}

	out := stdout.String()
	for _, want := range []string{"Web UI:", "curl -X POST", "Log:               " + logFile, ansiHideCursor, "── webhookdb demo · up "} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, tail(out, 3000))
		}
	}
	if !regexp.MustCompile(`Activity    2 batches · [1-9]\d* webhooks sent · 0 not accepted`).MatchString(frame) {
		t.Errorf("the last frame does not count the two batches:\n%s", frame)
	}
	for _, want := range []string{"Webhooks    ", "Log         " + logFile, "Last events", "processed"} {
		if !strings.Contains(frame, want) {
			t.Errorf("the last frame lacks %q:\n%s", want, frame)
		}
	}
	if strings.Contains(frame, "Failed deliveries") {
		t.Errorf("the last frame shows failures:\n%s", frame)
	}
	for _, l := range strings.Split(frame, "\n") {
		if n := len([]rune(l)); n > 99 {
			t.Errorf("a line of %d columns on a terminal of 100: %q", n, l)
		}
	}
	// After the last frame: the cursor back, then the plain summary.
	end := out[strings.LastIndex(out, ansiEraseDown)+len(ansiEraseDown):]
	if !strings.HasPrefix(end, ansiShowCursor) || strings.Contains(end[len(ansiShowCursor):], "\x1b") {
		t.Errorf("the output does not end with the cursor shown and plain text: %q", end)
	}
	for _, want := range []string{"demo summary after ", "backfill:  done;", "activity:  2 batches, ", "log:       " + logFile, "demo: stopped\n"} {
		if !strings.Contains(end, want) {
			t.Errorf("the summary lacks %q: %q", want, end)
		}
	}
	if s := stderr.String(); s != "" {
		t.Errorf("the panel's demo wrote to stderr: %s", tail(s, 2000))
	}
	log, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"demo: app installed", "demo: simulated activity", "webhook delivery"} {
		if !strings.Contains(string(log), want) {
			t.Errorf("the log file lacks %q:\n%s", want, tail(string(log), 2000))
		}
	}
}

// lastFrame is the last complete region the panel drew.
func lastFrame(out string) string {
	parts := strings.Split(out, ansiEraseDown)
	if len(parts) < 3 {
		return ""
	}
	// The last part may be a frame still being written.
	f := parts[len(parts)-2]
	if i := strings.LastIndex(f, "\r"); i >= 0 && strings.HasSuffix(f[i:], "A") {
		f = f[:i] // the move back before the next frame's erase
	}
	return f
}
