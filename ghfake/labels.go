package ghfake

import (
	"net/url"
	"strings"

	"github.com/google/go-github/v60/github"
)

// Labels of a repository; issues refer to them by name.

type label struct {
	id          int64
	name        string
	color       string
	description string
	isDefault   bool
}

func (r *repo) label(name string) *label {
	for _, l := range r.labels {
		if strings.EqualFold(l.name, name) {
			return l
		}
	}
	return nil
}

func (w *world) label(r *repo, l *label) *github.Label {
	return &github.Label{
		ID:          ptr(l.id),
		NodeID:      ptr(nodeID("Label", l.id)),
		URL:         ptr(w.api() + "/repos/" + r.owner.login + "/" + r.name + "/labels/" + url.PathEscape(l.name)),
		Name:        ptr(l.name),
		Color:       ptr(l.color),
		Description: ptr(l.description),
		Default:     ptr(l.isDefault),
	}
}

func (s *Server) listLabels(c *reqCtx) resp {
	r, e := c.repo()
	if e != nil {
		return *e
	}
	return pagedArray(c, len(r.labels), func(i int) []byte { return enc(s.w.label(r, r.labels[i])) })
}

func (s *Server) getLabel(c *reqCtx) resp {
	r, e := c.repo()
	if e != nil {
		return *e
	}
	l := r.label(c.r.PathValue("name"))
	if l == nil {
		return notFound()
	}
	return jsonResp(200, enc(s.w.label(r, l)))
}
