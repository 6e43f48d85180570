package ghfake_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v60/github"
	"github.com/gregjones/httpcache"
	"github.com/palantir/go-githubapp/githubapp"

	"github.com/webhookdb/webhookdb/ghfake"
)

// start runs a seeded server for one test.
func start(t testing.TB, opts ghfake.Options) *ghfake.Server {
	t.Helper()
	srv, err := ghfake.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// tokenClient is go-github authenticated with a raw token.
func tokenClient(t testing.TB, srv *ghfake.Server, token string) *github.Client {
	t.Helper()
	c, err := github.NewClient(nil).WithAuthToken(token).WithEnterpriseURLs(srv.APIURL(), srv.APIURL())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// appClient is go-github authenticated as the app through ghinstallation.
func appClient(t testing.TB, srv *ghfake.Server) *github.Client {
	t.Helper()
	tr, err := ghinstallation.NewAppsTransport(http.DefaultTransport, srv.AppID(), []byte(srv.PrivateKeyPEM()))
	if err != nil {
		t.Fatal(err)
	}
	tr.BaseURL = srv.URL() + "/api/v3"
	c, err := github.NewClient(&http.Client{Transport: tr}).WithEnterpriseURLs(srv.APIURL(), srv.APIURL())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// installationClient comes from go-githubapp's client creator, the way
// webhookdb makes its clients.
func installationClient(t testing.TB, srv *ghfake.Server, id int64) *github.Client {
	t.Helper()
	cc, err := githubapp.NewDefaultCachingClientCreator(srv.GitHubConfig(),
		githubapp.WithClientCaching(true, func() httpcache.Cache { return httpcache.NewMemoryCache() }))
	if err != nil {
		t.Fatal(err)
	}
	c, err := cc.NewInstallationClient(id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// receiver records the webhooks it gets after checking their signature
// with go-github's ValidatePayload.
type receiver struct {
	t      testing.TB
	secret string
	mu     sync.Mutex
	got    []received
	srv    *httptest.Server
}

type received struct {
	event, guid string
	payload     []byte
}

func newReceiver(t testing.TB, srv *ghfake.Server) *receiver {
	rc := &receiver{t: t, secret: srv.WebhookSecret()}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := github.ValidatePayload(r, []byte(rc.secret))
		if err != nil {
			_, _ = io.Copy(io.Discard, r.Body)
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		rc.mu.Lock()
		rc.got = append(rc.got, received{github.WebHookType(r), github.DeliveryID(r), body})
		rc.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(rc.srv.Close)
	srv.SetWebhookURL(rc.srv.URL)
	return rc
}

func (rc *receiver) all() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

var ctx = context.Background()
