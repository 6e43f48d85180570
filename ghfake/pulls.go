package ghfake

import (
	"fmt"
	"math/rand"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/go-github/v60/github"
)

// Pull requests: the pull side of an issue, its files (derived from the
// pull's id and revision), its JSON and its routes.

type pull struct {
	id             int64
	headRef        string
	baseRef        string
	headSHA        string
	baseSHA        string
	draft          bool
	merged         bool
	mergedAt       time.Time
	mergedBy       *account
	mergeCommitSHA string
	commits        int
	files          int         // number of files; their content derives from id and rev
	rev            int         // bumped by synchronize
	mergeableRead  atomic.Bool // set by a read under the read lock
	reviews        []*review
	reviewComments []*reviewComment
}

type fileData struct {
	name, prev, status, sha, patch string
	additions, deletions           int
}

func fileName(p *pull, i int) string {
	return fmt.Sprintf("pkg/mod%d/file%d.go", (p.id+int64(i))%7, i)
}

func (p *pull) fileList() []fileData {
	out := make([]fileData, 0, p.files)
	for i := 0; i < p.files; i++ {
		out = append(out, p.file(i))
	}
	return out
}

// file is file i of the pull request at its revision.
func (p *pull) file(i int) fileData {
	rng := rand.New(rand.NewSource(p.id*131 + int64(p.rev)*7919 + int64(i)))
	f := fileData{name: fileName(p, i), sha: sha(rng)}
	switch i % 4 {
	case 0, 3:
		f.status = "modified"
	case 1:
		f.status = "added"
	case 2:
		if i%8 == 2 {
			f.status = "renamed"
			f.prev = fmt.Sprintf("pkg/old%d/file%d.go", p.id%5, i)
		} else {
			f.status = "removed"
		}
	}
	var b strings.Builder
	switch f.status {
	case "added":
		f.additions = 1 + rng.Intn(20)
		fmt.Fprintf(&b, "@@ -0,0 +1,%d @@\n", f.additions)
		for j := 0; j < f.additions; j++ {
			fmt.Fprintf(&b, "+line %d of revision %d\n", j+1, p.rev)
		}
	case "removed":
		f.deletions = 1 + rng.Intn(20)
		fmt.Fprintf(&b, "@@ -1,%d +0,0 @@\n", f.deletions)
		for j := 0; j < f.deletions; j++ {
			fmt.Fprintf(&b, "-line %d\n", j+1)
		}
	default:
		f.additions, f.deletions = 1+rng.Intn(5), rng.Intn(5)
		fmt.Fprintf(&b, "@@ -10,%d +10,%d @@ func f() {\n", f.deletions+1, f.additions+1)
		b.WriteString(" \tcontext\n")
		for j := 0; j < f.deletions; j++ {
			fmt.Fprintf(&b, "-\told %d\n", j)
		}
		for j := 0; j < f.additions; j++ {
			fmt.Fprintf(&b, "+\tnew %d rev %d\n", j, p.rev)
		}
	}
	f.patch = strings.TrimSuffix(b.String(), "\n")
	return f
}

func (p *pull) totals() (adds, dels int) {
	for _, f := range p.fileList() {
		adds += f.additions
		dels += f.deletions
	}
	return
}

func (w *world) branch(r *repo, ref, sha string, withRepo bool) *github.PullRequestBranch {
	b := &github.PullRequestBranch{Label: ptr(r.owner.login + ":" + ref), Ref: ptr(ref), SHA: ptr(sha), User: w.user(r.owner)}
	if withRepo {
		b.Repo = w.repository(r)
	}
	return b
}

// pull renders the pull request; full adds what only GET one pull (and
// webhooks) carry: additions, deletions, changed files, mergeability.
func (w *world) pull(it *issue, full bool) *github.PullRequest {
	return w.pullStruct(it, full, true)
}

// pullStruct renders the pull request; withRepos false leaves the repo
// out of head and base (pullJSON adds it from the cache).
func (w *world) pullStruct(it *issue, full, withRepos bool) *github.PullRequest {
	r, p := it.repo, it.pr
	n := strconv.Itoa(it.number)
	repoAPI := w.api() + "/repos/" + r.owner.login + "/" + r.name
	api := repoAPI + "/pulls/" + n
	html := w.base + "/" + r.owner.login + "/" + r.name + "/pull/" + n
	out := &github.PullRequest{
		URL:                ptr(api),
		ID:                 ptr(p.id),
		NodeID:             ptr(nodeID("PullRequest", p.id)),
		HTMLURL:            ptr(html),
		DiffURL:            ptr(html + ".diff"),
		PatchURL:           ptr(html + ".patch"),
		IssueURL:           ptr(repoAPI + "/issues/" + n),
		Number:             ptr(it.number),
		State:              ptr(it.state),
		Locked:             ptr(it.locked),
		Title:              ptr(it.title),
		User:               w.user(it.user),
		Body:               optional(it.body),
		CreatedAt:          ts(it.createdAt),
		UpdatedAt:          ts(it.updatedAt),
		ClosedAt:           ts(it.closedAt),
		MergedAt:           ts(p.mergedAt),
		Assignee:           w.user(it.assignee),
		Assignees:          []*github.User{},
		RequestedReviewers: []*github.User{},
		RequestedTeams:     []*github.Team{},
		Labels:             w.issueLabels(it),
		Milestone:          w.milestone(r, it.milestone),
		Draft:              ptr(p.draft),
		CommitsURL:         ptr(api + "/commits"),
		ReviewCommentsURL:  ptr(api + "/comments"),
		ReviewCommentURL:   ptr(repoAPI + "/pulls/comments{/number}"),
		CommentsURL:        ptr(repoAPI + "/issues/" + n + "/comments"),
		StatusesURL:        ptr(repoAPI + "/statuses/" + p.headSHA),
		Head:               w.branch(r, p.headRef, p.headSHA, withRepos),
		Base:               w.branch(r, p.baseRef, p.baseSHA, withRepos),
		AuthorAssociation:  ptr(association(it, it.user)),
		Links: &github.PRLinks{
			Self:           &github.PRLink{HRef: ptr(api)},
			HTML:           &github.PRLink{HRef: ptr(html)},
			Issue:          &github.PRLink{HRef: ptr(repoAPI + "/issues/" + n)},
			Comments:       &github.PRLink{HRef: ptr(repoAPI + "/issues/" + n + "/comments")},
			ReviewComments: &github.PRLink{HRef: ptr(api + "/comments")},
			ReviewComment:  &github.PRLink{HRef: ptr(repoAPI + "/pulls/comments{/number}")},
			Commits:        &github.PRLink{HRef: ptr(api + "/commits")},
			Statuses:       &github.PRLink{HRef: ptr(repoAPI + "/statuses/" + p.headSHA)},
		},
	}
	if it.assignee != nil {
		out.Assignees = []*github.User{w.user(it.assignee)}
	}
	if p.mergeCommitSHA != "" {
		out.MergeCommitSHA = ptr(p.mergeCommitSHA)
	}
	if full {
		adds, dels := p.totals()
		out.Merged = ptr(p.merged)
		if p.merged {
			out.MergedBy = w.user(p.mergedBy)
		}
		out.Comments = ptr(len(it.comments))
		out.ReviewComments = ptr(len(p.reviewComments))
		out.MaintainerCanModify = ptr(false)
		out.Commits = ptr(p.commits)
		out.Additions = ptr(adds)
		out.Deletions = ptr(dels)
		out.ChangedFiles = ptr(p.files)
		if p.mergeableRead.Load() && it.state == "open" {
			out.Mergeable = ptr(true)
			out.Rebaseable = ptr(true)
			out.MergeableState = ptr("clean")
		} else {
			out.MergeableState = ptr("unknown")
		}
	}
	return out
}

func pullJSON(p *github.PullRequest, full bool, extra ...member) []byte {
	nulls := []string{"auto_merge", "active_lock_reason"}
	if p.Body == nil {
		nulls = append(nulls, "body")
	}
	if p.ClosedAt == nil {
		nulls = append(nulls, "closed_at")
	}
	if p.MergedAt == nil {
		nulls = append(nulls, "merged_at")
	}
	if p.MergeCommitSHA == nil {
		nulls = append(nulls, "merge_commit_sha")
	}
	if p.Assignee == nil {
		nulls = append(nulls, "assignee")
	}
	if p.Milestone == nil {
		nulls = append(nulls, "milestone")
	}
	if full {
		if p.Mergeable == nil {
			nulls = append(nulls, "mergeable", "rebaseable")
		}
		if p.MergedBy == nil {
			nulls = append(nulls, "merged_by")
		}
	}
	ms := emptyLists(nullMembers(nulls), len(p.Labels), "labels", len(p.Assignees), "assignees", len(p.RequestedReviewers), "requested_reviewers",
		len(p.RequestedTeams), "requested_teams")
	if p.Milestone != nil {
		// Rendered on its own for the keys it sends as null (closed_at).
		ms = append(ms, member{"milestone", milestoneJSON(p.Milestone)})
		cp := *p
		cp.Milestone = nil
		p = &cp
	}
	return addMembers(enc(p), append(ms, extra...)...)
}

// pullJSON renders the pull request with the cached JSON of its
// repository in head and base, which is most of its bytes.
func (w *world) pullJSON(it *issue, full bool) []byte {
	p := w.pullStruct(it, full, false)
	head, base := p.Head, p.Base
	p.Head, p.Base = nil, nil
	rj := w.repoJSONCached(it.repo)
	return pullJSON(p, full, member{"head", addMembers(enc(head), member{"repo", rj})}, member{"base", addMembers(enc(base), member{"repo", rj})})
}

func (w *world) files(it *issue) []*github.CommitFile {
	var out []*github.CommitFile
	for _, f := range it.pr.fileList() {
		out = append(out, w.commitFile(it, f))
	}
	return out
}

func (w *world) commitFile(it *issue, f fileData) *github.CommitFile {
	r, p := it.repo, it.pr
	cf := &github.CommitFile{
		SHA:         ptr(f.sha),
		Filename:    ptr(f.name),
		Status:      ptr(f.status),
		Additions:   ptr(f.additions),
		Deletions:   ptr(f.deletions),
		Changes:     ptr(f.additions + f.deletions),
		BlobURL:     ptr(fmt.Sprintf("%s/%s/%s/blob/%s/%s", w.base, r.owner.login, r.name, p.headSHA, f.name)),
		RawURL:      ptr(fmt.Sprintf("%s/%s/%s/raw/%s/%s", w.base, r.owner.login, r.name, p.headSHA, f.name)),
		ContentsURL: ptr(fmt.Sprintf("%s/repos/%s/%s/contents/%s?ref=%s", w.api(), r.owner.login, r.name, f.name, p.headSHA)),
		Patch:       ptr(f.patch),
	}
	if f.prev != "" {
		cf.PreviousFilename = ptr(f.prev)
	}
	return cf
}

func (c *reqCtx) pullItem() (*issue, *resp) {
	r, e := c.repo()
	if e != nil {
		return nil, e
	}
	it := r.item(c.number("number"))
	if it == nil || it.pr == nil || it.deleted {
		nf := notFound()
		return nil, &nf
	}
	return it, nil
}

func (s *Server) listPulls(c *reqCtx) resp {
	r, e := c.repo()
	if e != nil {
		return *e
	}
	state, sortBy, direction, bad := c.listOpts("created", "updated", "popularity", "long-running")
	if bad != nil {
		return *bad
	}
	// GitHub: desc when sort is created or not given, otherwise asc.
	if sortBy != "created" && c.r.URL.Query().Get("direction") == "" {
		direction = "asc"
	}
	if sortBy == "popularity" || sortBy == "long-running" {
		sortBy = "comments"
	}
	return s.cachedPage(c, r, func() resp { return s.listPullsPage(c, r, state, sortBy, direction) })
}

func (s *Server) listPullsPage(c *reqCtx, r *repo, state, sortBy, direction string) resp {
	items := s.listItems(r, true, state, sortBy, direction)
	if base := c.r.URL.Query().Get("base"); base != "" {
		var f []*issue
		for _, it := range items {
			if it.pr.baseRef == base {
				f = append(f, it)
			}
		}
		items = f
	}
	items = filterItems(items, headFilter(c.r.URL.Query()))
	return pagedArray(c, len(items), func(i int) []byte { return s.w.pullJSON(items[i], false) })
}

func (s *Server) getPull(c *reqCtx) resp {
	it, e := c.pullItem()
	if e != nil {
		return *e
	}
	body := s.w.pullJSON(it, true)
	// GitHub computes mergeability in the background after a push: the
	// first read answers null.
	it.pr.mergeableRead.Store(true)
	return jsonResp(200, body)
}

func (s *Server) listFiles(c *reqCtx) resp {
	it, e := c.pullItem()
	if e != nil {
		return *e
	}
	// GitHub lists at most maxListedFiles; changed_files, additions and
	// deletions of the pull request still count them all. Only the page's
	// files are made.
	return pagedArray(c, min(it.pr.files, maxListedFiles), func(i int) []byte {
		return enc(s.w.commitFile(it, it.pr.file(i)))
	})
}

// maxListedFiles is GitHub's cap on GET /pulls/{n}/files ("Responses
// include a maximum of 3000 files").
const maxListedFiles = 3000
