package app

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/webhookdb/webhookdb/ghfake"
	"github.com/webhookdb/webhookdb/internal/testutil"
)

// syncBuffer is a strings.Builder the demo's goroutines can log into while
// the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestDemo runs `webhookdb demo` in-process against a database it has to
// create, and follows what a person trying it would see: the installation
// webhook starts a backfill that completes, the replica holds the seeded
// organization, simulated activity keeps arriving as webhooks, the printed
// curl command is accepted, and Ctrl-C (cancel) exits 0.
func TestDemo(t *testing.T) {
	ctx := context.Background()
	dbName := env.DatabaseName + "_demo"
	u, err := url.Parse(env.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + dbName
	dbURL := u.String()
	namespace := env.Namespace + "_demo"
	t.Cleanup(func() {
		if err := testutil.DropDatabase(context.Background(), dbName); err != nil {
			t.Errorf("drop %s: %v", dbName, err)
		}
		if err := testutil.DeleteNamespace(env.Redis, namespace); err != nil {
			t.Errorf("delete namespace %s: %v", namespace, err)
		}
	})

	// The simulator, to compare the replica with its world once two
	// batches of activity are over.
	sims := make(chan *ghfake.Server, 1)
	activityOver := make(chan struct{})
	hooks := &demoHooks{
		started:      func(gh *ghfake.Server) { sims <- gh },
		batches:      2,
		activityDone: func() { close(activityOver) },
	}

	getenv := map[string]string{"REDIS_URL": env.RedisURL, "WEBHOOKDB_NAMESPACE": namespace, "WEBHOOKDB_WORKERS": "4"}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	outR, outW := io.Pipe()
	var stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		code := Run(runCtx, []string{"demo", "--addr", "127.0.0.1:0", "--github-addr", "127.0.0.1:0", "--database-url", dbURL,
			"--seed-repos", "2", "--seed-pulls", "4", "--seed-issues", "3", "--seed-files", "2", "--seed-comments", "1",
			"--activity", "100ms", "--activity-steps", "2"},
			Env{Stdout: outW, Stderr: &stderr, Getenv: func(k string) (string, bool) { v, ok := getenv[k]; return v, ok }, demo: hooks})
		outW.Close()
		done <- code
	}()

	// The description ends with the curl command.
	var said strings.Builder
	sc := bufio.NewScanner(outR)
	for sc.Scan() {
		said.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), "curl -X POST") {
			break
		}
	}
	rest := make(chan string, 1)
	go func() { b, _ := io.ReadAll(outR); rest <- string(b) }()
	out := said.String()
	for _, want := range []string{"Web UI:", "/api/github/auth", "as user-0", "Simulated GitHub:", "org-0 with 2 repositories, 8 pull requests, 6 issues",
		"psql '" + dbURL + "'", "FROM github_pull_request", "FROM webhook_delivery", "expires in an hour", "Authorization: Bearer ghs_"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s\nstderr:\n%s", want, out, stderr.String())
		}
	}
	ui := regexp.MustCompile(`Web UI:\s+(http://127\.0\.0\.1:\d+)/`).FindStringSubmatch(out)
	curl := regexp.MustCompile(`Bearer (\S+)" '(\S+)'`).FindStringSubmatch(out)
	read := regexp.MustCompile(`curl -H "Authorization: token (\S+)" '(\S+/api/v3/\S+)'`).FindStringSubmatch(out)
	if ui == nil || curl == nil || read == nil {
		t.Fatalf("no UI URL or curl command in the output:\n%s\nstderr:\n%s", out, stderr.String())
	}

	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	deadline := time.Now().Add(60 * time.Second)
	// waitFor polls the replica (the demo runs in other goroutines and
	// tells nothing when it is done) until cond holds or the deadline.
	waitFor := func(what string, cond func() (bool, error)) {
		t.Helper()
		for {
			ok, err := cond()
			if err != nil {
				t.Fatalf("%s: %v\nstderr:\n%s", what, err, stderr.String())
			}
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s\nstderr (tail):\n%s", what, tail(stderr.String(), 4000))
			}
			select {
			case code := <-done:
				t.Fatalf("demo exited with %d while waiting for %s\nstderr:\n%s", code, what, stderr.String())
			case <-time.After(100 * time.Millisecond):
			}
		}
	}

	waitFor("the backfill of both repositories", func() (bool, error) {
		var total, notDone, failed, pullScans, issueScans int
		err := db.QueryRowContext(ctx, `SELECT count(*), count(*) FILTER (WHERE status <> 'done'), count(*) FILTER (WHERE status = 'failed'),
			count(*) FILTER (WHERE kind = 'pull_requests' AND status = 'done'), count(*) FILTER (WHERE kind = 'issues' AND status = 'done') FROM scan`).
			Scan(&total, &notDone, &failed, &pullScans, &issueScans)
		if err != nil {
			return false, err
		}
		if failed > 0 {
			var msg sql.NullString
			_ = db.QueryRowContext(ctx, `SELECT error FROM scan WHERE status = 'failed' LIMIT 1`).Scan(&msg)
			t.Fatalf("%d scans failed, e.g.: %s", failed, msg.String)
		}
		return total > 0 && notDone == 0 && pullScans == 2 && issueScans == 2, nil
	})

	var installs int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM webhook_delivery WHERE event = 'installation' AND action = 'created' AND status = 'processed'`).Scan(&installs); err != nil {
		t.Fatal(err)
	}
	if installs != 1 {
		t.Errorf("%d processed installation.created deliveries, want 1", installs)
	}
	var gh *ghfake.Server
	select {
	case gh = <-sims:
	default:
		t.Fatal("the demo did not hand its simulator to the test")
	}

	select {
	case <-activityOver:
	case <-time.After(time.Until(deadline)):
		t.Fatalf("the two batches of activity did not end\nstderr (tail):\n%s", tail(stderr.String(), 4000))
	}
	if !strings.Contains(stderr.String(), "demo: simulated activity") {
		t.Errorf("no activity batch logged:\n%s", tail(stderr.String(), 4000))
	}
	// Every webhook GitHub sent is handled and every job it queued is
	// over: the replica must now be GitHub's world, not merely hold as
	// much. Handled is processed or stale: activity starts while the
	// backfill runs, so a scan can read an object's newer state before its
	// webhook arrives, and that webhook is then rightly stale.
	sent := 0
	for _, d := range gh.Deliveries() {
		if d.OK() {
			sent++
		}
	}
	waitFor("the activity's webhooks and their jobs", func() (bool, error) {
		var handled, open int
		err := db.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM webhook_delivery WHERE status IN ('processed', 'stale')),
			(SELECT count(*) FROM scan WHERE status IN ('queued', 'running'))`).Scan(&handled, &open)
		return handled >= sent && open == 0, err
	})
	if sent < 1+2 {
		t.Errorf("%d webhooks accepted; want the installation's and the activity's", sent)
	}
	w := gh.World()
	if n := len(w.Installations()); n != 1 {
		t.Fatalf("%d installations in the simulator, want 1", n)
	}
	var liveInstalls int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM github_installation WHERE id = $1 AND account_login = 'org-0' AND deleted_at IS NULL`,
		w.Installations()[0].GetID()).Scan(&liveInstalls); err != nil || liveInstalls != 1 {
		t.Errorf("the installation of org-0: %d rows (%v), want 1", liveInstalls, err)
	}
	testutil.AssertReplicaMatches(t, db, w, testutil.ReplicaScope{Repos: []string{"org-0/repo-0", "org-0/repo-1"}})

	// The curl command the demo printed works as printed.
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, curl[2], nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+curl[1])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || !strings.Contains(string(body), "scan_id") {
		t.Errorf("the printed curl answered %d %s, want 202 with a scan_id", resp.StatusCode, body)
	}
	// So does the read API's.
	req, err = http.NewRequestWithContext(ctx, http.MethodGet, read[2], nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "token "+read[1])
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var pulls []map[string]any
	err = json.NewDecoder(resp.Body).Decode(&pulls)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || err != nil || len(pulls) == 0 || pulls[0]["number"] == nil {
		t.Errorf("the printed read answered %d (%v), %d pull requests", resp.StatusCode, err, len(pulls))
	}
	resp, err = http.Get(ui[1] + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/readyz answered %d", resp.StatusCode)
	}

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit code %d after cancel, want 0\nstderr:\n%s", code, tail(stderr.String(), 4000))
		}
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not stop within 30s of cancel")
	}
	if r := <-rest; !strings.Contains(r, "demo: stopped") {
		t.Errorf("no stop message after cancel: %q", r)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

func TestDemoBadFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"demo", "--seed-repos", "0"}, "--seed-repos must be at least 1"},
		{[]string{"demo", "--seed-pulls", "-1"}, "must not be negative"},
		{[]string{"demo", "--activity", "-1s"}, "--activity must not be negative"},
		{[]string{"demo", "--activity-steps", "0"}, "--activity-steps must be at least 1"},
		{[]string{"demo", "--activity", "often"}, "invalid value"},
		{[]string{"demo", "--github-addr", "256.0.0.1:99999"}, "listen on"},
		{[]string{"demo", "--github-addr", "127.0.0.1:0", "--addr", "nowhere"}, "listen on nowhere"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stderr strings.Builder
			code := Run(context.Background(), tt.args, Env{Stderr: &stderr})
			if code == 0 || !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("exit %d, stderr %q; want failure saying %q", code, stderr.String(), tt.want)
			}
		})
	}
}
