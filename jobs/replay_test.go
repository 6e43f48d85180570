package jobs

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// failedRow is a webhook_delivery row for the replay tests.
type failedRow struct {
	guid        string
	status      string // default failed
	noPayload   bool
	attempts    int
	replayAfter *time.Time
	gaveUp      bool
	received    time.Time
}

func insertDeliveries(t *testing.T, d Deps, rows ...failedRow) {
	t.Helper()
	for _, r := range rows {
		if r.status == "" {
			r.status = deliveryFailed
		}
		var payload any = `{"action":"opened"}`
		if r.noPayload {
			payload = nil
		}
		var gaveUp any
		if r.gaveUp {
			gaveUp = r.received
		}
		if _, err := d.DB.Exec(`INSERT INTO webhook_delivery (delivery_id, event, received_at, status, error, payload, replay_attempts, replay_after, gave_up_at)
VALUES ($1, 'issues', $2, $3, 'boom', $4::jsonb, $5, $6, $7)`,
			r.guid, r.received, r.status, payload, r.attempts, r.replayAfter, gaveUp); err != nil {
			t.Fatalf("insert delivery %s: %v", r.guid, err)
		}
	}
}

// replayState is what the replay bookkeeping wrote on a row.
type replayState struct {
	status      string
	attempts    int
	replayAfter *time.Time
	gaveUpAt    *time.Time
	err         *string
}

func loadReplayState(t *testing.T, d Deps, guid string) replayState {
	t.Helper()
	var s replayState
	if err := d.DB.QueryRow(`SELECT status, replay_attempts, replay_after, gave_up_at, error FROM webhook_delivery WHERE delivery_id = $1`, guid).
		Scan(&s.status, &s.attempts, &s.replayAfter, &s.gaveUpAt, &s.err); err != nil {
		t.Fatalf("load delivery %s: %v", guid, err)
	}
	return s
}

// fakeReplay stands in for the handlers' replay: it records the GUIDs it
// is given and fails each one its first fails times; then it stores the
// delivery as the handlers' claim would (status processed, recovered by
// replay).
type fakeReplay struct {
	d     Deps
	fails int
	// permanent, when set, makes a failure one the handler gives up
	// itself (as its recordFailure does for a payload that cannot be
	// stored).
	permanent bool
	status    string // answered on success; default processed

	mu    sync.Mutex
	calls []string       // since the last taken
	tries map[string]int // by GUID, ever
}

func (f *fakeReplay) replay(ctx context.Context, sd StoredDelivery) (string, error) {
	f.mu.Lock()
	f.calls = append(f.calls, sd.GUID)
	if f.tries == nil {
		f.tries = map[string]int{}
	}
	f.tries[sd.GUID]++
	n := f.tries[sd.GUID]
	f.mu.Unlock()
	if string(sd.Payload) != `{"action": "opened"}` || sd.Event != "issues" || sd.ReceivedAt.IsZero() {
		return "", fmt.Errorf("replay got %s %q received %v", sd.Event, sd.Payload, sd.ReceivedAt)
	}
	if n <= f.fails {
		if f.permanent {
			if _, err := f.d.DB.ExecContext(ctx, `UPDATE webhook_delivery SET gave_up_at = now() WHERE delivery_id = $1`, sd.GUID); err != nil {
				return "", err
			}
		}
		return deliveryFailed, fmt.Errorf("simulated failure %d", n)
	}
	if f.status == "" {
		f.status = "processed"
	}
	if f.status == "processed" {
		if _, err := f.d.DB.ExecContext(ctx, `UPDATE webhook_delivery SET status = 'processed', error = NULL, recovered_by = 'replay' WHERE delivery_id = $1`, sd.GUID); err != nil {
			return "", err
		}
	}
	return f.status, nil
}

func (f *fakeReplay) taken() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	calls := f.calls
	f.calls = nil
	return calls
}

// TestReplayBackoffAndGiveUp follows one failed delivery run by run: each
// failed replay counts an attempt and doubles the wait (not tried before
// it is due), until it is stored or given up at the last attempt.
func TestReplayBackoffAndGiveUp(t *testing.T) {
	t0 := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	tests := []struct {
		name      string
		fails     int
		permanent bool
		status    string
		// runs are the offsets from t0 of the runs; wantCalled whether each
		// tried the delivery.
		runs       []time.Duration
		wantCalled []bool
		// What the row holds at the end.
		wantStatus   string
		wantAttempts int
		wantAfter    time.Duration // offset of replay_after from t0; 0: unset
		wantGaveUp   time.Duration // offset of gave_up_at from t0; 0: unset
		wantMetrics  map[string]float64
		wantGiveUps  float64
	}{
		{
			name: "fails twice, then stored", fails: 2,
			runs:       []time.Duration{0, 10 * time.Second, 31 * time.Second, 90 * time.Second, 92 * time.Second, time.Hour},
			wantCalled: []bool{true, false, true, false, true, false},
			// replay_after: 0+30s, then 31s+60s = 91s; stored at 92s.
			wantStatus: "processed", wantAttempts: 2, wantAfter: 91 * time.Second,
			wantMetrics: map[string]float64{"failed": 2, "processed": 1},
		},
		{
			name: "always fails: given up at the third attempt", fails: 100,
			runs:       []time.Duration{0, 30 * time.Second, 90 * time.Second, 5 * time.Hour},
			wantCalled: []bool{true, true, true, false},
			wantStatus: "failed", wantAttempts: 3, wantAfter: 90 * time.Second, wantGaveUp: 90 * time.Second,
			wantMetrics: map[string]float64{"failed": 3}, wantGiveUps: 1,
		},
		{
			name: "a payload the handler gives up itself", fails: 1, permanent: true,
			runs:       []time.Duration{0, 5 * time.Hour},
			wantCalled: []bool{true, false},
			wantStatus: "failed", wantAttempts: 1, wantAfter: 30 * time.Second,
			wantMetrics: map[string]float64{"failed": 1}, wantGiveUps: 1,
		},
		{
			name: "no handler for the event any more", status: "ignored",
			runs:       []time.Duration{0, 5 * time.Hour},
			wantCalled: []bool{true, false},
			wantStatus: "failed", wantAttempts: 1, wantGaveUp: 0, // set: checked below
			wantMetrics: map[string]float64{"failed": 1}, wantGiveUps: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := testDeps(t)
			d.ReplayBaseDelay, d.ReplayMaxAttempts = 30*time.Second, 3
			f := &fakeReplay{d: d, fails: tc.fails, permanent: tc.permanent, status: tc.status}
			d.Replay = f.replay
			e := newEngine(d)
			insertDeliveries(t, d, failedRow{guid: "g1", received: t0.Add(-time.Minute)})
			for i, at := range tc.runs {
				if _, err := e.replayFailed(context.Background(), t0.Add(at)); err != nil {
					t.Fatalf("run at +%v: %v", at, err)
				}
				if got := len(f.taken()) == 1; got != tc.wantCalled[i] {
					t.Fatalf("run at +%v tried it: %v, want %v (state %+v)", at, got, tc.wantCalled[i], loadReplayState(t, d, "g1"))
				}
			}
			s := loadReplayState(t, d, "g1")
			if s.status != tc.wantStatus || s.attempts != tc.wantAttempts {
				t.Fatalf("status %s after %d attempts, want %s after %d", s.status, s.attempts, tc.wantStatus, tc.wantAttempts)
			}
			checkTime(t, "replay_after", s.replayAfter, tc.wantAfter, t0)
			gaveUp := tc.wantGiveUps > 0
			if (s.gaveUpAt != nil) != gaveUp {
				t.Fatalf("gave_up_at %v, want set: %v", s.gaveUpAt, gaveUp)
			}
			if tc.wantGaveUp != 0 {
				checkTime(t, "gave_up_at", s.gaveUpAt, tc.wantGaveUp, t0)
			}
			if s.status == deliveryFailed && (s.err == nil || *s.err == "") {
				t.Fatal("a failed replay left no error")
			}
			for outcome, want := range tc.wantMetrics {
				if got := replayCount(t, e.metrics.replays.WithLabelValues(outcome)); got != want {
					t.Errorf("replays %s counted %v, want %v", outcome, got, want)
				}
			}
			if got := replayCount(t, e.metrics.replayGiveUps); got != tc.wantGiveUps {
				t.Errorf("give-ups counted %v, want %v", got, tc.wantGiveUps)
			}
		})
	}
}

func checkTime(t *testing.T, what string, got *time.Time, want time.Duration, t0 time.Time) {
	t.Helper()
	if want == 0 {
		if got != nil {
			t.Fatalf("%s = %v, want unset", what, got)
		}
		return
	}
	if got == nil || !got.Equal(t0.Add(want)) {
		t.Fatalf("%s = %v, want t0+%v (%v)", what, got, want, t0.Add(want))
	}
}

// TestReplaySelectsOnlyDue: only failed deliveries with a payload, not
// given up and due are tried, oldest first, at most one batch per run.
func TestReplaySelectsOnlyDue(t *testing.T) {
	d := testDeps(t)
	f := &fakeReplay{d: d}
	d.Replay = f.replay
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	past, future := now.Add(-time.Second), now.Add(time.Second)
	at := func(m int) time.Time { return now.Add(time.Duration(m-100) * time.Minute) }
	insertDeliveries(t, d,
		failedRow{guid: "due-later-received", received: at(3)},
		failedRow{guid: "due-after-backoff", received: at(2), attempts: 2, replayAfter: &past},
		failedRow{guid: "due-never-replayed", received: at(1)},
		failedRow{guid: "not-yet-due", received: at(0), attempts: 1, replayAfter: &future},
		failedRow{guid: "given-up", received: at(0), gaveUp: true},
		failedRow{guid: "no-payload", received: at(0), noPayload: true},
		failedRow{guid: "processed", received: at(0), status: "processed"},
		failedRow{guid: "stale", received: at(0), status: "stale"},
	)
	if _, err := newEngine(d).replayFailed(context.Background(), now); err != nil {
		t.Fatal(err)
	}
	want := []string{"due-never-replayed", "due-after-backoff", "due-later-received"}
	if got := f.taken(); !slices.Equal(got, want) {
		t.Fatalf("replayed %v, want %v", got, want)
	}
	for _, guid := range []string{"not-yet-due", "given-up", "no-payload"} {
		if s := loadReplayState(t, d, guid); s.status != deliveryFailed {
			t.Errorf("%s is %s, want untouched", guid, s.status)
		}
	}

	// A backlog larger than a batch takes several runs.
	env.Truncate(t)
	var rows []failedRow
	for i := range replayBatch + 5 {
		rows = append(rows, failedRow{guid: fmt.Sprintf("backlog-%03d", i), received: at(i)})
	}
	insertDeliveries(t, d, rows...)
	for run, want := range []int{replayBatch, 5, 0} {
		if _, err := newEngine(d).replayFailed(context.Background(), now.Add(time.Duration(run)*time.Second)); err != nil {
			t.Fatal(err)
		}
		if got := len(f.taken()); got != want {
			t.Fatalf("run %d replayed %d, want %d", run+1, got, want)
		}
	}
}

// TestReplayOneProcessAtATime: a run while another process holds the lock
// does nothing; without a Replay func there is nothing to do.
func TestReplayOneProcessAtATime(t *testing.T) {
	d := testDeps(t)
	f := &fakeReplay{d: d}
	d.Replay = f.replay
	now := time.Now()
	insertDeliveries(t, d, failedRow{guid: "g1", received: now.Add(-time.Minute)})

	ctx := context.Background()
	other, err := d.DB.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, replayLockKey); err != nil {
		t.Fatal(err)
	}
	res, err := newEngine(d).replayFailed(ctx, now)
	if err != nil || !res.skipped || len(f.taken()) != 0 {
		t.Fatalf("with the lock held elsewhere: %+v, %v, want skipped", res, err)
	}
	if err := other.Rollback(); err != nil {
		t.Fatal(err)
	}

	noReplay := d
	noReplay.Replay = nil
	if res, err := newEngine(noReplay).replayFailed(ctx, now); err != nil || res.tried != 0 {
		t.Fatalf("without Replay: %+v, %v", res, err)
	}
	if res, err := newEngine(d).replayFailed(ctx, now); err != nil || res.tried != 1 || len(f.taken()) != 1 {
		t.Fatalf("once the lock is free: %+v, %v", res, err)
	}
}

// TestReplayDelay: doubling from the base, capped at an hour.
func TestReplayDelay(t *testing.T) {
	e := &engine{deps: Deps{ReplayBaseDelay: 30 * time.Second}}
	for attempts, want := range map[int]time.Duration{1: 30 * time.Second, 2: time.Minute, 3: 2 * time.Minute, 8: time.Hour, 40: time.Hour} {
		if got := e.replayDelay(attempts); got != want {
			t.Errorf("delay after %d: %v, want %v", attempts, got, want)
		}
	}
}

// replayCount reads a counter of the replay metrics.
func replayCount(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
