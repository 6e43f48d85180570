package load

import (
	"net/http"

	"github.com/webhookdb/webhookdb/jobs"
)

// endpoint is one load route.
type endpoint struct {
	pattern string
	// kind is the scan kind (a jobs collection or sync job name).
	kind string
	// query lists the query parameters the endpoint accepts.
	query []string
	// installation: the route names an installation, not a repository.
	installation bool
	number       bool // {number} in the path
	name         bool // {name} in the path (labels)
	// children is forced on (an installation loads everything).
	children bool
}

// endpoints are the load routes, as the design's route table lists them;
// the table is never modified.
//
// ?full=true, wherever a collection is listed (itself or as children),
// forces a complete listing: after a first complete scan, pulls, issues and
// comments are read incrementally and nothing is removed, so without it a
// delete whose webhook was lost would stay in the replica for ever.
var endpoints = []endpoint{
	{pattern: "/load/installations/{id}", kind: jobs.CollectionRepositories, query: []string{"full"}, installation: true, children: true},
	{pattern: "/load/repos/{owner}/{repo}", kind: jobs.JobSyncRepository, query: []string{"inline", "children", "full"}},
	{pattern: "/load/repos/{owner}/{repo}/pulls", kind: jobs.CollectionPullRequests, query: []string{"state", "children", "full"}},
	{pattern: "/load/repos/{owner}/{repo}/pulls/{number}", kind: jobs.JobSyncPullRequest, query: []string{"inline", "children", "full"}, number: true},
	{pattern: "/load/repos/{owner}/{repo}/pulls/{number}/files", kind: jobs.CollectionPullRequestFiles, query: []string{"full"}, number: true},
	{pattern: "/load/repos/{owner}/{repo}/issues", kind: jobs.CollectionIssues, query: []string{"state", "full"}},
	{pattern: "/load/repos/{owner}/{repo}/issues/{number}", kind: jobs.JobSyncIssue, query: []string{"inline"}, number: true},
	{pattern: "/load/repos/{owner}/{repo}/issues/comments", kind: jobs.CollectionIssueComments, query: []string{"full"}},
	{pattern: "/load/repos/{owner}/{repo}/labels", kind: jobs.CollectionLabels, query: []string{"full"}},
	{pattern: "/load/repos/{owner}/{repo}/labels/{name}", kind: jobs.JobSyncLabel, query: []string{"inline"}, name: true},
	{pattern: "/load/repos/{owner}/{repo}/milestones", kind: jobs.CollectionMilestones, query: []string{"full"}},
	{pattern: "/load/repos/{owner}/{repo}/milestones/{number}", kind: jobs.JobSyncMilestone, query: []string{"inline"}, number: true},
}

// request is one parsed load request.
type request struct {
	scan   jobs.ScanRequest
	inline bool
}

// parse reads and checks the path and query of r for ep.
func parse(ep endpoint, r *http.Request) (request, error) {
	var out request
	out.scan.Kind = ep.kind
	out.scan.Children = ep.children
	if ep.installation {
		id, err := parseID("installation id", r.PathValue("id"))
		if err != nil {
			return out, err
		}
		out.scan.InstallationID = id
	} else {
		owner, repo := r.PathValue("owner"), r.PathValue("repo")
		if err := checkOwner(owner); err != nil {
			return out, err
		}
		if err := checkRepo(repo); err != nil {
			return out, err
		}
		out.scan.Owner, out.scan.Repo = owner, repo
	}
	if ep.number {
		n, err := parseNumber("number", r.PathValue("number"))
		if err != nil {
			return out, err
		}
		out.scan.Number = n
	}
	if ep.name {
		name := r.PathValue("name")
		if err := checkLabelName(name); err != nil {
			return out, err
		}
		out.scan.Name = name
	}
	q, err := parseQuery(r.URL.RawQuery, ep.query)
	if err != nil {
		return out, err
	}
	out.scan.State = q.state
	if q.children {
		out.scan.Children = true
	}
	out.scan.Full = q.full
	out.inline = q.inline
	return out, nil
}
