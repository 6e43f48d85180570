-- +goose Up
-- GET /pulls/{n}/files lists at most 3,000 files. A pull request changing
-- more keeps its true changed_files, additions and deletions (from the pull
-- request object) while github_pull_request_file holds only the 3,000
-- listed: files_truncated says so, instead of the file rows being silently
-- short.
ALTER TABLE github_pull_request ADD COLUMN files_truncated boolean NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE github_pull_request DROP COLUMN files_truncated;
