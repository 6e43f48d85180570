package ui

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/volatiletech/sqlboiler/v4/queries/qm"
	"golang.org/x/oauth2"

	"github.com/webhookdb/webhookdb/models"
	"github.com/webhookdb/webhookdb/process"
)

// What a logged-in user can reach is what GitHub says, with the user's own
// token: the app's installations the user has access to
// (GET /user/installations) and, in each, the repositories
// (GET /user/installations/{id}/repositories). Every page asks here before
// it shows a repository; a repository not in the answer is a 404.

// reachTTL is how long GitHub's answer is kept: a page and the polls it
// makes in the next seconds do not ask GitHub again, and a user who lost
// access sees it within this time.
const reachTTL = 30 * time.Second

// reachCacheMax bounds the cache; when full, expired answers go first,
// then the oldest.
const reachCacheMax = 1024

// errGitHubUnreachable says GitHub could not tell what the user can reach
// (down, rate limited, the token refused).
var errGitHubUnreachable = errors.New("GitHub could not be reached")

// reach is what one user can reach through the app's installations.
type reach struct {
	Installations []installationReach
}

// installationReach is one installation the user can reach, with the
// repositories of it the user can reach.
type installationReach struct {
	ID      int64
	Account string
	Repos   []repoReach
}

// repoReach is one repository the user can reach, with the user's
// permissions on it as GitHub lists them (pull, triage, push, maintain,
// admin).
type repoReach struct {
	ID          int64
	Owner, Name string
	Private     bool
	Permissions map[string]bool
}

// repo finds owner/name among r's repositories, case-insensitively as
// GitHub matches names.
func (r *reach) repo(owner, name string) (repoReach, installationReach, bool) {
	if r == nil {
		return repoReach{}, installationReach{}, false
	}
	for _, in := range r.Installations {
		for _, rr := range in.Repos {
			if strings.EqualFold(rr.Owner, owner) && strings.EqualFold(rr.Name, name) {
				return rr, in, true
			}
		}
	}
	return repoReach{}, installationReach{}, false
}

// reachCache keeps GitHub's answers for reachTTL, keyed by a hash of the
// user token (never the token itself), so a new token (a refresh, another
// login) asks GitHub afresh. The zero value is ready.
type reachCache struct {
	mu      sync.Mutex
	entries map[[32]byte]reachEntry
}

type reachEntry struct {
	r  *reach
	at time.Time
}

func reachKey(login, token string) [32]byte {
	return sha256.Sum256([]byte(login + "\x00" + token))
}

func (c *reachCache) get(key [32]byte, now time.Time) (*reach, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok {
		return nil, false
	}
	if age := now.Sub(e.at); age < 0 || age >= reachTTL {
		// Never stale data past the TTL (nor from a clock set back).
		delete(c.entries, key)
		return nil, false
	}
	return e.r, true
}

func (c *reachCache) put(key [32]byte, r *reach, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[[32]byte]reachEntry{}
	}
	if len(c.entries) >= reachCacheMax {
		var oldest [32]byte
		var oldestAt time.Time
		first := true
		for k, e := range c.entries {
			if now.Sub(e.at) >= reachTTL {
				delete(c.entries, k)
				continue
			}
			if first || e.at.Before(oldestAt) {
				oldest, oldestAt, first = k, e.at, false
			}
		}
		if len(c.entries) >= reachCacheMax {
			delete(c.entries, oldest)
		}
	}
	c.entries[key] = reachEntry{r: r, at: now}
}

// reach is what the user login, with user access token token, can reach,
// from the cache or from GitHub. An error wraps errGitHubUnreachable when
// GitHub did not answer well; the page then says so and shows nothing.
// What GitHub said is kept as the user's repository associations, for the
// repositories stored in the replica.
func (u *UI) reach(ctx context.Context, login, token string) (*reach, error) {
	key := reachKey(login, token)
	if r, ok := u.access.get(key, u.now()); ok {
		return r, nil
	}
	fetchedAt := u.now()
	client, err := u.userTokenClient(token)
	if err != nil {
		return nil, err
	}
	r, err := fetchReach(ctx, client)
	if err != nil {
		return nil, fmt.Errorf("what %s can reach: %w: %w", login, errGitHubUnreachable, err)
	}
	if err := u.keepAssociations(ctx, client, login, r, fetchedAt); err != nil {
		// The answer stands; the associations are bookkeeping the next
		// fetch writes again.
		u.deps.Logger.Error().Err(err).Str("login", login).Msg("store the user's repository associations")
	}
	u.access.put(key, r, fetchedAt)
	return r, nil
}

// userTokenClient is a GitHub client calling the configured v3 API with
// the user's token over the UI's HTTP client.
func (u *UI) userTokenClient(token string) (*github.Client, error) {
	hc := &http.Client{Timeout: u.client.Timeout, Transport: &oauth2.Transport{
		Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token}), Base: u.client.Transport}}
	return u.userClient(hc)
}

// fetchReach asks GitHub, every page of installations and of their
// repositories.
func fetchReach(ctx context.Context, c *github.Client) (*reach, error) {
	r := &reach{}
	opt := &github.ListOptions{PerPage: 100}
	for {
		ins, res, err := c.Apps.ListUserInstallations(ctx, opt)
		if err != nil {
			return nil, fmt.Errorf("GET /user/installations: %w", err)
		}
		for _, in := range ins {
			r.Installations = append(r.Installations, installationReach{ID: in.GetID(), Account: in.GetAccount().GetLogin()})
		}
		if res.NextPage == 0 {
			break
		}
		opt.Page = res.NextPage
	}
	for i := range r.Installations {
		in := &r.Installations[i]
		opt := &github.ListOptions{PerPage: 100}
		for {
			list, res, err := c.Apps.ListUserRepos(ctx, in.ID, opt)
			if res != nil && res.StatusCode == http.StatusNotFound {
				// GitHub answers 404 for an installation with none of
				// the user's repositories (or one just uninstalled).
				break
			}
			if err != nil {
				return nil, fmt.Errorf("GET /user/installations/%d/repositories: %w", in.ID, err)
			}
			for _, repo := range list.Repositories {
				in.Repos = append(in.Repos, repoReach{ID: repo.GetID(), Owner: repo.GetOwner().GetLogin(),
					Name: repo.GetName(), Private: repo.GetPrivate(), Permissions: repo.Permissions})
			}
			if res.NextPage == 0 {
				break
			}
			opt.Page = res.NextPage
		}
	}
	return r, nil
}

// keepAssociations writes what GitHub said as the user's permissions on
// the repositories of r stored in the replica (others have no row to
// refer to yet), and removes the user's associations GitHub no longer
// lists, in one transaction.
func (u *UI) keepAssociations(ctx context.Context, c *github.Client, login string, r *reach, at time.Time) error {
	var ids []interface{}
	reachable := map[int64]bool{}
	for _, in := range r.Installations {
		for _, rr := range in.Repos {
			ids = append(ids, rr.ID)
			reachable[rr.ID] = true
		}
	}
	isStored := map[int64]bool{}
	if len(ids) > 0 {
		stored, err := models.GithubRepositories(qm.Select(models.GithubRepositoryColumns.ID),
			qm.WhereIn(models.GithubRepositoryColumns.ID+" IN ?", ids...)).All(ctx, u.deps.DB)
		if err != nil {
			return fmt.Errorf("stored repositories: %w", err)
		}
		for _, s := range stored {
			isStored[s.ID] = true
		}
	}
	userID, err := u.userID(ctx, c)
	if err != nil {
		return err
	}
	m := process.Meta{Via: process.ViaAPI, FetchedAt: at}
	tx, err := u.deps.DB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it only says so
	if _, err := process.User(ctx, tx, &github.User{ID: &userID, Login: &login}, m); err != nil {
		return err
	}
	for _, in := range r.Installations {
		for _, rr := range in.Repos {
			if !isStored[rr.ID] {
				continue
			}
			if err := process.UserRepositoryPermission(ctx, tx, userID, rr.ID, rr.Permissions, m); err != nil {
				return err
			}
		}
	}
	// An association GitHub no longer lists is gone: the user lost the
	// repository (removed as a collaborator, left the organization).
	had, err := models.GithubUserRepositoryAssociations(qm.Select(models.GithubUserRepositoryAssociationColumns.RepoID),
		models.GithubUserRepositoryAssociationWhere.UserID.EQ(userID)).All(ctx, tx)
	if err != nil {
		return fmt.Errorf("the user's stored associations: %w", err)
	}
	for _, a := range had {
		if reachable[a.RepoID] {
			continue
		}
		if err := process.DeleteUserRepositoryAssociation(ctx, tx, userID, a.RepoID, m); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// userID is the logged-in user's GitHub id: the session's, else GitHub's
// GET /user (a context without a session).
func (u *UI) userID(ctx context.Context, c *github.Client) (int64, error) {
	if u.hasSession(ctx) {
		if id := u.Sessions.GetInt64(ctx, keyUserID); id != 0 {
			return id, nil
		}
	}
	user, _, err := c.Users.Get(ctx, "")
	if err != nil {
		return 0, fmt.Errorf("GET /user: %w", err)
	}
	return user.GetID(), nil
}
