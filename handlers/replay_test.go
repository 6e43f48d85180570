package handlers

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/webhookdb/webhookdb/internal/testutil"
	"github.com/webhookdb/webhookdb/jobs"
)

// replayRow is what the replay tests read of a webhook_delivery row.
type replayRow struct {
	status      string
	received    time.Time
	recoveredBy sql.NullString
	err         sql.NullString
	replayAfter sql.NullTime
	gaveUpAt    sql.NullTime
	processedAt sql.NullTime
	hasPayload  bool
}

func loadReplayRow(t *testing.T, id string) replayRow {
	t.Helper()
	var r replayRow
	if err := env.DB.QueryRow(`SELECT status, received_at, recovered_by, error, replay_after, gave_up_at, processed_at, payload IS NOT NULL
FROM webhook_delivery WHERE delivery_id = $1`, id).
		Scan(&r.status, &r.received, &r.recoveredBy, &r.err, &r.replayAfter, &r.gaveUpAt, &r.processedAt, &r.hasPayload); err != nil {
		t.Fatalf("load delivery %s: %v", id, err)
	}
	return r
}

// testReplay is the handlers' replay on the test database, with the
// recording scheduler and optional hooks.
func testReplay(t *testing.T, hk *hooks) jobs.Replay {
	t.Helper()
	d := Deps{DB: env.DB, Scheduler: &recordingScheduler{}, GitHub: unreachableClientCreator(t), Logger: zerolog.New(io.Discard)}
	if testing.Verbose() {
		d.Logger = zerolog.New(zerolog.NewTestWriter(t))
	}
	b := NewBase(d)
	b.hooks = hk
	return newReplay(b)
}

// storedDelivery reads a delivery as the replay job hands it over.
func storedDelivery(t *testing.T, id string) jobs.StoredDelivery {
	t.Helper()
	var sd jobs.StoredDelivery
	sd.GUID = id
	if err := env.DB.QueryRow(`SELECT event, payload, received_at FROM webhook_delivery WHERE delivery_id = $1`, id).
		Scan(&sd.Event, &sd.Payload, &sd.ReceivedAt); err != nil {
		t.Fatalf("load delivery %s: %v", id, err)
	}
	return sd
}

// failOnce fails the first delivery's commit, as a database that went
// away would.
func failOnce() *hooks {
	failed := false
	return &hooks{beforeCommit: func() error {
		if failed {
			return nil
		}
		failed = true
		return errors.New("simulated failure")
	}}
}

// TestReplayStoresFailedDelivery: a delivery that failed (5xx) is recorded
// due for replay; its replay from the stored payload stores its rows, as of
// its first arrival, and records it as processed and recovered by replay.
func TestReplayStoresFailedDelivery(t *testing.T) {
	env.Truncate(t)
	h := newHarness(t, harnessOptions{hooks: failOnce()})
	body := fixture(t, "issues/opened.payload.json")
	if res := h.deliver(t, "issues", "replay-me", body); res.code != http.StatusInternalServerError {
		t.Fatalf("first delivery answered %d (%s), want 500", res.code, res.body)
	}
	failed := loadReplayRow(t, "replay-me")
	if failed.status != StatusFailed || failed.gaveUpAt.Valid || !failed.replayAfter.Valid || !failed.replayAfter.Time.After(failed.received) {
		t.Fatalf("failure recorded as %+v, want failed, due for replay later, not given up", failed)
	}
	if n := count(t, env.DB, "github_issue", ""); n != 0 {
		t.Fatalf("%d issues after the failed delivery", n)
	}

	status, err := testReplay(t, nil)(context.Background(), storedDelivery(t, "replay-me"))
	if err != nil || status != StatusProcessed {
		t.Fatalf("replay: %q, %v; want processed", status, err)
	}
	got := loadReplayRow(t, "replay-me")
	if got.status != StatusProcessed || got.recoveredBy.String != "replay" || got.err.Valid || !got.processedAt.Valid {
		t.Fatalf("after the replay: %+v, want processed, recovered by replay, no error", got)
	}
	if !got.received.Equal(failed.received) {
		t.Fatalf("received_at %v after the replay, want the first arrival's %v", got.received, failed.received)
	}
	if n := count(t, env.DB, "github_issue", ""); n != 1 {
		t.Fatalf("%d issues after the replay, want 1", n)
	}

	// Replayed again (a second replay process, a stale listing): the
	// delivery is stored already, so nothing changes.
	before := rowCounts(t, env.DB)
	status, err = testReplay(t, nil)(context.Background(), storedDelivery(t, "replay-me"))
	if err != nil || status != duplicate {
		t.Fatalf("second replay: %q, %v; want duplicate", status, err)
	}
	if after := rowCounts(t, env.DB); !maps.Equal(before, after) {
		t.Fatalf("second replay changed rows: %v -> %v", before, after)
	}
}

// TestReplayAfterRedeliveryIsDuplicate: GitHub's redelivery stored the
// failed GUID first; the replay then changes nothing.
func TestReplayAfterRedeliveryIsDuplicate(t *testing.T) {
	env.Truncate(t)
	h := newHarness(t, harnessOptions{hooks: failOnce()})
	body := fixture(t, "issues/opened.payload.json")
	if res := h.deliver(t, "issues", "redelivered", body); res.code != http.StatusInternalServerError {
		t.Fatalf("first delivery answered %d, want 500", res.code)
	}
	sd := storedDelivery(t, "redelivered") // listed by the replay job
	if res := h.deliver(t, "issues", "redelivered", body); res.code != http.StatusOK {
		t.Fatalf("redelivery answered %d (%s), want 200", res.code, res.body)
	}
	stored := loadReplayRow(t, "redelivered")
	before := rowCounts(t, env.DB)

	status, err := testReplay(t, nil)(context.Background(), sd)
	if err != nil || status != duplicate {
		t.Fatalf("replay: %q, %v; want duplicate", status, err)
	}
	got := loadReplayRow(t, "redelivered")
	if got.status != StatusProcessed || got.recoveredBy.Valid || !got.received.Equal(stored.received) || !got.processedAt.Time.Equal(stored.processedAt.Time) {
		t.Fatalf("replay changed the stored copy: %+v, was %+v", got, stored)
	}
	if after := rowCounts(t, env.DB); !maps.Equal(before, after) {
		t.Fatalf("replay changed rows: %v -> %v", before, after)
	}
}

// TestReplayFailures: a replay that fails again is reported failed and
// stays due (the job does the backoff); one whose payload can never be
// stored is given up; an event no handler takes is ignored.
func TestReplayFailures(t *testing.T) {
	t.Run("fails again", func(t *testing.T) {
		env.Truncate(t)
		h := newHarness(t, harnessOptions{hooks: failOnce()})
		if res := h.deliver(t, "issues", "fails-again", fixture(t, "issues/opened.payload.json")); res.code != http.StatusInternalServerError {
			t.Fatalf("first delivery answered %d, want 500", res.code)
		}
		alwaysFails := &hooks{beforeCommit: func() error { return errors.New("still down") }}
		status, err := testReplay(t, alwaysFails)(context.Background(), storedDelivery(t, "fails-again"))
		if err == nil || status != StatusFailed {
			t.Fatalf("replay: %q, %v; want failed with an error", status, err)
		}
		got := loadReplayRow(t, "fails-again")
		if got.status != StatusFailed || !strings.Contains(got.err.String, "still down") || got.gaveUpAt.Valid || !got.replayAfter.Valid || !got.hasPayload {
			t.Fatalf("after the failed replay: %+v, want failed with the new error, payload kept, not given up", got)
		}
		if n := count(t, env.DB, "github_issue", ""); n != 0 {
			t.Fatalf("a failed replay left %d issues", n)
		}
	})
	t.Run("payload that can never be stored", func(t *testing.T) {
		env.Truncate(t)
		// Recorded failed with this payload by an older release, say: it
		// does not parse as an issues event.
		if _, err := env.DB.Exec(`INSERT INTO webhook_delivery (delivery_id, event, received_at, status, error, payload)
VALUES ('bad', 'issues', now() - interval '1 hour', 'failed', 'boom', '{"action":"opened","issue":"not an object"}')`); err != nil {
			t.Fatal(err)
		}
		status, err := testReplay(t, nil)(context.Background(), storedDelivery(t, "bad"))
		var pe *PayloadError
		if !errors.As(err, &pe) || status != StatusFailed {
			t.Fatalf("replay: %q, %v; want failed with a PayloadError", status, err)
		}
		if got := loadReplayRow(t, "bad"); got.status != StatusFailed || !got.gaveUpAt.Valid || got.replayAfter.Valid {
			t.Fatalf("after the replay: %+v, want given up", got)
		}
	})
	t.Run("event without a handler", func(t *testing.T) {
		status, err := testReplay(t, nil)(context.Background(), jobs.StoredDelivery{GUID: "star", Event: "star", Payload: []byte(`{}`), ReceivedAt: time.Now()})
		if err != nil || status != StatusIgnored {
			t.Fatalf("replay: %q, %v; want ignored", status, err)
		}
	})
}

// TestFailureRecordSchedulesReplay: a failure the same payload would meet
// again is given up at once; any other is due for replay after the first
// delay.
func TestFailureRecordSchedulesReplay(t *testing.T) {
	env.Truncate(t)
	h := newHarness(t, harnessOptions{hooks: failOnce()})
	if res := h.deliver(t, "issues", "transient", fixture(t, "issues/opened.payload.json")); res.code != http.StatusInternalServerError {
		t.Fatalf("transient failure answered %d, want 500", res.code)
	}
	if res := h.deliver(t, "issues", "permanent", []byte(`{"action":"opened","issue":"not an object"}`)); res.code != http.StatusBadRequest {
		t.Fatalf("bad payload answered %d, want 400", res.code)
	}
	var delay float64
	var gaveUp bool
	if err := env.DB.QueryRow(`SELECT EXTRACT(EPOCH FROM replay_after - processed_at), gave_up_at IS NOT NULL FROM webhook_delivery WHERE delivery_id = 'transient'`).
		Scan(&delay, &gaveUp); err != nil {
		t.Fatal(err)
	}
	if delay != jobs.DefaultReplayBaseDelay.Seconds() || gaveUp {
		t.Fatalf("transient failure: replay after %vs, given up %v; want after %v, not given up", delay, gaveUp, jobs.DefaultReplayBaseDelay)
	}
	if got := loadReplayRow(t, "permanent"); got.status != StatusFailed || !got.gaveUpAt.Valid || got.replayAfter.Valid || !got.hasPayload {
		t.Fatalf("bad payload recorded as %+v, want failed and given up, payload kept", got)
	}
}

// TestReplayJobRecoversFailedDelivery runs the replay job of a real worker
// pool with the handlers' replay: a delivery that failed is stored once it
// is due, and the replay is counted in the metrics.
func TestReplayJobRecoversFailedDelivery(t *testing.T) {
	env.Truncate(t)
	h := newHarness(t, harnessOptions{hooks: failOnce()})
	if res := h.deliver(t, "issues", "job-replay", fixture(t, "issues/opened.payload.json")); res.code != http.StatusInternalServerError {
		t.Fatalf("first delivery answered %d, want 500", res.code)
	}
	// The first delay has passed.
	if _, err := env.DB.Exec(`UPDATE webhook_delivery SET replay_after = now() - interval '1 second' WHERE delivery_id = 'job-replay'`); err != nil {
		t.Fatal(err)
	}
	ns := env.Namespace + ":replay"
	t.Cleanup(func() {
		if err := testutil.DeleteNamespace(env.Redis, ns); err != nil {
			t.Errorf("clean redis: %v", err)
		}
	})
	reg := prometheus.NewRegistry()
	deps := jobs.Deps{DB: env.DB, Redis: env.Redis, Namespace: ns, Metrics: reg, SweepSpec: "-", PurgeSpec: "-",
		Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel),
		Replay: testReplay(t, nil)}
	pool := jobs.NewWorkerPool(deps, 1)
	pool.Start()
	defer pool.Stop()
	if _, err := jobs.NewEnqueuer(deps).Enqueue(jobs.JobReplay, nil); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for loadReplayRow(t, "job-replay").status != StatusProcessed {
		select {
		case <-ctx.Done():
			t.Fatalf("not replayed: %+v", loadReplayRow(t, "job-replay"))
		case <-tick.C:
		}
	}
	if got := loadReplayRow(t, "job-replay"); got.recoveredBy.String != "replay" {
		t.Fatalf("recorded %+v, want recovered by replay", got)
	}
	if n := count(t, env.DB, "github_issue", ""); n != 1 {
		t.Fatalf("%d issues after the replay, want 1", n)
	}
	// The counter is incremented right after the row is stored.
	for replaysCounted(t, reg, StatusProcessed) != 1 {
		select {
		case <-ctx.Done():
			t.Fatalf("processed replays counted %v, want 1", replaysCounted(t, reg, StatusProcessed))
		case <-tick.C:
		}
	}
}

// replaysCounted reads webhookdb_replays_total{outcome} from reg.
func replaysCounted(t *testing.T, reg *prometheus.Registry, outcome string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "webhookdb_replays_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" && l.GetValue() == outcome {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
