package bench

import (
	"context"
	"errors"
	"fmt"
)

// memoryPart runs a fresh serve (fresh database, fresh ghfake) through a
// backfill LargeFactor times the small one and reads its peak RSS. A run
// longer than LargeTimeout is cut there: the peak so far is reported and
// marked unfinished, since a peak that is still growing is a lower bound.
func memoryPart(ctx context.Context, o Options, r *Result) error {
	b, err := runBackfill(ctx, o, "large", o.Size*o.LargeFactor, o.LargeLatency, o.LargeTimeout, o.Dir)
	defer b.close()
	m := &r.Memory
	if b.peakMB > 0 {
		m.LargePeakRSSMB = round(b.peakMB)
		m.LargeFinished = ptr(b.finished)
		m.LargeWallS = round(b.wall.Seconds())
		m.Ratio = ratio(m.LargePeakRSSMB, m.SmallPeakRSSMB)
	}
	switch {
	case err == nil:
		return nil
	case !b.finished && b.peakMB > 0 && errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
		o.Log.Warn().Dur("after", o.LargeTimeout).Msg("bench: the large backfill did not finish; its peak RSS so far is reported")
		return nil
	}
	return fmt.Errorf("the %dx backfill: %w", o.LargeFactor, err)
}
