package ghfake_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/ghfake"
)

func TestDeterministicSeed(t *testing.T) {
	render := func() []byte {
		srv, err := ghfake.New(ghfake.Options{Seed: &ghfake.SeedOptions{Seed: 99, PullsPerRepo: 20, IssuesPerRepo: 10}})
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		w := srv.World()
		_ = json.NewEncoder(&b).Encode([]any{w.PullRequests("org-0", "repo-1"), w.IssuesAndPulls("org-0", "repo-0"),
			w.PullRequestFiles("org-0", "repo-0", 3), w.IssueComments("org-0", "repo-0", 0)})
		return b.Bytes()
	}
	if a, b := render(), render(); !bytes.Equal(a, b) {
		t.Error("the same seed gave different worlds")
	}
}

func TestSeedHundredThousandPulls(t *testing.T) {
	if testing.Short() {
		t.Skip("large seed")
	}
	srv := start(t, ghfake.Options{Seed: &ghfake.SeedOptions{Seed: 1, Accounts: 1, ReposPerAccount: 10, PullsPerRepo: 10000,
		IssuesPerRepo: -1, FilesPerPull: 20, CommentsPerIssue: -1, ReviewsPerPull: -1, ReviewCommentsPerPull: -1}})
	if sz := srv.World().Size(); sz.Pulls != 100000 || sz.Files != 2000000 {
		t.Fatalf("size %+v", sz)
	}
	gh := installationClient(t, srv, srv.World().Installations()[0].GetID())
	prs, resp, err := gh.PullRequests.List(ctx, "org-0", "repo-9", &github.PullRequestListOptions{State: "all", ListOptions: github.ListOptions{PerPage: 100, Page: 100}})
	if err != nil || len(prs) != 100 || resp.NextPage != 0 || prs[99].GetNumber() != 1 {
		t.Fatalf("last page: %d pulls, next %d, %v", len(prs), resp.NextPage, err)
	}
	files, _, err := gh.PullRequests.ListFiles(ctx, "org-0", "repo-9", 5000, &github.ListOptions{PerPage: 100})
	if err != nil || len(files) != 20 {
		t.Fatalf("files %d %v", len(files), err)
	}
}

func BenchmarkSeed100kPulls(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if _, err := ghfake.New(ghfake.Options{PrivateKeyPEM: benchKey(b), Seed: &ghfake.SeedOptions{Seed: 1, ReposPerAccount: 10, PullsPerRepo: 10000, IssuesPerRepo: -1}}); err != nil {
			b.Fatal(err)
		}
	}
}

var benchPEM string

func benchKey(b *testing.B) string {
	if benchPEM == "" {
		srv, err := ghfake.New(ghfake.Options{})
		if err != nil {
			b.Fatal(err)
		}
		benchPEM = srv.PrivateKeyPEM()
	}
	return benchPEM
}

func BenchmarkListPullsPage(b *testing.B) {
	srv := start(b, ghfake.Options{Seed: &ghfake.SeedOptions{Seed: 1, ReposPerAccount: 1, PullsPerRepo: 5000, IssuesPerRepo: -1}})
	tok := srv.InstallationToken(srv.World().Installations()[0].GetID())
	srv.SetRateLimit(1 << 30)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rawGet(b, srv, tok, fmt.Sprintf("repos/org-0/repo-0/pulls?state=all&per_page=100&page=%d", 1+i%50), nil)
	}
}
