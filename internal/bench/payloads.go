package bench

import (
	"crypto/hmac"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/webhookdb/webhookdb/ghfake"
)

// payloads are GitHub's own examples (octokit/webhooks, MIT; see
// testdata/payloads/NOTICE), rewritten per delivery.
//
//go:embed testdata/payloads/*.json
var payloads embed.FS

// kinds are the deliveries of a busy repository, in equal shares: issues
// edited and labeled, comments created, pull requests closed and labeled.
var kinds = []struct{ event, action, file string }{
	{"issues", "edited", "issues.edited.json"},
	{"issues", "labeled", "issues.labeled.json"},
	{"issue_comment", "created", "issue_comment.created.json"},
	{"pull_request", "closed", "pull_request.closed.json"},
	{"pull_request", "labeled", "pull_request.labeled.json"},
}

// delivery is one pre-built, pre-signed webhook request.
type delivery struct {
	event, guid, signature string
	body                   []byte
}

// target is an object of the ingest world a delivery is about.
type target struct {
	repo   *repoObjects
	id     int64
	number int
}

// repoObjects are a repository's own objects as payloads carry them: the
// example's shapes with the world's identities, so that objects keyed by
// repository (labels, milestones) never collide across repositories.
type repoObjects struct {
	repo      json.RawMessage
	labels    []json.RawMessage
	milestone json.RawMessage // nil when the repository has none
}

// builder makes deliveries about the objects of a ghfake world, so that
// the follow-up work the product queues (a pull request's files) finds
// them on GitHub.
type builder struct {
	secret    []byte
	inst      int64
	templates []map[string]any
	issues    []target
	pulls     []target
	base      time.Time
	seq       int64
}

func newBuilder(gh *ghfake.Server, inst int64) (*builder, error) {
	b := &builder{secret: []byte(gh.WebhookSecret()), inst: inst,
		// Past enough that a run of any length stays before now, and
		// later than every seeded timestamp, so each delivery is a write.
		base: time.Now().UTC().Add(-48 * time.Hour).Truncate(time.Second)}
	for _, k := range kinds {
		raw, err := payloads.ReadFile("testdata/payloads/" + k.file)
		if err != nil {
			return nil, fmt.Errorf("read payload %s: %w", k.file, err)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("parse payload %s: %w", k.file, err)
		}
		b.templates = append(b.templates, m)
	}
	w := gh.World()
	for _, r := range w.InstallationRepositories(inst) {
		owner, name := r.GetOwner().GetLogin(), r.GetName()
		repo := cloneMap(b.templates[0]["repository"].(map[string]any))
		repo["id"], repo["name"], repo["full_name"], repo["private"] = r.GetID(), name, r.GetFullName(), false
		repo["node_id"] = r.GetNodeID()
		repo["html_url"], repo["url"] = r.GetHTMLURL(), r.GetURL()
		ow := cloneMap(repo["owner"].(map[string]any))
		ow["login"], ow["id"], ow["type"] = owner, r.GetOwner().GetID(), "Organization"
		repo["owner"] = ow
		ro := &repoObjects{repo: mustJSON(repo)}
		for _, l := range w.Labels(owner, name) {
			ro.labels = append(ro.labels, mustJSON(map[string]any{"id": l.GetID(), "node_id": l.GetNodeID(), "url": l.GetURL(),
				"name": l.GetName(), "color": l.GetColor(), "default": false, "description": l.GetDescription()}))
		}
		if ms := w.Milestones(owner, name); len(ms) > 0 {
			if tm, ok := b.templates[0]["issue"].(map[string]any)["milestone"].(map[string]any); ok {
				m := cloneMap(tm)
				m["id"], m["node_id"], m["number"], m["title"] = ms[0].GetID(), ms[0].GetNodeID(), ms[0].GetNumber(), ms[0].GetTitle()
				ro.milestone = mustJSON(m)
			}
		}
		if len(ro.labels) == 0 {
			return nil, fmt.Errorf("the ingest world's %s has no labels", r.GetFullName())
		}
		for _, is := range w.Issues(owner, name) {
			b.issues = append(b.issues, target{repo: ro, id: is.GetID(), number: is.GetNumber()})
		}
		for _, pr := range w.PullRequests(owner, name) {
			b.pulls = append(b.pulls, target{repo: ro, id: pr.GetID(), number: pr.GetNumber()})
		}
	}
	for _, t := range b.templates {
		freezeTemplate(t)
	}
	if len(b.issues) == 0 || len(b.pulls) == 0 {
		return nil, fmt.Errorf("the ingest world of installation %d has %d issues and %d pull requests; it needs both", inst, len(b.issues), len(b.pulls))
	}
	return b, nil
}

// scope gives an issue or pull request the repository's labels and
// milestone in place of the example's.
func (ro *repoObjects) scope(obj map[string]any) {
	if ls, ok := obj["labels"].([]any); ok {
		out := make([]any, 0, len(ls))
		for i := range ls {
			out = append(out, ro.labels[i%len(ro.labels)])
		}
		obj["labels"] = out
	}
	if obj["milestone"] != nil {
		obj["milestone"] = nil
		if ro.milestone != nil {
			obj["milestone"] = ro.milestone
		}
	}
}

// freezeTemplate encodes, once, every part of a payload that build does
// not change, so that encoding a delivery copies them instead of walking
// them again: what keeps building tens of thousands quick.
func freezeTemplate(t map[string]any) {
	for k, v := range t {
		switch k {
		case "issue", "pull_request", "comment":
			obj := v.(map[string]any)
			for ok, ov := range obj {
				switch ok {
				case "labels", "milestone":
				case "base", "head":
					ref := ov.(map[string]any)
					for rk, rv := range ref {
						ref[rk] = mustJSON(rv)
					}
				default:
					obj[ok] = mustJSON(ov)
				}
			}
		default:
			t[k] = mustJSON(v)
		}
	}
}

// mustJSON encodes a value decoded from JSON, which cannot fail.
func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("bench: re-encode a decoded payload: %v", err))
	}
	return b
}

func cloneMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// build makes n deliveries, each with a unique GUID and an updated_at
// later than every one built before, on every core (it runs before the
// timing starts, but a default run builds tens of thousands).
func (b *builder) build(n int) ([]delivery, error) {
	first := b.seq + 1
	b.seq += int64(n)
	out := make([]delivery, n)
	workers := max(1, runtime.NumCPU())
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += workers {
				d, err := b.one(first + int64(i))
				if err != nil {
					errs[w] = err
					return
				}
				out[i] = d
			}
		}(w)
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// one is the delivery of sequence number seq: its kind, object and time
// follow from seq alone.
func (b *builder) one(seq int64) (delivery, error) {
	pick := mix(uint64(seq))
	ki := int(seq) % len(kinds)
	k := kinds[ki]
	at := b.base.Add(time.Duration(seq) * time.Second).Format(time.RFC3339)
	p := cloneMap(b.templates[ki])
	p["installation"] = map[string]any{"id": b.inst, "node_id": fmt.Sprintf("bench-installation-%d", b.inst)}
	var t target
	switch k.event {
	case "pull_request":
		t = b.pulls[pick%uint64(len(b.pulls))]
		pr := cloneMap(p["pull_request"].(map[string]any))
		pr["id"], pr["number"], pr["updated_at"] = t.id, t.number, at
		pr["node_id"] = fmt.Sprintf("bench-pr-%d", t.id)
		for _, side := range []string{"base", "head"} {
			ref := cloneMap(pr[side].(map[string]any))
			ref["repo"] = t.repo.repo
			pr[side] = ref
		}
		t.repo.scope(pr)
		p["pull_request"], p["number"] = pr, t.number
	default:
		t = b.issues[pick%uint64(len(b.issues))]
		is := cloneMap(p["issue"].(map[string]any))
		is["id"], is["number"], is["updated_at"] = t.id, t.number, at
		is["node_id"] = fmt.Sprintf("bench-issue-%d", t.id)
		t.repo.scope(is)
		p["issue"] = is
		if k.event == "issue_comment" {
			c := cloneMap(p["comment"].(map[string]any))
			// A new comment each time: ids far above the seeded ones.
			c["id"], c["created_at"], c["updated_at"] = 9_000_000_000+seq, at, at
			c["node_id"] = fmt.Sprintf("bench-comment-%d", seq)
			p["comment"] = c
		}
	}
	p["repository"] = t.repo.repo
	if _, ok := p["label"]; ok {
		p["label"] = t.repo.labels[0]
	}
	body, err := encode(make([]byte, 0, 32<<10), p)
	if err != nil {
		return delivery{}, fmt.Errorf("encode a %s.%s payload: %w", k.event, k.action, err)
	}
	mac := hmac.New(sha256.New, b.secret)
	mac.Write(body)
	return delivery{event: k.event, guid: uuid(), signature: "sha256=" + hex.EncodeToString(mac.Sum(nil)), body: body}, nil
}

// uuid is a random (version 4) UUID, the shape of GitHub's delivery GUIDs.
func uuid() string {
	h := randomHex(16)
	return h[0:8] + "-" + h[8:12] + "-4" + h[13:16] + "-a" + h[17:20] + "-" + h[20:32]
}

// mix is splitmix64: a spread-out number from seq, so a delivery's object
// follows from its sequence number alone, on any goroutine.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// encode appends v as JSON. The frozen parts (json.RawMessage, already
// compact) are copied as they are: encoding/json would scan each of them
// again, which made building the deliveries slower than sending them.
// Keys are sorted, like encoding/json's.
func encode(buf []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case json.RawMessage:
		return append(buf, x...), nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		buf = append(buf, '{')
		for i, k := range keys {
			if i > 0 {
				buf = append(buf, ',')
			}
			kb, err := json.Marshal(k)
			if err != nil {
				return nil, fmt.Errorf("encode key %q: %w", k, err)
			}
			buf = append(append(buf, kb...), ':')
			if buf, err = encode(buf, x[k]); err != nil {
				return nil, err
			}
		}
		return append(buf, '}'), nil
	case []any:
		buf = append(buf, '[')
		for i, e := range x {
			if i > 0 {
				buf = append(buf, ',')
			}
			var err error
			if buf, err = encode(buf, e); err != nil {
				return nil, err
			}
		}
		return append(buf, ']'), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %T: %w", v, err)
	}
	return append(buf, b...), nil
}
