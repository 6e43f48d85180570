package ghfake

import (
	"fmt"
	"strconv"
	"time"

	"github.com/google/go-github/v60/github"
)

// Pull request review comments (comments on a line of the diff).

type reviewComment struct {
	id        int64
	reviewID  int64
	user      *account
	path      string
	line      int
	body      string
	inReplyTo int64
	commitID  string
	createdAt time.Time
	updatedAt time.Time
}

func (w *world) reviewComment(it *issue, c *reviewComment) *github.PullRequestComment {
	r := it.repo
	n := strconv.Itoa(it.number)
	repoAPI := w.api() + "/repos/" + r.owner.login + "/" + r.name
	api := repoAPI + "/pulls/comments/" + formatInt(c.id)
	out := &github.PullRequestComment{
		URL:                 ptr(api),
		ID:                  ptr(c.id),
		NodeID:              ptr(nodeID("PullRequestReviewComment", c.id)),
		DiffHunk:            ptr(fmt.Sprintf("@@ -%d,3 +%d,4 @@", c.line, c.line)),
		Path:                ptr(c.path),
		Position:            ptr(c.line),
		OriginalPosition:    ptr(c.line),
		CommitID:            ptr(c.commitID),
		OriginalCommitID:    ptr(c.commitID),
		User:                w.user(c.user),
		Body:                ptr(c.body),
		CreatedAt:           ts(c.createdAt),
		UpdatedAt:           ts(c.updatedAt),
		HTMLURL:             ptr(fmt.Sprintf("%s/%s/%s/pull/%s#discussion_r%d", w.base, r.owner.login, r.name, n, c.id)),
		PullRequestURL:      ptr(repoAPI + "/pulls/" + n),
		AuthorAssociation:   ptr(association(it, c.user)),
		Reactions:           w.reactions(api),
		Line:                ptr(c.line),
		OriginalLine:        ptr(c.line),
		Side:                ptr("RIGHT"),
		PullRequestReviewID: ptr(c.reviewID),
	}
	if c.reviewID == 0 {
		out.PullRequestReviewID = nil
	}
	if c.inReplyTo != 0 {
		out.InReplyTo = ptr(c.inReplyTo)
	}
	return out
}

func reviewCommentJSON(c *github.PullRequestComment) []byte {
	links := fmt.Sprintf(`{"self":{"href":%q},"html":{"href":%q},"pull_request":{"href":%q}}`, c.GetURL(), c.GetHTMLURL(), c.GetPullRequestURL())
	b := withNulls(enc(c), "start_line", "original_start_line", "start_side")
	return withRaw(b, "_links", links)
}

func (s *Server) listReviewComments(c *reqCtx) resp {
	it, e := c.pullItem()
	if e != nil {
		return *e
	}
	cs := it.pr.reviewComments
	return pagedArray(c, len(cs), func(i int) []byte { return reviewCommentJSON(s.w.reviewComment(it, cs[i])) })
}

// rcPair is a review comment with its pull request.
type rcPair struct {
	it *issue
	c  *reviewComment
}

func (s *Server) listRepoReviewComments(c *reqCtx) resp {
	r, e := c.repo()
	if e != nil {
		return *e
	}
	since, bad := c.since()
	if bad != nil {
		return *bad
	}
	q := c.r.URL.Query()
	sorted := s.sortedOnce(r, "review_comments", q.Get("sort"), q.Get("direction"), func() any {
		var all []rcPair
		for _, it := range r.items {
			if it == nil || it.pr == nil || it.deleted {
				continue
			}
			for _, rc := range it.pr.reviewComments {
				all = append(all, rcPair{it, rc})
			}
		}
		sortComments(all, func(p rcPair) (int64, time.Time, time.Time) { return p.c.id, p.c.createdAt, p.c.updatedAt }, q)
		return all
	}).([]rcPair)
	all := sorted
	if !since.IsZero() {
		all = nil
		for _, p := range sorted {
			if !p.c.updatedAt.Before(since) {
				all = append(all, p)
			}
		}
	}
	return s.cachedPage(c, r, func() resp {
		return pagedArray(c, len(all), func(i int) []byte { return reviewCommentJSON(s.w.reviewComment(all[i].it, all[i].c)) })
	})
}
