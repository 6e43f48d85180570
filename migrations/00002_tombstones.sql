-- +goose Up
-- Objects GitHub told us it deleted (a delete webhook, a transfer). GitHub
-- never reuses an id, so any later write of the same kind and id is an
-- older delivery arriving out of order and must not bring the row back.
CREATE TABLE github_tombstone (
    kind       text NOT NULL,
    id         bigint NOT NULL,
    deleted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, id)
);

-- The guard sits in the tables themselves, so every writer keeps it and
-- none pays a round trip for it: a row whose id is buried is not inserted
-- (the upsert then returns nothing for it, which writers report as stale).
-- +goose StatementBegin
CREATE FUNCTION github_skip_buried() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM github_tombstone WHERE kind = TG_ARGV[0] AND id = NEW.id) THEN
        RETURN NULL;
    END IF;
    RETURN NEW;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER github_issue_skip_buried BEFORE INSERT ON github_issue
    FOR EACH ROW EXECUTE FUNCTION github_skip_buried('issue');
CREATE TRIGGER github_issue_comment_skip_buried BEFORE INSERT ON github_issue_comment
    FOR EACH ROW EXECUTE FUNCTION github_skip_buried('issue_comment');
CREATE TRIGGER github_issue_label_skip_buried BEFORE INSERT ON github_issue_label
    FOR EACH ROW EXECUTE FUNCTION github_skip_buried('label');
CREATE TRIGGER github_milestone_skip_buried BEFORE INSERT ON github_milestone
    FOR EACH ROW EXECUTE FUNCTION github_skip_buried('milestone');
CREATE TRIGGER github_pull_request_review_comment_skip_buried BEFORE INSERT ON github_pull_request_review_comment
    FOR EACH ROW EXECUTE FUNCTION github_skip_buried('pull_request_review_comment');

-- +goose Down
DROP TRIGGER github_pull_request_review_comment_skip_buried ON github_pull_request_review_comment;
DROP TRIGGER github_milestone_skip_buried ON github_milestone;
DROP TRIGGER github_issue_label_skip_buried ON github_issue_label;
DROP TRIGGER github_issue_comment_skip_buried ON github_issue_comment;
DROP TRIGGER github_issue_skip_buried ON github_issue;
DROP FUNCTION github_skip_buried();
DROP TABLE github_tombstone;
