package process_test

import (
	"context"
	"database/sql"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/process"
)

// TestEnvelopesAsOneAtATime: the envelopes of a batch written together
// leave the same rows as the same envelopes written one delivery at a
// time in the order of their moments (the sender, the repository and its
// owner, the installation link), whatever the batch's order: the newer
// repository wins, of equal versions the one as of the later moment, a
// partial one only adds. (One at a time in arrival order, a nested user
// without a version is the last one written, even when it is as of an
// earlier moment; together, the later moment's wins.)
func TestEnvelopesAsOneAtATime(t *testing.T) {
	ctx := context.Background()
	ev := issuesEvent(t, "opened.payload.json")
	inst := installationEvent(t, "created.payload.json").Installation
	version := func(updated time.Time, description string) *github.Repository {
		r := *ev.Repo
		r.UpdatedAt, r.Description = stamp(updated), ptr(description)
		return &r
	}
	partial := &github.Repository{ID: ev.Repo.ID, Name: ev.Repo.Name, FullName: ev.Repo.FullName, Private: ptr(true)}
	other := otherRepo(ev.Repo, 987654)
	env := func(r *github.Repository, at time.Time) process.Envelope {
		return process.Envelope{Sender: ev.Sender, Repository: r, InstallationID: inst.GetID(), Meta: webhook(at)}
	}
	for _, c := range []struct {
		name string
		envs []process.Envelope
	}{
		{"newer second", []process.Envelope{env(version(t0, "old"), t0), env(version(t0.Add(time.Hour), "new"), t0.Add(time.Minute))}},
		{"newer first", []process.Envelope{env(version(t0.Add(time.Hour), "new"), t0.Add(time.Minute)), env(version(t0, "old"), t0.Add(2*time.Minute))}},
		{"equal versions, later moment second", []process.Envelope{env(version(t0, "a"), t0), env(version(t0, "b"), t0.Add(time.Second))}},
		{"equal versions, later moment first", []process.Envelope{env(version(t0, "b"), t0.Add(time.Second)), env(version(t0, "a"), t0)}},
		{"partial after full", []process.Envelope{env(version(t0, "full"), t0), env(partial, t0.Add(time.Minute))}},
		{"two repositories, no sender", []process.Envelope{env(version(t0, "one"), t0), {Repository: other, InstallationID: inst.GetID(), Meta: webhook(t0)}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			together := func(exec *sql.Tx) { must(t, process.Envelopes(ctx, exec, c.envs)) }
			alone := func(exec *sql.Tx) {
				byMoment := slices.Clone(c.envs)
				slices.SortStableFunc(byMoment, func(a, b process.Envelope) int { return a.Meta.FetchedAt.Compare(b.Meta.FetchedAt) })
				for _, e := range byMoment {
					if e.Sender != nil {
						_, err := process.User(ctx, exec, e.Sender, e.Meta)
						must(t, err)
					}
					_, err := process.Repository(ctx, exec, e.Repository, e.Meta)
					must(t, err)
					must(t, process.LinkInstallationRepository(ctx, exec, e.InstallationID, e.Repository.GetID()))
				}
			}
			var got [2]map[string][]string
			for i, write := range []func(*sql.Tx){together, alone} {
				exec := tx(t)
				_, err := process.Installation(ctx, exec, inst, webhook(t0))
				must(t, err)
				write(exec)
				got[i] = envelopeRows(t, exec)
				must(t, exec.Rollback())
			}
			if !reflect.DeepEqual(got[0], got[1]) {
				t.Errorf("together:\n%v\none at a time:\n%v", got[0], got[1])
			}
			if len(got[0]["github_repository"]) == 0 || len(got[0]["github_installation_repository"]) == 0 {
				t.Errorf("nothing written: %v", got[0])
			}
		})
	}
}

// envelopeRows reads what envelopes write, each row as text.
func envelopeRows(t *testing.T, exec *sql.Tx) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for table, q := range map[string]string{
		"github_user":                    `SELECT u::text FROM github_user u ORDER BY id`,
		"github_repository":              `SELECT r::text FROM github_repository r ORDER BY id`,
		"github_installation_repository": `SELECT installation_id || ':' || repo_id FROM github_installation_repository ORDER BY 1`,
	} {
		rows, err := exec.Query(q)
		if err != nil {
			t.Fatalf("read %s: %v", table, err)
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out[table] = append(out[table], s)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(fmt.Errorf("read %s: %w", table, err))
		}
		rows.Close()
	}
	return out
}
