package readapi

import (
	"net/url"
	"strconv"
	"strings"
)

// page is the page of a list a read asks for: GitHub's per_page (default
// 30, at most 100) and page (from 1).
type page struct {
	per, number int
}

// offset is the first item of the page in the list's order.
func (p page) offset() int { return (p.number - 1) * p.per }

// maxPage bounds page so that the offset stays an int a database takes
// and a client cannot ask for an absurd scan.
const maxPage = 1 << 20

// parsePage reads page and per_page as GitHub does: a value that is no
// positive number is the default, and per_page above 100 is 100.
func parsePage(q url.Values) (page, error) {
	p := page{per: 30, number: 1}
	if v, err := strconv.Atoi(q.Get("per_page")); err == nil && v > 0 {
		p.per = min(v, 100)
	}
	if v, err := strconv.Atoi(q.Get("page")); err == nil && v > 0 {
		if v > maxPage {
			return p, invalid("", "page", q.Get("page"))
		}
		p.number = v
	}
	return p, nil
}

// link writes GitHub's Link header for a list of total items: the
// client's parameters in their order, page last, and a repository's
// lists under /repositories/{id}, as GitHub writes them.
func (a *API) link(c *call, total int) string {
	per, current := c.page.per, c.page.number
	last := max((total+per-1)/per, 1)
	var keep []string
	for _, kv := range strings.Split(c.r.URL.RawQuery, "&") {
		if kv != "" && !strings.HasPrefix(kv, "page=") {
			keep = append(keep, kv)
		}
	}
	path := strings.TrimPrefix(c.r.URL.EscapedPath(), Prefix)
	if c.repo != nil {
		if rest, ok := cutRepoPrefix(path); ok {
			path = "/repositories/" + strconv.FormatInt(c.repo.ID, 10) + rest
		}
	}
	prefix := a.linkBase + path + "?" + strings.Join(keep, "&")
	if len(keep) > 0 {
		prefix += "&"
	}
	at := func(n int) string { return "<" + prefix + "page=" + strconv.Itoa(n) + ">" }
	var parts []string
	if current > 1 {
		parts = append(parts, at(min(current-1, last))+`; rel="prev"`)
	}
	if current < last {
		parts = append(parts, at(current+1)+`; rel="next"`, at(last)+`; rel="last"`)
	}
	if current > 1 {
		parts = append(parts, at(1)+`; rel="first"`)
	}
	return strings.Join(parts, ", ")
}

// cutRepoPrefix takes /repos/{owner}/{repo} (or /repositories/{id}) off
// path and returns what follows.
func cutRepoPrefix(path string) (string, bool) {
	var parts []string
	switch {
	case strings.HasPrefix(path, "/repos/"):
		parts = strings.SplitN(strings.TrimPrefix(path, "/repos/"), "/", 3)
		if len(parts) < 2 {
			return "", false
		}
		if len(parts) == 2 {
			return "", true
		}
		return "/" + parts[2], true
	case strings.HasPrefix(path, "/repositories/"):
		parts = strings.SplitN(strings.TrimPrefix(path, "/repositories/"), "/", 2)
		if len(parts) == 1 {
			return "", true
		}
		return "/" + parts[1], true
	}
	return "", false
}
