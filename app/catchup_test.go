package app

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/webhookdb/webhookdb/ghfake"
	"github.com/webhookdb/webhookdb/internal/testutil"
)

// TestServeCatchesUpWhatItMissed: an issue opened on GitHub while
// webhookdb is stopped is stored once serve starts again, by the catch-up
// that runs at start-up (GitHub itself never retries the failed delivery).
func TestServeCatchesUpWhatItMissed(t *testing.T) {
	env.Truncate(t)
	addr := freeAddr(t)
	gh, err := ghfake.New(ghfake.Options{Seed: &ghfake.SeedOptions{Accounts: 1, ReposPerAccount: 1}, WebhookURL: "http://" + addr + "/replication"})
	if err != nil {
		t.Fatal(err)
	}
	if err := gh.Start(); err != nil {
		t.Fatal(err)
	}
	defer gh.Close()

	// webhookdb is not running: the delivery fails, as GitHub records it.
	issue, d, err := gh.OpenIssue(context.Background(), "org-0", "repo-0", ghfake.NewIssue{Title: "opened while down"})
	if err != nil {
		t.Fatal(err)
	}
	if d.OK() {
		t.Fatalf("the delivery reached a stopped webhookdb: %+v", d)
	}

	vars := serveEnv(t, addr, env.DatabaseURL)
	ns := env.Namespace + "_catchup"
	t.Cleanup(func() { _ = testutil.DeleteNamespace(env.Redis, ns) })
	for k, v := range map[string]string{
		"WEBHOOKDB_NAMESPACE":          ns,
		"GITHUB_V3_API_URL":            gh.APIURL(),
		"GITHUB_V4_API_URL":            gh.GraphQLURL(),
		"GITHUB_WEB_URL":               gh.URL() + "/",
		"GITHUB_APP_INTEGRATION_ID":    strconv.FormatInt(gh.AppID(), 10),
		"GITHUB_APP_WEBHOOK_SECRET":    gh.WebhookSecret(),
		"GITHUB_APP_PRIVATE_KEY":       gh.PrivateKeyPEM(),
		"WEBHOOKDB_RECONCILE_INTERVAL": "0",
	} {
		vars[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	var stderr bytes.Buffer
	go func() { done <- Run(ctx, []string{"serve"}, Env{Stderr: &stderr, Getenv: envMap(vars)}) }()
	waitStatus(t, "http://"+addr+"/readyz", 200)

	// Catch-up asks GitHub for the delivery and GitHub redelivers it: wait
	// for the issue to be stored (a condition with a deadline).
	deadline := time.Now().Add(30 * time.Second)
	poll := time.NewTicker(50 * time.Millisecond)
	defer poll.Stop()
	var title, recoveredBy string
	for {
		err := env.DB.QueryRow(`SELECT i.title, coalesce(w.recovered_by, '') FROM github_issue i, webhook_delivery w
WHERE i.id = $1 AND w.delivery_id = $2`, issue.GetID(), d.GUID).Scan(&title, &recoveredBy)
		if err == nil {
			break
		}
		if !errors.Is(err, sql.ErrNoRows) {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the issue opened while webhookdb was down was never stored; serve's log:\n%s", stderr.String())
		}
		<-poll.C
	}
	if title != "opened while down" || recoveredBy != "catchup" {
		t.Errorf("stored %q recovered by %q, want the issue recovered by catchup", title, recoveredBy)
	}
	redeliveries := 0
	for _, x := range gh.Deliveries() {
		if x.GUID == d.GUID && x.Redelivery {
			redeliveries++
		}
	}
	if redeliveries != 1 {
		t.Errorf("%d redeliveries of the missed delivery, want 1", redeliveries)
	}

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("serve exited %d; stderr:\n%s", code, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}
}
