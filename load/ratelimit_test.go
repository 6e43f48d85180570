package load

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/webhookdb/webhookdb/ghfake"
	"github.com/webhookdb/webhookdb/process"
)

// TestRateLimitAnswers503: whichever limit GitHub answers, primary or
// secondary, as 403 or 429, with or without Retry-After, and whether it
// answers the check of the caller's token or the inline sync, the load
// answers 503 with Retry-After (never 502).
func TestRateLimitAnswers503(t *testing.T) {
	const retryAfter = 7 // ghfake's Retry-After, when it sends one
	hourly := func(secs int) bool { return secs >= 1 && secs <= 3601 }
	tests := []struct {
		name string
		// ghfake.Options.TooManyRequestsShare and SecondaryRetryAfterShare.
		tooMany, withRetryAfter float64
		// spent: "caller" spends the caller's budget, "installation" the
		// installation's; "secondary" answers every request with the
		// secondary limit.
		spent string
		// stage is the first GitHub call of the load, which meets the
		// limit: "app" finds the repository's installation with the app's
		// JWT (nothing stored), "check" confirms the caller's token (the
		// installation stored), "inline" syncs (the caller confirmed).
		stage     string
		wantSecs  func(int) bool
		wantSpent bool // X-RateLimit-Remaining: 0 in the answer
	}{
		{"caller's budget, 403", -1, 0, "caller", "check", hourly, true},
		{"caller's budget, 429", 1, 0, "caller", "check", hourly, true},
		{"installation's budget inline, 403", -1, 0, "installation", "inline", hourly, true},
		{"installation's budget inline, 429", 1, 0, "installation", "inline", hourly, true},
		{"secondary at the app's lookup, 429 without Retry-After", 1, -1, "secondary", "app", func(s int) bool { return s == 60 }, false},
		{"secondary at the app's lookup, 403 with Retry-After", -1, 1, "secondary", "app", func(s int) bool { return s == retryAfter }, false},
		{"secondary at the token check, 403 with Retry-After", -1, 1, "secondary", "check", func(s int) bool { return s == retryAfter }, false},
		{"secondary at the token check, 429 with Retry-After", 1, 1, "secondary", "check", func(s int) bool { return s == retryAfter }, false},
		{"secondary at the token check, 429 without Retry-After", 1, -1, "secondary", "check", func(s int) bool { return s == 60 }, false},
		{"secondary inline, 403 without Retry-After", -1, -1, "secondary", "inline", func(s int) bool { return s == 60 }, false},
		{"secondary inline, 429 with Retry-After", 1, 1, "secondary", "inline", func(s int) bool { return s == retryAfter }, false},
		{"secondary inline, 429 without Retry-After", 1, -1, "secondary", "inline", func(s int) bool { return s == 60 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, harnessOptions{seed: ghfake.SeedOptions{PullsPerRepo: 1, IssuesPerRepo: 1}})
			h.gh.SetRateLimitAnswers(tt.tooMany, tt.withRetryAfter)
			h.gh.SetSecondaryLimit(ghfake.SecondaryLimit{RetryAfter: retryAfter * time.Second})
			tok := h.gh.UserToken("user-0")
			_, issues, _ := h.numbers(t, "org-0", "repo-0", h.inst0)
			if tt.stage != "app" {
				// The installation and its repositories stored, as its
				// webhooks would: the app's JWT is not needed.
				storeInstallation(t, h, h.inst0)
			}
			if tt.stage == "inline" {
				// user-0's access to the repository confirmed (remembered
				// for a while): the load asks GitHub nothing before its
				// inline sync.
				if a := h.post(t, "/load/repos/org-0/repo-0?inline=true", tok); a.code != http.StatusOK {
					t.Fatalf("confirming the caller: %d %s", a.code, a.raw)
				}
			}
			before := h.gh.Stats().Total.RateLimited
			switch tt.spent {
			case "caller":
				h.gh.SpendRateLimit(tok)
			case "installation":
				h.gh.SpendRateLimit(h.gh.InstallationToken(h.inst0))
			case "secondary":
				h.gh.TriggerSecondaryLimit(100)
			}
			a := h.post(t, fmt.Sprintf("/load/repos/org-0/repo-0/issues/%d?inline=true", issues[0]), tok)
			if a.code != http.StatusServiceUnavailable {
				t.Fatalf("got %d %s, want 503", a.code, a.raw)
			}
			secs, err := strconv.Atoi(a.header.Get("Retry-After"))
			if err != nil || !tt.wantSecs(secs) {
				t.Errorf("Retry-After %q is not the wait GitHub asked for", a.header.Get("Retry-After"))
			}
			if got := a.header.Get("X-RateLimit-Remaining") == "0"; got != tt.wantSpent {
				t.Errorf("X-RateLimit-Remaining %q, want spent=%v", a.header.Get("X-RateLimit-Remaining"), tt.wantSpent)
			}
			if tt.stage == "inline" && a.body["retry_after"] == nil {
				t.Errorf("body %s does not say the seconds", a.raw)
			}
			if n := h.gh.Stats().Total.RateLimited - before; n != 1 {
				t.Errorf("GitHub answered %d rate-limited requests, want 1: the first limit stops the load", n)
			}
		})
	}
}

// storeInstallation writes installation inst and its repositories as
// ghfake has them.
func storeInstallation(t *testing.T, h *harness, inst int64) {
	t.Helper()
	ctx := context.Background()
	m := process.Meta{Via: process.ViaAPI, FetchedAt: time.Now()}
	for _, in := range h.gh.World().Installations() {
		if in.GetID() != inst {
			continue
		}
		if _, err := process.Installation(ctx, env.DB, in, m); err != nil {
			t.Fatal(err)
		}
		if err := process.SetInstallationRepositories(ctx, env.DB, inst, h.gh.World().InstallationRepositories(inst), m); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("ghfake has no installation %d", inst)
}
