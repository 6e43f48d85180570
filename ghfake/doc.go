// Package ghfake is a GitHub simulator for tests, the demo and the
// benchmarks. It serves the REST v3 API under /api/v3/ and the web side
// (OAuth) at the root, from a deterministic seeded world, with the same
// URLs, JSON shapes (go-github v60 types plus the null and empty keys
// GitHub sends), headers, status codes and failure modes as GitHub, and
// sends the app's webhooks, signed, to a configured URL.
//
// Typical use in a test:
//
//	srv, err := ghfake.New(ghfake.Options{Seed: &ghfake.SeedOptions{Accounts: 1, ReposPerAccount: 2, PullsPerRepo: 5}})
//	err = srv.Start()
//	defer srv.Close()
//	cfg := srv.GitHubConfig()  // go-githubapp configuration pointing here
//	srv.SetWebhookURL(receiverURL)
//	pr, d, err := srv.OpenPullRequest(ctx, "org-0", "repo-0", ghfake.NewPull{Title: "x"})
//	// d is the delivery: d.GUID, d.StatusCode (the receiver's answer), d.Payload
//	want := srv.World().PullRequests("org-0", "repo-0") // compare a replica with it
//	n := srv.Stats().ByInstallation[id].Requests       // API calls a feature made
//
// What it does, in short:
//   - Seeded world: organizations org-N with users user-N as members,
//     repositories repo-N, pulls and issues sharing numbers, files
//     (derived on demand), comments, reviews, review comments, labels,
//     milestones; every seeded organization installs the app on all
//     repositories unless SeedOptions.NoInstall.
//   - App JWT (RS256, iss, at most 10 minutes) on /app routes; installation
//     tokens (POST /app/installations/{id}/access_tokens, or
//     InstallationToken) that expire after TokenTTL and reach only their
//     installation's repositories (404 elsewhere); user tokens (OAuth flow,
//     or UserToken) that reach what the user and the app both can.
//   - Paging (per_page up to 100, Link with prev/next/last/first), ETag on
//     every GET, bound to the token that received it as on GitHub, and
//     Last-Modified where the answer has an updated_at; 304 for a matching
//     If-None-Match or If-Modified-Since, without spending rate limit.
//   - Primary rate limit per installation, user, app or IP (anonymous: 60),
//     with X-RateLimit-* headers, 403 or 429 when spent; secondary limits
//     (concurrency, points per minute, or on demand) as 403 or 429, with
//     Retry-After only sometimes (ratelimit.go, SetRateLimitAnswers).
//   - Faults: SetLatency, SetFailureRate, FailNext, HangNext.
//   - Mutations (OpenPullRequest, MergePullRequest, TransferIssue, ...)
//     that change the world and deliver the webhook synchronously (the
//     receiver has 10 seconds, then the delivery is "timed out"); the
//     deliveries of the last 3 days are listed and redelivered through
//     /app/hook/deliveries and Deliveries/Redeliver, a redelivery sent in
//     the background after the 202 (WaitRedeliveries). Simulate makes
//     random realistic activity.
//   - Accounting: Stats (also GET /_fake/stats), ResetStats.
//   - Control routes POST /_fake/{action} for scripts (see ControlRequest).
//
// The clock is Options.Now plus Advance; token expiry and rate-limit
// windows follow it. Production code never imports this package.
//
// # Files
//
// The code is split by GitHub resource. For a resource R (users,
// installations, repositories, issues, pulls, labels, milestones,
// comments, reviews, review_comments):
//   - R.go holds the read side: R's records in the compact world, how they
//     render as GitHub's JSON, and the REST handlers that serve them.
//   - R_mutate.go holds the write side: the exported mutations that change
//     R as people do on GitHub and send the webhook GitHub would send.
//
// What every resource shares has a file of its own:
//   - ghfake.go: Options, Server, New, listening, configuration, and the
//     exported fault, limit and accounting knobs.
//   - world.go (the world and its ids), seed.go (the seeded world).
//   - api.go: the routes and the request pipeline (faults, ETag and 304,
//     rate-limit headers); auth.go: the JWT and tokens, who may read what;
//     conditional.go: ETag, Last-Modified and 304;
//     paging.go: page, per_page, Link and the list parameters; cache.go:
//     the list and page caches; render.go: the JSON helpers.
//   - mutate.go: options, the sender, lookups and inRepo, the preamble of
//     every repository mutation; hooks.go: webhook events, signing and
//     sending; deliveries.go: recorded deliveries and /app/hook/deliveries.
//   - control.go (faults, rate limits, tokens, stats), web.go (OAuth and
//     /_fake control routes), inspect.go (World, the read-only view for
//     tests), simulate.go (random activity).
package ghfake
