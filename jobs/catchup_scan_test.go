package jobs

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/volatiletech/null/v8"

	"github.com/webhookdb/webhookdb/models"
	"github.com/webhookdb/webhookdb/process"
)

// TestCatchUpScansTouchedRepositories: the repositories of the deliveries
// a catch-up run asked for get an incremental scan with children (it wins
// the ties of same-second changes that redeliveries cannot order); one not
// stored yet is left to its redelivery, and one already being scanned is
// joined, not scanned twice.
func TestCatchUpScansTouchedRepositories(t *testing.T) {
	d := testDeps(t)
	e := newEngine(d)
	ctx := context.Background()
	m := process.Meta{Via: process.ViaWebhook, FetchedAt: time.Now()}
	owner := &github.User{ID: github.Int64(1), Login: github.String("org")}
	r := &github.Repository{ID: github.Int64(501), Name: github.String("busy"), FullName: github.String("org/busy"), Owner: owner}
	if _, err := process.Repository(ctx, d.DB, r, m); err != nil {
		t.Fatal(err)
	}
	touched := touchedRepos{}
	for _, req := range []*models.CatchupRequest{
		{InstallationID: null.Int64From(7), RepoID: null.Int64From(501)},
		{InstallationID: null.Int64From(7), RepoID: null.Int64From(501)},
		{InstallationID: null.Int64From(7), RepoID: null.Int64From(999)}, // not stored
		{RepoID: null.Int64From(501)},                                    // no installation
	} {
		touched.add(req)
	}
	e.scanTouched(ctx, touched)
	e.scanTouched(ctx, touched) // a second run joins the queued scan

	scans, err := models.Scans().All(ctx, d.DB)
	if err != nil {
		t.Fatal(err)
	}
	if len(scans) != 1 {
		t.Fatalf("%d scans, want one of org/busy", len(scans))
	}
	s := scans[0]
	if s.Kind != JobSyncRepository || s.Owner.String != "org" || s.Repo.String != "busy" || s.InstallationID.Int64 != 7 ||
		s.RequestedBy.String != "catchup" || s.FullScan {
		t.Errorf("scan %+v, want an incremental sync_repository of org/busy for installation 7 requested by catchup", s)
	}
	var params struct {
		Children bool `json:"children"`
	}
	if err := json.Unmarshal(s.Params, &params); err != nil || !params.Children {
		t.Errorf("scan params %s (%v), want children", s.Params, err)
	}
}
