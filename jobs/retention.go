package jobs

import (
	"context"

	"github.com/gocraft/work"
)

// retentionJob removes what is kept no longer (to be built).
func (e *engine) retentionJob(ctx context.Context, _ *work.Job) error { return nil }
