-- +goose Up
-- GitHub binds an ETag to the token that received it, and installation
-- tokens live an hour: after a rotation every stored ETag misses. The page's
-- Last-Modified (sent back as If-Modified-Since) does not depend on the
-- token. NULL: GitHub sent none, or it was too close to the answer's Date to
-- tell a change in the same second apart.
ALTER TABLE api_etag ADD COLUMN last_modified timestamptz;

-- +goose Down
ALTER TABLE api_etag DROP COLUMN last_modified;
