package process

import (
	"context"
	"fmt"

	"github.com/google/go-github/v60/github"
	"github.com/volatiletech/sqlboiler/v4/boil"
)

// Envelope is what a webhook payload carries around its main object: the
// sender, the repository (with its owner) and the installation's id, as of
// its delivery's Meta.
type Envelope struct {
	Sender         *github.User
	Repository     *github.Repository
	InstallationID int64
	Meta           Meta
}

// Envelopes writes the envelopes of several deliveries committed in one
// transaction (a group commit): every sender and repository owner in one
// statement, every repository in one, every installation link in one. The
// deliveries of a busy repository all carry the same repository and often
// the same sender, so each row is written (and locked) once per batch
// instead of once per delivery. Each row keeps its own delivery's as-of
// moment, and of several versions of one object the one that would win
// alone is written (dedup), so the result is the same as writing them one
// delivery at a time. A sender without id or login is skipped, as a nested
// object is; a repository that cannot be stored fails the whole call. With
// a Later (exec is a LaterHolder) the users wait for its Flush.
func Envelopes(ctx context.Context, exec boil.ContextExecutor, envs []Envelope) error {
	if len(envs) == 0 {
		return nil
	}
	m := envs[0].Meta
	users := make([]row, 0, 2*len(envs))
	repos := make([]row, 0, len(envs))
	var instIDs, repoIDs []int64
	for i, e := range envs {
		if err := checkMeta(e.Meta); err != nil {
			return err
		}
		if e.Meta.Via != m.Via {
			return fmt.Errorf("envelope %d replicated via %s, not %s: %w", i, e.Meta.Via, m.Via, ErrInvalid)
		}
		for _, u := range []*github.User{e.Sender, e.Repository.GetOwner()} {
			if r, err := userRow(u); err == nil {
				r.fetchedAt = e.Meta.FetchedAt
				users = append(users, r)
			}
		}
		if e.Repository == nil {
			continue
		}
		r, err := repositoryRow(e.Repository)
		if err != nil {
			return fmt.Errorf("envelope %d: %w", i, err)
		}
		r.fetchedAt = e.Meta.FetchedAt
		repos = append(repos, r)
		if e.InstallationID != 0 {
			instIDs, repoIDs = append(instIDs, e.InstallationID), append(repoIDs, e.Repository.GetID())
		}
	}
	if err := writeNestedUsers(ctx, exec, m, users); err != nil {
		return fmt.Errorf("%d envelopes: %w", len(envs), err)
	}
	if len(repos) > 0 {
		if _, err := upsert(ctx, exec, repositorySpec, m, repos); err != nil {
			return fmt.Errorf("upsert %d repositories of %d envelopes: %w", len(repos), len(envs), err)
		}
	}
	if err := linkInstallationRepositories(ctx, exec, instIDs, repoIDs); err != nil {
		return fmt.Errorf("link the repositories of %d envelopes to their installations: %w", len(envs), err)
	}
	return nil
}
