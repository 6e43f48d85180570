package ghfake_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/webhookdb/webhookdb/ghfake"
)

// TestAPIShapes compares the objects the REST API answers with the main
// objects of GitHub's real webhook examples, which GitHub renders alike.
func TestAPIShapes(t *testing.T) {
	srv := start(t, ghfake.Options{Seed: &ghfake.SeedOptions{Seed: 12}})
	tok := srv.InstallationToken(srv.World().Installations()[0].GetID())
	w := srv.World()
	pr := w.PullRequests("org-0", "repo-0")[0]
	var issueNumber int
	for _, is := range w.Issues("org-0", "repo-0") {
		issueNumber = is.GetNumber()
	}
	tests := []struct {
		path, example, main string
		list                bool
		// allowed are keys the API adds to the webhook's shape.
		allowed []string
	}{
		{"repos/org-0/repo-0/pulls/" + strconv.Itoa(pr.GetNumber()), "pull_request/opened", "pull_request", false, nil},
		{"repos/org-0/repo-0/pulls?state=all", "pull_request/opened", "pull_request", true,
			// the list shape leaves these out, as GitHub's does
			[]string{"-additions", "-deletions", "-changed_files", "-commits", "-comments", "-review_comments", "-merged", "-mergeable", "-mergeable_state", "-rebaseable", "-merged_by", "-maintainer_can_modify"}},
		{"repos/org-0/repo-0/issues/" + strconv.Itoa(issueNumber), "issues/opened", "issue", false, []string{"closed_by", "state_reason", "performed_via_github_app", "timeline_url"}},
		{"repos/org-0/repo-0/issues/comments", "issue_comment/created", "comment", true, nil},
		{"repos/org-0/repo-0/pulls/" + strconv.Itoa(pr.GetNumber()) + "/reviews", "pull_request_review/submitted", "review", true, nil},
		{"repos/org-0/repo-0/pulls/comments", "pull_request_review_comment/created", "comment", true, nil},
		{"repos/org-0/repo-0/labels", "label/created", "label", true, nil},
		{"repos/org-0/repo-0/milestones?state=all", "milestone/created", "milestone", true, nil},
		{"repos/org-0/repo-0", "pull_request/opened", "repository", false, []string{"permissions", "organization", "network_count", "subscribers_count", "has_discussions"}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			req, _ := http.NewRequest("GET", srv.APIURL()+tt.path, nil)
			req.Header.Set("Authorization", "token "+tok)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				t.Fatalf("%d %s", res.StatusCode, body)
			}
			var got map[string]json.RawMessage
			if tt.list {
				var list []map[string]json.RawMessage
				if err := json.Unmarshal(body, &list); err != nil || len(list) == 0 {
					t.Fatalf("list: %v (%d items)", err, len(list))
				}
				got = list[0]
			} else if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			raw, err := os.ReadFile(filepath.Join(examples, tt.example+".payload.json"))
			if err != nil {
				t.Fatal(err)
			}
			var ex map[string]json.RawMessage
			_ = json.Unmarshal(raw, &ex)
			var want map[string]json.RawMessage
			if err := json.Unmarshal(ex[tt.main], &want); err != nil {
				t.Fatal(err)
			}
			missing, extra := diff(keys(want), keys(got))
			var notLeftOut, notAllowed []string
			for _, k := range missing {
				if !contains(tt.allowed, "-"+k) && !contains(newerKeys, k) {
					notLeftOut = append(notLeftOut, k)
				}
			}
			for _, k := range extra {
				if !contains(tt.allowed, k) && !contains(newerKeys, k) {
					notAllowed = append(notAllowed, k)
				}
			}
			if len(notLeftOut) > 0 || len(notAllowed) > 0 {
				t.Errorf("missing %v, extra %v", notLeftOut, notAllowed)
			}
		})
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}
