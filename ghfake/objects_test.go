package ghfake_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/ghfake"
)

func TestSingleObjects(t *testing.T) {
	srv := start(t, ghfake.Options{Seed: &ghfake.SeedOptions{Seed: 5, ReposPerAccount: 2}})
	id := srv.World().Installations()[0].GetID()
	gh := installationClient(t, srv, id)

	t.Run("pull: full shape, mergeable null on the first read", func(t *testing.T) {
		want := srv.World().PullRequests("org-0", "repo-0")[0]
		var pr1 *github.PullRequest
		for i := 0; i < 2; i++ {
			pr, _, err := tokenClient(t, srv, srv.InstallationToken(id)).PullRequests.Get(ctx, "org-0", "repo-0", want.GetNumber())
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				pr1 = pr
			}
			if i == 1 && pr.GetState() == "open" && pr.Mergeable == nil {
				t.Errorf("second read still has mergeable null")
			}
		}
		if pr1.Mergeable != nil {
			t.Errorf("first read mergeable = %v, want null", *pr1.Mergeable)
		}
		if pr1.ChangedFiles == nil || pr1.GetChangedFiles() != 3 || pr1.GetAdditions() == 0 {
			t.Errorf("changed_files %v additions %v", pr1.ChangedFiles, pr1.Additions)
		}
		files, _, err := gh.PullRequests.ListFiles(ctx, "org-0", "repo-0", want.GetNumber(), nil)
		if err != nil || len(files) != 3 {
			t.Fatalf("files: %d %v", len(files), err)
		}
		adds := 0
		for _, f := range files {
			adds += f.GetAdditions()
			if f.GetPatch() == "" || f.GetSHA() == "" {
				t.Errorf("file %+v lacks patch or sha", f)
			}
		}
		if adds != pr1.GetAdditions() {
			t.Errorf("file additions %d, pull says %d", adds, pr1.GetAdditions())
		}
	})

	t.Run("deleted issue 410, transferred 301", func(t *testing.T) {
		a, _, err := srv.OpenIssue(ctx, "org-0", "repo-0", ghfake.NewIssue{Title: "to delete"})
		if err != nil {
			t.Fatal(err)
		}
		b, _, err := srv.OpenIssue(ctx, "org-0", "repo-0", ghfake.NewIssue{Title: "to move"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := srv.DeleteIssue(ctx, "org-0", "repo-0", a.GetNumber()); err != nil {
			t.Fatal(err)
		}
		moved, _, err := srv.TransferIssue(ctx, "org-0", "repo-0", b.GetNumber(), "org-0", "repo-1")
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := gh.Issues.Get(ctx, "org-0", "repo-0", a.GetNumber()); !isStatus(err, 410) {
			t.Errorf("deleted: %v, want 410", err)
		}
		tok := srv.InstallationToken(id)
		req, _ := http.NewRequest("GET", srv.APIURL()+"repos/org-0/repo-0/issues/"+strconv.Itoa(b.GetNumber()), nil)
		req.Header.Set("Authorization", "token "+tok)
		res, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 301 || !strings.HasSuffix(res.Header.Get("Location"), "/repos/org-0/repo-1/issues/"+strconv.Itoa(moved.GetNumber())) {
			t.Errorf("transferred: %d %s", res.StatusCode, res.Header.Get("Location"))
		}
		// go-github follows the redirect to the new issue.
		got, _, err := gh.Issues.Get(ctx, "org-0", "repo-0", b.GetNumber())
		if err != nil || got.GetID() != moved.GetID() {
			t.Errorf("followed: %v %v", got.GetID(), err)
		}
	})

	t.Run("labels, milestones, comments, reviews", func(t *testing.T) {
		labels, _, err := gh.Issues.ListLabels(ctx, "org-0", "repo-0", nil)
		if err != nil || len(labels) != 3 {
			t.Fatalf("labels %d %v", len(labels), err)
		}
		if _, _, err := srv.CreateLabel(ctx, "org-0", "repo-0", ghfake.LabelSpec{Name: "needs review", Color: "fbca04"}); err != nil {
			t.Fatal(err)
		}
		l, _, err := gh.Issues.GetLabel(ctx, "org-0", "repo-0", "needs review")
		if err != nil || l.GetName() != "needs review" || l.GetColor() != "fbca04" {
			t.Errorf("label with spaces: %v %v", l.GetName(), err)
		}
		ms, _, err := gh.Issues.ListMilestones(ctx, "org-0", "repo-0", &github.MilestoneListOptions{State: "all"})
		if err != nil || len(ms) != 1 {
			t.Errorf("milestones %d %v", len(ms), err)
		}
		cs, _, err := gh.Issues.ListComments(ctx, "org-0", "repo-0", 0, nil)
		if err != nil || len(cs) != len(srv.World().IssueComments("org-0", "repo-0", 0)) {
			t.Errorf("repo comments %d %v", len(cs), err)
		}
		n := srv.World().PullRequests("org-0", "repo-0")[0].GetNumber()
		rv, _, err := gh.PullRequests.ListReviews(ctx, "org-0", "repo-0", n, nil)
		if err != nil || len(rv) != 1 {
			t.Errorf("reviews %d %v", len(rv), err)
		}
		rc, _, err := gh.PullRequests.ListComments(ctx, "org-0", "repo-0", 0, nil)
		if err != nil || len(rc) != len(srv.World().ReviewComments("org-0", "repo-0", 0)) {
			t.Errorf("repo review comments %d %v", len(rc), err)
		}
	})
}
