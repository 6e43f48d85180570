package ghfake

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/google/go-github/v60/github"
)

// Issues, and the issue side of pull requests: they share numbers, and a
// pull request is an issue with pr set.

type issue struct {
	id            int64
	repo          *repo
	number        int
	title, body   string
	user          *account
	assignee      *account
	state         string
	stateReason   string
	locked        bool
	labels        []string
	milestone     *milestone
	createdAt     time.Time
	updatedAt     time.Time
	closedAt      time.Time
	closedBy      *account
	comments      []*comment
	pr            *pull
	deleted       bool
	transferredTo *issue
}

func (r *repo) item(number int) *issue {
	if number < 1 || number > len(r.items) {
		return nil
	}
	return r.items[number-1]
}

// setState moves an issue between open and closed, keeping the counters of
// its repository and milestone right.
func (it *issue) setState(state string) {
	if it.state == state {
		return
	}
	if state == "open" {
		it.repo.openCount++
		if it.milestone != nil {
			it.milestone.openIssues++
			it.milestone.closedIssues--
		}
	} else {
		it.repo.openCount--
		if it.milestone != nil {
			it.milestone.openIssues--
			it.milestone.closedIssues++
		}
	}
	it.state = state
}

func (it *issue) setMilestone(m *milestone) {
	if it.milestone != nil {
		if it.state == "open" {
			it.milestone.openIssues--
		} else {
			it.milestone.closedIssues--
		}
	}
	it.milestone = m
	if m != nil {
		if it.state == "open" {
			m.openIssues++
		} else {
			m.closedIssues++
		}
	}
}

// detach takes an issue out of the counters (delete, transfer).
func (it *issue) detach() {
	if it.state == "open" {
		it.repo.openCount--
	}
	if it.milestone != nil {
		if it.state == "open" {
			it.milestone.openIssues--
		} else {
			it.milestone.closedIssues--
		}
	}
}

func (w *world) issue(it *issue) *github.Issue {
	r := it.repo
	repoAPI := w.api() + "/repos/" + r.owner.login + "/" + r.name
	api := repoAPI + "/issues/" + strconv.Itoa(it.number)
	html := w.base + "/" + r.owner.login + "/" + r.name + "/issues/" + strconv.Itoa(it.number)
	if it.pr != nil {
		html = w.base + "/" + r.owner.login + "/" + r.name + "/pull/" + strconv.Itoa(it.number)
	}
	out := &github.Issue{
		URL:               ptr(api),
		RepositoryURL:     ptr(repoAPI),
		LabelsURL:         ptr(api + "/labels{/name}"),
		CommentsURL:       ptr(api + "/comments"),
		EventsURL:         ptr(api + "/events"),
		HTMLURL:           ptr(html),
		ID:                ptr(it.id),
		NodeID:            ptr(nodeID("Issue", it.id)),
		Number:            ptr(it.number),
		Title:             ptr(it.title),
		User:              w.user(it.user),
		Labels:            w.issueLabels(it),
		State:             ptr(it.state),
		Locked:            ptr(it.locked),
		Assignee:          w.user(it.assignee),
		Assignees:         []*github.User{},
		Milestone:         w.milestone(r, it.milestone),
		Comments:          ptr(len(it.comments)),
		CreatedAt:         ts(it.createdAt),
		UpdatedAt:         ts(it.updatedAt),
		ClosedAt:          ts(it.closedAt),
		AuthorAssociation: ptr(association(it, it.user)),
		Body:              optional(it.body),
		Reactions:         w.reactions(api),
		Draft:             nil,
	}
	if it.stateReason != "" {
		out.StateReason = ptr(it.stateReason)
	}
	if it.assignee != nil {
		out.Assignees = []*github.User{w.user(it.assignee)}
	}
	if it.pr != nil {
		pr := repoAPI + "/pulls/" + strconv.Itoa(it.number)
		out.PullRequestLinks = &github.PullRequestLinks{URL: ptr(pr), HTMLURL: ptr(html), DiffURL: ptr(html + ".diff"), PatchURL: ptr(html + ".patch")}
		if it.pr.merged {
			out.PullRequestLinks.MergedAt = ts(it.pr.mergedAt)
		}
		out.Draft = ptr(it.pr.draft)
	} else {
		out.Draft = ptr(false)
	}
	return out
}

func (w *world) issueLabels(it *issue) []*github.Label {
	out := []*github.Label{}
	for _, name := range it.labels {
		if l := it.repo.label(name); l != nil {
			out = append(out, w.label(it.repo, l))
		}
	}
	return out
}

func issueJSON(i *github.Issue) []byte {
	nulls := []string{"active_lock_reason", "performed_via_github_app"}
	if i.Body == nil {
		nulls = append(nulls, "body")
	}
	if i.ClosedAt == nil {
		nulls = append(nulls, "closed_at")
	}
	if i.Assignee == nil {
		nulls = append(nulls, "assignee")
	}
	if i.Milestone == nil {
		nulls = append(nulls, "milestone")
	}
	if i.StateReason == nil {
		nulls = append(nulls, "state_reason")
	}
	ms := nullMembers(nulls)
	ms = emptyLists(ms, len(i.Labels), "labels", len(i.Assignees), "assignees")
	ms = append(ms, member{"timeline_url", []byte(strconv.Quote(i.GetURL() + "/timeline"))})
	if i.Milestone != nil {
		// Rendered on its own for the keys it sends as null (closed_at).
		ms = append(ms, member{"milestone", milestoneJSON(i.Milestone)})
		cp := *i
		cp.Milestone = nil
		i = &cp
	}
	return addMembers(enc(i), ms...)
}

// closedIssueExtra is GET one issue: it adds closed_by.
func (w *world) issueFull(it *issue) *github.Issue {
	out := w.issue(it)
	out.ClosedBy = w.user(it.closedBy)
	return out
}

func (s *Server) listIssues(c *reqCtx) resp {
	r, e := c.repo()
	if e != nil {
		return *e
	}
	state, sortBy, direction, bad := c.listOpts("created", "updated", "comments")
	if bad != nil {
		return *bad
	}
	since, bad := c.since()
	if bad != nil {
		return *bad
	}
	return s.cachedPage(c, r, func() resp { return s.listIssuesPage(c, r, state, sortBy, direction, since) })
}

func (s *Server) listIssuesPage(c *reqCtx, r *repo, state, sortBy, direction string, since time.Time) resp {
	items := s.listItems(r, false, state, sortBy, direction)
	if !since.IsZero() {
		var f []*issue
		for _, it := range items {
			if !it.updatedAt.Before(since) {
				f = append(f, it)
			}
		}
		items = f
	}
	items = filterItems(items, issueFilters(c.r.URL.Query()))
	return pagedArray(c, len(items), func(i int) []byte { return issueJSON(s.w.issue(items[i])) })
}

func (s *Server) getIssue(c *reqCtx) resp {
	r, e := c.repo()
	if e != nil {
		return *e
	}
	it := r.item(c.number("number"))
	switch {
	case it == nil:
		return notFound()
	case it.deleted:
		return errResp(http.StatusGone, "This issue was deleted")
	case it.transferredTo != nil:
		to := it.transferredTo
		loc := fmt.Sprintf("%s/repos/%s/%s/issues/%d", s.w.api(), to.repo.owner.login, to.repo.name, to.number)
		return resp{status: http.StatusMovedPermanently, body: enc(map[string]string{"message": "Moved Permanently", "url": loc, "documentation_url": docsURL}), location: loc}
	}
	return jsonResp(200, issueJSON(s.w.issueFull(it)))
}
