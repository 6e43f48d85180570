package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/webhookdb/webhookdb/process"
)

// JobPurgeRevoked is the periodic job that removes the private
// repositories no live installation has covered for longer than
// Deps.RevokedRetention (see process/repository_access.go).
const JobPurgeRevoked = "purge_revoked"

// purgeBatch is how many rows one delete statement of the purge removes:
// small enough that no statement holds its locks for long.
const purgeBatch = 1000

// purgeRevoked removes, as of now, the private repositories uncovered
// since before now - RevokedRetention, and reports how many. Every
// statement commits on its own (the pool, not a transaction), so webhooks
// writing meanwhile never wait long behind it.
func (e *engine) purgeRevoked(ctx context.Context, now time.Time) (int, error) {
	n, err := process.DeleteRevokedPrivateRepositories(ctx, e.deps.DB, now.Add(-e.deps.RevokedRetention), purgeBatch)
	if n > 0 {
		e.deps.Logger.Info().Int("repositories", n).Dur("retention", e.deps.RevokedRetention).
			Msg("removed private repositories no installation covers any more")
	}
	if err != nil {
		return n, fmt.Errorf("purge revoked repositories: %w", err)
	}
	return n, nil
}
