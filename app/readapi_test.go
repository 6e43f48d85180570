package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/ghfake"
)

// TestServeReadAPI: `webhookdb serve` mounts the read API. An
// installation is loaded through POST /load, then go-github v60 pointed
// at serve's /api/v3/ reads the repository and its pull requests page by
// page as it reads them from ghfake. readapi's own tests compare every
// endpoint and filter; this one proves the wiring, the public URL in the
// Link headers and the configured rate limit.
func TestServeReadAPI(t *testing.T) {
	w := startUIWorld(t, ghfake.SeedOptions{Accounts: 1, ReposPerAccount: 1, PullsPerRepo: 5, IssuesPerRepo: 2})
	inst := w.gh.World().Installations()[0].GetID()
	tok := w.gh.InstallationToken(inst)

	req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/load/installations/%d", w.base, inst), nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var queued struct {
		ScanID int64 `json:"scan_id"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&queued)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || queued.ScanID == 0 {
		t.Fatalf("load: %d", resp.StatusCode)
	}
	waitDB(t, "the load of the installation", 60*time.Second, func() (bool, error) {
		var open int
		err := env.DB.QueryRow(`SELECT count(*) FROM scan WHERE status IN ('queued', 'running')`).Scan(&open)
		return open == 0, err
	})

	ctx := context.Background()
	gh := github.NewClient(nil).WithAuthToken(tok)
	gh.BaseURL, _ = url.Parse(w.gh.APIURL() + "/")
	ours := github.NewClient(nil).WithAuthToken(tok)
	ours.BaseURL, _ = url.Parse(w.base + "/api/v3/")

	want, _, err := gh.Repositories.Get(ctx, "org-0", "repo-0")
	if err != nil {
		t.Fatal(err)
	}
	got, gr, err := ours.Repositories.Get(ctx, "org-0", "repo-0")
	if err != nil {
		t.Fatalf("read API: %v", err)
	}
	if got.GetID() != want.GetID() || got.GetFullName() != want.GetFullName() || !got.GetPushedAt().Equal(want.GetPushedAt()) {
		t.Errorf("repository: %+v, GitHub %+v", got, want)
	}
	if gr.Rate.Limit != 15000 || gr.Header.Get("X-Webhookdb-Replicated-At") == "" {
		t.Errorf("headers: limit %d, %v", gr.Rate.Limit, gr.Header)
	}

	opt := &github.PullRequestListOptions{State: "all", ListOptions: github.ListOptions{PerPage: 2}}
	var wantNumbers, gotNumbers []int
	for page := 1; page != 0; {
		opt.Page = page
		ws, wr, err := gh.PullRequests.List(ctx, "org-0", "repo-0", opt)
		if err != nil {
			t.Fatal(err)
		}
		gs, or, err := ours.PullRequests.List(ctx, "org-0", "repo-0", opt)
		if err != nil {
			t.Fatalf("read API: pulls page %d: %v", page, err)
		}
		for _, p := range ws {
			wantNumbers = append(wantNumbers, p.GetNumber())
		}
		for _, p := range gs {
			gotNumbers = append(gotNumbers, p.GetNumber())
		}
		if or.NextPage != wr.NextPage || or.LastPage != wr.LastPage {
			t.Fatalf("page %d: next %d last %d, GitHub %d %d", page, or.NextPage, or.LastPage, wr.NextPage, wr.LastPage)
		}
		page = or.NextPage
	}
	if len(wantNumbers) != 5 || !reflect.DeepEqual(gotNumbers, wantNumbers) {
		t.Errorf("pull requests %v, GitHub %v", gotNumbers, wantNumbers)
	}
}
