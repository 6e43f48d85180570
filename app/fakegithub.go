package app

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/webhookdb/webhookdb/ghfake"
)

// fakeGitHubOptions are the flags of `webhookdb fake-github`.
type fakeGitHubOptions struct {
	addr          string
	webhookURL    string
	writeConfig   string
	webhookdbAddr string
	databaseURL   string
	redisURL      string
	seed          int64
	accounts      int
	repos         int
	pulls         int
	issues        int
	files         int
	comments      int
	latency       time.Duration
	jitter        time.Duration
	rateLimit     int
	tokenTTL      time.Duration
}

const fakeGitHubKey = "fake-github"

func fakeGitHubFlags(fs *flag.FlagSet, cc *cmdContext) {
	o := &fakeGitHubOptions{}
	fs.StringVar(&o.addr, "addr", "127.0.0.1:9000", "listen on HOST:PORT (port 0 picks a free one)")
	fs.StringVar(&o.webhookURL, "webhook-url", "", "send webhooks to this URL, e.g. http://127.0.0.1:8080/replication (none if empty)")
	fs.StringVar(&o.writeConfig, "write-config", "", "write a complete webhookdb config.yml pointing at the simulator to this file")
	fs.StringVar(&o.webhookdbAddr, "webhookdb-addr", "127.0.0.1:8080", "webhookdb's listen address, written as addr in the config")
	fs.StringVar(&o.databaseURL, "database-url", "", "database_url to write in the config (omitted if empty)")
	fs.StringVar(&o.redisURL, "redis-url", "", "redis_url to write in the config (omitted if empty)")
	fs.Int64Var(&o.seed, "seed", 1, "seed of the generated world")
	fs.IntVar(&o.accounts, "seed-accounts", 1, "organizations to generate")
	fs.IntVar(&o.repos, "seed-repos", 2, "repositories per organization")
	fs.IntVar(&o.pulls, "seed-pulls", 10, "pull requests per repository")
	fs.IntVar(&o.issues, "seed-issues", 10, "issues per repository")
	fs.IntVar(&o.files, "seed-files", 3, "changed files per pull request")
	fs.IntVar(&o.comments, "seed-comments", 1, "comments per issue and pull request")
	fs.DurationVar(&o.latency, "latency", 0, "added latency of every API answer, e.g. 50ms")
	fs.DurationVar(&o.jitter, "jitter", 0, "random extra latency up to this much")
	fs.IntVar(&o.rateLimit, "rate-limit", 5000, "API requests per hour per installation")
	fs.DurationVar(&o.tokenTTL, "token-ttl", time.Hour, "lifetime of installation tokens")
	cc.extra[fakeGitHubKey] = o
}

// zeroAsNone maps a flag's 0 to ghfake's "none" (its 0 means the default).
func zeroAsNone(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

func runFakeGitHub(ctx context.Context, cc *cmdContext) error {
	o, ok := cc.extra[fakeGitHubKey].(*fakeGitHubOptions)
	if !ok {
		return fmt.Errorf("fake-github: flags were not registered")
	}
	switch {
	case o.rateLimit <= 0:
		return fmt.Errorf("%w: fake-github: --rate-limit must be positive, got %d", errUsage, o.rateLimit)
	case o.latency < 0 || o.jitter < 0:
		return fmt.Errorf("%w: fake-github: --latency and --jitter must not be negative", errUsage)
	case o.accounts < 0 || o.repos < 0 || o.pulls < 0 || o.issues < 0 || o.files < 0 || o.comments < 0:
		return fmt.Errorf("%w: fake-github: --seed-* counts must not be negative", errUsage)
	case o.tokenTTL <= 0:
		return fmt.Errorf("%w: fake-github: --token-ttl must be positive", errUsage)
	}
	out := cc.env.Stdout
	srv, err := ghfake.New(ghfake.Options{
		WebhookURL: o.webhookURL,
		OnDelivery: func(d *ghfake.Delivery) {
			fmt.Fprintf(out, "fake-github: delivered %s.%s %s: %d %s\n", d.Event, d.Action, d.GUID, d.StatusCode, d.Error)
		},
		RateLimit: o.rateLimit,
		TokenTTL:  o.tokenTTL,
		Seed: &ghfake.SeedOptions{Seed: o.seed, Accounts: zeroAsNone(o.accounts), ReposPerAccount: zeroAsNone(o.repos),
			PullsPerRepo: zeroAsNone(o.pulls), IssuesPerRepo: zeroAsNone(o.issues), FilesPerPull: zeroAsNone(o.files),
			CommentsPerIssue: zeroAsNone(o.comments)},
	})
	if err != nil {
		return fmt.Errorf("fake-github: %w", err)
	}
	srv.SetLatency(o.latency, o.jitter)
	if err := srv.Listen(o.addr); err != nil {
		return fmt.Errorf("fake-github: %w", err)
	}
	defer srv.Close()
	if o.writeConfig != "" {
		err := srv.WriteConfigFull(o.writeConfig, ghfake.WriteConfigOptions{Addr: o.webhookdbAddr, DatabaseURL: o.databaseURL, RedisURL: o.redisURL})
		if err != nil {
			return fmt.Errorf("fake-github: %w", err)
		}
	}
	describeFakeGitHub(cc, srv, o)
	<-ctx.Done()
	fmt.Fprintln(cc.env.Stdout, "fake-github: stopped")
	return nil
}

// describeFakeGitHub prints, in words, what the config file holds, so a
// person can configure webhookdb by hand too.
func describeFakeGitHub(cc *cmdContext, srv *ghfake.Server, o *fakeGitHubOptions) {
	out := cc.env.Stdout
	sz := srv.World().Size()
	var ins []string
	for _, in := range srv.World().Installations() {
		ins = append(ins, fmt.Sprintf("%d (%s)", in.GetID(), in.GetAccount().GetLogin()))
	}
	hook := o.webhookURL
	if hook == "" {
		hook = "nowhere (no --webhook-url)"
	}
	fmt.Fprintf(out, "fake-github: a simulated GitHub is listening at %s\n", srv.URL())
	fmt.Fprintf(out, "  web URL (github.web_url):              %s\n", srv.URL())
	fmt.Fprintf(out, "  REST API (github.v3_api_url):          %s\n", srv.APIURL())
	fmt.Fprintf(out, "  GraphQL (github.v4_api_url):           %s (not served)\n", srv.GraphQLURL())
	fmt.Fprintf(out, "  app id (github.app.integration_id):    %d\n", srv.AppID())
	fmt.Fprintf(out, "  webhook secret (github.app.webhook_secret): %s\n", srv.WebhookSecret())
	fmt.Fprintf(out, "  OAuth client id (github.oauth.client_id):   %s\n", srv.OAuthClientID())
	fmt.Fprintf(out, "  OAuth client secret (github.oauth.client_secret): %s\n", srv.OAuthClientSecret())
	fmt.Fprintf(out, "  app private key (github.app.private_key): %d bytes of PEM, in the config file\n", len(srv.PrivateKeyPEM()))
	fmt.Fprintf(out, "  webhooks go to: %s\n", hook)
	fmt.Fprintf(out, "  world: %d accounts (%d organizations), %d repositories, %d pull requests, %d issues, %d comments\n",
		sz.Accounts, len(srv.World().Organizations()), sz.Repos, sz.Pulls, sz.Issues, sz.IssueComments)
	fmt.Fprintf(out, "  installations: %s\n", strings.Join(ins, ", "))
	fmt.Fprintf(out, "  rate limit: %d per hour; latency %v + up to %v\n", o.rateLimit, o.latency, o.jitter)
	fmt.Fprintf(out, "  request counts: GET %s/_fake/stats\n", srv.URL())
	if o.writeConfig != "" {
		fmt.Fprintf(out, "  wrote %s: run `webhookdb serve -c %s`\n", o.writeConfig, o.writeConfig)
	}
	fmt.Fprintln(out, "fake-github: ready; Ctrl-C stops it")
}
