package ghfake

import (
	"fmt"
	"strconv"
	"time"

	"github.com/google/go-github/v60/github"
)

// Pull request reviews.

type review struct {
	id          int64
	user        *account
	state       string
	body        string
	commitID    string
	submittedAt time.Time
}

func (w *world) review(it *issue, rv *review) *github.PullRequestReview {
	r := it.repo
	n := strconv.Itoa(it.number)
	return &github.PullRequestReview{
		ID:                ptr(rv.id),
		NodeID:            ptr(nodeID("PullRequestReview", rv.id)),
		User:              w.user(rv.user),
		Body:              optional(rv.body),
		CommitID:          ptr(rv.commitID),
		SubmittedAt:       ts(rv.submittedAt),
		State:             ptr(rv.state),
		HTMLURL:           ptr(fmt.Sprintf("%s/%s/%s/pull/%s#pullrequestreview-%d", w.base, r.owner.login, r.name, n, rv.id)),
		PullRequestURL:    ptr(w.api() + "/repos/" + r.owner.login + "/" + r.name + "/pulls/" + n),
		AuthorAssociation: ptr(association(it, rv.user)),
	}
}

// reviewJSON adds _links, which go-github does not model.
func reviewJSON(rv *github.PullRequestReview) []byte {
	links := fmt.Sprintf(`{"html":{"href":%q},"pull_request":{"href":%q}}`, rv.GetHTMLURL(), rv.GetPullRequestURL())
	ms := []member{{"_links", []byte(links)}}
	if rv.Body == nil {
		ms = append(ms, member{"body", rawNull})
	}
	return addMembers(enc(rv), ms...)
}

func (s *Server) listReviews(c *reqCtx) resp {
	it, e := c.pullItem()
	if e != nil {
		return *e
	}
	rvs := it.pr.reviews
	return pagedArray(c, len(rvs), func(i int) []byte {
		rv := s.w.review(it, rvs[i])
		// The API sends a review without text as "" (the webhook as null).
		if rv.Body == nil {
			rv.Body = ptr("")
		}
		return reviewJSON(rv)
	})
}
