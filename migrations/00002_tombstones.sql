-- +goose Up
-- Objects GitHub told us it deleted (a delete webhook, a 410). GitHub never
-- reuses an id, so any later write of the same kind and id is an older
-- delivery arriving out of order and must not bring the row back.
CREATE TABLE github_tombstone (
    kind       text NOT NULL,
    id         bigint NOT NULL,
    deleted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, id)
);

-- +goose Down
DROP TABLE github_tombstone;
