package handlers

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/internal/testutil"
)

// Group commit keeps every rule of a delivery stored alone. Each test
// makes a batch for certain: a first delivery (the lane's leader) is held
// just before its commit until the others have queued behind it; they are
// then stored by the next transaction, together.

type sent struct {
	event, id string
	body      []byte
}

// batchGate holds the lane's first transaction before its commit until
// want deliveries wait behind it; then every later commit runs onBatch.
type batchGate struct {
	mu      sync.Mutex
	commits int
	entered chan struct{} // the first transaction is waiting
	release chan struct{}
	queued  chan struct{}
	onBatch func() error
}

func newBatchGate() *batchGate {
	return &batchGate{entered: make(chan struct{}), release: make(chan struct{}), queued: make(chan struct{}, 64)}
}

func (g *batchGate) hooks() *hooks {
	return &hooks{
		beforeCommit: func() error {
			g.mu.Lock()
			g.commits++
			n := g.commits
			g.mu.Unlock()
			if n == 1 {
				close(g.entered)
				<-g.release
				return nil
			}
			if g.onBatch != nil {
				return g.onBatch()
			}
			return nil
		},
		queued: func() { g.queued <- struct{}{} },
	}
}

// inOneBatch delivers first, holds it before its commit, delivers rest
// while it waits, and returns the answers to rest once all have ended.
func inOneBatch(t *testing.T, h *harness, g *batchGate, first sent, rest []sent) []response {
	t.Helper()
	firstDone := make(chan response, 1)
	go func() {
		res, err := h.tryPost(first.event, first.id, sign(testSecret, first.body), first.body)
		if err != nil {
			t.Errorf("first delivery: %v", err)
		}
		firstDone <- res
	}()
	<-g.entered
	out := make([]response, len(rest))
	var wg sync.WaitGroup
	for i, s := range rest {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := h.tryPost(s.event, s.id, sign(testSecret, s.body), s.body)
			if err != nil {
				t.Errorf("delivery %s: %v", s.id, err)
			}
			out[i] = res
		}()
		// One at a time, so that the batch keeps this order.
		select {
		case <-g.queued:
		case <-time.After(time.Minute):
			t.Fatalf("delivery %s never queued behind the first", s.id)
		}
	}
	close(g.release)
	if res := <-firstDone; res.code != http.StatusOK {
		t.Fatalf("first delivery answered %d %s", res.code, res.body)
	}
	wg.Wait()
	return out
}

// issueEdit is the issues.edited example about issue number n, at
// updated_at, with title, its repository updated at repoUpdated with
// description.
func issueEdit(t *testing.T, n int, updated time.Time, title string, repoUpdated time.Time, description string) []byte {
	t.Helper()
	return edit(t, fixture(t, "issues/edited.payload.json"), func(m map[string]any) {
		is := obj(m, "issue")
		id, _ := is["id"].(json.Number).Int64()
		is["id"] = json.Number(fmt.Sprint(id + int64(n)))
		is["number"] = json.Number(fmt.Sprint(n))
		is["updated_at"] = updated.UTC().Format(time.RFC3339)
		is["title"] = title
		repo := obj(m, "repository")
		repo["updated_at"] = repoUpdated.UTC().Format(time.RFC3339)
		repo["description"] = description
	})
}

func batchesCommitted(t *testing.T, h *harness, outcome string) float64 {
	t.Helper()
	families, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "webhookdb_webhook_batches_total" {
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

func issueTitle(t *testing.T, db *sql.DB, repoID int64, n int) string {
	t.Helper()
	var title string
	if err := db.QueryRow(`SELECT title FROM github_issue WHERE repo_id = $1 AND number = $2`, repoID, n).Scan(&title); err != nil {
		t.Fatalf("title of issue #%d: %v", n, err)
	}
	return title
}

func fixtureRepoID(t *testing.T) int64 {
	var ev github.IssuesEvent
	mustUnmarshal(t, fixture(t, "issues/edited.payload.json"), &ev)
	return ev.GetRepo().GetID()
}

// TestGroupCommitTwoUpdatesOfOneObject: two versions of one issue, and of
// its repository, in one batch, in either order: the newer is stored, and
// the older delivery is recorded stale when it comes second, as alone.
func TestGroupCommitTwoUpdatesOfOneObject(t *testing.T) {
	base := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	for _, newerFirst := range []bool{true, false} {
		t.Run(fmt.Sprintf("newer first %v", newerFirst), func(t *testing.T) {
			env.Truncate(t)
			g := newBatchGate()
			h := newHarness(t, harnessOptions{hooks: g.hooks()})
			older := sent{"issues", h.newID(t), issueEdit(t, 7, base, "older", base, "older repository")}
			newer := sent{"issues", h.newID(t), issueEdit(t, 7, base.Add(time.Minute), "newer", base.Add(time.Minute), "newer repository")}
			rest := []sent{older, newer}
			if newerFirst {
				rest = []sent{newer, older}
			}
			first := sent{"issues", h.newID(t), issueEdit(t, 1, base, "first", base.Add(-time.Hour), "first")}
			for i, res := range inOneBatch(t, h, g, first, rest) {
				if res.code != http.StatusOK {
					t.Fatalf("delivery %d answered %d %s", i, res.code, res.body)
				}
			}
			if got := batchesCommitted(t, h, "committed"); got != 1 {
				t.Fatalf("%v batches committed, want 1", got)
			}
			repoID := fixtureRepoID(t)
			if got := issueTitle(t, env.DB, repoID, 7); got != "newer" {
				t.Errorf("issue title %q, want newer", got)
			}
			var desc string
			if err := env.DB.QueryRow(`SELECT description FROM github_repository WHERE id = $1`, repoID).Scan(&desc); err != nil {
				t.Fatal(err)
			}
			if desc != "newer repository" {
				t.Errorf("repository description %q, want the newer one", desc)
			}
			// Stale only when it comes after the newer one, as alone.
			wantOlder := StatusProcessed
			if newerFirst {
				wantOlder = StatusStale
			}
			if s := deliveryStatus(t, h, older.id); s != wantOlder {
				t.Errorf("older delivery recorded %s, want %s", s, wantOlder)
			}
			if s := deliveryStatus(t, h, newer.id); s != StatusProcessed {
				t.Errorf("newer delivery recorded %s, want processed", s)
			}
		})
	}
}

// TestGroupCommitSameGUIDTwice: two copies of one delivery in one batch
// are stored once; both are answered 200, the second as a duplicate.
func TestGroupCommitSameGUIDTwice(t *testing.T) {
	env.Truncate(t)
	base := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	g := newBatchGate()
	h := newHarness(t, harnessOptions{hooks: g.hooks()})
	d := sent{"issues", h.newID(t), issueEdit(t, 7, base, "seven", base, "repository")}
	first := sent{"issues", h.newID(t), issueEdit(t, 1, base, "first", base, "repository")}
	res := inOneBatch(t, h, g, first, []sent{d, d})
	if res[0].code != http.StatusOK || res[1].code != http.StatusOK {
		t.Fatalf("answers %d %s / %d %s, want 200 twice", res[0].code, res[0].body, res[1].code, res[1].body)
	}
	var messages []string
	for _, r := range res {
		var m map[string]string
		if err := json.Unmarshal([]byte(r.body), &m); err != nil {
			t.Fatal(err)
		}
		messages = append(messages, m["message"])
	}
	if messages[0] != StatusProcessed || messages[1] != duplicate {
		t.Errorf("answers %v, want processed then duplicate", messages)
	}
	if got := batchesCommitted(t, h, "committed"); got != 1 {
		t.Fatalf("%v batches committed, want 1", got)
	}
	if n := count(t, env.DB, "webhook_delivery", "delivery_id = $1", d.id); n != 1 {
		t.Errorf("%d rows for the GUID, want 1", n)
	}
	if n := count(t, env.DB, "github_issue", "number = 7"); n != 1 {
		t.Errorf("%d rows for the issue, want 1", n)
	}
}

// TestGroupCommitFailingDelivery: one delivery of a batch that cannot be
// stored fails alone, answered 400 and recorded failed; the others are
// stored and answered 200. Table-driven over where the bad one fails:
// in its claim (a payload PostgreSQL refuses), in the batch's envelopes
// (a repository without a name), in its effect (an issue title PostgreSQL
// refuses).
func TestGroupCommitFailingDelivery(t *testing.T) {
	base := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		bad  func(t *testing.T) []byte
	}{
		{"payload refused", func(t *testing.T) []byte {
			return issueEdit(t, 9, base, "nul \u0000 in the title", base, "repository")
		}},
		{"envelope refused", func(t *testing.T) []byte {
			return edit(t, issueEdit(t, 9, base, "nine", base, "repository"), func(m map[string]any) {
				repo := obj(m, "repository")
				delete(repo, "name")
				delete(repo, "full_name")
				delete(repo, "owner")
			})
		}},
		{"effect refused", func(t *testing.T) []byte {
			return edit(t, issueEdit(t, 9, base, "nine", base, "repository"), func(m map[string]any) {
				// Fits go-github's int, not the integer column.
				obj(m, "issue")["comments"] = json.Number("3000000000")
			})
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env.Truncate(t)
			g := newBatchGate()
			h := newHarness(t, harnessOptions{hooks: g.hooks()})
			good1 := sent{"issues", h.newID(t), issueEdit(t, 7, base, "seven", base, "repository")}
			bad := sent{"issues", h.newID(t), c.bad(t)}
			good2 := sent{"issues", h.newID(t), issueEdit(t, 8, base, "eight", base, "repository")}
			first := sent{"issues", h.newID(t), issueEdit(t, 1, base, "first", base, "repository")}
			res := inOneBatch(t, h, g, first, []sent{good1, bad, good2})
			if res[0].code != http.StatusOK || res[2].code != http.StatusOK {
				t.Fatalf("good deliveries answered %d %s / %d %s, want 200", res[0].code, res[0].body, res[2].code, res[2].body)
			}
			if res[1].code != http.StatusBadRequest {
				t.Fatalf("bad delivery answered %d %s, want 400", res[1].code, res[1].body)
			}
			if got := batchesCommitted(t, h, "alone"); got != 1 {
				t.Fatalf("%v batches stored alone, want 1", got)
			}
			repoID := fixtureRepoID(t)
			if issueTitle(t, env.DB, repoID, 7) != "seven" || issueTitle(t, env.DB, repoID, 8) != "eight" {
				t.Error("the good deliveries' issues are not stored")
			}
			if n := count(t, env.DB, "github_issue", "number = 9"); n != 0 {
				t.Errorf("the bad delivery's issue has %d rows", n)
			}
			if s := deliveryStatus(t, h, bad.id); s != StatusFailed {
				t.Errorf("bad delivery recorded %s, want failed", s)
			}
		})
	}
}

// TestGroupCommitDatabaseCutMidBatch: the database goes away after a
// batch's rows are written, before its commit: every delivery of the
// batch is answered 5xx and nothing of it is kept; once the database is
// back each redelivery is stored.
func TestGroupCommitDatabaseCutMidBatch(t *testing.T) {
	env.Truncate(t)
	base := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	proxy := testutil.NewProxy(t, "127.0.0.1:5432")
	g := newBatchGate()
	var cut sync.Once
	g.onBatch = func() error { cut.Do(proxy.Down); return nil }
	h := newHarness(t, harnessOptions{db: proxiedDB(t, proxy), hooks: g.hooks()})
	var rest []sent
	for n := 7; n <= 9; n++ {
		rest = append(rest, sent{"issues", h.newID(t), issueEdit(t, n, base, fmt.Sprint("issue ", n), base, "repository")})
	}
	first := sent{"issues", h.newID(t), issueEdit(t, 1, base, "first", base, "repository")}
	for i, res := range inOneBatch(t, h, g, first, rest) {
		if res.code < 500 {
			t.Errorf("delivery %d answered %d %s, want 5xx", i, res.code, res.body)
		}
	}
	for _, s := range rest {
		if n := count(t, env.DB, "webhook_delivery", "delivery_id = $1 AND status <> 'failed'", s.id); n != 0 {
			t.Errorf("delivery %s stored although answered 5xx", s.id)
		}
	}
	if n := count(t, env.DB, "github_issue", "number IN (7, 8, 9)"); n != 0 {
		t.Errorf("%d issues of the cut batch stored", n)
	}
	proxy.Up()
	for _, s := range rest {
		if res := h.deliver(t, s.event, s.id, s.body); res.code != http.StatusOK {
			t.Fatalf("redelivery of %s: %d %s", s.id, res.code, res.body)
		}
	}
	if n := count(t, env.DB, "github_issue", "number IN (7, 8, 9)"); n != 3 {
		t.Errorf("%d issues after the redeliveries, want 3", n)
	}
}

// TestGroupCommitRecoveredDelivery: a delivery catch-up asked GitHub for
// again, stored in a batch, is recorded recovered by catch-up (and its
// request recovered), and another delivery of the batch is not.
func TestGroupCommitRecoveredDelivery(t *testing.T) {
	env.Truncate(t)
	base := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	g := newBatchGate()
	h := newHarness(t, harnessOptions{hooks: g.hooks()})
	asked := sent{"issues", h.newID(t), issueEdit(t, 7, base, "seven", base, "repository")}
	plain := sent{"issues", h.newID(t), issueEdit(t, 8, base, "eight", base, "repository")}
	askedByCatchUp(t, h, asked.id, "issues", "edited", base.Add(-time.Hour))
	first := sent{"issues", h.newID(t), issueEdit(t, 1, base, "first", base, "repository")}
	for i, res := range inOneBatch(t, h, g, first, []sent{plain, asked}) {
		if res.code != http.StatusOK {
			t.Fatalf("delivery %d answered %d %s", i, res.code, res.body)
		}
	}
	if got := batchesCommitted(t, h, "committed"); got != 1 {
		t.Fatalf("%v batches committed, want 1", got)
	}
	for id, want := range map[string]string{asked.id: "catchup", plain.id: ""} {
		var by sql.NullString
		if err := env.DB.QueryRow(`SELECT recovered_by FROM webhook_delivery WHERE delivery_id = $1`, id).Scan(&by); err != nil {
			t.Fatal(err)
		}
		if by.String != want {
			t.Errorf("delivery %s recovered by %q, want %q", id, by.String, want)
		}
	}
	if n := count(t, env.DB, "catchup_request", "guid = $1 AND recovered_at IS NOT NULL", asked.id); n != 1 {
		t.Errorf("catch-up request not marked recovered")
	}
	// Its data is as of when GitHub first sent it.
	var asOf time.Time
	if err := env.DB.QueryRow(`SELECT last_replicated_via_webhook_at FROM github_issue WHERE number = 7`).Scan(&asOf); err != nil {
		t.Fatal(err)
	}
	if !asOf.Equal(base.Add(-time.Hour)) {
		t.Errorf("recovered issue replicated as of %v, want %v", asOf, base.Add(-time.Hour))
	}
}

// TestGroupCommitSurvivesAPanic: a bug that panics while a batch is
// stored fails its deliveries (5xx, redelivered by GitHub) and leaves the
// lane working for the next ones.
func TestGroupCommitSurvivesAPanic(t *testing.T) {
	env.Truncate(t)
	base := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	g := newBatchGate()
	var once sync.Once
	g.onBatch = func() error {
		once.Do(func() { panic("a bug") })
		return nil
	}
	h := newHarness(t, harnessOptions{hooks: g.hooks()})
	rest := []sent{
		{"issues", h.newID(t), issueEdit(t, 7, base, "seven", base, "repository")},
		{"issues", h.newID(t), issueEdit(t, 8, base, "eight", base, "repository")},
	}
	first := sent{"issues", h.newID(t), issueEdit(t, 1, base, "first", base, "repository")}
	for i, res := range inOneBatch(t, h, g, first, rest) {
		if res.code != http.StatusInternalServerError {
			t.Errorf("delivery %d answered %d %s, want 500", i, res.code, res.body)
		}
	}
	for _, s := range rest {
		if res := h.deliver(t, s.event, s.id, s.body); res.code != http.StatusOK {
			t.Fatalf("redelivery of %s: %d %s", s.id, res.code, res.body)
		}
	}
}
