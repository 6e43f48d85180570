package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/palantir/go-githubapp/githubapp"

	"github.com/webhookdb/webhookdb/internal/testutil"
)

func envMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadConfigFileAndEnv(t *testing.T) {
	key := testutil.PrivateKeyPEM(t)
	keyPath := writeFile(t, "app.pem", key)
	file := writeFile(t, "config.yml", `
github:
  web_url: https://github.example.com
  v3_api_url: https://github.example.com/api/v3/
  app:
    integration_id: 1234
    webhook_secret: from-file
    private_key: `+keyPath+`
  oauth:
    client_id: Iv1.abc
    client_secret: s3cret
database_url: postgres://db.example.com:5432/replica?sslmode=disable
addr: 0.0.0.0:9000
workers: 3
shutdown_timeout: 5s
log:
  level: debug
`)
	tests := []struct {
		name  string
		env   map[string]string
		check func(t *testing.T, c Config)
	}{
		{"file values", nil, func(t *testing.T, c Config) {
			if c.GitHub.App.IntegrationID != 1234 || c.GitHub.App.WebhookSecret != "from-file" {
				t.Errorf("app = %+v", c.GitHub.App)
			}
			if c.GitHub.App.PrivateKey != key {
				t.Errorf("private key path was not read into PEM text")
			}
			if c.GitHub.OAuth.ClientID != "Iv1.abc" || c.Workers != 3 || c.Addr != "0.0.0.0:9000" || c.ShutdownTimeout != 5*time.Second || c.Log.Level != "debug" {
				t.Errorf("config = %+v", c)
			}
			if c.PublicURL != "http://0.0.0.0:9000" {
				t.Errorf("public_url default = %q", c.PublicURL)
			}
			if c.RedisURL != "redis://127.0.0.1:6379/0" || c.Namespace != "webhookdb" {
				t.Errorf("defaults not kept: %q %q", c.RedisURL, c.Namespace)
			}
		}},
		{"environment overrides the file", map[string]string{
			"GITHUB_APP_WEBHOOK_SECRET":  "from-env",
			"GITHUB_APP_INTEGRATION_ID":  "99",
			"GITHUB_APP_PRIVATE_KEY":     key,
			"GITHUB_OAUTH_CLIENT_SECRET": "env-secret",
			"GITHUB_V3_API_URL":          "http://127.0.0.1:7000/api/v3/",
			"DATABASE_URL":               "postgres://127.0.0.1:5432/other?sslmode=disable",
			"REDIS_URL":                  "redis://127.0.0.1:6379/2",
			"WEBHOOKDB_ADDR":             "127.0.0.1:8181",
			"WEBHOOKDB_PUBLIC_URL":       "https://hooks.example.com/",
			"WEBHOOKDB_SESSION_KEY":      strings.Repeat("k", 32),
			"WEBHOOKDB_NAMESPACE":        "ns",
			"WEBHOOKDB_WORKERS":          "16",
		}, func(t *testing.T, c Config) {
			if c.GitHub.App.WebhookSecret != "from-env" || c.GitHub.App.IntegrationID != 99 || c.GitHub.OAuth.ClientSecret != "env-secret" {
				t.Errorf("github = %+v", c.GitHub)
			}
			if c.GitHub.V3APIURL != "http://127.0.0.1:7000/api/v3/" || c.DatabaseURL != "postgres://127.0.0.1:5432/other?sslmode=disable" || c.RedisURL != "redis://127.0.0.1:6379/2" {
				t.Errorf("urls = %q %q %q", c.GitHub.V3APIURL, c.DatabaseURL, c.RedisURL)
			}
			if c.Addr != "127.0.0.1:8181" || c.PublicURL != "https://hooks.example.com" || c.Namespace != "ns" || c.Workers != 16 {
				t.Errorf("config = %+v", c)
			}
			if err := c.RequireApp(); err != nil {
				t.Errorf("RequireApp: %v", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := LoadConfig(LoadOptions{Path: file, PathGiven: true, Getenv: envMap(tt.env)})
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestLoadConfigErrors(t *testing.T) {
	tests := []struct {
		name    string
		file    string // YAML; empty means no file
		given   bool
		env     map[string]string
		wantErr string
	}{
		{"named file missing", "", true, nil, "no such file"},
		{"unknown key", "databse_url: x\n", true, nil, "field databse_url not found"},
		{"not yaml", "github: [\n", true, nil, "config file"},
		{"bad workers env", "", false, map[string]string{"WEBHOOKDB_WORKERS": "many"}, `WEBHOOKDB_WORKERS: "many" is not a whole number`},
		{"zero workers", "workers: 0\n", true, nil, "workers (WEBHOOKDB_WORKERS): 0 is not between 1 and 1000"},
		{"bad app id", "", false, map[string]string{"GITHUB_APP_INTEGRATION_ID": "abc"}, "GITHUB_APP_INTEGRATION_ID"},
		{"database url scheme", "", false, map[string]string{"DATABASE_URL": "mysql://x/y"}, "database_url (DATABASE_URL)"},
		{"redis url", "", false, map[string]string{"REDIS_URL": "localhost"}, "redis_url (REDIS_URL)"},
		{"addr", "", false, map[string]string{"WEBHOOKDB_ADDR": "8080"}, "addr (WEBHOOKDB_ADDR)"},
		{"short session key", "", false, map[string]string{"WEBHOOKDB_SESSION_KEY": "short"}, "session_key (WEBHOOKDB_SESSION_KEY): 5 bytes is too short"},
		{"private key path missing", "", false, map[string]string{"GITHUB_APP_PRIVATE_KEY": "/nonexistent/key.pem"}, "github.app.private_key"},
		{"private key garbage", "", false, map[string]string{"GITHUB_APP_PRIVATE_KEY": "-----BEGIN RSA PRIVATE KEY-----\nnope\n-----END RSA PRIVATE KEY-----\n"}, "github.app.private_key"},
		{"log level", "log:\n  level: loud\n", true, nil, "log.level"},
		{"shutdown timeout", "", false, map[string]string{"WEBHOOKDB_SHUTDOWN_TIMEOUT": "soon"}, "WEBHOOKDB_SHUTDOWN_TIMEOUT"},
		{"read header timeout env", "", false, map[string]string{"WEBHOOKDB_READ_HEADER_TIMEOUT": "10"}, `WEBHOOKDB_READ_HEADER_TIMEOUT: "10" is not a duration`},
		{"read timeout env", "", false, map[string]string{"WEBHOOKDB_READ_TIMEOUT": "soon"}, `WEBHOOKDB_READ_TIMEOUT: "soon" is not a duration`},
		{"write timeout env", "", false, map[string]string{"WEBHOOKDB_WRITE_TIMEOUT": "1 minute"}, `WEBHOOKDB_WRITE_TIMEOUT: "1 minute" is not a duration`},
		{"revoked retention env", "", false, map[string]string{"WEBHOOKDB_REVOKED_RETENTION": "7d"}, `WEBHOOKDB_REVOKED_RETENTION: "7d" is not a duration`},
		{"read timeout in the file", "read_timeout: soon\n", true, nil, "read_timeout"},
		{"zero read header timeout", "read_header_timeout: 0s\n", true, nil, "read_header_timeout (WEBHOOKDB_READ_HEADER_TIMEOUT): 0s must be positive"},
		{"zero read timeout", "", false, map[string]string{"WEBHOOKDB_READ_TIMEOUT": "0s"}, "read_timeout (WEBHOOKDB_READ_TIMEOUT): 0s must be positive"},
		{"negative write timeout", "write_timeout: -1s\n", true, nil, "write_timeout (WEBHOOKDB_WRITE_TIMEOUT): -1s must be positive"},
		{"header timeout past read timeout", "", false, map[string]string{"WEBHOOKDB_READ_HEADER_TIMEOUT": "40s"}, "read_header_timeout (WEBHOOKDB_READ_HEADER_TIMEOUT): 40s is longer than read_timeout"},
		{"negative revoked retention", "", false, map[string]string{"WEBHOOKDB_REVOKED_RETENTION": "-1h"}, "revoked_retention (WEBHOOKDB_REVOKED_RETENTION): -1h0m0s must not be negative"},
		{"metrics addr", "", false, map[string]string{"WEBHOOKDB_METRICS_ADDR": "9090"}, `metrics_addr (WEBHOOKDB_METRICS_ADDR): "9090" is not host:port`},
		{"catch-up interval env", "", false, map[string]string{"WEBHOOKDB_CATCHUP_INTERVAL": "5"}, `WEBHOOKDB_CATCHUP_INTERVAL: "5" is not a duration`},
		{"catch-up interval too short", "catchup_interval: 1s\n", true, nil, "catchup_interval (WEBHOOKDB_CATCHUP_INTERVAL): 1s is shorter than 10s"},
		{"zero catch-up interval", "", false, map[string]string{"WEBHOOKDB_CATCHUP_INTERVAL": "0s"}, "catchup_interval (WEBHOOKDB_CATCHUP_INTERVAL): 0s must be positive"},
		{"negative reconcile interval", "", false, map[string]string{"WEBHOOKDB_RECONCILE_INTERVAL": "-1h"}, "reconcile_interval (WEBHOOKDB_RECONCILE_INTERVAL): -1h0m0s must be 0 (off) or at least 1m"},
		{"reconcile interval in the file", "reconcile_interval: daily\n", true, nil, "reconcile_interval"},
		{"full reconcile more often", "reconcile_interval: 24h\nfull_reconcile_interval: 1h\n", true, nil, "full_reconcile_interval (WEBHOOKDB_FULL_RECONCILE_INTERVAL): 1h0m0s must be 0 (never) or at least reconcile_interval 24h0m0s"},
		{"delivery retention shorter than GitHub's log", "", false, map[string]string{"WEBHOOKDB_DELIVERY_RETENTION": "24h"}, "delivery_retention (WEBHOOKDB_DELIVERY_RETENTION): 24h0m0s is shorter than GitHub's 3-day delivery log"},
		{"delivery log retention under payload retention", "delivery_log_retention: 100h\n", true, nil, "delivery_log_retention (WEBHOOKDB_DELIVERY_LOG_RETENTION): 100h0m0s is shorter than delivery_retention 336h0m0s"},
		{"delivery log retention env", "", false, map[string]string{"WEBHOOKDB_DELIVERY_LOG_RETENTION": "90d"}, `WEBHOOKDB_DELIVERY_LOG_RETENTION: "90d" is not a duration`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.yml")
			if tt.file != "" {
				path = writeFile(t, "config.yml", tt.file)
			}
			_, err := LoadConfig(LoadOptions{Path: path, PathGiven: tt.given, Getenv: envMap(tt.env)})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v; want it to mention %q", err, tt.wantErr)
			}
		})
	}
}

// TestLoadConfigDurations: the server timeouts and the revoked data
// retention have their defaults, come from the file, and the environment
// overrides the file.
func TestLoadConfigDurations(t *testing.T) {
	type durations struct{ header, read, write, revoked, catchup, reconcile, full, payloads, rows time.Duration }
	file := "read_header_timeout: 3s\nread_timeout: 4s\nwrite_timeout: 5s\nrevoked_retention: 72h\n" +
		"catchup_interval: 1m\nreconcile_interval: 0s\nfull_reconcile_interval: 0s\ndelivery_retention: 100h\ndelivery_log_retention: 200h\n"
	tests := []struct {
		name string
		file string
		env  map[string]string
		want durations
	}{
		{"defaults", "", nil, durations{10 * time.Second, 30 * time.Second, 60 * time.Second, 0,
			5 * time.Minute, 24 * time.Hour, 168 * time.Hour, 336 * time.Hour, 2160 * time.Hour}},
		{"file", file, nil, durations{3 * time.Second, 4 * time.Second, 5 * time.Second, 72 * time.Hour,
			time.Minute, 0, 0, 100 * time.Hour, 200 * time.Hour}},
		{"environment over the file", file, map[string]string{
			"WEBHOOKDB_READ_HEADER_TIMEOUT":     "1s",
			"WEBHOOKDB_READ_TIMEOUT":            " 2s ",
			"WEBHOOKDB_WRITE_TIMEOUT":           "90s",
			"WEBHOOKDB_REVOKED_RETENTION":       "0s",
			"WEBHOOKDB_CATCHUP_INTERVAL":        "30s",
			"WEBHOOKDB_RECONCILE_INTERVAL":      "12h",
			"WEBHOOKDB_FULL_RECONCILE_INTERVAL": "48h",
			"WEBHOOKDB_DELIVERY_RETENTION":      "72h",
			"WEBHOOKDB_DELIVERY_LOG_RETENTION":  "720h",
		}, durations{time.Second, 2 * time.Second, 90 * time.Second, 0,
			30 * time.Second, 12 * time.Hour, 48 * time.Hour, 72 * time.Hour, 720 * time.Hour}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.yml")
			if tt.file != "" {
				path = writeFile(t, "config.yml", tt.file)
			}
			c, err := LoadConfig(LoadOptions{Path: path, Getenv: envMap(tt.env)})
			if err != nil {
				t.Fatal(err)
			}
			got := durations{c.ReadHeaderTimeout, c.ReadTimeout, c.WriteTimeout, c.RevokedRetention,
				c.CatchupInterval, c.ReconcileInterval, c.FullReconcileInterval, c.DeliveryRetention, c.DeliveryLogRetention}
			if got != tt.want {
				t.Errorf("durations = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestMissingDefaultConfigIsFine(t *testing.T) {
	c, err := LoadConfig(LoadOptions{Path: filepath.Join(t.TempDir(), "config.yml"), Getenv: envMap(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if c.DatabaseURL != Defaults().DatabaseURL || c.Workers != 8 {
		t.Fatalf("defaults = %+v", c)
	}
	if err := c.RequireApp(); err == nil {
		t.Fatal("RequireApp passed with no app configured")
	}
}

// The example config.yml at the repository root must load.
func TestExampleConfigLoads(t *testing.T) {
	if _, err := LoadConfig(LoadOptions{Path: "../config.yml", PathGiven: true, Getenv: envMap(nil)}); err != nil {
		t.Fatal(err)
	}
}

func newClientCreator(t *testing.T, c Config) githubapp.ClientCreator {
	t.Helper()
	cc, err := NewClientCreator(c)
	if err != nil {
		t.Fatal(err)
	}
	return cc
}

func TestWebhookBatchConfig(t *testing.T) {
	for _, c := range []struct {
		value string
		want  int
		err   bool
	}{{"", 32, false}, {"1", 1, false}, {"64", 64, false}, {"0", 0, true}, {"257", 0, true}, {"many", 0, true}} {
		env := map[string]string{}
		if c.value != "" {
			env["WEBHOOKDB_WEBHOOK_BATCH"] = c.value
		}
		cfg, err := LoadConfig(LoadOptions{Path: filepath.Join(t.TempDir(), "none.yml"), Demo: true, Getenv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
		if c.err {
			if err == nil || !strings.Contains(err.Error(), "WEBHOOKDB_WEBHOOK_BATCH") {
				t.Errorf("%q: error %v, want one naming WEBHOOKDB_WEBHOOK_BATCH", c.value, err)
			}
			continue
		}
		if err != nil || cfg.WebhookBatch != c.want {
			t.Errorf("%q: webhook_batch %d (%v), want %d", c.value, cfg.WebhookBatch, err, c.want)
		}
	}
}
