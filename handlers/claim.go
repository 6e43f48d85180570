package handlers

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// claimAll claims the GUIDs of deliveries in one statement, a delivery
// alone or a batch's: each row is inserted as processed (a later
// statement marks it stale when it is), unless its GUID is stored already
// with another status than failed. The i-th result is the i-th delivery's.
//
// Hand-written SQL, on the hot path of every delivery: the claim is a
// conditional upsert (DO UPDATE ... WHERE status = 'failed' RETURNING)
// that the models' Upsert cannot state. Claiming the GUID first serializes
// two copies of one delivery: the second waits on the primary key until
// the first commits, then finds it done. A GUID that comes twice in one
// call is claimed by its first copy; the later ones are duplicates, as
// they would be one after the other. The rows are inserted in GUID order,
// so that concurrent batches take their key locks in one order.
//
// A delivery that catch-up asked GitHub to redeliver carries, in
// catchup_request, the time GitHub first sent it: its data is as of then,
// which orders what has no updated_at (reviews, collaborators). The same
// statement marks the request recovered and the delivery as recovered by
// catch-up (or by replay), so recovery costs no round trip. processed_at is
// the transaction's start (now()), as a later update would set it.
func claimAll(ctx context.Context, tx *sql.Tx, ds []delivery) ([]claimed, error) {
	out := make([]claimed, len(ds))
	first := make(map[string]int, len(ds))
	var (
		ids, events, actions, payloads []string
		installations, repos           []int64
		received                       []time.Time
		replays                        []bool
	)
	for i, d := range ds {
		if _, seen := first[d.id]; seen {
			continue
		}
		first[d.id] = i
		ids, events, actions = append(ids, d.id), append(events, d.event), append(actions, d.action)
		installations, repos = append(installations, d.installationID), append(repos, d.repoID)
		received, replays = append(received, d.received), append(replays, d.replay)
		payloads = append(payloads, string(d.payload))
	}
	// Absent values travel as '' and 0 (the arrays hold no NULLs) and are
	// stored as NULL, as claim stores them.
	rows, err := tx.QueryContext(ctx, `
WITH input AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::timestamptz[], $7::text[], $8::boolean[])
    AS i(delivery_id, event, action, installation_id, repo_id, received_at, payload, replay)
), asked AS (
  UPDATE catchup_request c SET recovered_at = COALESCE(c.recovered_at, now())
  FROM input i WHERE c.guid = i.delivery_id RETURNING c.guid, c.delivered_at
)
INSERT INTO webhook_delivery AS w (delivery_id, event, action, installation_id, repo_id, received_at, processed_at, status, error, payload, recovered_by)
SELECT i.delivery_id, i.event, NULLIF(i.action, ''), NULLIF(i.installation_id, 0), NULLIF(i.repo_id, 0), i.received_at, now(),
  'processed', NULL, NULLIF(i.payload, '')::jsonb,
  CASE WHEN i.replay THEN 'replay' WHEN EXISTS (SELECT 1 FROM asked a WHERE a.guid = i.delivery_id) THEN 'catchup' END
FROM input i ORDER BY i.delivery_id
ON CONFLICT (delivery_id) DO UPDATE SET
  event = EXCLUDED.event, action = EXCLUDED.action, installation_id = EXCLUDED.installation_id,
  repo_id = EXCLUDED.repo_id, received_at = EXCLUDED.received_at, status = 'processed',
  error = NULL, processed_at = now(), payload = EXCLUDED.payload, recovered_by = EXCLUDED.recovered_by
WHERE w.status = 'failed'
RETURNING w.delivery_id,
  EXISTS (SELECT 1 FROM github_installation g WHERE g.id = w.installation_id AND g.deleted_at IS NOT NULL),
  (SELECT a.delivered_at FROM asked a WHERE a.guid = w.delivery_id)`,
		ids, events, actions, installations, repos, received, payloads, replays)
	if err != nil {
		return nil, fmt.Errorf("claim %s: %w", claimWhat(ds), err)
	}
	defer rows.Close()
	for rows.Next() {
		var guid string
		var c claimed
		if err := rows.Scan(&guid, &c.installationGone, &c.askedAt); err != nil {
			return nil, fmt.Errorf("claim %s: read result: %w", claimWhat(ds), err)
		}
		c.claimed = true
		if i, ok := first[guid]; ok {
			out[i] = c
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim %s: %w", claimWhat(ds), err)
	}
	return out, nil
}

// claimWhat names the deliveries of a claim in its errors.
func claimWhat(ds []delivery) string {
	if len(ds) == 1 {
		return fmt.Sprintf("%s delivery %s", ds[0].event, ds[0].id)
	}
	return fmt.Sprintf("a batch of %d deliveries", len(ds))
}
