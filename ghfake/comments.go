package ghfake

import (
	"fmt"
	"strconv"
	"time"

	"github.com/google/go-github/v60/github"
)

// Issue comments (on issues and pull requests alike).

type comment struct {
	id        int64
	issue     *issue
	user      *account
	body      string
	createdAt time.Time
	updatedAt time.Time
}

func (w *world) comment(c *comment) *github.IssueComment {
	it := c.issue
	r := it.repo
	repoAPI := w.api() + "/repos/" + r.owner.login + "/" + r.name
	kind := "issues"
	if it.pr != nil {
		kind = "pull"
	}
	api := repoAPI + "/issues/comments/" + formatInt(c.id)
	return &github.IssueComment{
		URL:               ptr(api),
		HTMLURL:           ptr(fmt.Sprintf("%s/%s/%s/%s/%d#issuecomment-%d", w.base, r.owner.login, r.name, kind, it.number, c.id)),
		IssueURL:          ptr(repoAPI + "/issues/" + strconv.Itoa(it.number)),
		ID:                ptr(c.id),
		NodeID:            ptr(nodeID("IssueComment", c.id)),
		User:              w.user(c.user),
		CreatedAt:         ts(c.createdAt),
		UpdatedAt:         ts(c.updatedAt),
		AuthorAssociation: ptr(association(it, c.user)),
		Body:              ptr(c.body),
		Reactions:         w.reactions(api),
	}
}

func commentJSON(c *github.IssueComment) []byte {
	return withNulls(enc(c), "performed_via_github_app")
}

func (s *Server) listComments(c *reqCtx) resp {
	r, e := c.repo()
	if e != nil {
		return *e
	}
	it := r.item(c.number("number"))
	if it == nil || it.deleted || it.transferredTo != nil {
		return notFound()
	}
	since, bad := c.since()
	if bad != nil {
		return *bad
	}
	var cs []*comment
	for _, x := range it.comments {
		if !x.updatedAt.Before(since) {
			cs = append(cs, x)
		}
	}
	return pagedArray(c, len(cs), func(i int) []byte { return commentJSON(s.w.comment(cs[i])) })
}

func (s *Server) listRepoComments(c *reqCtx) resp {
	r, e := c.repo()
	if e != nil {
		return *e
	}
	since, bad := c.since()
	if bad != nil {
		return *bad
	}
	q := c.r.URL.Query()
	sorted := s.sortedOnce(r, "comments", q.Get("sort"), q.Get("direction"), func() any {
		var cs []*comment
		for _, it := range r.items {
			if it == nil || it.deleted || it.transferredTo != nil {
				continue
			}
			cs = append(cs, it.comments...)
		}
		sortComments(cs, func(x *comment) (int64, time.Time, time.Time) { return x.id, x.createdAt, x.updatedAt }, q)
		return cs
	}).([]*comment)
	cs := sorted
	if !since.IsZero() {
		cs = nil
		for _, x := range sorted {
			if !x.updatedAt.Before(since) {
				cs = append(cs, x)
			}
		}
	}
	return s.cachedPage(c, r, func() resp {
		return pagedArray(c, len(cs), func(i int) []byte { return commentJSON(s.w.comment(cs[i])) })
	})
}
