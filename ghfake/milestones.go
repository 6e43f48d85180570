package ghfake

import (
	"strconv"
	"time"

	"github.com/google/go-github/v60/github"
)

// Milestones of a repository, with their open and closed issue counts.

type milestone struct {
	id           int64
	number       int
	title        string
	description  string
	state        string
	creator      *account
	createdAt    time.Time
	updatedAt    time.Time
	closedAt     time.Time
	dueOn        time.Time
	openIssues   int
	closedIssues int
	deleted      bool
}

func (r *repo) milestone(number int) *milestone {
	for _, m := range r.milestones {
		if m.number == number && !m.deleted {
			return m
		}
	}
	return nil
}

func (w *world) milestone(r *repo, m *milestone) *github.Milestone {
	if m == nil {
		return nil
	}
	api := w.api() + "/repos/" + r.owner.login + "/" + r.name + "/milestones/" + strconv.Itoa(m.number)
	return &github.Milestone{
		URL:          ptr(api),
		HTMLURL:      ptr(w.base + "/" + r.owner.login + "/" + r.name + "/milestone/" + strconv.Itoa(m.number)),
		LabelsURL:    ptr(api + "/labels"),
		ID:           ptr(m.id),
		NodeID:       ptr(nodeID("Milestone", m.id)),
		Number:       ptr(m.number),
		Title:        ptr(m.title),
		Description:  ptr(m.description),
		Creator:      w.user(m.creator),
		OpenIssues:   ptr(m.openIssues),
		ClosedIssues: ptr(m.closedIssues),
		State:        ptr(m.state),
		CreatedAt:    ts(m.createdAt),
		UpdatedAt:    ts(m.updatedAt),
		DueOn:        ts(m.dueOn),
		ClosedAt:     ts(m.closedAt),
	}
}

func milestoneJSON(m *github.Milestone) []byte {
	var nulls []string
	if m.ClosedAt == nil {
		nulls = append(nulls, "closed_at")
	}
	if m.DueOn == nil {
		nulls = append(nulls, "due_on")
	}
	return withNulls(enc(m), nulls...)
}

func (s *Server) listMilestones(c *reqCtx) resp {
	r, e := c.repo()
	if e != nil {
		return *e
	}
	q := c.r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	var ms []*milestone
	for _, m := range r.milestones {
		if !m.deleted && (state == "all" || m.state == state) {
			ms = append(ms, m)
		}
	}
	if q.Get("direction") == "desc" {
		for i, j := 0, len(ms)-1; i < j; i, j = i+1, j-1 {
			ms[i], ms[j] = ms[j], ms[i]
		}
	}
	return pagedArray(c, len(ms), func(i int) []byte { return milestoneJSON(s.w.milestone(r, ms[i])) })
}

func (s *Server) getMilestone(c *reqCtx) resp {
	r, e := c.repo()
	if e != nil {
		return *e
	}
	m := r.milestone(c.number("number"))
	if m == nil {
		return notFound()
	}
	return jsonResp(200, milestoneJSON(s.w.milestone(r, m)))
}
