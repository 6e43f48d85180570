package ghfake

import (
	"net/url"
	"strconv"
	"strings"
)

// The list filters GitHub documents for GET /repos/{o}/{r}/issues
// (milestone, assignee, creator, labels) and GET /repos/{o}/{r}/pulls
// (head). Each is applied after listItems, so the cached sorted list is
// shared by every filter and never changed in place.

// keepFunc reports whether an item stays in a filtered list; nil keeps all.
type keepFunc func(it *issue) bool

// filterItems returns the items keep accepts, in their order, as a new
// slice (items may be listItems' cached slice).
func filterItems(items []*issue, keep keepFunc) []*issue {
	if keep == nil {
		return items
	}
	var out []*issue
	for _, it := range items {
		if keep(it) {
			out = append(out, it)
		}
	}
	return out
}

// issueFilters reads milestone, assignee, creator and labels of the issue
// list; an empty parameter filters nothing. Pull requests are in the issue
// list and filtered the same way.
func issueFilters(q url.Values) keepFunc {
	var keeps []keepFunc
	if v := q.Get("milestone"); v != "" {
		keeps = append(keeps, milestoneFilter(v))
	}
	if v := q.Get("assignee"); v != "" {
		keeps = append(keeps, assigneeFilter(v))
	}
	if v := q.Get("creator"); v != "" {
		keeps = append(keeps, func(it *issue) bool { return it.user != nil && strings.EqualFold(it.user.login, v) })
	}
	if v := q.Get("labels"); v != "" {
		if names := labelNames(v); len(names) > 0 {
			keeps = append(keeps, func(it *issue) bool { return hasAllLabels(it, names) })
		}
	}
	return allOf(keeps)
}

// milestoneFilter: "*" any milestone, "none" no milestone, else a
// milestone number. A number that is no milestone of the repository, or a
// value that is no number, matches nothing: an empty list, not a 404 (what
// GitHub answers there is not documented).
func milestoneFilter(v string) keepFunc {
	switch v {
	case "*":
		return func(it *issue) bool { return it.milestone != nil }
	case "none":
		return func(it *issue) bool { return it.milestone == nil }
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return func(*issue) bool { return false }
	}
	return func(it *issue) bool { return it.milestone != nil && it.milestone.number == n }
}

// assigneeFilter: "*" assigned to anyone, "none" unassigned, else a login
// (case-insensitive, as GitHub logins are) among the issue's assignees.
// An unknown login matches nothing.
func assigneeFilter(v string) keepFunc {
	switch v {
	case "*":
		return func(it *issue) bool { return it.assignee != nil }
	case "none":
		return func(it *issue) bool { return it.assignee == nil }
	}
	// ghfake keeps one assignee per issue (it renders assignees from it).
	return func(it *issue) bool { return it.assignee != nil && strings.EqualFold(it.assignee.login, v) }
}

// labelNames splits GitHub's comma-separated labels value, dropping empty
// names and the blanks around names.
func labelNames(v string) []string {
	var out []string
	for _, n := range strings.Split(v, ",") {
		if n = strings.TrimSpace(n); n != "" {
			out = append(out, n)
		}
	}
	return out
}

// hasAllLabels: the issue must carry every name (case-insensitive).
func hasAllLabels(it *issue, names []string) bool {
	for _, want := range names {
		found := false
		for _, have := range it.labels {
			if strings.EqualFold(have, want) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// headFilter reads the pull list's head=owner:ref. The owner is the head
// repository's owner login (case-insensitive; ghfake has no forks, so it
// is the repository's owner) and ref the head branch (case-sensitive, as
// git refs are). A value without ':' is ignored and lists every pull, as
// GitHub does: its docs require user:ref-name, and a bare branch name is
// reported to leave the list unfiltered (PyGithub/PyGithub#1566).
func headFilter(q url.Values) keepFunc {
	v := q.Get("head")
	owner, ref, ok := strings.Cut(v, ":")
	if !ok {
		return nil
	}
	return func(it *issue) bool {
		return strings.EqualFold(it.repo.owner.login, owner) && it.pr.headRef == ref
	}
}

// allOf keeps what every one of keeps keeps; nil when there are none.
func allOf(keeps []keepFunc) keepFunc {
	switch len(keeps) {
	case 0:
		return nil
	case 1:
		return keeps[0]
	}
	return func(it *issue) bool {
		for _, k := range keeps {
			if !k(it) {
				return false
			}
		}
		return true
	}
}
