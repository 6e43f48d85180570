package app

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"gopkg.in/yaml.v3"

	"github.com/webhookdb/webhookdb/ghfake"
	"github.com/webhookdb/webhookdb/internal/testutil"
)

const alertsFile = "../docs/prometheus/alerts.yml"

var metricName = regexp.MustCompile(`\bwebhookdb_[a-z0-9_]+`)

// alertMetricNames are the webhookdb metric names the alert rules' expressions use.
func alertMetricNames(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(raw, &rules); err != nil {
		t.Fatalf("%s: %v", alertsFile, err)
	}
	seen := map[string]bool{}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			names := metricName.FindAllString(r.Expr, -1)
			if len(names) == 0 {
				t.Errorf("alert %s uses no webhookdb metric: %q", r.Alert, r.Expr)
			}
			for _, n := range names {
				seen[n] = true
			}
		}
	}
	var out []string
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	if len(out) == 0 {
		t.Fatalf("no metric names found in %s", alertsFile)
	}
	return out
}

// TestAlertRulesUseExposedMetrics: the process built as `serve` builds it
// (NewServices, NewHandler, NewWorkers) exposes on /metrics every metric
// the alert rules read, once it has received a delivery, run its jobs and
// called GitHub. Renaming a metric fails here, not silently in production.
func TestAlertRulesUseExposedMetrics(t *testing.T) {
	names := alertMetricNames(t)
	// The installation, its scans and jobs would be seen by later tests
	// of the package (ghfake's ids repeat): leave the database and the
	// namespace empty. Cleanups run after the deferred stops below.
	cleanNamespace := env.Namespace + ":metrics"
	t.Cleanup(func() {
		env.Truncate(t)
		if err := testutil.DeleteNamespace(env.Redis, cleanNamespace); err != nil {
			t.Errorf("clean redis: %v", err)
		}
	})

	gh, err := ghfake.New(ghfake.Options{Seed: &ghfake.SeedOptions{Accounts: 1, ReposPerAccount: 1, NoInstall: true}})
	if err != nil {
		t.Fatal(err)
	}
	if err := gh.Start(); err != nil {
		t.Fatal(err)
	}
	defer gh.Close()
	cfg := Defaults()
	cfg.GitHub = gh.GitHubConfig()
	cfg.DatabaseURL, cfg.RedisURL = env.DatabaseURL, env.RedisURL
	cfg.Namespace = cleanNamespace
	cfg.SessionKey = strings.Repeat("x", 32)
	cfg.PublicURL = "http://webhookdb.test"
	cfg.Workers = 2
	svc, err := NewServices(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	handler, err := NewHandler(svc)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(handler)
	defer srv.Close()
	workers, err := NewWorkers(svc)
	if err != nil {
		t.Fatal(err)
	}
	// Catch-up runs at start; the installation's backfill calls GitHub.
	workers.Start()
	defer workers.Stop()
	gh.SetWebhookURL(srv.URL + "/replication")
	if _, d, err := gh.InstallApp(context.Background(), "org-0", nil); err != nil || !d.OK() {
		t.Fatalf("install: %v %d %s", err, d.StatusCode, d.ResponseBody)
	}

	// The jobs run in the workers' goroutines: scrape until every name is
	// there or the deadline passes (the condition, not a timer).
	var missing []string
	for deadline := time.Now().Add(30 * time.Second); ; {
		missing = missingMetrics(t, srv.URL+"/metrics", names)
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics lacks metrics the alert rules use: %v", missing)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// missingMetrics scrapes url and returns the names it does not expose.
func missingMetrics(t *testing.T, url string, names []string) []string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v", resp.StatusCode, err)
	}
	var missing []string
	for _, n := range names {
		if !bytes.Contains(body, []byte("\n# TYPE "+n+" ")) {
			missing = append(missing, n)
		}
	}
	return missing
}

// TestOperationsDocIncludesAlertRules: docs/operations.md shows the alert
// rules file verbatim, so the doc never drifts from what is tested.
func TestOperationsDocIncludesAlertRules(t *testing.T) {
	rules, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllSubmatch(doc, -1)
	for _, b := range blocks {
		if bytes.Equal(b[1], rules) {
			return
		}
	}
	t.Fatalf("docs/operations.md has no ```yaml block identical to %s (%d yaml blocks)", alertsFile, len(blocks))
}
