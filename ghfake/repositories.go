package ghfake

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
)

// Repositories: the record, who may do what in it, its JSON (cached per
// version, since every pull request repeats it twice) and its routes.

type repo struct {
	id            int64
	owner         *account
	name          string
	private       bool
	description   string
	language      string
	defaultBranch string
	createdAt     time.Time
	updatedAt     time.Time
	pushedAt      time.Time
	deleted       bool
	stars, forks  int
	items         []*issue // by number-1
	labels        []*label
	milestones    []*milestone
	collaborators map[int64]string // user id -> permission (pull, push, admin)
	openCount     int              // open issues and pulls
	version       uint64           // bumped on every change below the repo
}

func (w *world) addRepo(owner *account, name string, at time.Time) *repo {
	r := &repo{id: w.id(), owner: owner, name: name, defaultBranch: "main", createdAt: at, updatedAt: at, pushedAt: at,
		collaborators: map[int64]string{}, language: "Go", description: "The " + name + " repository of " + owner.login}
	w.repos = append(w.repos, r)
	w.reposByID[r.id] = r
	w.reposByName[strings.ToLower(owner.login+"/"+name)] = r
	return r
}

func (w *world) repo(owner, name string) *repo {
	r := w.reposByName[strings.ToLower(owner+"/"+name)]
	if r == nil || r.deleted {
		return nil
	}
	return r
}

// permission is what user u may do in r: "admin", "push", "pull" or "".
func (w *world) permission(u *account, r *repo) string {
	if p := w.explicitPermission(u, r); p != "" || r.deleted {
		return p
	}
	if !r.private {
		return "pull"
	}
	return ""
}

// explicitPermission is the user's own permission on r (owner,
// collaborator, organization member or admin), without the read anyone has
// on a public repository: what GET /user/installations and
// /user/installations/{id}/repositories list by ("explicit permission
// (:read, :write, or :admin)", GitHub's docs).
func (w *world) explicitPermission(u *account, r *repo) string {
	if r.deleted {
		return ""
	}
	if r.owner == u {
		return "admin"
	}
	if p, ok := r.collaborators[u.id]; ok {
		return p
	}
	if r.owner.isOrg {
		if r.owner.admins[u.id] {
			return "admin"
		}
		for _, m := range r.owner.members {
			if m == u.id {
				return "push"
			}
		}
	}
	return ""
}

func permissions(p string) map[string]bool {
	return map[string]bool{"admin": p == "admin", "maintain": p == "admin", "push": p == "admin" || p == "push",
		"triage": p == "admin" || p == "push", "pull": p != ""}
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
// omitempty drops, and "forks", which go-github does not model. A
// repository without a homepage has null (the schema wants a URI or null).
func repoJSON(r *github.Repository) []byte {
	ms := []member{{"mirror_url", rawNull}, {"license", rawNull}, {"forks", []byte(strconv.Itoa(r.GetForksCount()))}}
	if r.Homepage == nil {
		ms = append(ms, member{"homepage", rawNull})
	}
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

func (c *reqCtx) repo() (*repo, *resp) {
	owner, name := c.r.PathValue("owner"), c.r.PathValue("repo")
	if owner == "" && name == "" {
		id, _ := strconv.ParseInt(c.r.PathValue("id"), 10, 64)
		if r := c.s.w.reposByID[id]; r != nil && !r.deleted {
			owner, name = r.owner.login, r.name
		}
	}
	r := c.s.w.repo(owner, name)
	if r == nil {
		// A renamed repository answers 301 to its new name, as on GitHub.
		if old := c.s.w.renamed[strings.ToLower(owner+"/"+name)]; old != nil && !old.deleted && c.canRead(old) &&
			c.s.w.repo(old.owner.login, old.name) == old {
			prefix := "/api/v3/repos/" + owner + "/" + name
			loc := c.s.w.base + "/api/v3/repos/" + old.owner.login + "/" + old.name + strings.TrimPrefix(c.r.URL.Path, prefix)
			if c.r.URL.RawQuery != "" {
				loc += "?" + c.r.URL.RawQuery
			}
			return nil, &resp{status: http.StatusMovedPermanently, location: loc,
				body: enc(map[string]string{"message": "Moved Permanently", "url": loc, "documentation_url": docsURL})}
		}
	}
	if r == nil || !c.canRead(r) {
		nf := notFound()
		return nil, &nf
	}
	return r, nil
}

func (s *Server) getRepo(c *reqCtx) resp {
	r, e := c.repo()
	if e != nil {
		return *e
	}
	gr := s.w.repository(r)
	// The full repository (this route only) has has_discussions.
	gr.HasDiscussions = ptr(false)
	if u := c.user(); u != nil {
		gr.Permissions = permissions(s.w.permission(u, r))
	} else if c.tok != nil {
		gr.Permissions = permissions("pull")
	}
	ms := []member{{"network_count", []byte(strconv.Itoa(r.forks))}, {"subscribers_count", []byte(strconv.Itoa(r.stars / 3))}}
	if r.owner.isOrg {
		// GitHub renders the organization as a simple user (site_admin,
		// followers_url...), which go-github's Organization cannot carry.
		ms = append(ms, member{"organization", enc(s.w.user(r.owner))})
	}
	return jsonResp(200, addMembers(repoJSON(gr), ms...))
}

func (s *Server) getPermission(c *reqCtx) resp {
	r, e := c.repo()
	if e != nil {
		return *e
	}
	u := s.w.accountsByLogin[strings.ToLower(c.r.PathValue("username"))]
	if u == nil {
		return notFound()
	}
	p := s.w.permission(u, r)
	word := map[string]string{"admin": "admin", "push": "write", "pull": "read", "": "none"}[p]
	// The user is a collaborator: it carries its role too.
	gu := s.w.user(u)
	gu.RoleName = ptr(word)
	gu.Permissions = permissions(p)
	return jsonResp(200, enc(map[string]any{"permission": word, "role_name": word, "user": gu}))
}
