package ghfake_test

import (
	"sort"
	"testing"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/ghfake"
)

// fileCounts seeds a server and returns every pull request's file count
// by repository, read both from changed_files and from the file list.
func fileCounts(t *testing.T, seed ghfake.SeedOptions) map[string][]int {
	t.Helper()
	srv := start(t, ghfake.Options{Seed: &seed})
	w := srv.World()
	out := map[string][]int{}
	for _, r := range w.InstallationRepositories(w.Installations()[0].GetID()) {
		o, n := r.GetOwner().GetLogin(), r.GetName()
		for _, pr := range w.PullRequests(o, n) {
			files := len(w.PullRequestFiles(o, n, pr.GetNumber()))
			if pr.GetChangedFiles() != files {
				t.Errorf("%s#%d: changed_files %d, file list %d", r.GetFullName(), pr.GetNumber(), pr.GetChangedFiles(), files)
			}
			out[r.GetFullName()] = append(out[r.GetFullName()], files)
		}
	}
	return out
}

func TestSeedFilesPerPull(t *testing.T) {
	base := ghfake.SeedOptions{Seed: 9, ReposPerAccount: 3, PullsPerRepo: 200, IssuesPerRepo: -1,
		CommentsPerIssue: -1, ReviewsPerPull: -1, ReviewCommentsPerPull: -1}
	tests := []struct {
		name       string
		files, max int
		// exact is the count every pull has (FilesPerPull), or 0.
		exact int
	}{
		{"fixed count", 7, 0, 7},
		{"default count", 0, 0, 3},
		{"skewed up to 300", 7, 300, 0},
		{"skewed up to 10", 0, 10, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := base
			o.FilesPerPull, o.MaxFilesPerPull = tt.files, tt.max
			counts := fileCounts(t, o)
			if len(counts) != 3 {
				t.Fatalf("%d repositories, want 3", len(counts))
			}
			var all []int
			for repo, cs := range counts {
				if len(cs) != 200 {
					t.Fatalf("%s: %d pulls, want 200", repo, len(cs))
				}
				atMax := 0
				for _, c := range cs {
					if tt.exact > 0 && c != tt.exact {
						t.Fatalf("%s: a pull with %d files, want exactly %d", repo, c, tt.exact)
					}
					if tt.max > 0 && (c < 1 || c > tt.max) {
						t.Fatalf("%s: a pull with %d files, want 1..%d", repo, c, tt.max)
					}
					if c == tt.max {
						atMax++
					}
				}
				if tt.max > 0 && atMax == 0 {
					t.Errorf("%s: no pull has the maximum of %d files", repo, tt.max)
				}
				all = append(all, cs...)
			}
			if tt.max < 100 {
				return
			}
			// Real life: most pulls small, a tail of big ones.
			sort.Ints(all)
			if med := all[len(all)/2]; med > tt.max/10 {
				t.Errorf("median %d files, want a small majority (<= %d)", med, tt.max/10)
			}
			big := 0
			for _, c := range all {
				if c > 2*tt.max/3 {
					big++
				}
			}
			if big < len(all)/50 || big > len(all)/4 {
				t.Errorf("%d of %d pulls above %d files, want a tail of 2%%..25%%", big, len(all), 2*tt.max/3)
			}
			// Same options, same world.
			again := fileCounts(t, o)
			for repo, cs := range counts {
				for i := range cs {
					if again[repo][i] != cs[i] {
						t.Fatalf("%s: pull %d has %d files, then %d: not deterministic", repo, i, cs[i], again[repo][i])
					}
				}
			}
		})
	}
}

// A pull at the maximum of 300 files is listed over three full pages.
func TestSeedMaxFilesPaging(t *testing.T) {
	srv := start(t, ghfake.Options{Seed: &ghfake.SeedOptions{Seed: 3, ReposPerAccount: 1, PullsPerRepo: 5, IssuesPerRepo: -1,
		MaxFilesPerPull: 300, CommentsPerIssue: -1, ReviewsPerPull: -1, ReviewCommentsPerPull: -1}})
	w := srv.World()
	var big int
	for _, pr := range w.PullRequests("org-0", "repo-0") {
		if pr.GetChangedFiles() == 300 {
			big = pr.GetNumber()
		}
	}
	if big == 0 {
		t.Fatal("no pull with 300 files")
	}
	gh := installationClient(t, srv, w.Installations()[0].GetID())
	seen := map[string]bool{}
	pages := 0
	for page := 1; page != 0; {
		files, resp, err := gh.PullRequests.ListFiles(ctx, "org-0", "repo-0", big, &github.ListOptions{PerPage: 100, Page: page})
		if err != nil {
			t.Fatalf("page %d: %v", page, err)
		}
		if len(files) != 100 {
			t.Errorf("page %d has %d files, want 100", page, len(files))
		}
		for _, f := range files {
			seen[f.GetFilename()] = true
		}
		pages++
		page = resp.NextPage
	}
	if pages != 3 || len(seen) != 300 {
		t.Errorf("%d pages, %d distinct files; want 3 pages of 300 files", pages, len(seen))
	}
}
