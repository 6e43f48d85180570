package process_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/process"
)

// laterTx is a transaction whose user writes wait for its Later.
type laterTx struct {
	*sql.Tx
	later *process.Later
}

func (l laterTx) Later() *process.Later { return l.later }

func userXmin(t *testing.T, exec *sql.Tx, id int64) string {
	t.Helper()
	var x string
	if err := exec.QueryRow(`SELECT xmin::text FROM github_user WHERE id = $1`, id).Scan(&x); err != nil {
		t.Fatalf("xmin of user %d: %v", id, err)
	}
	return x
}

// TestLaterUsers: users deferred to the end of a transaction are written
// there once, merged as one after the other in the order of their moments
// (a later field over an earlier one), and a user whose stored row already
// holds every value given is not written again at all (its row version,
// xmin, stays: no lock, no WAL).
func TestLaterUsers(t *testing.T) {
	ctx := context.Background()
	ev := issuesEvent(t, "opened.payload.json")
	sender := *ev.Sender
	withName := github.User{ID: sender.ID, Login: sender.Login, Name: ptr("The Octocat")}
	withBlog := github.User{ID: sender.ID, Login: sender.Login, Blog: ptr("https://example.com")}
	exec := tx(t)
	l := &process.Later{}
	lt := laterTx{exec, l}
	// Two repositories' envelopes and an issue's users, deferred.
	must(t, process.Envelopes(ctx, lt, []process.Envelope{{Sender: &sender, Repository: ev.Repo, Meta: webhook(t0)}}))
	if n := count(t, exec, `SELECT count(*) FROM github_user`); n != 0 {
		t.Fatalf("%d users written before the flush", n)
	}
	_, err := process.Issue(ctx, lt, ev.Repo.GetID(), ev.Issue, webhook(t0.Add(time.Second)))
	must(t, err)
	must(t, process.Envelopes(ctx, lt, []process.Envelope{{Sender: &withBlog, Meta: webhook(t0.Add(3 * time.Second))}}))
	must(t, process.Envelopes(ctx, lt, []process.Envelope{{Sender: &withName, Meta: webhook(t0.Add(2 * time.Second))}}))
	must(t, l.Flush(ctx, exec))
	var name, blog, login string
	var via time.Time
	if err := exec.QueryRow(`SELECT login, name, blog, last_replicated_via_webhook_at FROM github_user WHERE id = $1`, sender.GetID()).Scan(&login, &name, &blog, &via); err != nil {
		t.Fatal(err)
	}
	if login != sender.GetLogin() || name != "The Octocat" || blog != "https://example.com" || !via.Equal(t0.Add(3*time.Second)) {
		t.Errorf("sender stored as %q %q %q as of %v, want every field merged as of the latest moment", login, name, blog, via)
	}

	// The same users again, later: nothing changes, nothing is written.
	before := userXmin(t, exec, sender.GetID())
	must(t, process.Envelopes(ctx, lt, []process.Envelope{{Sender: &sender, Repository: ev.Repo, Meta: webhook(t0.Add(time.Minute))}}))
	must(t, l.Flush(ctx, exec))
	if after := userXmin(t, exec, sender.GetID()); after != before {
		t.Errorf("an unchanged user was written again (xmin %s -> %s)", before, after)
	}
	// A changed field is written.
	renamed := github.User{ID: sender.ID, Login: sender.Login, Name: ptr("Mona")}
	must(t, process.Envelopes(ctx, lt, []process.Envelope{{Sender: &renamed, Meta: webhook(t0.Add(2 * time.Minute))}}))
	must(t, l.Flush(ctx, exec))
	if err := exec.QueryRow(`SELECT name FROM github_user WHERE id = $1`, sender.GetID()).Scan(&name); err != nil {
		t.Fatal(err)
	}
	if name != "Mona" {
		t.Errorf("renamed user stored as %q", name)
	}
	// A stored full user newer than the deferred data keeps its fields.
	full := github.User{ID: ptr(int64(777)), Login: ptr("full"), Name: ptr("Full Name"), UpdatedAt: stamp(t0.Add(time.Hour)), CreatedAt: stamp(t0)}
	_, err = process.User(ctx, exec, &full, api(t0.Add(time.Hour)))
	must(t, err)
	stale := github.User{ID: full.ID, Login: full.Login, Name: ptr("Old Name")}
	must(t, process.Envelopes(ctx, lt, []process.Envelope{{Sender: &stale, Meta: webhook(t0)}}))
	must(t, l.Flush(ctx, exec))
	if err := exec.QueryRow(`SELECT name FROM github_user WHERE id = 777`).Scan(&name); err != nil {
		t.Fatal(err)
	}
	if name != "Full Name" {
		t.Errorf("a nested user older than the stored full one overwrote it: %q", name)
	}
}
