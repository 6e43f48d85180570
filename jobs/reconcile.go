package jobs

import (
	"context"

	"github.com/gocraft/work"
)

// reconcileJob scans every installation when due (to be built).
func (e *engine) reconcileJob(ctx context.Context, _ *work.Job) error { return nil }
