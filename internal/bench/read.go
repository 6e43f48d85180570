package bench

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/webhookdb/webhookdb/ghfake"
)

// The read part's world: one busy repository whose pull requests fill
// whole pages of 100, whatever --size and --quick say, so every run
// measures the same reads. Its children are few: the pulls list does not
// show them, and they would only lengthen the backfill before it.
const (
	readPulls   = 300
	readPerPage = 100
	readRepo    = "repo-0"
)

// readURL is page of the pulls list below base, the API root of a side.
func readURL(base string, page int) string {
	return base + "repos/" + benchOrg + "/" + readRepo + "/pulls?state=all&per_page=" + strconv.Itoa(readPerPage) +
		"&page=" + strconv.Itoa(page)
}

func readSeed() *ghfake.SeedOptions {
	return &ghfake.SeedOptions{Seed: 21, Accounts: 1, Users: 8, ReposPerAccount: 1, PullsPerRepo: readPulls,
		IssuesPerRepo: 1, FilesPerPull: 1, CommentsPerIssue: 1, LabelsPerRepo: 8, MilestonesPerRepo: 3,
		ReviewsPerPull: 1, ReviewCommentsPerPull: 1, NoInstall: true}
}

// readPart backfills its own world into a fresh replica, then reads the
// pulls list from webhookdb's /api/v3 and the same pages from ghfake's
// API, in alternating halves of the phase so that a drift of the machine
// reaches both sides alike.
func readPart(ctx context.Context, o Options, r *Result) error {
	// ghfake at its own speed: no latency, a budget no read can spend.
	gh, err := ghfake.New(ghfake.Options{RateLimit: 1_000_000_000, Seed: readSeed()})
	if err != nil {
		return fmt.Errorf("seed ghfake: %w", err)
	}
	defer gh.Close()
	if err := gh.Start(); err != nil {
		return fmt.Errorf("start ghfake: %w", err)
	}
	gh.SetLatency(0, 0)
	if n := len(gh.World().PullRequests(benchOrg, readRepo)); n != readPulls {
		return fmt.Errorf("the read world has %d pull requests in %s/%s, not %d", n, benchOrg, readRepo, readPulls)
	}
	d, err := freshDatabase(ctx, o.Binary, o.DatabaseURL, o.Name+"_read", o.Dir)
	if err != nil {
		return err
	}
	defer d.close()
	srv, err := startServe(ctx, procConfig{bin: o.Binary, dir: o.Dir, name: "read", prefix: o.Name, dbURL: d.url, redisURL: o.RedisURL,
		gh: gh, workers: o.Workers, conc: o.InstallationConcurrency})
	if err != nil {
		return err
	}
	defer srv.stop()
	gh.SetWebhookURL(srv.url() + "/replication")
	o.Log.Info().Int("pull_requests", readPulls).Msg("bench: read, backfill of its replica")
	in, dl, err := gh.InstallApp(ctx, benchOrg, nil)
	switch {
	case err != nil:
		return fmt.Errorf("install the app on %s: %w", benchOrg, err)
	case dl == nil || !dl.OK():
		return fmt.Errorf("serve did not accept installation.created: %+v", dl)
	}
	bound := 150 * time.Second
	if o.Quick {
		bound = 45 * time.Second
	}
	if err := waitIdle(ctx, d, bound); err != nil {
		return err
	}
	var failed int
	if err := d.db.QueryRowContext(ctx, `SELECT count(*) FROM scan WHERE status <> 'done'`).Scan(&failed); err != nil {
		return fmt.Errorf("read the scans' outcome: %w", err)
	}
	if failed > 0 {
		return fmt.Errorf("%d scans of the read world did not end done", failed)
	}
	// One installation token for both sides: webhookdb asks ghfake once
	// whether it sees the repository and keeps the answer a minute.
	tok := gh.InstallationToken(in.GetID())
	want := pageLengths(readPulls, readPerPage)
	sides := []*reader{newReader("webhookdb", srv.url()+"/api/v3/", tok, o.Senders), newReader("ghfake", gh.APIURL(), tok, o.Senders)}
	for _, s := range sides {
		defer s.close()
		// Warm-up: every page once, checked strictly, then all clients
		// briefly, so the timed halves start with open connections and
		// credentials webhookdb has confirmed.
		if err := s.warm(ctx, want); err != nil {
			return err
		}
		if _, err := s.run(ctx, want, o.Senders, o.Phase/8); err != nil {
			return fmt.Errorf("warm-up of %s: %w", s.name, err)
		}
	}
	// The timed halves, 0 webhookdb and 1 ghfake, alternate.
	var got [2]phase
	for i, half := range []int{0, 1, 0, 1} {
		o.Log.Info().Str("side", sides[half].name).Int("clients", o.Senders).Dur("for", o.Phase/2).Int("half", i+1).Msg("bench: read")
		p, err := sides[half].run(ctx, want, o.Senders, o.Phase/2)
		if err != nil {
			return fmt.Errorf("read from %s: %w", sides[half].name, err)
		}
		got[half].sent += p.sent
		got[half].elapsed += p.elapsed
		got[half].latencies = append(got[half].latencies, p.latencies...)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	rd := &r.Read
	rd.PullsPerS, rd.GhfakePullsPerS = round(got[0].perS()), round(got[1].perS())
	rd.P50Ms, rd.P99Ms = round(got[0].quantileMs(0.50)), round(got[0].quantileMs(0.99))
	rd.GhfakeP50Ms, rd.GhfakeP99Ms = round(got[1].quantileMs(0.50)), round(got[1].quantileMs(0.99))
	rd.Reads, rd.GhfakeReads = ptr(got[0].sent), ptr(got[1].sent)
	rd.Ratio = ratio(rd.PullsPerS, rd.GhfakePullsPerS)
	return nil
}

// pageLengths are the lengths of pages 1..last of a list of items.
func pageLengths(items, per int) []int {
	var out []int
	for left := items; left > 0; left -= per {
		out = append(out, min(left, per))
	}
	return out
}

// reader reads one side's pulls list over keep-alive connections.
type reader struct {
	name, base, token string
	client            *http.Client
}

func newReader(name, base, token string, clients int) *reader {
	tr := &http.Transport{MaxIdleConns: clients * 2, MaxIdleConnsPerHost: clients * 2, MaxConnsPerHost: clients,
		IdleConnTimeout: time.Minute, DisableCompression: true}
	return &reader{name: name, base: base, token: token, client: &http.Client{Transport: tr, Timeout: 60 * time.Second}}
}

func (rd *reader) close() { rd.client.Transport.(*http.Transport).CloseIdleConnections() }

// get reads page into buf and checks it is a 200 JSON array of n items.
func (rd *reader) get(ctx context.Context, page, n int, buf *bytes.Buffer) error {
	u := readURL(rd.base, page)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("build GET %s: %w", u, err)
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("Authorization", "Bearer "+rd.token)
	resp, err := rd.client.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	buf.Reset()
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return fmt.Errorf("GET %s: read the answer: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d %.300s", u, resp.StatusCode, buf.Bytes())
	}
	got, err := arrayLen(buf.Bytes())
	switch {
	case err != nil:
		return fmt.Errorf("GET %s: 200 but %w: %.300s", u, err, buf.Bytes())
	case got != n:
		return fmt.Errorf("GET %s: 200 with %d items, not %d: %.300s", u, got, n, buf.Bytes())
	}
	return nil
}

// warm reads every page once and checks each is valid JSON too (the timed
// loops only count the items, which costs the bench less).
func (rd *reader) warm(ctx context.Context, want []int) error {
	var buf bytes.Buffer
	for i, n := range want {
		if err := rd.get(ctx, i+1, n, &buf); err != nil {
			return fmt.Errorf("warm-up of %s: %w", rd.name, err)
		}
		if !json.Valid(buf.Bytes()) {
			return fmt.Errorf("warm-up of %s: page %d is not valid JSON: %.300s", rd.name, i+1, buf.Bytes())
		}
	}
	return nil
}

// run loops clients over the pages until dur passes; the first failed
// read ends the phase.
func (rd *reader) run(ctx context.Context, want []int, clients int, dur time.Duration) (phase, error) {
	ctx, cancel := context.WithTimeout(ctx, dur)
	defer cancel()
	lats, errs := make([][]time.Duration, clients), make([]error, clients)
	var wg sync.WaitGroup
	t0 := time.Now()
	for c := range clients {
		wg.Go(func() {
			var buf bytes.Buffer
			for i := c; ctx.Err() == nil; i++ {
				page, t := i%len(want)+1, time.Now()
				// The phase's end does not cut a read short: the one in
				// flight is answered and counted.
				if errs[c] = rd.get(context.WithoutCancel(ctx), page, want[page-1], &buf); errs[c] != nil {
					cancel()
					return
				}
				lats[c] = append(lats[c], time.Since(t))
			}
		})
	}
	wg.Wait()
	p := phase{elapsed: time.Since(t0), latencies: slices.Concat(lats...)}
	p.sent = len(p.latencies)
	return p, cmp.Or(errs...)
}

// arrayLen is the number of elements of the JSON array b, found by
// matching brackets outside strings: cheaper than decoding a page of 100
// pull requests, and enough to tell a short or cut page from a full one.
func arrayLen(b []byte) (int, error) {
	b = bytes.Trim(b, " \t\r\n")
	if len(b) < 2 || b[0] != '[' {
		return 0, errors.New("not a JSON array")
	}
	// stack holds the closing brackets awaited; cur says whether the
	// element being read has begun.
	stack, n, cur := []byte{']'}, 0, false
	for i := 1; i < len(b); i++ {
		switch c := b[i]; c {
		case ' ', '\t', '\n', '\r':
			continue
		case '"':
			// Strings are most of a page: jump to their end.
			if i = stringEnd(b, i+1); i < 0 {
				return 0, errors.New("a JSON array cut short in a string")
			}
		case '[', '{':
			stack = append(stack, c+2) // ']' and '}' in ASCII
		case ']', '}':
			if stack[len(stack)-1] != c {
				return 0, fmt.Errorf("a JSON array with a stray %q at byte %d", c, i)
			}
			if stack = stack[:len(stack)-1]; len(stack) == 0 {
				if i+1 != len(b) || (!cur && n > 0) {
					return 0, fmt.Errorf("a JSON array with a trailing comma or more after its end at byte %d", i)
				}
				if cur {
					n++
				}
				return n, nil
			}
		case ',':
			if len(stack) == 1 {
				if !cur {
					return 0, fmt.Errorf("a JSON array with an empty element at byte %d", i)
				}
				n, cur = n+1, false
				continue
			}
		}
		cur = true
	}
	return 0, errors.New("a JSON array cut short")
}

// stringEnd is the index of the quote that ends the string starting at
// i (the first one not escaped by an odd run of backslashes), -1 if none.
func stringEnd(b []byte, i int) int {
	for {
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			return -1
		}
		j += i
		k := j
		for k > i && b[k-1] == '\\' {
			k--
		}
		if (j-k)%2 == 0 {
			return j
		}
		i = j + 1
	}
}
