package ghfake_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/ghfake"
)

// TestWebhookTimeout: GitHub waits 10 seconds for an answer, then records
// the delivery as "timed out" with no status code. The default is tested,
// not a shortened one, since the 10 seconds are the contract.
func TestWebhookTimeout(t *testing.T) {
	tests := []struct {
		name       string
		delay      time.Duration
		wantCode   int
		wantStatus string
	}{
		{"answers at once", 0, http.StatusOK, "OK"},
		{"answers after 11s", 11 * time.Second, 0, "timed out"},
	}
	srv := start(t, ghfake.Options{Seed: &ghfake.SeedOptions{Seed: 3}})
	app := appClient(t, srv)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-time.After(tc.delay):
					w.WriteHeader(http.StatusOK)
				case <-r.Context().Done(): // ghfake gave up and hung up
				}
			}))
			defer rc.Close()
			srv.SetWebhookURL(rc.URL)
			began := time.Now()
			_, d, err := srv.OpenIssue(ctx, "org-0", "repo-0", ghfake.NewIssue{Title: tc.name})
			if err != nil {
				t.Fatal(err)
			}
			if took := time.Since(began); took > 10*time.Second+2*time.Second {
				t.Errorf("the delivery took %v; ghfake waited past 10s", took)
			}
			if d.StatusCode != tc.wantCode || d.OK() != (tc.wantCode == http.StatusOK) {
				t.Errorf("recorded status code %d (error %q), want %d", d.StatusCode, d.Error, tc.wantCode)
			}
			hd, _, err := app.Apps.GetHookDelivery(ctx, d.ID)
			if err != nil {
				t.Fatal(err)
			}
			if hd.GetStatus() != tc.wantStatus || hd.GetStatusCode() != tc.wantCode {
				t.Errorf("delivery log: status %q code %d, want %q %d", hd.GetStatus(), hd.GetStatusCode(), tc.wantStatus, tc.wantCode)
			}
		})
	}
}

// TestRedeliveryIsAsynchronous: the attempts API answers 202 while the
// redelivery has not been sent yet; it arrives afterwards with the same
// GUID, marked as a redelivery.
func TestRedeliveryIsAsynchronous(t *testing.T) {
	srv := start(t, ghfake.Options{Seed: &ghfake.SeedOptions{Seed: 4}})
	release := make(chan struct{})
	var mu sync.Mutex
	seen := map[string]int{}
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[github.DeliveryID(r)]++
		again := seen[github.DeliveryID(r)] > 1
		mu.Unlock()
		if again {
			// The redelivery waits until the test has its 202.
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer rc.Close()
	var releaseOnce sync.Once
	free := func() { releaseOnce.Do(func() { close(release) }) }
	defer free()
	srv.SetWebhookURL(rc.URL)
	_, first, err := srv.OpenIssue(ctx, "org-0", "repo-0", ghfake.NewIssue{Title: "again"})
	if err != nil || !first.OK() {
		t.Fatalf("first delivery: %v %+v", err, first)
	}
	before := len(srv.Deliveries())

	_, res, err := appClient(t, srv).Apps.RedeliverHookDelivery(ctx, first.ID)
	var accepted *github.AcceptedError
	if !errors.As(err, &accepted) || res.StatusCode != http.StatusAccepted {
		t.Fatalf("redeliver answered %v (%v), want 202", res, err)
	}
	if string(accepted.Raw) != "{}" {
		t.Errorf("202 body %q, want {}", accepted.Raw)
	}
	if n := len(srv.Deliveries()); n != before {
		t.Fatalf("%d deliveries recorded when the 202 came, want %d: the redelivery was sent before the answer", n, before)
	}
	free()
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := srv.WaitRedeliveries(wctx); err != nil {
		t.Fatal(err)
	}
	ds := srv.Deliveries()
	if len(ds) != before+1 {
		t.Fatalf("%d deliveries after the redelivery, want %d", len(ds), before+1)
	}
	last := ds[len(ds)-1]
	if last.GUID != first.GUID || !last.Redelivery || !last.OK() || string(last.Payload) != string(first.Payload) {
		t.Errorf("redelivery %+v, want GUID %s marked and answered 200", last, first.GUID)
	}

	// The Go API is asynchronous too; Wait returns the delivery once sent.
	r, err := srv.Redeliver(first.ID)
	if err != nil {
		t.Fatal(err)
	}
	d, err := r.Wait(wctx)
	if err != nil || d.GUID != first.GUID || !d.Redelivery || d.ID == 0 {
		t.Fatalf("waited redelivery %+v, %v", d, err)
	}
}

// TestDeliveryLogKeepsThreeDays: by the server's clock, a delivery older
// than 3 days is no longer listed, fetched or redelivered.
func TestDeliveryLogKeepsThreeDays(t *testing.T) {
	srv := start(t, ghfake.Options{Seed: &ghfake.SeedOptions{Seed: 5}})
	newReceiver(t, srv)
	app := appClient(t, srv)
	_, old, err := srv.OpenIssue(ctx, "org-0", "repo-0", ghfake.NewIssue{Title: "old"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		advance time.Duration
		kept    bool
	}{
		{"a minute short of 3 days", 3*24*time.Hour - time.Minute, true},
		{"a minute past 3 days", 2 * time.Minute, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv.Advance(tc.advance)
			listed := false
			for _, d := range srv.Deliveries() {
				listed = listed || d.ID == old.ID
			}
			_, res, err := app.Apps.GetHookDelivery(ctx, old.ID)
			fetched := err == nil
			if !fetched && (res == nil || res.StatusCode != http.StatusNotFound) {
				t.Fatalf("get delivery: %v", err)
			}
			api, _, err := app.Apps.ListHookDeliveries(ctx, &github.ListCursorOptions{PerPage: 100})
			if err != nil {
				t.Fatal(err)
			}
			inAPI := false
			for _, d := range api {
				inAPI = inAPI || d.GetID() == old.ID
			}
			_, rerr := srv.Redeliver(old.ID)
			if listed != tc.kept || fetched != tc.kept || inAPI != tc.kept || (rerr == nil) != tc.kept {
				t.Errorf("listed %v, fetched %v, in the API list %v, redeliverable %v; want all %v", listed, fetched, inAPI, rerr == nil, tc.kept)
			}
			if err := srv.WaitRedeliveries(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
	// A new delivery is kept.
	_, d, err := srv.OpenIssue(ctx, "org-0", "repo-0", ghfake.NewIssue{Title: "new"})
	if err != nil {
		t.Fatal(err)
	}
	if srv.Delivery(d.ID) == nil {
		t.Error("a fresh delivery is not in the log")
	}
}

// TestDeliveryLogPaging: the list is newest first, per_page up to 100,
// continued through the Link header's opaque cursor until no rel="next";
// a cursor GitHub never gave out is refused, not read as the first page;
// each entry has GitHub's fields, null where GitHub sends null.
func TestDeliveryLogPaging(t *testing.T) {
	srv := start(t, ghfake.Options{Seed: &ghfake.SeedOptions{Seed: 6}})
	app := appClient(t, srv)
	// No receiver: every delivery fails, recorded without a status code.
	var sent []*ghfake.Delivery
	for i := range 7 {
		_, d, err := srv.OpenIssue(ctx, "org-0", "repo-0", ghfake.NewIssue{Title: fmt.Sprintf("issue %d", i)})
		if err != nil {
			t.Fatal(err)
		}
		sent = append(sent, d)
	}
	ping := srv.SendEvent(ctx, "ping", []byte(`{"zen":"Keep it logically awesome.","hook_id":1}`))
	sent = append(sent, ping)

	var got []*github.HookDelivery
	var cursors []string
	opts := &github.ListCursorOptions{PerPage: 3}
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("the cursor never ended")
		}
		page, res, err := app.Apps.ListHookDeliveries(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > 3 {
			t.Fatalf("page of %d, want at most per_page 3", len(page))
		}
		got = append(got, page...)
		if res.Cursor == "" {
			break
		}
		cursors = append(cursors, res.Cursor)
		opts.Cursor = res.Cursor
	}
	if len(got) != len(sent) || len(cursors) != 2 {
		t.Fatalf("listed %d deliveries over %d cursors, want %d over 2", len(got), len(cursors), len(sent))
	}
	for i, hd := range got {
		want := sent[len(sent)-1-i]
		if hd.GetID() != want.ID || hd.GetGUID() != want.GUID {
			t.Errorf("entry %d is %d %s, want %d %s (newest first)", i, hd.GetID(), hd.GetGUID(), want.ID, want.GUID)
		}
		if hd.GetStatusCode() != 0 || hd.GetStatus() == "OK" || hd.GetStatus() == "" || hd.GetRedelivery() {
			t.Errorf("entry %d: status %q code %d redelivery %v, want a failure with code 0", i, hd.GetStatus(), hd.GetStatusCode(), hd.GetRedelivery())
		}
	}
	for _, c := range cursors {
		if _, err := strconv.ParseInt(c, 10, 64); err == nil {
			t.Errorf("cursor %q is a bare id; GitHub's is opaque", c)
		}
	}

	// The raw JSON: GitHub's members, null for what a ping lacks.
	res, err := appHTTP(t, srv).Get(srv.APIURL() + "app/hook/deliveries?per_page=1")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	var items []map[string]any
	if err := json.Unmarshal(body, &items); err != nil || len(items) != 1 {
		t.Fatalf("list body %s: %v", body, err)
	}
	for _, k := range []string{"id", "guid", "delivered_at", "redelivery", "duration", "status", "status_code", "event",
		"action", "installation_id", "repository_id", "throttled_at"} {
		if _, ok := items[0][k]; !ok {
			t.Errorf("list entry lacks %q: %s", k, body)
		}
	}
	for _, k := range []string{"action", "installation_id", "repository_id", "throttled_at"} {
		if items[0][k] != nil {
			t.Errorf("a ping's %s is %v, want null", k, items[0][k])
		}
	}

	for _, bad := range []string{"garbled!", strconv.FormatInt(sent[3].ID, 10), "Zm9vOjEy"} {
		_, res, err := app.Apps.ListHookDeliveries(ctx, &github.ListCursorOptions{PerPage: 3, Cursor: bad})
		if err == nil || res == nil || res.StatusCode < 400 || res.StatusCode >= 500 {
			t.Errorf("cursor %q: answered %v, %v; want a 4xx", bad, res, err)
		}
	}
}

// TestRedeliveryIsListed: a redelivery is a new entry of the log, newest,
// with the same GUID, redelivery true and its own outcome.
func TestRedeliveryIsListed(t *testing.T) {
	srv := start(t, ghfake.Options{Seed: &ghfake.SeedOptions{Seed: 7}})
	app := appClient(t, srv)
	_, first, err := srv.OpenIssue(ctx, "org-0", "repo-0", ghfake.NewIssue{Title: "missed"})
	if err != nil || first.OK() {
		t.Fatalf("first delivery %+v, %v: want a failure (no receiver)", first, err)
	}
	newReceiver(t, srv)
	if _, _, err := app.Apps.RedeliverHookDelivery(ctx, first.ID); !errors.As(err, new(*github.AcceptedError)) {
		t.Fatalf("redeliver: %v, want 202", err)
	}
	if err := srv.WaitRedeliveries(ctx); err != nil {
		t.Fatal(err)
	}
	list, _, err := app.Apps.ListHookDeliveries(ctx, &github.ListCursorOptions{PerPage: 100})
	if err != nil || len(list) != 2 {
		t.Fatalf("listed %d, %v; want 2", len(list), err)
	}
	re, orig := list[0], list[1]
	if re.GetGUID() != first.GUID || !re.GetRedelivery() || re.GetStatus() != "OK" || re.GetStatusCode() != http.StatusOK || re.GetID() <= first.ID {
		t.Errorf("redelivery entry %+v: want GUID %s, redelivery, OK 200, a newer id", re, first.GUID)
	}
	if orig.GetID() != first.ID || orig.GetRedelivery() || orig.GetStatus() == "OK" {
		t.Errorf("original entry %+v changed", orig)
	}
	if re.GetInstallationID() != first.InstallationID || re.GetRepositoryID() != first.RepositoryID || re.GetEvent() != "issues" || re.GetAction() != "opened" {
		t.Errorf("redelivery entry %+v lost its event, installation or repository", re)
	}
	// A delivery the log does not have: 404.
	if _, res, err := app.Apps.RedeliverHookDelivery(ctx, 1<<40); err == nil || res == nil || res.StatusCode != http.StatusNotFound {
		t.Errorf("redeliver an unknown delivery: %v, %v; want 404", res, err)
	}
}
