package jobs

import (
	"context"
	"database/sql"
)

// ScanInTx records a scan inside the caller's transaction, so that the
// request is stored atomically with the data that asked for it: if the
// process dies or Redis is down after the commit, the sweeper finds the
// queued scan and starts it (an outbox). Call enqueue after the commit to
// start it now; an enqueue error loses nothing.
func (s *Scheduler) ScanInTx(ctx context.Context, tx *sql.Tx, req ScanRequest) (scanID int64, joined bool, enqueue func() error, err error) {
	if err := req.validate(); err != nil {
		return 0, false, nil, err
	}
	id, joined, err := s.e.startScan(ctx, tx, req, 0)
	if err != nil {
		return 0, false, nil, err
	}
	enqueue = func() error {
		if joined {
			return nil
		}
		return s.e.enqueueFirst(ctx, req.Kind, id)
	}
	return id, joined, enqueue, nil
}
