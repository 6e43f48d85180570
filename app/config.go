package app

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/palantir/go-githubapp/githubapp"
	"gopkg.in/yaml.v3"
)

// Config is the whole configuration of webhookdb: config.yml, then the
// environment on top of it.
type Config struct {
	// GitHub is go-githubapp's configuration of the app.
	GitHub githubapp.Config `yaml:"github"`

	DatabaseURL string `yaml:"database_url"`
	RedisURL    string `yaml:"redis_url"`
	Addr        string `yaml:"addr"`
	// MetricsAddr is where a `worker` process serves /metrics, /healthz
	// and /readyz; empty serves nothing. (serve and web serve them on Addr.)
	MetricsAddr string `yaml:"metrics_addr"`
	// PublicURL is where GitHub and browsers reach this server.
	PublicURL string `yaml:"public_url"`
	// SessionKey signs sessions and CSRF tokens; at least 32 bytes.
	SessionKey string `yaml:"session_key"`
	// Namespace prefixes every Redis key of gocraft/work.
	Namespace string `yaml:"namespace"`
	// Workers is the job concurrency of one process.
	Workers int `yaml:"workers"`
	// InstallationConcurrency caps the jobs of one installation that call
	// GitHub at once, so one big installation cannot starve the others.
	InstallationConcurrency int `yaml:"installation_concurrency"`
	// WebhookBatch caps the webhook deliveries stored in one transaction
	// (group commit: those arriving together share it); 1 stores each
	// alone.
	WebhookBatch int `yaml:"webhook_batch"`
	// ReadRateLimit is the read API's own limit: reads per hour per token
	// (GitHub's limit does not apply to reads from the replica).
	ReadRateLimit int `yaml:"read_rate_limit"`
	// ShutdownTimeout bounds how long in-flight requests and jobs may take
	// to finish after SIGINT or SIGTERM.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// ReadHeaderTimeout, ReadTimeout and WriteTimeout bound every HTTP
	// server's reading of a request's headers, of the whole request, and
	// the writing of its answer, so a stalled client is dropped.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	ReadTimeout       time.Duration `yaml:"read_timeout"`
	WriteTimeout      time.Duration `yaml:"write_timeout"`
	// RevokedRetention is how long private data stays in the replica after
	// access to it ends; 0 removes it at once.
	RevokedRetention time.Duration `yaml:"revoked_retention"`
	// CatchupInterval is how often GitHub's delivery log is read for
	// deliveries that never reached us (also once at start-up).
	CatchupInterval time.Duration `yaml:"catchup_interval"`
	// ReconcileInterval is how often every installation gets an
	// incremental scan; 0 turns reconciliation off.
	ReconcileInterval time.Duration `yaml:"reconcile_interval"`
	// FullReconcileInterval is how often that scan is a full one, which
	// also finds what was deleted while no delivery could say so; 0 never.
	FullReconcileInterval time.Duration `yaml:"full_reconcile_interval"`
	// DeliveryRetention is how long delivery payloads are kept (replay,
	// catch-up); DeliveryLogRetention how long their rows stay without it.
	DeliveryRetention    time.Duration `yaml:"delivery_retention"`
	DeliveryLogRetention time.Duration `yaml:"delivery_log_retention"`

	Log LogConfig `yaml:"log"`
}

// LogConfig says how to log.
type LogConfig struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // json or text
}

// Defaults are the values used when neither the file nor the environment
// sets one.
func Defaults() Config {
	c := Config{
		DatabaseURL:             "postgres://127.0.0.1:5432/webhookdb?sslmode=disable",
		RedisURL:                "redis://127.0.0.1:6379/0",
		Addr:                    "127.0.0.1:8080",
		Namespace:               "webhookdb",
		Workers:                 8,
		InstallationConcurrency: 4,
		WebhookBatch:            32,
		ReadRateLimit:           15000,
		ShutdownTimeout:         30 * time.Second,
		ReadHeaderTimeout:       10 * time.Second,
		ReadTimeout:             30 * time.Second,
		WriteTimeout:            60 * time.Second,
		CatchupInterval:         5 * time.Minute,
		ReconcileInterval:       24 * time.Hour,
		FullReconcileInterval:   7 * 24 * time.Hour,
		DeliveryRetention:       14 * 24 * time.Hour,
		DeliveryLogRetention:    90 * 24 * time.Hour,
		Log:                     LogConfig{Level: "info", Format: "json"},
	}
	c.GitHub.WebURL = "https://github.com"
	c.GitHub.V3APIURL = "https://api.github.com"
	c.GitHub.V4APIURL = "https://api.github.com/graphql"
	return c
}

// LoadOptions says where configuration comes from. Getenv is passed in so
// that tests and embedders need no process-wide state.
type LoadOptions struct {
	// Path of the YAML file; empty means config.yml if it exists.
	Path string
	// PathGiven is true when the user named the file, which must then exist.
	PathGiven bool
	// Getenv looks up environment variables; nil means none are set.
	Getenv func(string) (string, bool)
	// Demo relaxes the checks that only matter for a real GitHub App.
	Demo bool
}

// LoadConfig reads the file, applies the environment, fills in derived
// values and validates the result.
func LoadConfig(opts LoadOptions) (Config, error) {
	c := Defaults()
	path := opts.Path
	if path == "" {
		path = "config.yml"
	}
	raw, err := os.ReadFile(path)
	switch {
	case err == nil:
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
			return c, fmt.Errorf("config file %s: %w", path, nameYAMLKeys(raw, err))
		}
	case errors.Is(err, fs.ErrNotExist) && !opts.PathGiven:
		// No file and none asked for: environment and defaults only.
	default:
		return c, fmt.Errorf("config file %s: %w", path, unwrapPathError(err))
	}
	if err := applyEnv(&c, opts.Getenv); err != nil {
		return c, err
	}
	if err := c.finish(opts.Demo); err != nil {
		return c, err
	}
	return c, nil
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func applyEnv(c *Config, getenv func(string) (string, bool)) error {
	if getenv == nil {
		return nil
	}
	strs := []struct {
		name string
		dst  *string
	}{
		{"GITHUB_WEB_URL", &c.GitHub.WebURL},
		{"GITHUB_V3_API_URL", &c.GitHub.V3APIURL},
		{"GITHUB_V4_API_URL", &c.GitHub.V4APIURL},
		{"GITHUB_APP_WEBHOOK_SECRET", &c.GitHub.App.WebhookSecret},
		{"GITHUB_APP_PRIVATE_KEY", &c.GitHub.App.PrivateKey},
		{"GITHUB_OAUTH_CLIENT_ID", &c.GitHub.OAuth.ClientID},
		{"GITHUB_OAUTH_CLIENT_SECRET", &c.GitHub.OAuth.ClientSecret},
		{"DATABASE_URL", &c.DatabaseURL},
		{"REDIS_URL", &c.RedisURL},
		{"WEBHOOKDB_ADDR", &c.Addr},
		{"WEBHOOKDB_METRICS_ADDR", &c.MetricsAddr},
		{"WEBHOOKDB_PUBLIC_URL", &c.PublicURL},
		{"WEBHOOKDB_SESSION_KEY", &c.SessionKey},
		{"WEBHOOKDB_NAMESPACE", &c.Namespace},
		{"WEBHOOKDB_LOG_LEVEL", &c.Log.Level},
		{"WEBHOOKDB_LOG_FORMAT", &c.Log.Format},
	}
	for _, s := range strs {
		if v, ok := getenv(s.name); ok {
			*s.dst = v
		}
	}
	if v, ok := getenv("GITHUB_APP_INTEGRATION_ID"); ok {
		id, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return fmt.Errorf("GITHUB_APP_INTEGRATION_ID: %q is not a number", v)
		}
		c.GitHub.App.IntegrationID = id
	}
	ints := []struct {
		name string
		dst  *int
	}{
		{"WEBHOOKDB_WORKERS", &c.Workers},
		{"WEBHOOKDB_INSTALLATION_CONCURRENCY", &c.InstallationConcurrency},
		{"WEBHOOKDB_WEBHOOK_BATCH", &c.WebhookBatch},
		{"WEBHOOKDB_READ_RATE_LIMIT", &c.ReadRateLimit},
	}
	for _, s := range ints {
		if v, ok := getenv(s.name); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return fmt.Errorf("%s: %q is not a whole number", s.name, v)
			}
			*s.dst = n
		}
	}
	durations := []struct {
		name string
		dst  *time.Duration
	}{
		{"WEBHOOKDB_SHUTDOWN_TIMEOUT", &c.ShutdownTimeout},
		{"WEBHOOKDB_READ_HEADER_TIMEOUT", &c.ReadHeaderTimeout},
		{"WEBHOOKDB_READ_TIMEOUT", &c.ReadTimeout},
		{"WEBHOOKDB_WRITE_TIMEOUT", &c.WriteTimeout},
		{"WEBHOOKDB_REVOKED_RETENTION", &c.RevokedRetention},
		{"WEBHOOKDB_CATCHUP_INTERVAL", &c.CatchupInterval},
		{"WEBHOOKDB_RECONCILE_INTERVAL", &c.ReconcileInterval},
		{"WEBHOOKDB_FULL_RECONCILE_INTERVAL", &c.FullReconcileInterval},
		{"WEBHOOKDB_DELIVERY_RETENTION", &c.DeliveryRetention},
		{"WEBHOOKDB_DELIVERY_LOG_RETENTION", &c.DeliveryLogRetention},
	}
	for _, s := range durations {
		if v, ok := getenv(s.name); ok {
			d, err := time.ParseDuration(strings.TrimSpace(v))
			if err != nil {
				return fmt.Errorf("%s: %q is not a duration such as 30s", s.name, v)
			}
			*s.dst = d
		}
	}
	return nil
}

// finish derives the values left empty and validates every value, naming
// the one that is wrong.
func (c *Config) finish(demo bool) error {
	if c.PublicURL == "" {
		c.PublicURL = "http://" + c.Addr
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")

	if err := checkDatabaseURL(c.DatabaseURL); err != nil {
		return err
	}
	if err := checkURL("redis_url (REDIS_URL)", c.RedisURL, "redis", "rediss"); err != nil {
		return err
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("addr (WEBHOOKDB_ADDR): %q is not host:port", c.Addr)
	}
	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			return fmt.Errorf("metrics_addr (WEBHOOKDB_METRICS_ADDR): %q is not host:port", c.MetricsAddr)
		}
	}
	if err := checkURL("public_url (WEBHOOKDB_PUBLIC_URL)", c.PublicURL, "http", "https"); err != nil {
		return err
	}
	if err := checkURL("github.web_url (GITHUB_WEB_URL)", c.GitHub.WebURL, "http", "https"); err != nil {
		return err
	}
	if err := checkURL("github.v3_api_url (GITHUB_V3_API_URL)", c.GitHub.V3APIURL, "http", "https"); err != nil {
		return err
	}
	if c.Namespace == "" || strings.ContainsAny(c.Namespace, " \t\n") {
		return fmt.Errorf("namespace (WEBHOOKDB_NAMESPACE): %q must be a non-empty word", c.Namespace)
	}
	if c.Workers < 1 || c.Workers > 1000 {
		return fmt.Errorf("workers (WEBHOOKDB_WORKERS): %d is not between 1 and 1000", c.Workers)
	}
	if c.WebhookBatch < 1 || c.WebhookBatch > 256 {
		return fmt.Errorf("webhook_batch (WEBHOOKDB_WEBHOOK_BATCH): %d must be between 1 (no group commit) and 256", c.WebhookBatch)
	}
	if c.ReadRateLimit < 1 || c.ReadRateLimit > 100_000_000 {
		return fmt.Errorf("read_rate_limit (WEBHOOKDB_READ_RATE_LIMIT): %d must be between 1 and 100000000 reads per hour", c.ReadRateLimit)
	}
	if c.InstallationConcurrency < 1 {
		return fmt.Errorf("installation_concurrency (WEBHOOKDB_INSTALLATION_CONCURRENCY): %d must be at least 1", c.InstallationConcurrency)
	}
	positive := []struct {
		name string
		d    time.Duration
	}{
		{"shutdown_timeout (WEBHOOKDB_SHUTDOWN_TIMEOUT)", c.ShutdownTimeout},
		// Zero would mean no timeout at all in net/http: the stalled
		// clients these exist to drop would stay.
		{"read_header_timeout (WEBHOOKDB_READ_HEADER_TIMEOUT)", c.ReadHeaderTimeout},
		{"read_timeout (WEBHOOKDB_READ_TIMEOUT)", c.ReadTimeout},
		{"write_timeout (WEBHOOKDB_WRITE_TIMEOUT)", c.WriteTimeout},
		{"catchup_interval (WEBHOOKDB_CATCHUP_INTERVAL)", c.CatchupInterval},
		// Replay and catch-up need the payloads for GitHub's 3 days at least.
		{"delivery_retention (WEBHOOKDB_DELIVERY_RETENTION)", c.DeliveryRetention},
		{"delivery_log_retention (WEBHOOKDB_DELIVERY_LOG_RETENTION)", c.DeliveryLogRetention},
	}
	for _, p := range positive {
		if p.d <= 0 {
			return fmt.Errorf("%s: %s must be positive", p.name, p.d)
		}
	}
	if c.ReadHeaderTimeout > c.ReadTimeout {
		return fmt.Errorf("read_header_timeout (WEBHOOKDB_READ_HEADER_TIMEOUT): %s is longer than read_timeout (WEBHOOKDB_READ_TIMEOUT) %s, which also covers the headers", c.ReadHeaderTimeout, c.ReadTimeout)
	}
	if c.RevokedRetention < 0 {
		return fmt.Errorf("revoked_retention (WEBHOOKDB_REVOKED_RETENTION): %s must not be negative", c.RevokedRetention)
	}
	if c.CatchupInterval < 10*time.Second {
		return fmt.Errorf("catchup_interval (WEBHOOKDB_CATCHUP_INTERVAL): %s is shorter than 10s; every run lists GitHub's delivery log", c.CatchupInterval)
	}
	if c.ReconcileInterval < 0 || (c.ReconcileInterval > 0 && c.ReconcileInterval < time.Minute) {
		return fmt.Errorf("reconcile_interval (WEBHOOKDB_RECONCILE_INTERVAL): %s must be 0 (off) or at least 1m", c.ReconcileInterval)
	}
	if c.FullReconcileInterval < 0 || (c.FullReconcileInterval > 0 && c.FullReconcileInterval < c.ReconcileInterval) {
		return fmt.Errorf("full_reconcile_interval (WEBHOOKDB_FULL_RECONCILE_INTERVAL): %s must be 0 (never) or at least reconcile_interval %s", c.FullReconcileInterval, c.ReconcileInterval)
	}
	if c.DeliveryRetention < 72*time.Hour {
		return fmt.Errorf("delivery_retention (WEBHOOKDB_DELIVERY_RETENTION): %s is shorter than GitHub's 3-day delivery log (72h), which replay and catch-up need", c.DeliveryRetention)
	}
	if c.DeliveryLogRetention < c.DeliveryRetention {
		return fmt.Errorf("delivery_log_retention (WEBHOOKDB_DELIVERY_LOG_RETENTION): %s is shorter than delivery_retention %s", c.DeliveryLogRetention, c.DeliveryRetention)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log.level (WEBHOOKDB_LOG_LEVEL): %q is not one of debug, info, warn, error", c.Log.Level)
	}
	switch c.Log.Format {
	case "json", "text":
	default:
		return fmt.Errorf("log.format (WEBHOOKDB_LOG_FORMAT): %q is not json or text", c.Log.Format)
	}
	if c.GitHub.App.IntegrationID < 0 {
		return fmt.Errorf("github.app.integration_id (GITHUB_APP_INTEGRATION_ID): %d is negative", c.GitHub.App.IntegrationID)
	}
	if c.GitHub.App.PrivateKey != "" {
		key, err := loadPrivateKey(c.GitHub.App.PrivateKey)
		if err != nil {
			return fmt.Errorf("github.app.private_key (GITHUB_APP_PRIVATE_KEY): %w", err)
		}
		c.GitHub.App.PrivateKey = key
	}
	if c.SessionKey != "" && len(c.SessionKey) < 32 {
		return fmt.Errorf("session_key (WEBHOOKDB_SESSION_KEY): %d bytes is too short, use 32 or more", len(c.SessionKey))
	}
	return nil
}

// RequireGitHubApp checks what calling GitHub as the app needs: its id
// and private key. The workers need no more.
func (c *Config) RequireGitHubApp() error {
	switch {
	case c.GitHub.App.IntegrationID == 0:
		return errors.New("github.app.integration_id (GITHUB_APP_INTEGRATION_ID) is required")
	case c.GitHub.App.PrivateKey == "":
		return errors.New("github.app.private_key (GITHUB_APP_PRIVATE_KEY) is required: PEM text or the path of a PEM file")
	}
	return nil
}

// RequireApp checks what serving GitHub needs: an app id, a key, a webhook
// secret and a session key. migrate does not need them, serve does.
func (c *Config) RequireApp() error {
	switch {
	case c.GitHub.App.IntegrationID == 0:
		return errors.New("github.app.integration_id (GITHUB_APP_INTEGRATION_ID) is required")
	case c.GitHub.App.PrivateKey == "":
		return errors.New("github.app.private_key (GITHUB_APP_PRIVATE_KEY) is required: PEM text or the path of a PEM file")
	case c.GitHub.App.WebhookSecret == "":
		return errors.New("github.app.webhook_secret (GITHUB_APP_WEBHOOK_SECRET) is required")
	case c.SessionKey == "":
		return errors.New("session_key (WEBHOOKDB_SESSION_KEY) is required: 32 or more random bytes")
	}
	return nil
}

// checkURL checks a URL with a host and one of schemes. Its messages never
// show a password the URL holds (Redis URLs carry one).
func checkURL(name, raw string, schemes ...string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%s is not a URL: %w", name, unwrapURLError(err))
	}
	if u.Host == "" {
		return fmt.Errorf("%s: %q is not a URL", name, u.Redacted())
	}
	for _, s := range schemes {
		if u.Scheme == s {
			return nil
		}
	}
	return fmt.Errorf("%s: %q must start with %s://", name, u.Redacted(), strings.Join(schemes, ":// or "))
}

// checkDatabaseURL accepts a PostgreSQL URL. Its host may be empty or
// given as host= in the query, as libpq and pgx allow for a Unix socket.
func checkDatabaseURL(raw string) error {
	const name = "database_url (DATABASE_URL)"
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%s is not a URL: %w", name, unwrapURLError(err))
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return fmt.Errorf("%s: %q must start with postgres:// or postgresql://", name, u.Redacted())
	}
	return nil
}

// unwrapURLError drops the URL, and any password in it, from a url.Parse
// error.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// loadPrivateKey accepts the key as PEM text or as the path of a PEM file,
// and returns the PEM text after checking that it holds an RSA key.
func loadPrivateKey(v string) (string, error) {
	pemText := v
	if !strings.Contains(v, "-----BEGIN") {
		raw, err := os.ReadFile(strings.TrimSpace(v))
		if err != nil {
			return "", fmt.Errorf("neither PEM text nor a readable file: %w", unwrapPathError(err))
		}
		pemText = string(raw)
	}
	block, _ := pem.Decode([]byte(pemText))
	if block == nil {
		return "", errors.New("no PEM block found")
	}
	if _, err := x509.ParsePKCS1PrivateKey(block.Bytes); err != nil {
		k, err2 := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err2 != nil {
			return "", fmt.Errorf("not an RSA private key: %w", err)
		}
		if _, ok := k.(*rsa.PrivateKey); !ok {
			return "", errors.New("not an RSA private key")
		}
	}
	return pemText, nil
}
