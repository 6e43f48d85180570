package bench

import (
	"context"
	"errors"
	"fmt"
)

// memoryPart runs two fresh serves (fresh database, fresh ghfake each)
// through the small backfill and one LargeFactor times larger, both at
// LargeLatency, so that the two peaks differ by the data alone (a faster
// GitHub keeps more in flight), and reads their peak RSS. A run longer
// than LargeTimeout is cut there: the peak so far is reported and marked
// unfinished, since a peak that is still growing is a lower bound.
func memoryPart(ctx context.Context, o Options, r *Result) error {
	m := &r.Memory
	small, err := runBackfill(ctx, o, "small", o.Size, o.LargeLatency, o.LargeTimeout, o.Dir)
	small.close()
	if err != nil {
		return fmt.Errorf("the 1x backfill at %s: %w", o.LargeLatency, err)
	}
	m.SmallPeakRSSMB = round(small.peakMB)
	b, err := runBackfill(ctx, o, "large", o.Size*o.LargeFactor, o.LargeLatency, o.LargeTimeout, o.Dir)
	defer b.close()
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
