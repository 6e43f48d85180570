package load

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/webhookdb/webhookdb/internal/ttlcache"
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
		cache:  ttlcache.New[string](time.Minute, 10, time.Now),
		// What the app's own token of the installation lists.
		installationRepos: h.handler.installationRepoIDs,
	}
	var rh rateLimitHeaders
	_, err = a.authorize(context.Background(), h.gh.InstallationToken(h.inst1), target{installationID: h.instP}, &rh)
	if !errors.Is(err, errForbidden) || authStatus(err) != 403 {
		t.Fatalf("err = %v (answer %d), want errForbidden (403)", err, authStatus(err))
	}
}
