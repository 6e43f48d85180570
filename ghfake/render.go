package ghfake

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/google/go-github/v60/github"
)

// Rendering turns the compact world into go-github v60 values, filled with
// every field GitHub sends that go-github knows; each resource's file
// renders its own. The caller holds the world lock (read). The JSON
// helpers here add the keys GitHub sends as null, which go-github's
// omitempty would drop.

func ptr[T any](v T) *T { return &v }

func ts(t time.Time) *github.Timestamp {
	if t.IsZero() {
		return nil
	}
	return &github.Timestamp{Time: t.UTC()}
}

// optional is nil for "": GitHub sends an empty body as null.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func formatInt(n int64) string { return strconv.FormatInt(n, 10) }

func nodeID(kind string, id int64) string {
	return base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("0%d:%s%d", len(kind), kind, id)))
}

func (w *world) api() string { return w.base + "/api/v3" }

func (w *world) reactions(u string) *github.Reactions {
	return &github.Reactions{URL: ptr(u + "/reactions"), TotalCount: ptr(0), PlusOne: ptr(0), MinusOne: ptr(0), Laugh: ptr(0),
		Hooray: ptr(0), Confused: ptr(0), Heart: ptr(0), Rocket: ptr(0), Eyes: ptr(0)}
}

func association(it *issue, u *account) string {
	if u == nil {
		return "NONE"
	}
	r := it.repo
	if r.owner == u {
		return "OWNER"
	}
	if r.owner.isOrg {
		for _, m := range r.owner.members {
			if m == u.id {
				return "MEMBER"
			}
		}
	}
	if _, ok := r.collaborators[u.id]; ok {
		return "COLLABORATOR"
	}
	return "NONE"
}

// enc marshals like GitHub writes: no HTML escaping.
func enc(v any) []byte {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		// Only unsupported types fail; every value here is a plain struct.
		return []byte("null")
	}
	return bytes.TrimRight(b.Bytes(), "\n")
}

// member is one key and raw JSON value to add to an object.
type member struct {
	k string
	v []byte
}

var rawNull, rawEmptyList, rawEmptyMap = []byte("null"), []byte("[]"), []byte("{}")

// addMembers appends members to a JSON object in one copy.
func addMembers(obj []byte, ms ...member) []byte {
	if len(ms) == 0 || len(obj) < 2 || obj[len(obj)-1] != '}' {
		return obj
	}
	n := len(obj)
	for _, m := range ms {
		n += len(m.k) + len(m.v) + 4
	}
	out := make([]byte, 0, n)
	out = append(out, obj[:len(obj)-1]...)
	for _, m := range ms {
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = append(out, '"')
		out = append(out, m.k...)
		out = append(out, '"', ':')
		out = append(out, m.v...)
	}
	return append(out, '}')
}

// withNulls appends "key":null members to a JSON object.
func withNulls(obj []byte, keys ...string) []byte {
	ms := make([]member, len(keys))
	for i, k := range keys {
		ms[i] = member{k, rawNull}
	}
	return addMembers(obj, ms...)
}

// withRaw appends "key":raw to a JSON object.
func withRaw(obj []byte, key, raw string) []byte {
	return addMembers(obj, member{key, []byte(raw)})
}

func nullMembers(keys []string) []member {
	ms := make([]member, 0, len(keys)+4)
	for _, k := range keys {
		ms = append(ms, member{k, rawNull})
	}
	return ms
}

// emptyLists adds the named keys as [] where their count is 0, which
// go-github's omitempty would drop.
func emptyLists(ms []member, pairs ...any) []member {
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i].(int) == 0 {
			ms = append(ms, member{pairs[i+1].(string), rawEmptyList})
		}
	}
	return ms
}

// array joins rendered objects into a JSON array.
func array(items [][]byte) []byte {
	n := 2
	for _, it := range items {
		n += len(it) + 1
	}
	out := make([]byte, 0, n)
	out = append(out, '[')
	for i, it := range items {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, it...)
	}
	return append(out, ']')
}
