package ghfake

import (
	"sort"
)

// Caches that make re-scans of big repositories cheap. Every entry is
// keyed by the repository's version, which every change below the
// repository bumps, so a change misses the cache instead of invalidating it.

type listKey struct {
	repoID    int64
	pulls     bool
	state     string
	sort      string
	direction string
}

type listCache struct {
	version uint64
	items   []*issue
}

// listItems returns the repository's issues (and pulls, for the issue list)
// filtered and sorted; the caller holds the world lock (read).
func (s *Server) listItems(r *repo, pulls bool, state, sortBy, direction string) []*issue {
	key := listKey{r.id, pulls, state, sortBy, direction}
	s.cacheMu.Lock()
	c, ok := s.lists[key]
	s.cacheMu.Unlock()
	if ok && c.version == r.version {
		return c.items
	}
	var out []*issue
	for _, it := range r.items {
		if it == nil || it.deleted || it.transferredTo != nil {
			continue
		}
		if pulls && it.pr == nil {
			continue
		}
		if state != "all" && it.state != state {
			continue
		}
		out = append(out, it)
	}
	asc := direction == "asc"
	switch sortBy {
	case "updated":
		sort.SliceStable(out, func(i, j int) bool {
			if asc {
				return out[i].updatedAt.Before(out[j].updatedAt)
			}
			return out[i].updatedAt.After(out[j].updatedAt)
		})
	case "comments":
		sort.SliceStable(out, func(i, j int) bool {
			if asc {
				return len(out[i].comments) < len(out[j].comments)
			}
			return len(out[i].comments) > len(out[j].comments)
		})
	default: // created: number order is creation order
		if !asc {
			for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	s.cacheMu.Lock()
	s.lists[key] = listCache{version: r.version, items: out}
	s.cacheMu.Unlock()
	return out
}

// pageKey names one rendered list page; a change in the repository bumps
// its version and so misses the cache.
type pageKey struct {
	repoID  int64
	version uint64
	base    string
	path    string
	query   string
}

type pageCache struct {
	entries map[pageKey]resp
	order   []pageKey // oldest first, for eviction
	bytes   int
}

// cachedPage answers a list page from the cache, or builds and keeps it.
// Re-scans (If-None-Match) then cost a lookup instead of a re-render.
func (s *Server) cachedPage(c *reqCtx, r *repo, build func() resp) resp {
	if s.opts.PageCacheBytes <= 0 {
		return build()
	}
	key := pageKey{r.id, r.version, s.w.base, c.r.URL.Path, c.r.URL.RawQuery}
	s.cacheMu.Lock()
	if out, ok := s.pages.entries[key]; ok {
		s.cacheMu.Unlock()
		return out
	}
	s.cacheMu.Unlock()
	out := build()
	limit := s.opts.PageCacheBytes
	if limit <= 0 || out.status != 200 || len(out.body) > limit/8 {
		return out
	}
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	if _, ok := s.pages.entries[key]; ok {
		return out
	}
	for s.pages.bytes+len(out.body) > limit && len(s.pages.order) > 0 {
		old := s.pages.order[0]
		s.pages.order = s.pages.order[1:]
		s.pages.bytes -= len(s.pages.entries[old].body)
		delete(s.pages.entries, old)
	}
	s.pages.entries[key] = out
	s.pages.order = append(s.pages.order, key)
	s.pages.bytes += len(out.body)
	return out
}

type sortedKey struct {
	repoID          int64
	kind, by, order string
}

type sortedEntry struct {
	version uint64
	v       any
}

// sortedOnce keeps a repository-wide sorted list until the repository
// changes, so paging through 100,000 comments sorts them once.
func (s *Server) sortedOnce(r *repo, kind, by, order string, build func() any) any {
	key := sortedKey{r.id, kind, by, order}
	s.cacheMu.Lock()
	e, ok := s.sorted[key]
	s.cacheMu.Unlock()
	if ok && e.version == r.version {
		return e.v
	}
	v := build()
	s.cacheMu.Lock()
	s.sorted[key] = sortedEntry{r.version, v}
	s.cacheMu.Unlock()
	return v
}

type cachedJSON struct {
	version uint64
	base    string
	b       []byte
}
