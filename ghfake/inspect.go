package ghfake

import (
	"sort"
	"strings"

	"github.com/google/go-github/v60/github"
)

// World reads the simulated world, so tests can compare a replica with
// it. Values are fresh go-github v60 values, shaped as GET of one object
// answers them. Unknown owners or repositories give nil.
type World struct{ s *Server }

// World returns the reader of the world.
func (s *Server) World() World { return World{s} }

func (v World) read(fn func(w *world)) {
	v.s.mu.RLock()
	defer v.s.mu.RUnlock()
	fn(v.s.w)
}

// Installations lists the live installations in creation order.
func (v World) Installations() []*github.Installation {
	var out []*github.Installation
	v.read(func(w *world) {
		for _, id := range w.instOrder {
			if in := w.installations[id]; !in.deleted {
				out = append(out, w.installation(in))
			}
		}
	})
	return out
}

// InstallationFor is the live installation covering owner/repo, or nil.
func (v World) InstallationFor(owner, repo string) *github.Installation {
	var out *github.Installation
	v.read(func(w *world) {
		if r := w.repo(owner, repo); r != nil {
			if in := w.installationFor(r); in != nil {
				out = w.installation(in)
			}
		}
	})
	return out
}

// InstallationRepositories lists the repositories an installation covers.
func (v World) InstallationRepositories(installationID int64) []*github.Repository {
	var out []*github.Repository
	v.read(func(w *world) {
		if in := w.installations[installationID]; in != nil {
			for _, r := range w.reposOf(in) {
				out = append(out, w.repository(r))
			}
		}
	})
	return out
}

// Accounts lists users and organizations in creation order.
func (v World) Accounts() []*github.User {
	var out []*github.User
	v.read(func(w *world) {
		for _, a := range w.accounts {
			out = append(out, w.user(a))
		}
	})
	return out
}

// Users lists the user accounts (not organizations) with their profiles.
func (v World) Users() []*github.User {
	var out []*github.User
	v.read(func(w *world) {
		for _, a := range w.accounts {
			if !a.isOrg {
				out = append(out, w.fullUser(a))
			}
		}
	})
	return out
}

// Organizations lists the organizations' logins.
func (v World) Organizations() []string {
	var out []string
	v.read(func(w *world) {
		for _, a := range w.accounts {
			if a.isOrg {
				out = append(out, a.login)
			}
		}
	})
	return out
}

// Repositories lists the live repositories of owner in creation order.
func (v World) Repositories(owner string) []*github.Repository {
	var out []*github.Repository
	v.read(func(w *world) {
		for _, r := range w.repos {
			if !r.deleted && strings.EqualFold(r.owner.login, owner) {
				out = append(out, w.repository(r))
			}
		}
	})
	return out
}

// Repository is one live repository.
func (v World) Repository(owner, repo string) *github.Repository {
	var out *github.Repository
	v.read(func(w *world) {
		if r := w.repo(owner, repo); r != nil {
			out = w.repository(r)
		}
	})
	return out
}

func (v World) items(owner, repo string, fn func(w *world, it *issue)) {
	v.read(func(w *world) {
		r := w.repo(owner, repo)
		if r == nil {
			return
		}
		for _, it := range r.items {
			if it != nil && !it.deleted && it.transferredTo == nil {
				fn(w, it)
			}
		}
	})
}

// PullRequests lists every pull request (all states) in number order, in
// the full shape of GET one pull request.
func (v World) PullRequests(owner, repo string) []*github.PullRequest {
	var out []*github.PullRequest
	v.items(owner, repo, func(w *world, it *issue) {
		if it.pr != nil {
			out = append(out, w.pull(it, true))
		}
	})
	return out
}

// PullRequest is one pull request, or nil.
func (v World) PullRequest(owner, repo string, number int) *github.PullRequest {
	var out *github.PullRequest
	v.items(owner, repo, func(w *world, it *issue) {
		if it.pr != nil && it.number == number {
			out = w.pull(it, true)
		}
	})
	return out
}

// PullRequestFiles lists a pull request's changed files.
func (v World) PullRequestFiles(owner, repo string, number int) []*github.CommitFile {
	var out []*github.CommitFile
	v.items(owner, repo, func(w *world, it *issue) {
		if it.pr != nil && it.number == number {
			out = w.files(it)
		}
	})
	return out
}

// Issues lists the issues (without pull requests), all states, by number.
func (v World) Issues(owner, repo string) []*github.Issue {
	var out []*github.Issue
	v.items(owner, repo, func(w *world, it *issue) {
		if it.pr == nil {
			out = append(out, w.issueFull(it))
		}
	})
	return out
}

// IssuesAndPulls lists what GitHub's issue list holds: issues and the issue
// side of pull requests, all states, by number.
func (v World) IssuesAndPulls(owner, repo string) []*github.Issue {
	var out []*github.Issue
	v.items(owner, repo, func(w *world, it *issue) { out = append(out, w.issueFull(it)) })
	return out
}

// Issue is one issue (or a pull request's issue side), or nil.
func (v World) Issue(owner, repo string, number int) *github.Issue {
	var out *github.Issue
	v.items(owner, repo, func(w *world, it *issue) {
		if it.number == number {
			out = w.issueFull(it)
		}
	})
	return out
}

// Labels lists a repository's labels.
func (v World) Labels(owner, repo string) []*github.Label {
	var out []*github.Label
	v.read(func(w *world) {
		if r := w.repo(owner, repo); r != nil {
			for _, l := range r.labels {
				out = append(out, w.label(r, l))
			}
		}
	})
	return out
}

// Milestones lists a repository's milestones, all states, by number.
func (v World) Milestones(owner, repo string) []*github.Milestone {
	var out []*github.Milestone
	v.read(func(w *world) {
		if r := w.repo(owner, repo); r != nil {
			for _, m := range r.milestones {
				if !m.deleted {
					out = append(out, w.milestone(r, m))
				}
			}
		}
	})
	return out
}

// IssueComments lists the comments of one issue or pull request, or of
// the whole repository when number is 0, by id.
func (v World) IssueComments(owner, repo string, number int) []*github.IssueComment {
	var out []*github.IssueComment
	v.items(owner, repo, func(w *world, it *issue) {
		if number == 0 || it.number == number {
			for _, c := range it.comments {
				out = append(out, w.comment(c))
			}
		}
	})
	sort.Slice(out, func(i, j int) bool { return out[i].GetID() < out[j].GetID() })
	return out
}

// Reviews lists a pull request's reviews.
func (v World) Reviews(owner, repo string, number int) []*github.PullRequestReview {
	var out []*github.PullRequestReview
	v.items(owner, repo, func(w *world, it *issue) {
		if it.pr != nil && it.number == number {
			for _, rv := range it.pr.reviews {
				out = append(out, w.review(it, rv))
			}
		}
	})
	return out
}

// ReviewComments lists a pull request's review comments, or the whole
// repository's when number is 0.
func (v World) ReviewComments(owner, repo string, number int) []*github.PullRequestComment {
	var out []*github.PullRequestComment
	v.items(owner, repo, func(w *world, it *issue) {
		if it.pr != nil && (number == 0 || it.number == number) {
			for _, c := range it.pr.reviewComments {
				out = append(out, w.reviewComment(it, c))
			}
		}
	})
	sort.Slice(out, func(i, j int) bool { return out[i].GetID() < out[j].GetID() })
	return out
}

// Size counts the world, cheaply, for benchmarks and the demo.
type Size struct {
	Accounts, Repos, Pulls, Issues, IssueComments, Reviews, ReviewComments, Files int
}

// Size counts the live objects of the world.
func (v World) Size() Size {
	var sz Size
	v.read(func(w *world) {
		sz.Accounts = len(w.accounts)
		for _, r := range w.repos {
			if r.deleted {
				continue
			}
			sz.Repos++
			for _, it := range r.items {
				if it == nil || it.deleted || it.transferredTo != nil {
					continue
				}
				sz.IssueComments += len(it.comments)
				if it.pr != nil {
					sz.Pulls++
					sz.Reviews += len(it.pr.reviews)
					sz.ReviewComments += len(it.pr.reviewComments)
					sz.Files += it.pr.files
				} else {
					sz.Issues++
				}
			}
		}
	})
	return sz
}
