package bench

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"

	"github.com/webhookdb/webhookdb/ghfake"
)

// TestBuilderDeliveries: every delivery is signed with the app's secret,
// has its own GUID, is about an object of the world's installation, and
// is newer than the one before; labels and milestones are the repository's.
func TestBuilderDeliveries(t *testing.T) {
	gh, err := ghfake.New(ghfake.Options{Seed: ingestWorld})
	if err != nil {
		t.Fatal(err)
	}
	inst := gh.World().Installations()[0].GetID()
	b, err := newBuilder(gh, inst)
	if err != nil {
		t.Fatal(err)
	}
	first, err := b.build(50)
	if err != nil {
		t.Fatal(err)
	}
	more, err := b.build(50)
	if err != nil {
		t.Fatal(err)
	}
	repos := map[int64]string{}
	for _, r := range gh.World().InstallationRepositories(inst) {
		repos[r.GetID()] = r.GetName()
	}
	guids := map[string]bool{}
	events := map[string]int{}
	last := ""
	for i, d := range append(first, more...) {
		mac := hmac.New(sha256.New, []byte(gh.WebhookSecret()))
		mac.Write(d.body)
		if d.signature != "sha256="+hex.EncodeToString(mac.Sum(nil)) {
			t.Fatalf("delivery %d: bad signature", i)
		}
		if guids[d.guid] {
			t.Fatalf("delivery %d: GUID %s twice", i, d.guid)
		}
		guids[d.guid] = true
		var p struct {
			Action       string `json:"action"`
			Installation struct{ ID int64 }
			Repository   struct {
				ID   int64
				Name string
			}
			Issue *struct {
				Number    int
				UpdatedAt string `json:"updated_at"`
				Labels    []struct{ ID int64 }
				Milestone *struct{ ID int64 }
			}
		}
		if err := json.Unmarshal(d.body, &p); err != nil {
			t.Fatalf("delivery %d: %v", i, err)
		}
		var pr struct {
			PullRequest *struct {
				Number    int
				UpdatedAt string `json:"updated_at"`
			} `json:"pull_request"`
		}
		_ = json.Unmarshal(d.body, &pr)
		events[d.event+"."+p.Action]++
		if p.Installation.ID != inst || repos[p.Repository.ID] != p.Repository.Name {
			t.Fatalf("delivery %d: installation %d, repository %d %q: not the world's", i, p.Installation.ID, p.Repository.ID, p.Repository.Name)
		}
		at := ""
		switch {
		case p.Issue != nil:
			at = p.Issue.UpdatedAt
			w := gh.World().Issue("org-0", p.Repository.Name, p.Issue.Number)
			if w == nil || w.IsPullRequest() {
				t.Fatalf("delivery %d: issue #%d is not an issue of %s", i, p.Issue.Number, p.Repository.Name)
			}
			labels := map[int64]bool{}
			for _, l := range gh.World().Labels("org-0", p.Repository.Name) {
				labels[l.GetID()] = true
			}
			for _, l := range p.Issue.Labels {
				if !labels[l.ID] {
					t.Fatalf("delivery %d: label %d is not %s's", i, l.ID, p.Repository.Name)
				}
			}
			if m := p.Issue.Milestone; m != nil && m.ID != gh.World().Milestones("org-0", p.Repository.Name)[0].GetID() {
				t.Fatalf("delivery %d: milestone %d is not %s's", i, m.ID, p.Repository.Name)
			}
		case pr.PullRequest != nil:
			at = pr.PullRequest.UpdatedAt
			if gh.World().PullRequest("org-0", p.Repository.Name, pr.PullRequest.Number) == nil {
				t.Fatalf("delivery %d: pull request #%d is not %s's", i, pr.PullRequest.Number, p.Repository.Name)
			}
		default:
			t.Fatalf("delivery %d (%s): neither issue nor pull request", i, d.event)
		}
		if at <= last {
			t.Fatalf("delivery %d: updated_at %s not after %s", i, at, last)
		}
		last = at
	}
	for _, k := range kinds {
		if events[k.event+"."+k.action] != 20 {
			t.Errorf("%s.%s: %d deliveries of 100, want 20", k.event, k.action, events[k.event+"."+k.action])
		}
	}
}

// BenchmarkBuild is the cost of one pre-built, signed delivery (paid
// before each timed phase, never in it).
func BenchmarkBuild(b *testing.B) {
	gh, err := ghfake.New(ghfake.Options{Seed: ingestWorld})
	if err != nil {
		b.Fatal(err)
	}
	bl, err := newBuilder(gh, gh.World().Installations()[0].GetID())
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := bl.one(int64(i)); err != nil {
			b.Fatal(err)
		}
	}
}
