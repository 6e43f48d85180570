package readapi

import (
	"encoding/json"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// TestReadAPIDocs: docs/read-api.md lists every endpoint with exactly the
// parameters it takes and the fields it may serve. Every field served on
// a backfilled replica must be listed, and every field listed must be one
// GitHub (ghfake, which writes GitHub's null keys too) sends on that
// endpoint: an endpoint added without its line, a field served and not
// listed, or one listed that GitHub does not have, fails here.
func TestReadAPIDocs(t *testing.T) {
	r := newReplica(t, nil)
	tok := r.token("org-0")
	w := r.gh.World()
	doc, err := os.ReadFile("../docs/read-api.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := docRows(t, doc)
	var numbers, pulls []string
	for _, it := range w.IssuesAndPulls("org-0", "repo-0") {
		numbers = append(numbers, strconv.Itoa(it.GetNumber()))
	}
	for _, p := range w.PullRequests("org-0", "repo-0") {
		pulls = append(pulls, strconv.Itoa(p.GetNumber()))
	}
	var milestones []string
	for _, m := range w.Milestones("org-0", "repo-0") {
		milestones = append(milestones, strconv.Itoa(m.GetNumber()))
	}
	// paths gives the requests that sample an endpoint: every object of
	// org-0/repo-0 for the single ones, every state for the lists.
	paths := func(ep endpoint) []string {
		base := strings.NewReplacer("{owner}", "org-0", "{repo}", "repo-0", "{username}", "user-0",
			"{name}", w.Labels("org-0", "repo-0")[0].GetName()).Replace(ep.path)
		var each []string
		switch {
		case strings.Contains(ep.path, "/issues/{number}"):
			each = numbers
		case strings.Contains(ep.path, "/pulls/{number}"):
			each = pulls
		case strings.Contains(ep.path, "/milestones/{number}"):
			each = milestones
		default:
			if ep.paged {
				q := "?per_page=100"
				if contains(ep.params, "state") {
					q += "&state=all"
				}
				return []string{base + q}
			}
			return []string{base}
		}
		var out []string
		for _, n := range each {
			out = append(out, strings.Replace(base, "{number}", n, 1))
		}
		return out
	}
	nestedOurs := map[string]map[string]bool{"user": {}, "repository": {}, "label": {}, "milestone": {}}
	nestedGitHub := map[string]map[string]bool{"user": {}, "repository": {}, "label": {}, "milestone": {}}
	for _, ep := range r.api.endpoints() {
		key := "GET " + ep.path
		row, ok := documented[key]
		if !ok {
			t.Errorf("docs/read-api.md does not list %s", key)
			continue
		}
		delete(documented, key)
		params := append([]string(nil), ep.params...)
		if ep.paged {
			params = append(params, "page", "per_page")
		}
		if got, want := keyList(params), keyList(row.params); got != want {
			t.Errorf("%s: the docs list the parameters %s, it takes %s", key, want, got)
		}
		ours, github := map[string]bool{}, map[string]bool{}
		tokFor := tok
		if ep.scope == userScope {
			tokFor = r.gh.UserToken("user-0")
		}
		for _, path := range paths(ep) {
			resp, body := r.get(path, tokFor)
			if resp.StatusCode != 200 {
				t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
			}
			collectFields(t, body, ours, nestedOurs)
			collectFields(t, r.ghGet(path, tokFor), github, nestedGitHub)
		}
		if len(ours) == 0 {
			t.Errorf("%s served no field: the sample proves nothing", key)
		}
		checkListed(t, key, row.fields, ours, github)
	}
	for key := range documented {
		if !strings.HasSuffix(key, "(nested)") {
			t.Errorf("docs/read-api.md lists %s, which the read API does not serve", key)
		}
	}
	for kind := range nestedOurs {
		key := kind + " (nested)"
		row, ok := documented[key]
		if !ok {
			t.Errorf("docs/read-api.md has no row %q", key)
			continue
		}
		checkListed(t, key, row.fields, nestedOurs[kind], nestedGitHub[kind])
	}
}

// docRow is one line of the docs' endpoint table.
type docRow struct{ params, fields []string }

// docRows reads the table between <!-- endpoints --> and <!-- /endpoints -->:
// | `GET /path` | `param`, ... | `field`, ... |
func docRows(t *testing.T, doc []byte) map[string]docRow {
	t.Helper()
	m := regexp.MustCompile(`(?s)<!-- endpoints -->\n(.*?)<!-- /endpoints -->`).FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/read-api.md has no <!-- endpoints --> ... <!-- /endpoints --> table")
	}
	ticks := regexp.MustCompile("`([^`]+)`")
	names := func(cell string) []string {
		var out []string
		for _, n := range ticks.FindAllStringSubmatch(cell, -1) {
			out = append(out, n[1])
		}
		return out
	}
	rows := map[string]docRow{}
	for _, line := range strings.Split(string(m[1]), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 5 || strings.HasPrefix(strings.TrimSpace(cells[1]), "---") || strings.TrimSpace(cells[1]) == "endpoint" {
			continue
		}
		key := strings.Trim(strings.TrimSpace(cells[1]), "`")
		rows[key] = docRow{params: names(cells[2]), fields: names(cells[3])}
	}
	return rows
}

// checkListed: served ⊆ listed ⊆ GitHub's.
func checkListed(t *testing.T, key string, listed []string, served, github map[string]bool) {
	t.Helper()
	in := map[string]bool{}
	for _, f := range listed {
		in[f] = true
		if !github[f] {
			t.Errorf("%s: the docs list %q, which GitHub does not send there", key, f)
		}
	}
	for _, f := range setKeys(served) {
		if !in[f] {
			t.Errorf("%s: serves %q, which the docs do not list", key, f)
		}
	}
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// collectFields adds the top-level keys of an answer (of each item of a
// list, of "repositories"/"installations" of the wrapped lists) to fields,
// and the keys of nested users, repositories, labels and milestones to
// nested.
func collectFields(t *testing.T, body []byte, fields map[string]bool, nested map[string]map[string]bool) {
	t.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("not JSON: %v: %s", err, body)
	}
	var items []any
	switch x := v.(type) {
	case []any:
		items = x
	case map[string]any:
		items = []any{x}
	}
	for _, it := range items {
		obj, ok := it.(map[string]any)
		if !ok {
			continue
		}
		for k, val := range obj {
			fields[k] = true
			walkNested(k, val, nested)
		}
	}
}

// walkNested records the keys of objects by the key that holds them.
func walkNested(key string, v any, nested map[string]map[string]bool) {
	kind := map[string]string{"user": "user", "owner": "user", "assignee": "user", "assignees": "user", "merged_by": "user",
		"requested_reviewers": "user", "creator": "user", "closed_by": "user", "account": "user", "organization": "user",
		"repo": "repository", "repositories": "repository", "labels": "label", "milestone": "milestone"}[key]
	var objs []any
	switch x := v.(type) {
	case []any:
		objs = x
	case map[string]any:
		objs = []any{x}
	}
	for _, o := range objs {
		m, ok := o.(map[string]any)
		if !ok {
			continue
		}
		for k, val := range m {
			if kind != "" {
				nested[kind][k] = true
			}
			walkNested(k, val, nested)
		}
	}
}

func setKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func keyList(keys []string) string {
	quoted := make([]string, len(keys))
	for i, k := range keys {
		quoted[i] = "`" + k + "`"
	}
	return strings.Join(quoted, ", ")
}
