package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/webhookdb/webhookdb/ghfake"
)

// benchOrg is the organization of every bench world (ghfake's first).
const benchOrg = "org-0"

// benchMember is a member of benchOrg who can see its installation.
const benchMember = "user-0"

// worldSeed is a busy organization with pulls pull requests over three
// repositories (fewer when small): files, reviews, review comments, as
// many issues with comments, labels and milestones. The same pulls always
// give the same world.
func worldSeed(pulls int, install bool) *ghfake.SeedOptions {
	repos := min(3, max(1, pulls/20))
	per := func(n int) int { return max(1, (n+repos-1)/repos) }
	return &ghfake.SeedOptions{Seed: 12, Accounts: 1, Users: 8, ReposPerAccount: repos,
		PullsPerRepo: per(pulls), IssuesPerRepo: per(pulls), MaxFilesPerPull: 30, CommentsPerIssue: 2,
		LabelsPerRepo: 8, MilestonesPerRepo: 3, ReviewsPerPull: 1, ReviewCommentsPerPull: 2, NoInstall: !install}
}

// backfillRun is one installation's initial load by a fresh serve.
type backfillRun struct {
	gh         *ghfake.Server
	db         *database
	srv        *serveProc
	inst       int64
	pulls      int
	wall       time.Duration
	finished   bool
	objects    int
	requests   int
	minimum    int
	violations int
	peakMB     float64
}

func (b *backfillRun) close() {
	if b.srv != nil {
		b.srv.stop()
	}
	if b.db != nil {
		b.db.close()
	}
	if b.gh != nil {
		b.gh.Close()
	}
}

// runBackfill starts ghfake seeded with pulls pull requests, a fresh
// database and serve, installs the app (its installation.created webhook
// queues the backfill) and waits until no scan is open, for at most
// bound. The caller closes the run.
func runBackfill(ctx context.Context, o Options, name string, pulls int, latency, bound time.Duration, dir string) (*backfillRun, error) {
	b := &backfillRun{pulls: pulls}
	gh, err := ghfake.New(ghfake.Options{RateLimit: o.RateLimit, Seed: worldSeed(pulls, false)})
	if err != nil {
		return b, fmt.Errorf("seed ghfake: %w", err)
	}
	b.gh = gh
	if err := gh.Start(); err != nil {
		return b, fmt.Errorf("start ghfake: %w", err)
	}
	if b.db, err = freshDatabase(ctx, o.Binary, o.DatabaseURL, o.Name+"_"+name, dir); err != nil {
		return b, err
	}
	if b.srv, err = startServe(ctx, procConfig{bin: o.Binary, dir: dir, name: name, prefix: o.Name, dbURL: b.db.url, redisURL: o.RedisURL,
		gh: gh, workers: o.Workers, conc: o.InstallationConcurrency}); err != nil {
		return b, err
	}
	gh.SetWebhookURL(b.srv.url() + "/replication")
	gh.SetLatency(latency, 0)
	gh.ResetStats()
	o.Log.Info().Str("run", name).Int("pull_requests", pulls).Msg("bench: backfill")
	start := time.Now()
	in, d, err := gh.InstallApp(ctx, benchOrg, nil)
	switch {
	case err != nil:
		return b, fmt.Errorf("install the app on %s: %w", benchOrg, err)
	case d == nil || !d.OK():
		return b, fmt.Errorf("serve did not accept installation.created: %+v", d)
	}
	b.inst = in.GetID()
	b.minimum = gh.World().MinimumRequests(b.inst)
	err = waitIdle(ctx, b.db, bound)
	b.wall = time.Since(start)
	if peak, perr := b.srv.peakRSSMB(); perr == nil {
		b.peakMB = peak
	} else if err == nil {
		err = perr
	}
	st := gh.Stats()
	b.requests = st.ByInstallation[b.inst].Requests
	b.violations = st.Total.RateLimited
	if err != nil {
		return b, err
	}
	b.finished = true
	if err := b.db.db.QueryRowContext(ctx, `SELECT coalesce(sum(items), 0) FROM scan`).Scan(&b.objects); err != nil {
		return b, fmt.Errorf("count the objects the scans wrote: %w", err)
	}
	var failed int
	var why string
	if err := b.db.db.QueryRowContext(ctx, `SELECT count(*), coalesce(max(error), '') FROM scan WHERE status <> 'done'`).Scan(&failed, &why); err != nil {
		return b, fmt.Errorf("read the scans' outcome: %w", err)
	}
	if failed > 0 {
		return b, fmt.Errorf("%d scans did not end done: %s", failed, why)
	}
	return b, nil
}

// waitIdle waits until the database has scans and none is queued or
// running (the product's own record of its work).
func waitIdle(ctx context.Context, d *database, bound time.Duration) error {
	return waitUntil(ctx, bound, "the scans to finish", func() (bool, error) {
		var open, all int
		err := d.db.QueryRowContext(ctx, `SELECT count(*) FILTER (WHERE status IN ('queued', 'running')), count(*) FROM scan`).Scan(&open, &all)
		if err != nil {
			return false, fmt.Errorf("count open scans: %w", err)
		}
		return all > 0 && open == 0, nil
	})
}

// quiet waits until no scan is queued or running, for at most bound.
func quiet(ctx context.Context, d *database, bound time.Duration) error {
	return waitUntil(ctx, bound, "no scan open", func() (bool, error) {
		var open int
		err := d.db.QueryRowContext(ctx, `SELECT count(*) FROM scan WHERE status IN ('queued', 'running')`).Scan(&open)
		if err != nil {
			return false, fmt.Errorf("count open scans: %w", err)
		}
		return open == 0, nil
	})
}

// idealWall is the backfill's lower bound: requests at the latency with
// the allowed concurrency, or the rate limit's bound (whole windows
// waited for beyond the first) when larger. Both in seconds.
func idealWall(requests int, latency time.Duration, conc, limitPerH int) (ideal, bound float64) {
	bound = 0
	if limitPerH > 0 && requests > limitPerH {
		bound = math.Ceil(float64(requests)/float64(limitPerH)-1) * time.Hour.Seconds()
	}
	return max(float64(requests)*latency.Seconds()/float64(conc), bound), bound
}

// rescanRun is a re-scan of the unchanged installation.
type rescanRun struct {
	wall     time.Duration
	spent    int
	requests int
}

// runRescan queues a scan of the whole installation through the load
// route, as a member of the organization asking for a reload does (with
// her user token: checking it spends her budget, not the installation's),
// and waits for it; the primary rate limit the re-scan spent is the
// installation's "used" before and after, from ghfake's /rate_limit.
func runRescan(ctx context.Context, b *backfillRun, bound time.Duration) (rescanRun, error) {
	var r rescanRun
	tok := b.gh.InstallationToken(b.inst)
	used0, err := rateUsed(ctx, b.gh, tok)
	if err != nil {
		return r, err
	}
	before := b.gh.Stats().ByInstallation[b.inst].Requests
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.srv.url()+"/load/installations/"+strconv.FormatInt(b.inst, 10), nil)
	if err != nil {
		return r, fmt.Errorf("build the re-scan request: %w", err)
	}
	member := b.gh.UserToken(benchMember)
	if member == "" {
		return r, fmt.Errorf("no user token for %s, a member of %s", benchMember, benchOrg)
	}
	req.Header.Set("Authorization", "Bearer "+member)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return r, fmt.Errorf("queue the re-scan: %w", err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return r, fmt.Errorf("queue the re-scan: %d %s", resp.StatusCode, body)
	}
	if err := waitIdle(ctx, b.db, bound); err != nil {
		return r, err
	}
	r.wall = time.Since(start)
	// Read before /rate_limit, which ghfake counts as a request too.
	r.requests = b.gh.Stats().ByInstallation[b.inst].Requests - before
	used1, err := rateUsed(ctx, b.gh, tok)
	if err != nil {
		return r, err
	}
	r.spent = used1 - used0
	return r, nil
}

// rateUsed is the installation's spent primary budget, as GitHub's
// /rate_limit (which costs nothing) reports it.
func rateUsed(ctx context.Context, gh *ghfake.Server, tok string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, gh.APIURL()+"rate_limit", nil)
	if err != nil {
		return 0, fmt.Errorf("build the rate_limit request: %w", err)
	}
	req.Header.Set("Authorization", "token "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("read ghfake's rate_limit: %w", err)
	}
	defer resp.Body.Close()
	var out struct {
		Resources struct {
			Core struct {
				Used int `json:"used"`
			} `json:"core"`
		} `json:"resources"`
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("read ghfake's rate_limit: status %d", resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return 0, fmt.Errorf("decode ghfake's rate_limit: %w", err)
	}
	return out.Resources.Core.Used, nil
}
