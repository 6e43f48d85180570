package readapi

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"
)

// TestRepositoryLabelsMilestonesUsers compares, through go-github, the
// read API with ghfake for a repository, its labels and milestones (every
// page, each filter) and the users.
func TestRepositoryLabelsMilestonesUsers(t *testing.T) {
	r := newReplica(t, nil)
	ctx := context.Background()
	gh, ours := r.clients(r.token("org-0"))
	for _, name := range []string{"repo-0", "repo-1"} {
		want, _, err := gh.Repositories.Get(ctx, "org-0", name)
		if err != nil {
			t.Fatal(err)
		}
		got, resp, err := ours.Repositories.Get(ctx, "org-0", name)
		if err != nil {
			t.Fatalf("read API: GET /repos/org-0/%s: %v", name, err)
		}
		sameObjects(t, "repository "+name, want, got, "id", "node_id", "name", "full_name", "private", "owner.login", "owner.id",
			"html_url", "description", "default_branch", "stargazers_count", "open_issues_count", "created_at", "updated_at", "pushed_at", "organization.login")
		if resp.Header.Get(ReplicatedAtHeader) == "" || resp.Header.Get("ETag") == "" {
			t.Errorf("GET /repos/org-0/%s: no %s or ETag: %v", name, ReplicatedAtHeader, resp.Header)
		}
	}

	for _, per := range []int{2, 30} {
		for page := 1; page <= 3; page++ {
			opt := &github.ListOptions{PerPage: per, Page: page}
			want, wr, err := gh.Issues.ListLabels(ctx, "org-0", "repo-0", opt)
			if err != nil {
				t.Fatal(err)
			}
			got, or, err := ours.Issues.ListLabels(ctx, "org-0", "repo-0", opt)
			if err != nil {
				t.Fatalf("read API: labels: %v", err)
			}
			sameObjects(t, "labels", want, got)
			if len(got) != len(want) {
				t.Errorf("labels page %d per %d: %d, GitHub %d", page, per, len(got), len(want))
			}
			samePaging(t, "labels", wr, or)
		}
	}
	labels, _, err := gh.Issues.ListLabels(ctx, "org-0", "repo-0", nil)
	if err != nil || len(labels) == 0 {
		t.Fatalf("labels: %v (%d)", err, len(labels))
	}
	for _, l := range labels {
		if strings.Contains(l.GetName(), " ") {
			// go-github v60 escapes a label's name twice; the raw read
			// of such a name is in TestLabelNames.
			continue
		}
		want, _, err := gh.Issues.GetLabel(ctx, "org-0", "repo-0", l.GetName())
		if err != nil {
			t.Fatalf("ghfake: label %q: %v", l.GetName(), err)
		}
		got, _, err := ours.Issues.GetLabel(ctx, "org-0", "repo-0", l.GetName())
		if err != nil {
			t.Fatalf("read API: label %q: %v", l.GetName(), err)
		}
		sameObjects(t, "label "+l.GetName(), want, got, "id", "name", "color", "description", "default", "node_id", "url")
	}

	for _, opt := range []*github.MilestoneListOptions{
		{}, {State: "all"}, {State: "closed"}, {State: "all", Direction: "desc"}, {State: "all", ListOptions: github.ListOptions{PerPage: 1, Page: 2}},
	} {
		want, wr, err := gh.Issues.ListMilestones(ctx, "org-0", "repo-0", opt)
		if err != nil {
			t.Fatal(err)
		}
		got, or, err := ours.Issues.ListMilestones(ctx, "org-0", "repo-0", opt)
		if err != nil {
			t.Fatalf("read API: milestones %+v: %v", opt, err)
		}
		if len(got) != len(want) {
			t.Errorf("milestones %+v: %d, GitHub %d", opt, len(got), len(want))
		}
		sameObjects(t, "milestones", want, got)
		samePaging(t, "milestones", wr, or)
		for _, m := range want {
			w, _, _ := gh.Issues.GetMilestone(ctx, "org-0", "repo-0", m.GetNumber())
			g, _, err := ours.Issues.GetMilestone(ctx, "org-0", "repo-0", m.GetNumber())
			if err != nil {
				t.Fatalf("read API: milestone %d: %v", m.GetNumber(), err)
			}
			sameObjects(t, "milestone", w, g, "id", "number", "title", "state", "creator.login", "open_issues", "closed_issues", "created_at")
		}
	}

	for _, login := range []string{"user-0", "USER-1", "org-0"} {
		want, _, err := gh.Users.Get(ctx, login)
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := ours.Users.Get(ctx, login)
		if err != nil {
			t.Fatalf("read API: user %s: %v", login, err)
		}
		sameObjects(t, "user "+login, want, got, "login", "id", "type")
	}
}

// TestInstallationRepositoriesAndUserInstallations compares the
// installation and user listings.
func TestInstallationRepositoriesAndUserInstallations(t *testing.T) {
	r := newReplica(t, nil)
	ctx := context.Background()
	for _, per := range []int{1, 30} {
		gh, ours := r.clients(r.token("org-0"))
		opt := &github.ListOptions{PerPage: per}
		want, wr, err := gh.Apps.ListRepos(ctx, opt)
		if err != nil {
			t.Fatal(err)
		}
		got, or, err := ours.Apps.ListRepos(ctx, opt)
		if err != nil {
			t.Fatalf("read API: installation repositories: %v", err)
		}
		if got.GetTotalCount() != want.GetTotalCount() || len(got.Repositories) != len(want.Repositories) {
			t.Errorf("installation repositories: %d of %d, GitHub %d of %d", len(got.Repositories), got.GetTotalCount(), len(want.Repositories), want.GetTotalCount())
		}
		sameObjects(t, "installation repositories", want, got, "total_count", "repositories")
		samePaging(t, "installation repositories", wr, or)
	}

	token := r.gh.UserToken("user-0")
	gh, ours := r.clients(token)
	want, wr, err := gh.Apps.ListUserInstallations(ctx, &github.ListOptions{PerPage: 2})
	if err != nil {
		t.Fatal(err)
	}
	got, or, err := ours.Apps.ListUserInstallations(ctx, &github.ListOptions{PerPage: 2})
	if err != nil {
		t.Fatalf("read API: user installations: %v", err)
	}
	if len(got) != len(want) || len(got) == 0 {
		t.Errorf("user installations: %d, GitHub %d", len(got), len(want))
	}
	sameObjects(t, "user installations", want, got)
	samePaging(t, "user installations", wr, or)
}
