package ghfake_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/ghfake"
)

func TestRenamedRepositoryRedirects(t *testing.T) {
	srv := start(t, ghfake.Options{Seed: &ghfake.SeedOptions{Seed: 4}})
	rc := newReceiver(t, srv)
	gh := installationClient(t, srv, srv.World().Installations()[0].GetID())
	renamed, d, err := srv.RenameRepo(ctx, "org-0", "repo-0", "shiny")
	if err != nil || !d.OK() || d.Action != "renamed" {
		t.Fatalf("rename: %v %+v", err, d)
	}
	var p struct {
		Changes struct {
			Repository struct {
				Name struct{ From string } `json:"name"`
			} `json:"repository"`
		} `json:"changes"`
	}
	_ = json.Unmarshal(rc.all()[0].payload, &p)
	if p.Changes.Repository.Name.From != "repo-0" {
		t.Errorf("changes %+v", p.Changes)
	}
	// go-github follows the 301 from the old name.
	r, _, err := gh.Repositories.Get(ctx, "org-0", "repo-0")
	if err != nil || r.GetID() != renamed.GetID() || r.GetName() != "shiny" {
		t.Errorf("old name: %v %v", r.GetName(), err)
	}
	prs, _, err := gh.PullRequests.List(ctx, "org-0", "repo-0", &github.PullRequestListOptions{State: "all"})
	if err != nil || len(prs) != 3 {
		t.Errorf("pulls through the old name: %d %v", len(prs), err)
	}
	if _, err := srv.DeleteRepo(ctx, "org-0", "shiny"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := gh.Repositories.Get(ctx, "org-0", "shiny"); !isStatus(err, 404) {
		t.Errorf("deleted repo: %v", err)
	}
}

func TestNarrowedInstallationToken(t *testing.T) {
	srv := start(t, ghfake.Options{Seed: &ghfake.SeedOptions{Seed: 4, ReposPerAccount: 3}})
	app := appClient(t, srv)
	id := srv.World().Installations()[0].GetID()
	it, _, err := app.Apps.CreateInstallationToken(ctx, id, &github.InstallationTokenOptions{Repositories: []string{"repo-1"}})
	if err != nil {
		t.Fatal(err)
	}
	gh := tokenClient(t, srv, it.GetToken())
	if _, _, err := gh.Repositories.Get(ctx, "org-0", "repo-1"); err != nil {
		t.Errorf("named repo: %v", err)
	}
	if _, _, err := gh.Repositories.Get(ctx, "org-0", "repo-0"); !isStatus(err, 404) {
		t.Errorf("other repo: %v, want 404", err)
	}
	rs, _, err := gh.Apps.ListRepos(ctx, nil)
	if err != nil || rs.GetTotalCount() != 1 {
		t.Errorf("listed %v %v", rs.GetTotalCount(), err)
	}
	if _, _, err := app.Apps.CreateInstallationToken(ctx, id, &github.InstallationTokenOptions{Repositories: []string{"nope"}}); !isStatus(err, 422) {
		t.Errorf("unknown repo: %v, want 422", err)
	}
}

// TestConcurrentUse pages through lists in parallel while the world
// changes; run with -race.
func TestConcurrentUse(t *testing.T) {
	srv := start(t, ghfake.Options{Seed: &ghfake.SeedOptions{Seed: 8, ReposPerAccount: 2, PullsPerRepo: 120, IssuesPerRepo: 60}})
	newReceiver(t, srv)
	id := srv.World().Installations()[0].GetID()
	gh := installationClient(t, srv, id)
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for g := 0; g < 6; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			repo := fmt.Sprintf("repo-%d", g%2)
			opt := &github.IssueListByRepoOptions{State: "all", ListOptions: github.ListOptions{PerPage: 50}}
			for {
				_, resp, err := gh.Issues.ListByRepo(ctx, "org-0", repo, opt)
				if err != nil {
					errs <- err
					return
				}
				if resp.NextPage == 0 {
					return
				}
				opt.Page = resp.NextPage
			}
		}(g)
	}
	for i := 0; i < 20; i++ {
		is, _, err := srv.OpenIssue(ctx, "org-0", "repo-0", ghfake.NewIssue{Title: "during"})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := srv.CreateIssueComment(ctx, "org-0", "repo-0", is.GetNumber(), "hi"); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := len(srv.World().Issues("org-0", "repo-0")); n != 80 {
		t.Errorf("%d issues, want 80", n)
	}
}

func TestControlRoutesAndStats(t *testing.T) {
	srv := start(t, ghfake.Options{Seed: &ghfake.SeedOptions{Seed: 4}})
	rc := newReceiver(t, srv)
	post := func(action string, body any) map[string]any {
		b, _ := json.Marshal(body)
		res, err := http.Post(srv.URL()+"/_fake/"+action, "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(res.Body).Decode(&out)
		if res.StatusCode != 200 {
			t.Fatalf("%s: %d %v", action, res.StatusCode, out)
		}
		return out
	}
	out := post("open-pull", ghfake.ControlRequest{Owner: "org-0", Repo: "repo-1", Title: "From a script"})
	if d, _ := out["delivery"].(map[string]any); d["event"] != "pull_request" || d["status_code"] != float64(200) {
		t.Errorf("delivery %v", out["delivery"])
	}
	if len(rc.all()) != 1 {
		t.Errorf("receiver got %d", len(rc.all()))
	}
	tok := srv.InstallationToken(srv.World().Installations()[0].GetID())
	srv.ResetStats()
	rawGet(t, srv, tok, "repos/org-0/repo-1/pulls", nil)
	rawGet(t, srv, tok, "repos/org-0/repo-1/pulls/1", nil)
	rawGet(t, srv, tok, "repos/org-0/repo-1/pulls/1", nil)
	res, err := http.Get(srv.URL() + "/_fake/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var st ghfake.Stats
	if err := json.NewDecoder(res.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	if st.Total.Requests != 3 || st.ByRoute["GET /repos/{owner}/{repo}/pulls/{number}"].Requests != 2 || st.ByToken[tok].Requests != 3 {
		t.Errorf("stats %+v", st)
	}
}

func TestSimulate(t *testing.T) {
	srv := start(t, ghfake.Options{Seed: &ghfake.SeedOptions{Seed: 4, ReposPerAccount: 2, PullsPerRepo: 10, IssuesPerRepo: 10}})
	rc := newReceiver(t, srv)
	before := srv.World().Size()
	ds, err := srv.Simulate(ctx, ghfake.ActivityOptions{Seed: 1, Steps: 200})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) < 150 || len(rc.all()) != len(ds) {
		t.Errorf("%d deliveries, receiver validated %d", len(ds), len(rc.all()))
	}
	events := map[string]int{}
	for _, d := range ds {
		if !d.OK() {
			t.Errorf("delivery %s.%s answered %d", d.Event, d.Action, d.StatusCode)
		}
		events[d.Event+"."+d.Action]++
	}
	for _, e := range []string{"pull_request.opened", "issues.opened", "issue_comment.created", "pull_request.synchronize", "pull_request_review.submitted", "pull_request.closed"} {
		if events[e] == 0 {
			t.Errorf("no %s in %v", e, events)
		}
	}
	after := srv.World().Size()
	if after.Pulls <= before.Pulls || after.IssueComments <= before.IssueComments {
		t.Errorf("world did not grow: %+v -> %+v", before, after)
	}
}

// TestRemovals checks the changes that take things away: the event sent,
// and that the world (and so the API) no longer has the object.
func TestRemovals(t *testing.T) {
	srv := start(t, ghfake.Options{Seed: &ghfake.SeedOptions{Seed: 6, ReposPerAccount: 2}})
	rc := newReceiver(t, srv)
	o, r := "org-0", "repo-0"
	w := srv.World()
	pr := w.PullRequests(o, r)[0]
	tests := []struct {
		name, event string
		do          func() (*ghfake.Delivery, error)
		gone        func() bool
	}{
		{"delete label", "label.deleted", func() (*ghfake.Delivery, error) { return srv.DeleteLabel(ctx, o, r, "bug") },
			func() bool {
				for _, l := range w.Labels(o, r) {
					if l.GetName() == "bug" {
						return false
					}
				}
				return true
			}},
		{"delete milestone", "milestone.deleted", func() (*ghfake.Delivery, error) { return srv.DeleteMilestone(ctx, o, r, 1) },
			func() bool { return len(w.Milestones(o, r)) == 0 }},
		{"delete issue comment", "issue_comment.deleted", func() (*ghfake.Delivery, error) {
			return srv.DeleteIssueComment(ctx, o, r, w.IssueComments(o, r, 0)[0].GetID())
		}, func() bool { return len(w.IssueComments(o, r, 0)) == len(w.IssuesAndPulls(o, r))-1 }},
		{"delete review comment", "pull_request_review_comment.deleted", func() (*ghfake.Delivery, error) {
			return srv.DeleteReviewComment(ctx, o, r, w.ReviewComments(o, r, pr.GetNumber())[0].GetID())
		}, func() bool { return len(w.ReviewComments(o, r, pr.GetNumber())) == 0 }},
		{"dismiss review", "pull_request_review.dismissed", func() (*ghfake.Delivery, error) {
			_, d, err := srv.DismissReview(ctx, o, r, pr.GetNumber(), w.Reviews(o, r, pr.GetNumber())[0].GetID())
			return d, err
		}, func() bool { return w.Reviews(o, r, pr.GetNumber())[0].GetState() == "DISMISSED" }},
		{"unlabel", "issues.unlabeled", func() (*ghfake.Delivery, error) {
			is, _, err := srv.OpenIssue(ctx, o, r, ghfake.NewIssue{Labels: []string{"enhancement"}})
			if err != nil {
				return nil, err
			}
			_, d, err := srv.UnlabelIssue(ctx, o, r, is.GetNumber(), "enhancement")
			return d, err
		}, func() bool { return len(w.Issues(o, r)[len(w.Issues(o, r))-1].Labels) == 0 }},
		{"transfer issue", "issues.transferred", func() (*ghfake.Delivery, error) {
			_, ds, err := srv.TransferIssue(ctx, o, r, w.Issues(o, r)[0].GetNumber(), o, "repo-1")
			if err != nil {
				return nil, err
			}
			if ds[1] == nil || ds[1].Event != "issues" || ds[1].Action != "opened" {
				t.Errorf("second delivery %+v", ds[1])
			}
			return ds[0], nil
		}, func() bool { return true }},
		{"remove collaborator", "member.removed", func() (*ghfake.Delivery, error) {
			if _, err := srv.AddCollaborator(ctx, o, r, "user-1", "admin"); err != nil {
				return nil, err
			}
			return srv.RemoveCollaborator(ctx, o, r, "user-1")
		},
			func() bool { return true }},
		{"delete repository", "repository.deleted", func() (*ghfake.Delivery, error) { return srv.DeleteRepo(ctx, o, "repo-1") },
			func() bool { return w.Repository(o, "repo-1") == nil && len(w.Repositories(o)) == 1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := tt.do()
			if err != nil {
				t.Fatal(err)
			}
			if d == nil || !d.OK() || d.Event+"."+d.Action != tt.event {
				t.Fatalf("delivery %+v, want %s", d, tt.event)
			}
			if _, err := github.ParseWebHook(d.Event, d.Payload); err != nil {
				t.Errorf("ParseWebHook: %v", err)
			}
			if !tt.gone() {
				t.Error("the world still has it")
			}
		})
	}
	if len(rc.all()) != len(srv.Deliveries()) {
		t.Errorf("receiver %d, deliveries %d", len(rc.all()), len(srv.Deliveries()))
	}
}

func TestRateLimitWindow(t *testing.T) {
	srv := start(t, ghfake.Options{RateLimit: 1, RateLimitWindow: time.Minute, Seed: &ghfake.SeedOptions{Seed: 1}})
	tok := srv.InstallationToken(srv.World().Installations()[0].GetID())
	first := rawGet(t, srv, tok, "repos/org-0/repo-0", nil)
	reset, _ := strconv.ParseInt(first.Header.Get("X-RateLimit-Reset"), 10, 64)
	if d := time.Unix(reset, 0).Sub(srv.Now()); d <= 0 || d > time.Minute+time.Second {
		t.Errorf("reset in %v, want about a minute", d)
	}
	if c := rawGet(t, srv, tok, "repos/org-0/repo-0", nil).StatusCode; c != 403 {
		t.Errorf("over the budget: %d", c)
	}
	srv.Advance(time.Minute + time.Second)
	if c := rawGet(t, srv, tok, "repos/org-0/repo-0", nil).StatusCode; c != 200 {
		t.Errorf("next window: %d", c)
	}
}

func TestConcurrencyLimit(t *testing.T) {
	srv := start(t, ghfake.Options{Seed: &ghfake.SeedOptions{Seed: 1}})
	tok := srv.InstallationToken(srv.World().Installations()[0].GetID())
	srv.SetSecondaryLimit(ghfake.SecondaryLimit{MaxConcurrent: 1})
	srv.HangNext(1)
	hung := make(chan struct{})
	cctx, cancel := context.WithCancel(ctx)
	go func() {
		defer close(hung)
		req, _ := http.NewRequestWithContext(cctx, "GET", srv.APIURL()+"repos/org-0/repo-0", nil)
		req.Header.Set("Authorization", "token "+tok)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
		}
	}()
	// While the first request hangs in flight, the next is one too many.
	if err := srv.WaitHung(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if code := rawGet(t, srv, tok, "repos/org-0/repo-0", nil).StatusCode; code != 403 {
		t.Errorf("second concurrent request: %d, want 403", code)
	}
	cancel()
	<-hung
	if err := srv.WaitReleased(ctx); err != nil {
		t.Fatal(err)
	}
	if c := rawGet(t, srv, tok, "repos/org-0/repo-0", nil).StatusCode; c != 200 {
		t.Errorf("after the hung request ended: %d", c)
	}
	if got := srv.Stats().Total.RateLimited; got != 1 {
		t.Errorf("rate limited %d", got)
	}
}

func TestUserTokenScope(t *testing.T) {
	srv := start(t, ghfake.Options{Seed: &ghfake.SeedOptions{Seed: 2, Accounts: 1, ReposPerAccount: 1}})
	if _, err := srv.AddUser("outsider"); err != nil {
		t.Fatal(err)
	}
	// A private repository of another organization without the app.
	if _, err := srv.AddOrganization("other", "outsider"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := srv.CreateRepo(ctx, "other", "secret", true); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		login, owner, repo string
		want               int
	}{
		{"user-0", "org-0", "repo-0", 200},   // member, app installed
		{"outsider", "other", "secret", 404}, // member, but no app there
		{"user-0", "other", "secret", 404},   // private, not a member
		{"outsider", "org-0", "repo-0", 200}, // public repository, app installed
	}
	for _, tt := range tests {
		t.Run(tt.login+" "+tt.owner+"/"+tt.repo, func(t *testing.T) {
			gh := tokenClient(t, srv, srv.UserToken(tt.login))
			r, _, err := gh.Repositories.Get(ctx, tt.owner, tt.repo)
			switch {
			case tt.want == 200 && err != nil:
				t.Fatal(err)
			case tt.want == 404 && !isStatus(err, 404):
				t.Fatalf("got %v, want 404", err)
			case tt.want == 200 && tt.login == "user-0" && !r.GetPermissions()["admin"]:
				t.Errorf("permissions %v: user-0 administers org-0", r.GetPermissions())
			}
		})
	}
	t.Run("rate_limit", func(t *testing.T) {
		gh := tokenClient(t, srv, srv.UserToken("user-1"))
		rl, _, err := gh.RateLimit.Get(ctx)
		if err != nil || rl.GetCore().Limit != 5000 || rl.GetCore().Remaining != 5000 {
			t.Errorf("rate limits %+v %v", rl.GetCore(), err)
		}
	})
}
