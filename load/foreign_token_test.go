package load

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/webhookdb/webhookdb/jobs"
)

// TestInstallationTokenOfAnotherApp: an installation token of another
// GitHub App (a workflow's GITHUB_TOKEN, say) lists repositories this app
// is not installed on. Asked to load one of our installations with it, the
// answer is "no access" (403), not a GitHub failure to retry (502).
func TestInstallationTokenOfAnotherApp(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	api, err := url.Parse(strings.TrimRight(h.gh.APIURL(), "/") + "/")
	if err != nil {
		t.Fatal(err)
	}
	a := &authorizer{
		apiURL: api,
		client: h.handler.deps.HTTPClient,
		cache:  newConfirmations(time.Minute, 10, time.Now),
		// The token's repositories are covered by no installation of ours.
		resolveRepoInstallation: func(_ context.Context, owner, repo string) (int64, error) {
			return 0, fmt.Errorf("%s/%s: %w", owner, repo, jobs.ErrNoInstallation)
		},
	}
	var rh rateLimitHeaders
	_, err = a.authorize(context.Background(), h.gh.InstallationToken(h.inst1), target{installationID: h.instP}, &rh)
	if !errors.Is(err, errForbidden) || authStatus(err) != 403 {
		t.Fatalf("err = %v (answer %d), want errForbidden (403)", err, authStatus(err))
	}
}
