package handlers

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"database/sql"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/palantir/go-githubapp/githubapp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/webhookdb/webhookdb/internal/testutil"
	"github.com/webhookdb/webhookdb/jobs"
)

var env testutil.Env

func TestMain(m *testing.M) { os.Exit(testutil.Main(m, &env)) }

const testSecret = "it's a secret to everybody"

// payloadsDir holds real GitHub webhook payloads.
var payloadsDir = testutil.PayloadsDir()

// recordingScheduler is the job queue as the handlers see it: it records
// what they queue so tests can assert it. Jobs are a colleague's package;
// what matters here is what the handlers ask for.
type recordingScheduler struct {
	mu      sync.Mutex
	scans   []jobs.ScanRequest
	cancels []int64
	err     error
}

// ScanInTx records req; its enqueue fails with s.err, as a queue that is
// down after the commit would.
func (s *recordingScheduler) ScanInTx(ctx context.Context, tx *sql.Tx, req jobs.ScanRequest) (int64, bool, func() error, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scans = append(s.scans, req)
	err := s.err
	return int64(len(s.scans)), false, func() error { return err }, nil
}

func (s *recordingScheduler) CancelInstallationInTx(ctx context.Context, tx *sql.Tx, id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cancels = append(s.cancels, id)
	return s.err
}

func (s *recordingScheduler) Scans() []jobs.ScanRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]jobs.ScanRequest(nil), s.scans...)
}

func (s *recordingScheduler) Cancels() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int64(nil), s.cancels...)
}

// harness is the webhook endpoint served over real HTTP on a real database.
type harness struct {
	srv     *httptest.Server
	db      *sql.DB
	sched   *recordingScheduler
	reg     *prometheus.Registry
	handler *webhookHandler
	seq     atomic.Int64
}

type harnessOptions struct {
	db            *sql.DB
	clientCreator githubapp.ClientCreator
	secret        string
	maxBody       int64
	hooks         *hooks
	quiet         bool // no test log, for fuzzing (iterations outlive no *T)
	// scheduler replaces the recording one (h.sched then stays empty).
	scheduler Scheduler
	// retention is Deps.RevokedRetention.
	retention time.Duration
	// maxBatch is Deps.MaxBatch (1: no group commit).
	maxBatch int
}

// unreachableKey is one app key for every unreachable client creator:
// making RSA keys is slow.
var unreachableKey = sync.OnceValues(func() (string, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})), nil
})

// unreachableClientCreator makes installation clients for a GitHub that is
// not there, so inline fetches fail and fall back to queued jobs.
func unreachableClientCreator(t testing.TB) githubapp.ClientCreator {
	t.Helper()
	ln := httptest.NewServer(http.NotFoundHandler())
	url := ln.URL
	ln.Close() // nothing listens there any more
	cfg := githubapp.Config{V3APIURL: url + "/api/v3/", V4APIURL: url + "/api/graphql"}
	cfg.App.IntegrationID = 1
	key, err := unreachableKey()
	if err != nil {
		t.Fatalf("app key: %v", err)
	}
	cfg.App.PrivateKey = key
	cc, err := githubapp.NewDefaultCachingClientCreator(cfg)
	if err != nil {
		t.Fatalf("client creator: %v", err)
	}
	return cc
}

func newHarness(t testing.TB, o harnessOptions) *harness {
	t.Helper()
	if o.db == nil {
		o.db = env.DB
	}
	if o.clientCreator == nil {
		o.clientCreator = unreachableClientCreator(t)
	}
	if o.secret == "" {
		o.secret = testSecret
	}
	h := &harness{db: o.db, sched: &recordingScheduler{}, reg: prometheus.NewRegistry()}
	var sched Scheduler = h.sched
	if o.scheduler != nil {
		sched = o.scheduler
	}
	d := Deps{
		DB:               o.db,
		Scheduler:        sched,
		GitHub:           o.clientCreator,
		Logger:           zerolog.New(io.Discard),
		Metrics:          h.reg,
		WebhookSecret:    o.secret,
		MaxBodyBytes:     o.maxBody,
		RevokedRetention: o.retention,
		MaxBatch:         o.maxBatch,
	}
	if testing.Verbose() && !o.quiet {
		d.Logger = zerolog.New(zerolog.NewTestWriter(t))
	}
	b := NewBase(d)
	b.hooks = o.hooks
	h.handler = newWebhookHandler(b, d)
	h.srv = httptest.NewServer(h.handler)
	t.Cleanup(h.srv.Close)
	return h
}

func sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

type response struct {
	code int
	body string
}

// post sends one delivery with the given headers; an empty signature means
// none is sent.
func (h *harness) post(t testing.TB, event, deliveryID, signature string, body []byte) response {
	t.Helper()
	res, err := h.tryPost(event, deliveryID, signature, body)
	if err != nil {
		t.Fatalf("post %s: %v", event, err)
	}
	return res
}

// tryPost is post for goroutines that may not end the test.
func (h *harness) tryPost(event, deliveryID, signature string, body []byte) (response, error) {
	req, err := http.NewRequest(http.MethodPost, h.srv.URL+"/replication", bytes.NewReader(body))
	if err != nil {
		return response{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	if event != "" {
		req.Header.Set("X-GitHub-Event", event)
	}
	if deliveryID != "" {
		req.Header.Set("X-GitHub-Delivery", deliveryID)
	}
	if signature != "" {
		req.Header.Set("X-Hub-Signature-256", signature)
	}
	res, err := h.srv.Client().Do(req)
	if err != nil {
		return response{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return response{code: res.StatusCode, body: string(b)}, err
}

// deliver sends a correctly signed delivery.
func (h *harness) deliver(t testing.TB, event, deliveryID string, body []byte) response {
	t.Helper()
	return h.post(t, event, deliveryID, sign(testSecret, body), body)
}

// newID makes a delivery GUID unique to this harness.
func (h *harness) newID(t testing.TB) string {
	return fmt.Sprintf("%s-%d", t.Name(), h.seq.Add(1))
}

// mustDeliver sends a signed delivery and fails unless it answers want.
func (h *harness) mustDeliver(t testing.TB, event string, body []byte, want int) (string, response) {
	t.Helper()
	id := h.newID(t)
	res := h.deliver(t, event, id, body)
	if res.code != want {
		t.Fatalf("deliver %s %s: status %d (%s), want %d", event, id, res.code, res.body, want)
	}
	return id, res
}

func fixture(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(payloadsDir, rel))
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	return b
}

// count counts rows of a table (optionally with a WHERE clause).
func count(t testing.TB, db *sql.DB, table string, where string, args ...any) int {
	t.Helper()
	q := "SELECT count(*) FROM " + table
	if where != "" {
		q += " WHERE " + where
	}
	var n int
	if err := db.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// replicaTables are every table a delivery may write.
var replicaTables = []string{
	"github_user", "github_installation", "github_installation_repository", "github_repository",
	"github_user_repository_association", "github_milestone", "github_issue_label", "github_issue",
	"github_issue_label_association", "github_issue_comment", "github_pull_request",
	"github_pull_request_label_association", "github_pull_request_file", "github_pull_request_review",
	"github_pull_request_review_comment", "webhook_delivery",
}

// rowCounts counts every replica table.
func rowCounts(t testing.TB, db *sql.DB) map[string]int {
	t.Helper()
	m := map[string]int{}
	for _, tb := range replicaTables {
		m[tb] = count(t, db, tb, "")
	}
	return m
}

type deliveryRow struct {
	Event, Status            string
	Action, Error            sql.NullString
	InstallationID, RepoID   sql.NullInt64
	ProcessedAt              sql.NullTime
	PayloadEqual, HasPayload bool
}

func loadDelivery(t testing.TB, db *sql.DB, id string, payload []byte) (deliveryRow, bool) {
	t.Helper()
	var r deliveryRow
	err := db.QueryRow(`SELECT event, status, action, error, installation_id, repo_id, processed_at,
  payload IS NOT NULL, COALESCE(payload = $2::jsonb, false)
FROM webhook_delivery WHERE delivery_id = $1`, id, jsonText(payload)).Scan(
		&r.Event, &r.Status, &r.Action, &r.Error, &r.InstallationID, &r.RepoID, &r.ProcessedAt, &r.HasPayload, &r.PayloadEqual)
	if err == sql.ErrNoRows {
		return r, false
	}
	if err != nil {
		t.Fatalf("load delivery %s: %v", id, err)
	}
	return r, true
}
