package ghfake

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// List parameters GitHub's list routes share: page and per_page with the
// Link header, state/sort/direction, since, and the comment orderings.

// paginate picks the page of n items the request asks for and writes the
// Link header the way GitHub does.
func (c *reqCtx) paginate(n int) (lo, hi int, link string) {
	q := c.r.URL.Query()
	per, err := strconv.Atoi(q.Get("per_page"))
	if err != nil || per <= 0 {
		per = 30
	}
	if per > 100 {
		per = 100
	}
	page, err := strconv.Atoi(q.Get("page"))
	if err != nil || page <= 0 {
		page = 1
	}
	last := (n + per - 1) / per
	if last < 1 {
		last = 1
	}
	lo = min((page-1)*per, n)
	hi = min(lo+per, n)
	// GitHub keeps the client's parameters in their order, puts page last
	// and writes repository paths as /repositories/{id}/...
	var keep []string
	for _, kv := range strings.Split(c.r.URL.RawQuery, "&") {
		if kv != "" && !strings.HasPrefix(kv, "page=") {
			keep = append(keep, kv)
		}
	}
	prefix := c.s.w.base + c.linkPath() + "?" + strings.Join(keep, "&")
	if len(keep) > 0 {
		prefix += "&"
	}
	at := func(p int) string { return "<" + prefix + "page=" + strconv.Itoa(p) + ">" }
	var parts []string
	if page > 1 {
		parts = append(parts, at(min(page-1, last))+`; rel="prev"`)
	}
	if page < last {
		parts = append(parts, at(page+1)+`; rel="next"`, at(last)+`; rel="last"`)
	}
	if page > 1 {
		parts = append(parts, at(1)+`; rel="first"`)
	}
	return lo, hi, strings.Join(parts, ", ")
}

// linkPath is the request path, with /repos/{owner}/{repo} written as
// /repositories/{id} the way GitHub's Link headers do.
func (c *reqCtx) linkPath() string {
	p := c.r.URL.Path
	owner, name := c.r.PathValue("owner"), c.r.PathValue("repo")
	if owner == "" || name == "" {
		return p
	}
	r := c.s.w.repo(owner, name)
	prefix := "/api/v3/repos/" + owner + "/" + name
	if r == nil || !strings.HasPrefix(p, prefix) {
		return p
	}
	return "/api/v3/repositories/" + formatInt(r.id) + strings.TrimPrefix(p, prefix)
}

func pagedArray(c *reqCtx, n int, render func(i int) []byte) resp {
	lo, hi, link := c.paginate(n)
	items := make([][]byte, 0, hi-lo)
	for i := lo; i < hi; i++ {
		items = append(items, render(i))
	}
	return resp{status: 200, body: array(items), link: link}
}

// listOpts reads state, sort and direction with GitHub's defaults.
func (c *reqCtx) listOpts(sorts ...string) (state, sortBy, direction string, bad *resp) {
	q := c.r.URL.Query()
	state = q.Get("state")
	if state == "" {
		state = "open"
	}
	if state != "open" && state != "closed" && state != "all" {
		e := errResp(http.StatusUnprocessableEntity, "Validation Failed")
		return "", "", "", &e
	}
	sortBy = q.Get("sort")
	if sortBy == "" {
		sortBy = "created"
	}
	ok := false
	for _, v := range sorts {
		ok = ok || v == sortBy
	}
	if !ok {
		e := errResp(http.StatusUnprocessableEntity, "Validation Failed")
		return "", "", "", &e
	}
	direction = q.Get("direction")
	if direction == "" {
		direction = "desc"
	}
	return state, sortBy, direction, nil
}

func (c *reqCtx) since() (time.Time, *resp) {
	v := c.r.URL.Query().Get("since")
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		e := errResp(http.StatusUnprocessableEntity, "Validation Failed")
		return t, &e
	}
	return t, nil
}

// sortComments orders by sort=created|updated (default created) and
// direction (default asc), as the repository-wide comment lists do.
func sortComments[T any](xs []T, key func(T) (int64, time.Time, time.Time), q url.Values) {
	desc := q.Get("direction") == "desc"
	byUpdated := q.Get("sort") == "updated"
	sort.SliceStable(xs, func(i, j int) bool {
		ii, ci, ui := key(xs[i])
		ij, cj, uj := key(xs[j])
		ti, tj := ci, cj
		if byUpdated {
			ti, tj = ui, uj
		}
		l := ti.Before(tj) || (ti.Equal(tj) && ii < ij)
		if desc {
			return tj.Before(ti) || (ti.Equal(tj) && ij < ii)
		}
		return l
	})
}
