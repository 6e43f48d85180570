package ghfake

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
)

// Accounts (users and organizations), their JSON and GET /user, /users/{username}.

type account struct {
	id        int64
	login     string
	isOrg     bool
	name      string
	createdAt time.Time
	members   []int64 // organizations: member user ids
	admins    map[int64]bool
}

func (w *world) addAccount(login string, isOrg bool, at time.Time) *account {
	a := &account{id: w.id(), login: login, isOrg: isOrg, createdAt: at, admins: map[int64]bool{}}
	a.name = strings.ToUpper(login[:1]) + login[1:]
	w.accounts = append(w.accounts, a)
	w.accountsByID[a.id] = a
	w.accountsByLogin[strings.ToLower(login)] = a
	return a
}

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

// fullUserJSON renders a profile; user_view_type, which go-github v60
// does not model, says whether it has the private part.
func fullUserJSON(u *github.User, view string) []byte {
	return addMembers(enc(u), member{"twitter_username", rawNull}, member{"user_view_type", []byte(strconv.Quote(view))})
}

// privateUser is GET /user: the profile plus what only its owner sees.
func (w *world) privateUser(a *account) *github.User {
	u := w.fullUser(a)
	var private int64
	for _, r := range w.repos {
		if r.owner == a && !r.deleted && r.private {
			private++
		}
	}
	u.TotalPrivateRepos = ptr(private)
	u.OwnedPrivateRepos = ptr(private)
	u.PrivateGists = ptr(0)
	u.DiskUsage = ptr(0)
	u.Collaborators = ptr(0)
	u.TwoFactorAuthentication = ptr(true)
	return u
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

func (s *Server) getAuthUser(c *reqCtx) resp {
	u := c.user()
	if u == nil {
		if c.tok != nil {
			return errResp(http.StatusForbidden, "Resource not accessible by integration")
		}
		return errResp(http.StatusUnauthorized, "Requires authentication")
	}
	// A GitHub App's user token sees the private profile (no scope needed).
	return jsonResp(200, fullUserJSON(s.w.privateUser(u), "private"))
}

func (s *Server) getUser(c *reqCtx) resp {
	a := s.w.accountsByLogin[strings.ToLower(c.r.PathValue("username"))]
	if a == nil {
		return notFound()
	}
	return jsonResp(200, fullUserJSON(s.w.fullUser(a), "public"))
}
