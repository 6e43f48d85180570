package jobs

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/palantir/go-githubapp/githubapp"

	"github.com/webhookdb/webhookdb/ghfake"
)

func TestRateLimitFromResponse(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	reset := now.Add(40 * time.Minute)
	hdr := func(kv ...string) http.Header {
		h := http.Header{"Content-Type": {"application/json"}}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	spent := []string{"X-RateLimit-Remaining", "0", "X-RateLimit-Reset", fmt.Sprint(reset.Unix())}
	left := []string{"X-RateLimit-Remaining", "4000", "X-RateLimit-Reset", fmt.Sprint(reset.Unix())}
	tests := []struct {
		name          string
		status        int
		header        http.Header
		message       string
		wantOK        bool
		wantUntil     time.Time
		wantSecondary bool
	}{
		{"primary 403", 403, hdr(spent...), "API rate limit exceeded for installation ID 1.", true, reset, false},
		{"primary 429", 429, hdr(spent...), "API rate limit exceeded for installation ID 1.", true, reset, false},
		{"secondary 403 with Retry-After", 403, hdr(append(left, "Retry-After", "30")...), "You have exceeded a secondary rate limit.", true, now.Add(30 * time.Second), true},
		{"secondary 429 with Retry-After", 429, hdr(append(left, "Retry-After", "30")...), "You have exceeded a secondary rate limit.", true, now.Add(30 * time.Second), true},
		{"secondary 403 without Retry-After waits a minute, not the primary reset", 403, hdr(left...), "You have exceeded a secondary rate limit.", true, now.Add(time.Minute), true},
		{"secondary 429 without Retry-After", 429, hdr(left...), "You have exceeded a secondary rate limit.", true, now.Add(time.Minute), true},
		{"secondary told by its documentation URL", 403, hdr(left...), "slow down https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits", true, now.Add(time.Minute), true},
		{"bare 429", 429, hdr(), "", true, now.Add(time.Minute), true},
		{"Retry-After wins over the reset", 429, hdr(append(spent, "Retry-After", "5")...), "", true, now.Add(5 * time.Second), false},
		{"Retry-After as a date", 429, hdr("Retry-After", now.Add(90*time.Second).UTC().Format(http.TimeFormat)), "", true, now.Add(90 * time.Second), true},
		{"403 refusal is no limit", 403, hdr(left...), "Resource not accessible by integration", false, time.Time{}, false},
		{"500 is no limit", 500, hdr(spent...), "", false, time.Time{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rl, ok := RateLimitFromResponse(7, &http.Response{StatusCode: tt.status, Header: tt.header}, tt.message, now)
			if ok != tt.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tt.wantOK)
			}
			if !ok {
				return
			}
			if !rl.Until.Equal(tt.wantUntil) || rl.Secondary != tt.wantSecondary || rl.InstallationID != 7 {
				t.Errorf("got until %s secondary %v inst %d; want until %s secondary %v", rl.Until, rl.Secondary, rl.InstallationID, tt.wantUntil, tt.wantSecondary)
			}
		})
	}
}

// limitWatch sees every API request of the jobs' clients: it counts the
// ones sent while the installation is paused for a rate limit, after the
// limited answer has had time to pause it (requests already on their way
// then are not the client's fault), and can act before a request.
type limitWatch struct {
	e           *engine
	inst        int64
	mu          sync.Mutex
	lastLimited time.Time
	violations  atomic.Int64
	requests    atomic.Int64
	before      func(n int64) // called with the request's number, from 1
}

func (w *limitWatch) middleware(next http.RoundTripper) http.RoundTripper {
	return roundTrip(func(req *http.Request) (*http.Response, error) {
		// The app's JWT calls have their own budget.
		appCall := strings.HasPrefix(req.URL.Path, "/app") || strings.HasSuffix(req.URL.Path, "/installation")
		if !appCall {
			n := w.requests.Add(1)
			if w.before != nil {
				w.before(n)
			}
			if until, err := w.e.pausedUntil(req.Context(), w.inst); err == nil && !until.IsZero() {
				w.mu.Lock()
				if time.Since(w.lastLimited) > 250*time.Millisecond {
					w.violations.Add(1)
				}
				w.mu.Unlock()
			}
		}
		resp, err := next.RoundTrip(req)
		if err == nil && (resp.StatusCode == 403 || resp.StatusCode == 429) {
			w.mu.Lock()
			w.lastLimited = time.Now()
			w.mu.Unlock()
		}
		return resp, err
	})
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// watchedHarness is a harness whose GitHub clients go through a limitWatch.
func watchedHarness(t *testing.T, opts ghfake.Options) (*harness, *limitWatch) {
	t.Helper()
	h := newHarness(t, opts, nil)
	w := &limitWatch{inst: h.inst}
	cc, err := githubapp.NewDefaultCachingClientCreator(h.gh.GitHubConfig(), githubapp.WithClientUserAgent("webhookdb-test"),
		githubapp.WithClientMiddleware(w.middleware))
	if err != nil {
		t.Fatal(err)
	}
	h.deps.GitHub = cc
	h.sched = NewScheduler(h.deps)
	w.e = newEngine(h.deps)
	return h, w
}

var limitSeed = &ghfake.SeedOptions{Seed: 5, Accounts: 1, Users: 2, ReposPerAccount: 1, PullsPerRepo: 4,
	IssuesPerRepo: 120, FilesPerPull: 120, CommentsPerIssue: 1, LabelsPerRepo: 2, MilestonesPerRepo: 1,
	ReviewsPerPull: 1, ReviewCommentsPerPull: 1}

// TestRateLimitAnswersPauseAndResume: a repository load against a GitHub
// that answers its limits as 403 or 429, with Retry-After or without,
// pauses the installation, sends nothing while it is paused, and finishes
// with every page done.
func TestRateLimitAnswersPauseAndResume(t *testing.T) {
	tests := []struct {
		name                string
		tooMany, retryAfter float64 // ghfake's shares
		primary             bool    // a small budget in short windows, else triggered secondary limits
		secondary           int
	}{
		{"primary limit answered 429", 1, 0, true, 0},
		{"primary limit answered 403 and 429", 0, 0, true, 0},
		{"secondary limit 429 with Retry-After", 1, 1, false, 3},
		{"secondary limit 429 without Retry-After", 1, -1, false, 2},
		{"secondary limit 403 or 429, Retry-After or not", 0, 0, false, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			opts := ghfake.Options{Seed: limitSeed, TooManyRequestsShare: tt.tooMany, SecondaryRetryAfterShare: tt.retryAfter}
			if tt.primary {
				// The reset GitHub announces is 2s away: several windows
				// pass during the load, each refilled by ghfake itself.
				opts.RateLimit, opts.RateLimitWindow = 12, 2*time.Second
			}
			h, w := watchedHarness(t, opts)
			// GitHub's "at least a minute" when a secondary limit names
			// no wait, shortened so that the test waits seconds.
			h.deps.SecondaryMinWait = time.Second
			h.gh.SetSecondaryLimit(ghfake.SecondaryLimit{RetryAfter: time.Second})
			owner, name := h.repo()
			if !tt.primary {
				// The repository first, so the limits hit the pages.
				if _, err := NewSyncer(h.deps).Sync(ctx, ScanRequest{Kind: JobSyncRepository, InstallationID: h.inst, Owner: owner, Repo: name}); err != nil {
					t.Fatal(err)
				}
				h.gh.TriggerSecondaryLimit(tt.secondary)
			}
			h.start(6)
			h.scan(ScanRequest{Kind: JobSyncRepository, Owner: owner, Repo: name, Children: true, RequestedBy: "test"})
			h.waitIdle(2 * time.Minute)
			h.assertAllDone()
			var notDone int
			if err := h.deps.DB.QueryRow(`SELECT count(*) FROM scan_page WHERE status <> 'done'`).Scan(&notDone); err != nil {
				t.Fatal(err)
			}
			if notDone != 0 {
				t.Errorf("%d pages not done", notDone)
			}
			st := h.gh.Stats().ByInstallation[h.inst]
			switch {
			case tt.primary && (st.RateLimited == 0 || st.Requests <= 2*12):
				t.Errorf("%+v: the load did not run into the limit over several windows", st)
			case !tt.primary && h.gh.Stats().Total.RateLimited != tt.secondary:
				t.Errorf("%d rate-limited answers, want the %d triggered", h.gh.Stats().Total.RateLimited, tt.secondary)
			}
			if v := w.violations.Load(); v != 0 {
				t.Errorf("%d requests sent while the installation was paused", v)
			}
			t.Logf("%d requests, %d rate-limited", st.Requests, st.RateLimited)
		})
	}
}

// TestRefusedTokenIsReplaced: GitHub refuses the installation's token in
// the middle of a load (revoked); the page is sent again with a new token
// and the load ends done, and the new token serves the next jobs.
func TestRefusedTokenIsReplaced(t *testing.T) {
	h, w := watchedHarness(t, ghfake.Options{Seed: limitSeed})
	var revoked atomic.Int64
	w.before = func(n int64) {
		// Twice: the second time it is the replacement that is refused.
		if n == 5 || n == 25 {
			h.gh.ExpireTokens()
			revoked.Add(1)
		}
	}
	h.start(4)
	owner, name := h.repo()
	id := h.scan(ScanRequest{Kind: JobSyncRepository, Owner: owner, Repo: name, Children: true, RequestedBy: "test"})
	h.waitIdle(2 * time.Minute)
	h.assertAllDone()
	st, err := h.sched.Status(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != "done" || st.PagesFailed != 0 {
		t.Errorf("status %+v, want done without failed pages", st)
	}
	var failed int
	if err := h.deps.DB.QueryRow(`SELECT count(*) FROM scan WHERE status <> 'done' OR incomplete OR pages_failed > 0`).Scan(&failed); err != nil {
		t.Fatal(err)
	}
	if failed != 0 {
		t.Errorf("%d scans failed or incomplete", failed)
	}
	stats := h.gh.Stats()
	if revoked.Load() != 2 {
		t.Fatalf("tokens revoked %d times, want 2: the load was too short", revoked.Load())
	}
	tokens, refused := 0, 0
	for tok, c := range stats.ByToken {
		if tok != "jwt" && tok != "" && c.Requests > 0 {
			tokens++
			refused += c.Errors
		}
	}
	// Each revocation meets at least one refused request, and at most one
	// per job then in flight: the jobs share the replacement.
	if refused < 2 || refused > 2*h.deps.InstallationConcurrency {
		t.Errorf("%d refused requests, want from 2 to %d", refused, 2*h.deps.InstallationConcurrency)
	}
	if tokens < 3 {
		t.Errorf("%d installation tokens used, want the first and two replacements", tokens)
	}
}
