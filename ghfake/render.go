package ghfake

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
)

// Rendering turns the compact world into go-github v60 values, filled with
// every field GitHub sends that go-github knows. The caller holds the world
// lock (read). JSON helpers add the keys GitHub sends as null, which
// go-github's omitempty would drop.

func ptr[T any](v T) *T { return &v }

func ts(t time.Time) *github.Timestamp {
	if t.IsZero() {
		return nil
	}
	return &github.Timestamp{Time: t.UTC()}
}

// optional is nil for "": GitHub sends an empty body as null.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func formatInt(n int64) string { return strconv.FormatInt(n, 10) }

func nodeID(kind string, id int64) string {
	return base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("0%d:%s%d", len(kind), kind, id)))
}

func (w *world) api() string { return w.base + "/api/v3" }

func (w *world) user(a *account) *github.User {
	if a == nil {
		return nil
	}
	api := w.api() + "/users/" + a.login
	typ := "User"
	if a.isOrg {
		typ = "Organization"
	}
	return &github.User{
		Login:             ptr(a.login),
		ID:                ptr(a.id),
		NodeID:            ptr(nodeID(typ, a.id)),
		AvatarURL:         ptr(fmt.Sprintf("%s/avatars/u/%d?v=4", w.base, a.id)),
		GravatarID:        ptr(""),
		URL:               ptr(api),
		HTMLURL:           ptr(w.base + "/" + a.login),
		FollowersURL:      ptr(api + "/followers"),
		FollowingURL:      ptr(api + "/following{/other_user}"),
		GistsURL:          ptr(api + "/gists{/gist_id}"),
		StarredURL:        ptr(api + "/starred{/owner}{/repo}"),
		SubscriptionsURL:  ptr(api + "/subscriptions"),
		OrganizationsURL:  ptr(api + "/orgs"),
		ReposURL:          ptr(api + "/repos"),
		EventsURL:         ptr(api + "/events{/privacy}"),
		ReceivedEventsURL: ptr(api + "/received_events"),
		Type:              ptr(typ),
		SiteAdmin:         ptr(false),
	}
}

// fullUser is GET /users/{login}: the simple user plus the profile.
func (w *world) fullUser(a *account) *github.User {
	u := w.user(a)
	u.Name = ptr(a.name)
	u.Company = ptr("")
	u.Blog = ptr("")
	u.Location = ptr("Earth")
	u.Email = ptr(a.login + "@example.com")
	u.Bio = ptr("")
	u.Hireable = ptr(false)
	u.TwitterUsername = nil
	u.CreatedAt = ts(a.createdAt)
	u.UpdatedAt = ts(a.createdAt)
	n := 0
	for _, r := range w.repos {
		if r.owner == a && !r.deleted && !r.private {
			n++
		}
	}
	u.PublicRepos = ptr(n)
	u.PublicGists = ptr(0)
	u.Followers = ptr(0)
	u.Following = ptr(0)
	return u
}

func fullUserJSON(u *github.User) []byte {
	return withNulls(enc(u), "twitter_username")
}

func (w *world) org(a *account) *github.Organization {
	if a == nil || !a.isOrg {
		return nil
	}
	api := w.api() + "/orgs/" + a.login
	return &github.Organization{
		Login:            ptr(a.login),
		ID:               ptr(a.id),
		NodeID:           ptr(nodeID("Organization", a.id)),
		URL:              ptr(api),
		ReposURL:         ptr(api + "/repos"),
		EventsURL:        ptr(api + "/events"),
		HooksURL:         ptr(api + "/hooks"),
		IssuesURL:        ptr(api + "/issues"),
		MembersURL:       ptr(api + "/members{/member}"),
		PublicMembersURL: ptr(api + "/public_members{/member}"),
		AvatarURL:        ptr(fmt.Sprintf("%s/avatars/u/%d?v=4", w.base, a.id)),
		Description:      ptr(""),
	}
}

func (w *world) repository(r *repo) *github.Repository {
	full := r.owner.login + "/" + r.name
	api := w.api() + "/repos/" + full
	host := strings.TrimPrefix(strings.TrimPrefix(w.base, "http://"), "https://")
	vis := "public"
	if r.private {
		vis = "private"
	}
	return &github.Repository{
		ID:                       ptr(r.id),
		NodeID:                   ptr(nodeID("Repository", r.id)),
		Name:                     ptr(r.name),
		FullName:                 ptr(full),
		Private:                  ptr(r.private),
		Owner:                    w.user(r.owner),
		HTMLURL:                  ptr(w.base + "/" + full),
		Description:              ptr(r.description),
		Fork:                     ptr(false),
		URL:                      ptr(api),
		ForksURL:                 ptr(api + "/forks"),
		KeysURL:                  ptr(api + "/keys{/key_id}"),
		CollaboratorsURL:         ptr(api + "/collaborators{/collaborator}"),
		TeamsURL:                 ptr(api + "/teams"),
		HooksURL:                 ptr(api + "/hooks"),
		IssueEventsURL:           ptr(api + "/issues/events{/number}"),
		EventsURL:                ptr(api + "/events"),
		AssigneesURL:             ptr(api + "/assignees{/user}"),
		BranchesURL:              ptr(api + "/branches{/branch}"),
		TagsURL:                  ptr(api + "/tags"),
		BlobsURL:                 ptr(api + "/git/blobs{/sha}"),
		GitTagsURL:               ptr(api + "/git/tags{/sha}"),
		GitRefsURL:               ptr(api + "/git/refs{/sha}"),
		TreesURL:                 ptr(api + "/git/trees{/sha}"),
		StatusesURL:              ptr(api + "/statuses/{sha}"),
		LanguagesURL:             ptr(api + "/languages"),
		StargazersURL:            ptr(api + "/stargazers"),
		ContributorsURL:          ptr(api + "/contributors"),
		SubscribersURL:           ptr(api + "/subscribers"),
		SubscriptionURL:          ptr(api + "/subscription"),
		CommitsURL:               ptr(api + "/commits{/sha}"),
		GitCommitsURL:            ptr(api + "/git/commits{/sha}"),
		CommentsURL:              ptr(api + "/comments{/number}"),
		IssueCommentURL:          ptr(api + "/issues/comments{/number}"),
		ContentsURL:              ptr(api + "/contents/{+path}"),
		CompareURL:               ptr(api + "/compare/{base}...{head}"),
		MergesURL:                ptr(api + "/merges"),
		ArchiveURL:               ptr(api + "/{archive_format}{/ref}"),
		DownloadsURL:             ptr(api + "/downloads"),
		IssuesURL:                ptr(api + "/issues{/number}"),
		PullsURL:                 ptr(api + "/pulls{/number}"),
		MilestonesURL:            ptr(api + "/milestones{/number}"),
		NotificationsURL:         ptr(api + "/notifications{?since,all,participating}"),
		LabelsURL:                ptr(api + "/labels{/name}"),
		ReleasesURL:              ptr(api + "/releases{/id}"),
		DeploymentsURL:           ptr(api + "/deployments"),
		CreatedAt:                ts(r.createdAt),
		UpdatedAt:                ts(r.updatedAt),
		PushedAt:                 ts(r.pushedAt),
		GitURL:                   ptr("git://" + host + "/" + full + ".git"),
		SSHURL:                   ptr("git@" + strings.Split(host, ":")[0] + ":" + full + ".git"),
		CloneURL:                 ptr(w.base + "/" + full + ".git"),
		SVNURL:                   ptr(w.base + "/" + full),
		Homepage:                 ptr(""),
		Size:                     ptr(int(r.id % 10000)),
		StargazersCount:          ptr(r.stars),
		WatchersCount:            ptr(r.stars),
		Language:                 ptr(r.language),
		HasIssues:                ptr(true),
		HasProjects:              ptr(true),
		HasDownloads:             ptr(true),
		HasWiki:                  ptr(true),
		HasPages:                 ptr(false),
		ForksCount:               ptr(r.forks),
		Archived:                 ptr(false),
		Disabled:                 ptr(false),
		OpenIssuesCount:          ptr(r.openCount),
		IsTemplate:               ptr(false),
		WebCommitSignoffRequired: ptr(false),
		Topics:                   []string{},
		Visibility:               ptr(vis),
		OpenIssues:               ptr(r.openCount),
		Watchers:                 ptr(r.stars),
		DefaultBranch:            ptr(r.defaultBranch),
		CustomProperties:         map[string]string{},
	}
}

// repoJSON adds the keys GitHub sends as null or empty, which go-github's
// omitempty drops, and "forks", which go-github does not model.
func repoJSON(r *github.Repository) []byte {
	ms := []member{{"mirror_url", rawNull}, {"license", rawNull}, {"forks", []byte(strconv.Itoa(r.GetForksCount()))}}
	if len(r.Topics) == 0 {
		ms = append(ms, member{"topics", rawEmptyList})
	}
	if len(r.CustomProperties) == 0 {
		ms = append(ms, member{"custom_properties", rawEmptyMap})
	}
	return addMembers(enc(r), ms...)
}

// repoJSONCached is repoJSON of the repository's current version; the
// head and base of every pull request repeat it.
func (w *world) repoJSONCached(r *repo) []byte {
	w.cacheMu.Lock()
	c, ok := w.repoCache[r.id]
	w.cacheMu.Unlock()
	if ok && c.version == r.version && c.base == w.base {
		return c.b
	}
	b := repoJSON(w.repository(r))
	w.cacheMu.Lock()
	w.repoCache[r.id] = cachedJSON{version: r.version, base: w.base, b: b}
	w.cacheMu.Unlock()
	return b
}

type cachedJSON struct {
	version uint64
	base    string
	b       []byte
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

func (w *world) reactions(u string) *github.Reactions {
	return &github.Reactions{URL: ptr(u + "/reactions"), TotalCount: ptr(0), PlusOne: ptr(0), MinusOne: ptr(0), Laugh: ptr(0),
		Hooray: ptr(0), Confused: ptr(0), Heart: ptr(0), Rocket: ptr(0), Eyes: ptr(0)}
}

func association(it *issue, u *account) string {
	if u == nil {
		return "NONE"
	}
	r := it.repo
	if r.owner == u {
		return "OWNER"
	}
	if r.owner.isOrg {
		for _, m := range r.owner.members {
			if m == u.id {
				return "MEMBER"
			}
		}
	}
	if _, ok := r.collaborators[u.id]; ok {
		return "COLLABORATOR"
	}
	return "NONE"
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
	return addMembers(enc(i), ms...)
}

func nullMembers(keys []string) []member {
	ms := make([]member, 0, len(keys)+4)
	for _, k := range keys {
		ms = append(ms, member{k, rawNull})
	}
	return ms
}

// emptyLists adds the named keys as [] where their count is 0, which
// go-github's omitempty would drop.
func emptyLists(ms []member, pairs ...any) []member {
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i].(int) == 0 {
			ms = append(ms, member{pairs[i+1].(string), rawEmptyList})
		}
	}
	return ms
}

// closedIssueExtra is GET one issue: it adds closed_by.
func (w *world) issueFull(it *issue) *github.Issue {
	out := w.issue(it)
	out.ClosedBy = w.user(it.closedBy)
	return out
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

func (w *world) files(it *issue) []*github.CommitFile {
	r, p := it.repo, it.pr
	var out []*github.CommitFile
	for _, f := range p.fileList() {
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
		out = append(out, cf)
	}
	return out
}

var appPermissions = &github.InstallationPermissions{
	Metadata:     ptr("read"),
	Contents:     ptr("read"),
	Issues:       ptr("read"),
	PullRequests: ptr("read"),
	Members:      ptr("read"),
}

var appEvents = []string{"issue_comment", "issues", "label", "member", "milestone", "pull_request", "pull_request_review", "pull_request_review_comment", "repository"}

func (w *world) installation(in *installation) *github.Installation {
	sel := "all"
	if !in.all {
		sel = "selected"
	}
	typ := "Organization"
	if !in.account.isOrg {
		typ = "User"
	}
	htmlURL := w.base + "/organizations/" + in.account.login + "/settings/installations/" + formatInt(in.id)
	if !in.account.isOrg {
		htmlURL = w.base + "/settings/installations/" + formatInt(in.id)
	}
	return &github.Installation{
		ID:                  ptr(in.id),
		Account:             w.user(in.account),
		RepositorySelection: ptr(sel),
		AccessTokensURL:     ptr(w.api() + "/app/installations/" + formatInt(in.id) + "/access_tokens"),
		RepositoriesURL:     ptr(w.api() + "/installation/repositories"),
		HTMLURL:             ptr(htmlURL),
		AppID:               ptr(w.appID),
		TargetID:            ptr(in.account.id),
		TargetType:          ptr(typ),
		Permissions:         appPermissions,
		Events:              appEvents,
		CreatedAt:           ts(in.createdAt),
		UpdatedAt:           ts(in.updatedAt),
		SingleFileName:      nil,
	}
}

func installationJSON(i *github.Installation) []byte {
	return withNulls(enc(i), "single_file_name", "suspended_at", "suspended_by")
}

// ---- JSON helpers ----

// enc marshals like GitHub writes: no HTML escaping.
func enc(v any) []byte {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		// Only unsupported types fail; every value here is a plain struct.
		return []byte("null")
	}
	return bytes.TrimRight(b.Bytes(), "\n")
}

// member is one key and raw JSON value to add to an object.
type member struct {
	k string
	v []byte
}

var rawNull, rawEmptyList, rawEmptyMap = []byte("null"), []byte("[]"), []byte("{}")

// addMembers appends members to a JSON object in one copy.
func addMembers(obj []byte, ms ...member) []byte {
	if len(ms) == 0 || len(obj) < 2 || obj[len(obj)-1] != '}' {
		return obj
	}
	n := len(obj)
	for _, m := range ms {
		n += len(m.k) + len(m.v) + 4
	}
	out := make([]byte, 0, n)
	out = append(out, obj[:len(obj)-1]...)
	for _, m := range ms {
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = append(out, '"')
		out = append(out, m.k...)
		out = append(out, '"', ':')
		out = append(out, m.v...)
	}
	return append(out, '}')
}

// withNulls appends "key":null members to a JSON object.
func withNulls(obj []byte, keys ...string) []byte {
	ms := make([]member, len(keys))
	for i, k := range keys {
		ms[i] = member{k, rawNull}
	}
	return addMembers(obj, ms...)
}

// withRaw appends "key":raw to a JSON object.
func withRaw(obj []byte, key, raw string) []byte {
	return addMembers(obj, member{key, []byte(raw)})
}

// array joins rendered objects into a JSON array.
func array(items [][]byte) []byte {
	n := 2
	for _, it := range items {
		n += len(it) + 1
	}
	out := make([]byte, 0, n)
	out = append(out, '[')
	for i, it := range items {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, it...)
	}
	return append(out, ']')
}
