package ghfake_test

import (
	"context"
	"testing"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/ghfake"
)

// GitHub lists at most 3,000 files of a pull request, 30 pages of 100,
// while the pull request still counts them all.
func TestPullRequestFilesListStopsAt3000(t *testing.T) {
	ctx := context.Background()
	srv := start(t, ghfake.Options{Seed: &ghfake.SeedOptions{Seed: 5, Accounts: 1, ReposPerAccount: 1, PullsPerRepo: -1,
		IssuesPerRepo: -1}})
	newReceiver(t, srv)
	w := srv.World()
	inst := w.Installations()[0].GetID()
	repo := w.InstallationRepositories(inst)[0]
	o, r := repo.GetOwner().GetLogin(), repo.GetName()
	c := installationClient(t, srv, inst)
	for _, tt := range []struct {
		name                 string
		files                int
		wantListed, wantLast int
	}{
		{"more than the cap", 3200, 3000, 30},
		{"exactly the cap", 3000, 3000, 30},
		{"a few", 10, 10, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			opened, _, err := srv.OpenPullRequest(ctx, o, r, ghfake.NewPull{Title: tt.name, Files: tt.files})
			if err != nil {
				t.Fatal(err)
			}
			n := opened.GetNumber()
			var listed []*github.CommitFile
			opt := &github.ListOptions{PerPage: 100}
			for {
				page, resp, err := c.PullRequests.ListFiles(ctx, o, r, n, opt)
				if err != nil {
					t.Fatal(err)
				}
				if opt.Page == 0 && resp.LastPage != tt.wantLast {
					t.Errorf("first page's last page %d, want %d", resp.LastPage, tt.wantLast)
				}
				listed = append(listed, page...)
				if resp.NextPage == 0 {
					break
				}
				opt.Page = resp.NextPage
			}
			if len(listed) != tt.wantListed {
				t.Errorf("listed %d files, want %d", len(listed), tt.wantListed)
			}
			pr, _, err := c.PullRequests.Get(ctx, o, r, n)
			if err != nil {
				t.Fatal(err)
			}
			all := w.PullRequestFiles(o, r, n)
			adds, dels := 0, 0
			for _, f := range all {
				adds += f.GetAdditions()
				dels += f.GetDeletions()
			}
			if pr.GetChangedFiles() != tt.files || len(all) != tt.files || pr.GetAdditions() != adds || pr.GetDeletions() != dels {
				t.Errorf("pull request counts %d files +%d -%d (world %d files +%d -%d), want %d files",
					pr.GetChangedFiles(), pr.GetAdditions(), pr.GetDeletions(), len(all), adds, dels, tt.files)
			}
		})
	}
}
