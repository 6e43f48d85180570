package handlers

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// claimAll claims the GUIDs of a batch's deliveries in one statement, as
// claim does for one: the i-th result is the i-th delivery's. A GUID that
// comes twice is claimed by its first copy; the later ones are duplicates,
// as they would be one after the other. The rows are inserted in GUID
// order, so that concurrent batches take their key locks in one order.
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
		return nil, fmt.Errorf("claim a batch of %d deliveries: %w", len(ds), err)
	}
	defer rows.Close()
	for rows.Next() {
		var guid string
		var c claimed
		if err := rows.Scan(&guid, &c.installationGone, &c.askedAt); err != nil {
			return nil, fmt.Errorf("claim a batch of %d deliveries: read result: %w", len(ds), err)
		}
		c.claimed = true
		if i, ok := first[guid]; ok {
			out[i] = c
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim a batch of %d deliveries: %w", len(ds), err)
	}
	return out, nil
}
