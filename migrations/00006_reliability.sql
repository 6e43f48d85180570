-- +goose Up
-- Nothing lost: catch-up from GitHub's delivery log, local replay of failed
-- deliveries, reconciliation, ordering without updated_at, retention.

-- Local replay of a failed delivery from its stored payload: how many
-- times it was tried, when it may be tried next, and when it was given up.
-- recovered_by says what finally stored a delivery that had failed or was
-- missing ('replay', 'catchup'); NULL for one stored at its first arrival.
ALTER TABLE webhook_delivery
    ADD COLUMN replay_attempts integer NOT NULL DEFAULT 0,
    ADD COLUMN replay_after    timestamptz,
    ADD COLUMN gave_up_at      timestamptz,
    ADD COLUMN recovered_by    text CHECK (recovered_by IN ('replay', 'catchup'));
CREATE INDEX webhook_delivery_replay_idx ON webhook_delivery (replay_after)
    WHERE status = 'failed' AND gave_up_at IS NULL;
-- The newest delivery of each installation (metrics, UI) and the recent
-- deliveries of an installation, newest first.
CREATE INDEX webhook_delivery_installation_idx ON webhook_delivery (installation_id, received_at);
-- Retention drops payloads older than delivery_retention in batches.
CREATE INDEX webhook_delivery_payload_idx ON webhook_delivery (received_at)
    WHERE payload IS NOT NULL;

-- Catch-up's place in GitHub's delivery log (one row, id = 1): the newest
-- delivery a complete run has seen. The next run lists back to it (with an
-- overlap), at most GitHub's 3 days. A run whose listing failed leaves it
-- unmoved.
CREATE TABLE catchup_cursor (
    id               integer PRIMARY KEY CHECK (id = 1),
    delivered_at     timestamptz NOT NULL,
    delivery_id      bigint NOT NULL,
    ran_at           timestamptz NOT NULL DEFAULT now()
);

-- A redelivery catch-up asked GitHub for, by GUID: it is not asked again
-- while it is on its way, and the delivery's original time (delivered_at in
-- GitHub's log) orders what has no updated_at when it arrives late.
CREATE TABLE catchup_request (
    guid               text PRIMARY KEY,
    github_delivery_id bigint NOT NULL,
    event              text NOT NULL,
    action             text,
    installation_id    bigint,
    repo_id            bigint,
    delivered_at       timestamptz NOT NULL,
    requested_at       timestamptz NOT NULL DEFAULT now(),
    attempts           integer NOT NULL DEFAULT 1,
    recovered_at       timestamptz,
    error              text
);
CREATE INDEX catchup_request_requested_at_idx ON catchup_request (requested_at);

-- A reconciliation run: incremental scans of every installation (or full
-- ones, weekly), and what they cost once their scans finished.
CREATE TABLE reconcile_run (
    id            bigserial PRIMARY KEY,
    full_scan     boolean NOT NULL,
    reason        text NOT NULL,
    scan_ids      bigint[] NOT NULL DEFAULT '{}',
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    requests      integer,
    not_modified  integer,
    items         integer
);
CREATE INDEX reconcile_run_started_at_idx ON reconcile_run (full_scan, started_at);

-- A collaborator removed from a repository, at the time of the delivery
-- that said so: a member.added older than it (a late or redelivered one)
-- does not bring the collaboration back. A later added clears it.
CREATE TABLE github_user_repository_removal (
    user_id    bigint NOT NULL,
    repo_id    bigint NOT NULL,
    removed_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, repo_id)
);
CREATE INDEX github_user_repository_removal_removed_at_idx ON github_user_repository_removal (removed_at);

-- Retention removes what is no longer needed, in batches, oldest first.
CREATE INDEX scan_finished_at_idx ON scan (finished_at) WHERE status IN ('done', 'failed');
-- The newest complete scan of a collection: where an incremental scan
-- starts, and what retention keeps.
CREATE INDEX scan_done_key_idx ON scan (scan_key, started_at) WHERE status = 'done';
CREATE INDEX api_etag_updated_at_idx ON api_etag (updated_at);
CREATE INDEX github_tombstone_deleted_at_idx ON github_tombstone (deleted_at);

-- +goose Down
DROP INDEX github_tombstone_deleted_at_idx;
DROP INDEX api_etag_updated_at_idx;
DROP INDEX scan_done_key_idx;
DROP INDEX scan_finished_at_idx;
DROP TABLE github_user_repository_removal;
DROP TABLE reconcile_run;
DROP TABLE catchup_request;
DROP TABLE catchup_cursor;
DROP INDEX webhook_delivery_payload_idx;
DROP INDEX webhook_delivery_installation_idx;
DROP INDEX webhook_delivery_replay_idx;
ALTER TABLE webhook_delivery
    DROP COLUMN recovered_by,
    DROP COLUMN gave_up_at,
    DROP COLUMN replay_after,
    DROP COLUMN replay_attempts;
