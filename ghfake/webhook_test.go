package ghfake_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/ghfake"
	"github.com/webhookdb/webhookdb/internal/testutil"
)

// examples holds real GitHub webhook payloads: shared/github-payloads
// beside the repository, or WEBHOOKDB_PAYLOADS.
var examples = testutil.PayloadsDir()

func keys(m map[string]json.RawMessage) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func diff(a, b []string) (onlyA, onlyB []string) {
	in := func(xs []string, x string) bool {
		for _, y := range xs {
			if x == y {
				return true
			}
		}
		return false
	}
	for _, x := range a {
		if !in(b, x) {
			onlyA = append(onlyA, x)
		}
	}
	for _, x := range b {
		if !in(a, x) {
			onlyB = append(onlyB, x)
		}
	}
	return
}

// newerKeys are keys GitHub sends today that some of the older examples
// lack and others have (the examples were recorded years apart); and the
// milestoned example happens to be about a pull request's issue.
var newerKeys = []string{"state_reason", "performed_via_github_app", "timeline_url", "pull_request", "app_slug"}

func drop(xs, ys []string) []string {
	var out []string
	for _, x := range xs {
		keep := true
		for _, y := range ys {
			keep = keep && x != y
		}
		if keep {
			out = append(out, x)
		}
	}
	return out
}

// TestWebhookPayloadShapes sends every kind of change and compares each
// payload with GitHub's real example: the same keys at the top level
// (apps also get installation and organization) and the same keys in the
// main object.
func TestWebhookPayloadShapes(t *testing.T) {
	srv := start(t, ghfake.Options{Seed: &ghfake.SeedOptions{Seed: 11, ReposPerAccount: 2}})
	rc := newReceiver(t, srv)
	o, r := "org-0", "repo-0"
	inst := srv.World().Installations()[0].GetID()
	title := "renamed"
	desc := "new words"

	var pr *github.PullRequest
	var is *github.Issue
	var ic *github.IssueComment
	var rcm *github.PullRequestComment
	steps := []struct {
		example string // event/action of the example file
		main    string // the main object's key
		do      func() (*ghfake.Delivery, error)
	}{
		{"pull_request/opened", "pull_request", func() (d *ghfake.Delivery, err error) {
			pr, d, err = srv.OpenPullRequest(ctx, o, r, ghfake.NewPull{Title: "Add things", Body: "Please.", User: "user-1"})
			return d, err
		}},
		{"pull_request/synchronize", "pull_request", func() (*ghfake.Delivery, error) {
			_, d, err := srv.SynchronizePullRequest(ctx, o, r, pr.GetNumber())
			return d, err
		}},
		{"pull_request/labeled", "pull_request", func() (*ghfake.Delivery, error) {
			_, d, err := srv.LabelIssue(ctx, o, r, pr.GetNumber(), "bug")
			return d, err
		}},
		{"pull_request_review/submitted", "review", func() (*ghfake.Delivery, error) {
			_, d, err := srv.SubmitReview(ctx, o, r, pr.GetNumber(), "COMMENTED", "Nice.", ghfake.By("user-2"))
			return d, err
		}},
		{"pull_request_review_comment/created", "comment", func() (d *ghfake.Delivery, err error) {
			rcm, d, err = srv.CreateReviewComment(ctx, o, r, pr.GetNumber(), ghfake.NewReviewComment{Body: "Why?"})
			return d, err
		}},
		{"pull_request_review_comment/edited", "comment", func() (*ghfake.Delivery, error) {
			_, d, err := srv.EditReviewComment(ctx, o, r, rcm.GetID(), "Why not?")
			return d, err
		}},
		{"pull_request/closed", "pull_request", func() (*ghfake.Delivery, error) {
			_, d, err := srv.ClosePullRequest(ctx, o, r, pr.GetNumber())
			return d, err
		}},
		{"pull_request/reopened", "pull_request", func() (*ghfake.Delivery, error) {
			_, d, err := srv.ReopenPullRequest(ctx, o, r, pr.GetNumber())
			return d, err
		}},
		{"issues/opened", "issue", func() (d *ghfake.Delivery, err error) {
			is, d, err = srv.OpenIssue(ctx, o, r, ghfake.NewIssue{Title: "Broken", Body: "It is.", Assignee: "user-0", Milestone: 1})
			return d, err
		}},
		{"issues/edited", "issue", func() (*ghfake.Delivery, error) {
			_, d, err := srv.EditIssue(ctx, o, r, is.GetNumber(), ghfake.IssueEdit{Title: &title})
			return d, err
		}},
		{"issues/labeled", "issue", func() (*ghfake.Delivery, error) {
			_, d, err := srv.LabelIssue(ctx, o, r, is.GetNumber(), "enhancement")
			return d, err
		}},
		{"issues/milestoned", "issue", func() (*ghfake.Delivery, error) {
			_, d, err := srv.MilestoneIssue(ctx, o, r, is.GetNumber(), 1)
			return d, err
		}},
		{"issue_comment/created", "comment", func() (d *ghfake.Delivery, err error) {
			ic, d, err = srv.CreateIssueComment(ctx, o, r, is.GetNumber(), "Me too.", ghfake.By("user-3"))
			return d, err
		}},
		{"issue_comment/edited", "comment", func() (*ghfake.Delivery, error) {
			_, d, err := srv.EditIssueComment(ctx, o, r, ic.GetID(), "Me three.")
			return d, err
		}},
		{"issues/reopened", "issue", func() (*ghfake.Delivery, error) {
			if _, _, err := srv.CloseIssue(ctx, o, r, is.GetNumber()); err != nil {
				return nil, err
			}
			_, d, err := srv.ReopenIssue(ctx, o, r, is.GetNumber())
			return d, err
		}},
		{"label/created", "label", func() (*ghfake.Delivery, error) {
			_, d, err := srv.CreateLabel(ctx, o, r, ghfake.LabelSpec{Name: ":bug: Bugfix", Color: "cb1f00", Description: "Fixes a bug"})
			return d, err
		}},
		{"label/edited", "label", func() (*ghfake.Delivery, error) {
			_, d, err := srv.EditLabel(ctx, o, r, ":bug: Bugfix", ghfake.LabelEdit{Description: &desc})
			return d, err
		}},
		{"milestone/created", "milestone", func() (*ghfake.Delivery, error) {
			_, d, err := srv.CreateMilestone(ctx, o, r, ghfake.MilestoneSpec{Title: "v2.0", Description: "Next"})
			return d, err
		}},
		{"milestone/closed", "milestone", func() (*ghfake.Delivery, error) {
			_, d, err := srv.CloseMilestone(ctx, o, r, 2)
			return d, err
		}},
		{"member/added", "member", func() (*ghfake.Delivery, error) {
			if _, err := srv.AddUser("outsider"); err != nil {
				return nil, err
			}
			return srv.AddCollaborator(ctx, o, r, "outsider", "push")
		}},
		{"repository/edited", "repository", func() (*ghfake.Delivery, error) {
			_, d, err := srv.EditRepo(ctx, o, r, "Better words")
			return d, err
		}},
		{"installation_repositories/removed", "installation", func() (*ghfake.Delivery, error) {
			return srv.RemoveInstallationRepos(ctx, inst, []string{"repo-1"})
		}},
		{"installation_repositories/added", "installation", func() (*ghfake.Delivery, error) {
			return srv.AddInstallationRepos(ctx, inst, []string{"repo-1"})
		}},
		{"installation/created", "installation", func() (*ghfake.Delivery, error) {
			if _, err := srv.AddOrganization("neworg", "user-0"); err != nil {
				return nil, err
			}
			if _, _, err := srv.CreateRepo(ctx, "neworg", "space", false); err != nil {
				return nil, err
			}
			_, d, err := srv.InstallApp(ctx, "neworg", []string{"space"})
			return d, err
		}},
		{"ping/payload", "hook", func() (*ghfake.Delivery, error) { return srv.Ping(ctx), nil }},
	}
	for _, st := range steps {
		t.Run(st.example, func(t *testing.T) {
			d, err := st.do()
			if err != nil {
				t.Fatal(err)
			}
			if d == nil || !d.OK() {
				t.Fatalf("delivery %+v", d)
			}
			event, action, _ := strings.Cut(st.example, "/")
			if d.Event != event || (event != "ping" && d.Action != action) {
				t.Errorf("delivered %s.%s, want %s", d.Event, d.Action, st.example)
			}
			var got, want map[string]json.RawMessage
			if err := json.Unmarshal(d.Payload, &got); err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(examples, st.example+".payload.json")
			if event == "ping" {
				file = filepath.Join(examples, "ping", "with-app_id.payload.json")
			}
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(raw, &want); err != nil {
				t.Fatal(err)
			}
			missing, extra := diff(keys(want), keys(got))
			for _, k := range extra {
				if k != "installation" && k != "organization" {
					t.Errorf("top level: extra key %q", k)
				}
			}
			if event == "ping" {
				missing = drop(missing, []string{"repository"}) // an app hook has none
			}
			if len(missing) > 0 {
				t.Errorf("top level: missing %v", missing)
			}
			if event != "ping" {
				for _, k := range []string{"installation", "sender", "repository"} {
					if _, ok := got[k]; !ok && !strings.HasPrefix(event, "installation") {
						t.Errorf("no %s", k)
					}
				}
			}
			var gm, wm map[string]json.RawMessage
			if err := json.Unmarshal(got[st.main], &gm); err != nil {
				t.Fatalf("main object %s: %v", st.main, err)
			}
			if err := json.Unmarshal(want[st.main], &wm); err != nil {
				t.Fatal(err)
			}
			missing, extra = diff(keys(wm), keys(gm))
			missing, extra = drop(missing, newerKeys), drop(extra, newerKeys)
			if len(missing) > 0 || len(extra) > 0 {
				t.Errorf("%s: missing %v, extra %v", st.main, missing, extra)
			}
			// It parses as go-github's event type.
			if _, err := github.ParseWebHook(event, d.Payload); err != nil {
				t.Errorf("ParseWebHook: %v", err)
			}
		})
	}
	// Every delivery reached the receiver, which checked its signature.
	if n := len(rc.all()); n != len(srv.Deliveries()) {
		t.Errorf("receiver validated %d deliveries, server sent %d", n, len(srv.Deliveries()))
	}
}

func TestWebhookSignatureAndRedelivery(t *testing.T) {
	srv := start(t, ghfake.Options{Seed: &ghfake.SeedOptions{Seed: 2}})
	rc := newReceiver(t, srv)
	var first *ghfake.Delivery
	for i := 0; i < 5; i++ {
		_, d, err := srv.OpenIssue(ctx, "org-0", "repo-0", ghfake.NewIssue{Title: "n"})
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = d
		}
	}
	app := appClient(t, srv)
	// Cursor paging over the deliveries, newest first.
	var ids []int64
	opt := &github.ListCursorOptions{PerPage: 2}
	for {
		ds, resp, err := app.Apps.ListHookDeliveries(ctx, opt)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			ids = append(ids, d.GetID())
		}
		if resp.Cursor == "" {
			break
		}
		opt.Cursor = resp.Cursor
	}
	if len(ids) != 5 || ids[0] < ids[4] {
		t.Fatalf("listed %v", ids)
	}
	hd, _, err := app.Apps.GetHookDelivery(ctx, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if hd.GetGUID() != first.GUID || hd.GetStatusCode() != 200 || hd.Request == nil || len(*hd.Request.RawPayload) == 0 {
		t.Errorf("delivery %+v", hd)
	}
	if _, _, err := app.Apps.RedeliverHookDelivery(ctx, first.ID); err != nil {
		var ae *github.AcceptedError
		if !errorsAs(err, &ae) {
			t.Fatal(err)
		}
	}
	// The 202 comes before the redelivery is sent.
	if err := srv.WaitRedeliveries(ctx); err != nil {
		t.Fatal(err)
	}
	got := rc.all()
	last := got[len(got)-1]
	if last.guid != first.GUID || string(last.payload) != string(first.Payload) {
		t.Errorf("redelivered GUID %s, want %s", last.guid, first.GUID)
	}
	ds := srv.Deliveries()
	if !ds[len(ds)-1].Redelivery {
		t.Error("the redelivery is not marked")
	}

	t.Run("status filter and a failing receiver", func(t *testing.T) {
		srv.SetWebhookURL(rc.srv.URL + "/nope")
		rc.secret = "wrong" // the receiver now refuses with 401
		_, d, err := srv.OpenIssue(ctx, "org-0", "repo-0", ghfake.NewIssue{Title: "m"})
		if err != nil {
			t.Fatal(err)
		}
		if d.StatusCode != 401 || d.OK() {
			t.Errorf("status %d", d.StatusCode)
		}
		res := rawGetJWT(t, srv, app, "app/hook/deliveries?status=failure")
		if len(res) != 1 || res[0].GetID() != d.ID {
			t.Errorf("failures %v", res)
		}
	})
}

func rawGetJWT(t *testing.T, srv *ghfake.Server, app *github.Client, path string) []*github.HookDelivery {
	t.Helper()
	req, err := app.NewRequest("GET", path, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []*github.HookDelivery
	if _, err := app.Do(ctx, req, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestNoWebhookWithoutInstallation(t *testing.T) {
	srv := start(t, ghfake.Options{Seed: &ghfake.SeedOptions{Seed: 2, NoInstall: true}})
	rc := newReceiver(t, srv)
	_, d, err := srv.OpenIssue(ctx, "org-0", "repo-0", ghfake.NewIssue{Title: "n"})
	if err != nil || d != nil || len(rc.all()) != 0 {
		t.Errorf("uninstalled org got a delivery: %v %v", d, err)
	}
	in, d, err := srv.InstallApp(ctx, "org-0", nil)
	if err != nil || !d.OK() || in.GetRepositorySelection() != "all" {
		t.Fatalf("install: %v %+v", err, d)
	}
	if _, d, _ = srv.OpenIssue(ctx, "org-0", "repo-0", ghfake.NewIssue{Title: "n"}); !d.OK() {
		t.Errorf("after install: %+v", d)
	}
	tok := srv.InstallationToken(in.GetID())
	if d, err := srv.UninstallApp(ctx, in.GetID()); err != nil || !d.OK() || d.Action != "deleted" {
		t.Fatalf("uninstall: %v %+v", err, d)
	}
	if c := rawGet(t, srv, tok, "repos/org-0/repo-0", nil).StatusCode; c != 401 {
		t.Errorf("token of a removed installation: %d", c)
	}
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }
