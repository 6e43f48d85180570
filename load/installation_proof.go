package load

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/jobs"
)

// maxProofPages bounds the listings of an installation-wide proof: 100
// pages of 100 repositories, more than an installation we serve has.
const maxProofPages = 100

// proveInstallation checks that an installation token is of installation
// id: GitHub's GET /installation/repositories for it must list all and
// only the repositories the app's own token of id lists. A token of
// another app (a workflow's GITHUB_TOKEN) that reaches one of them, or a
// token of id narrowed to some repositories, proves nothing: 403. first
// and firstResp are the token's first page, already read.
//
// GitHub tells an installation token nothing else about its installation,
// so a token of another app installed on exactly the same repositories
// passes; its holder can read all of them anyway.
func (a *authorizer) proveInstallation(ctx context.Context, c *github.Client, id int64, first *github.ListRepositories, firstResp *github.Response, rh *rateLimitHeaders) (string, error) {
	if a.installationRepos == nil {
		return "", errors.New("no way to list the installation's repositories is configured")
	}
	// The token's own budget was spent first; only a real installation
	// token of someone costs the app's budget.
	want, err := a.installationRepos(ctx, id)
	if err != nil {
		return "", err
	}
	if len(want) == 0 || first.GetTotalCount() != len(want) {
		// Nothing to load, or a different set: no proof either way.
		return "", errForbidden
	}
	seen := map[int64]bool{}
	list, resp := first, firstResp
	page := &github.ListOptions{PerPage: 100}
	for pages := 1; ; pages++ {
		for _, r := range list.Repositories {
			if !want[r.GetID()] {
				return "", errForbidden
			}
			seen[r.GetID()] = true
		}
		if resp.NextPage == 0 || pages >= maxProofPages {
			break
		}
		page.Page = resp.NextPage
		list, resp, err = c.Apps.ListRepos(ctx, page)
		rh.recordResponse(resp)
		if err != nil {
			return "", githubFailure("list the repositories of the token's installation", err)
		}
	}
	if len(seen) != len(want) {
		return "", errForbidden
	}
	return installationPrincipal(id), nil
}

// installationRepoIDs lists the repository ids of installation id with
// the app's own installation token.
func (h *Handler) installationRepoIDs(ctx context.Context, id int64) (map[int64]bool, error) {
	if h.deps.GitHub == nil {
		return nil, errors.New("no GitHub client is configured to list the installation's repositories")
	}
	c, err := h.deps.GitHub.NewInstallationClient(id)
	if err != nil {
		return nil, fmt.Errorf("installation client of %d: %w", id, err)
	}
	out := map[int64]bool{}
	page := &github.ListOptions{PerPage: 100}
	for pages := 0; pages < maxProofPages; pages++ {
		list, resp, err := c.Apps.ListRepos(ctx, page)
		if err != nil {
			if rl, ok := jobs.RateLimitFromError(id, err); ok {
				return nil, &rateLimited{until: rl.Until, of: "the installation", cause: err}
			}
			if code := classify(err); code == http.StatusUnauthorized || code == http.StatusNotFound {
				// Uninstalled meanwhile: nothing can prove it.
				return nil, fmt.Errorf("%w: installation %d is gone: %v", errForbidden, id, err)
			}
			return nil, &githubError{err: fmt.Errorf("list the repositories of installation %d: %w", id, err)}
		}
		for _, r := range list.Repositories {
			out[r.GetID()] = true
		}
		if resp.NextPage == 0 {
			break
		}
		page.Page = resp.NextPage
	}
	return out, nil
}
