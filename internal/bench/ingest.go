package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// maxRate bounds how many deliveries are pre-built per second of a phase:
// well above what a PostgreSQL on a small machine commits. A phase that
// uses them all ends early and its rate counts what was sent.
const maxRate = 3000

// phase is what a timed phase of senders measured.
type phase struct {
	sent      int
	elapsed   time.Duration
	latencies []time.Duration // of the 2xx answers
	errors    int             // non-2xx answers and failed requests
	firstErr  string
	ok        []string // GUIDs answered 2xx
}

func (p phase) perS() float64 { return float64(p.sent) / p.elapsed.Seconds() }

// quantile of the 2xx answer times, in ms (nearest rank).
func (p phase) quantileMs(q float64) float64 {
	if len(p.latencies) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), p.latencies...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(float64(len(s))*q+0.5) - 1
	i = min(max(i, 0), len(s)-1)
	return float64(s[i]) / float64(time.Millisecond)
}

// poster sends deliveries to one serve process over keep-alive
// connections, one per sender.
type poster struct {
	url    string
	client *http.Client
}

func newPoster(base string, senders int) *poster {
	tr := &http.Transport{MaxIdleConns: senders * 2, MaxIdleConnsPerHost: senders * 2, MaxConnsPerHost: senders,
		IdleConnTimeout: time.Minute, DisableCompression: true}
	return &poster{url: base + "/replication", client: &http.Client{Transport: tr, Timeout: 60 * time.Second}}
}

func (p *poster) close() { p.client.Transport.(*http.Transport).CloseIdleConnections() }

// post sends one delivery as GitHub does and reads the whole answer.
func (p *poster) post(ctx context.Context, d delivery) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(d.body))
	if err != nil {
		return 0, "", fmt.Errorf("build the request: %w", err)
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "GitHub-Hookshot/bench")
	h.Set("X-GitHub-Event", d.event)
	h.Set("X-GitHub-Delivery", d.guid)
	h.Set("X-Hub-Signature-256", d.signature)
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("post delivery %s: %w", d.guid, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return resp.StatusCode, "", fmt.Errorf("read the answer to %s: %w", d.guid, err)
	}
	return resp.StatusCode, string(b), nil
}

// run sends ds from senders goroutines until dur passes or ds run out.
func (p *poster) run(ctx context.Context, ds []delivery, senders int, dur time.Duration) phase {
	ctx, cancel := context.WithTimeout(ctx, dur)
	defer cancel()
	var next atomic.Int64
	type local struct {
		lat   []time.Duration
		ok    []string
		errs  int
		first string
	}
	locals := make([]local, senders)
	var wg sync.WaitGroup
	start := time.Now()
	for s := 0; s < senders; s++ {
		wg.Add(1)
		go func(l *local) {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= len(ds) {
					return
				}
				t0 := time.Now()
				// The phase's end does not cut a request short: the one in
				// flight is answered and counted.
				code, body, err := p.post(context.WithoutCancel(ctx), ds[i])
				took := time.Since(t0)
				switch {
				case err != nil:
					l.errs++
					if l.first == "" {
						l.first = err.Error()
					}
				case code < 200 || code > 299:
					l.errs++
					if l.first == "" {
						l.first = fmt.Sprintf("%d %s", code, body)
					}
				default:
					l.lat = append(l.lat, took)
					l.ok = append(l.ok, ds[i].guid)
				}
			}
		}(&locals[s])
	}
	wg.Wait()
	out := phase{elapsed: time.Since(start)}
	for _, l := range locals {
		out.latencies = append(out.latencies, l.lat...)
		out.ok = append(out.ok, l.ok...)
		out.errors += l.errs
		if out.firstErr == "" {
			out.firstErr = l.first
		}
	}
	out.sent = len(out.latencies) + out.errors
	return out
}

// ingestRun is the ingest part's raw measurements.
type ingestRun struct {
	warm, busy, single phase
}

// runIngest warms serve up, then times senders, then one sender. Each
// phase's deliveries are built and signed before it starts.
func runIngest(ctx context.Context, o Options, srv *serveProc, b *builder, baseline func(string) error) (ingestRun, error) {
	var r ingestRun
	po := newPoster(srv.url(), o.Senders)
	defer po.close()
	ds, err := b.build(min(int(maxRate*o.Phase.Seconds()/2), 2000))
	if err != nil {
		return r, err
	}
	r.warm = po.run(ctx, ds, o.Senders, o.Phase/2)
	if r.warm.sent == 0 || r.warm.errors == r.warm.sent {
		return r, fmt.Errorf("warm-up: no delivery was answered 2xx (%d sent): %s", r.warm.sent, r.warm.firstErr)
	}
	if err := baseline("before"); err != nil {
		return r, err
	}
	if ds, err = b.build(int(maxRate * o.Phase.Seconds())); err != nil {
		return r, err
	}
	o.Log.Info().Int("senders", o.Senders).Dur("for", o.Phase).Msg("bench: ingest")
	r.busy = po.run(ctx, ds, o.Senders, o.Phase)
	ds = nil
	if err := baseline("after"); err != nil {
		return r, err
	}
	if ds, err = b.build(int(maxRate * o.Phase.Seconds() / 2)); err != nil {
		return r, err
	}
	o.Log.Info().Dur("for", o.Phase/2).Msg("bench: ingest, 1 sender")
	r.single = po.run(ctx, ds, 1, o.Phase/2)
	return r, ctx.Err()
}

// lost counts the GUIDs answered 2xx that webhook_delivery does not hold.
func lost(ctx context.Context, d *database, guids []string) (int, error) {
	var n int
	err := d.db.QueryRowContext(ctx, `SELECT count(*) FROM unnest($1::text[]) AS g(id)
		WHERE NOT EXISTS (SELECT 1 FROM webhook_delivery w WHERE w.delivery_id = g.id)`, guids).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count the 2xx deliveries missing from webhook_delivery: %w", err)
	}
	return n, nil
}
