-- +goose Up
-- A deleted repository is buried like its issues and labels: a late
-- delivery, or a backfill page listing it, must not bring the repository or
-- any of its children back. GitHub never reuses a repository id; a new
-- repository under the same name has a new id and is not affected.
--
-- Each guarded table keeps one trigger call per row, and that call one
-- lookup on github_tombstone's primary key (an OR of two keys at most).

-- uncovered_at: when the repository left the last live installation that
-- covered it (NULL: covered, or never linked). Private repositories
-- uncovered for longer than revoked_retention are removed; public ones stay,
-- marked by it.
ALTER TABLE github_repository ADD COLUMN uncovered_at timestamptz;
CREATE INDEX github_repository_uncovered_at_idx ON github_repository (uncovered_at) WHERE uncovered_at IS NOT NULL;

CREATE TRIGGER github_repository_skip_buried BEFORE INSERT ON github_repository
    FOR EACH ROW EXECUTE FUNCTION github_skip_buried('repository');

-- Rows with an id of their own and a repo_id: buried themselves, or
-- children of a buried repository.
-- +goose StatementBegin
CREATE FUNCTION github_skip_buried_in_repo() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM github_tombstone
               WHERE (kind = TG_ARGV[0] AND id = NEW.id) OR (kind = 'repository' AND id = NEW.repo_id)) THEN
        RETURN NULL;
    END IF;
    RETURN NEW;
END
$$;
-- +goose StatementEnd

-- Rows identified by their repository alone (permissions, installation
-- links: a buried repository is covered by nothing).
-- +goose StatementBegin
CREATE FUNCTION github_skip_buried_repo() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM github_tombstone WHERE kind = 'repository' AND id = NEW.repo_id) THEN
        RETURN NULL;
    END IF;
    RETURN NEW;
END
$$;
-- +goose StatementEnd

-- A pull request of a buried repository is refused and buried itself, so
-- that its reviews and review comments, written after it in the same
-- delivery, are refused by their pull request's id (which is all they
-- carry) instead of failing for want of the parent row.
-- +goose StatementBegin
CREATE FUNCTION github_pull_request_skip_buried() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM github_tombstone WHERE kind = 'repository' AND id = NEW.base_repo_id) THEN
        INSERT INTO github_tombstone (kind, id) VALUES ('pull_request', NEW.id) ON CONFLICT DO NOTHING;
        RETURN NULL;
    END IF;
    RETURN NEW;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION github_skip_buried_in_pull_request() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM github_tombstone
               WHERE (kind = TG_ARGV[0] AND id = NEW.id) OR (kind = 'pull_request' AND id = NEW.pull_request_id)) THEN
        RETURN NULL;
    END IF;
    RETURN NEW;
END
$$;
-- +goose StatementEnd

DROP TRIGGER github_issue_skip_buried ON github_issue;
DROP TRIGGER github_issue_comment_skip_buried ON github_issue_comment;
DROP TRIGGER github_issue_label_skip_buried ON github_issue_label;
DROP TRIGGER github_milestone_skip_buried ON github_milestone;
DROP TRIGGER github_pull_request_review_comment_skip_buried ON github_pull_request_review_comment;

CREATE TRIGGER github_issue_skip_buried BEFORE INSERT ON github_issue
    FOR EACH ROW EXECUTE FUNCTION github_skip_buried_in_repo('issue');
CREATE TRIGGER github_issue_comment_skip_buried BEFORE INSERT ON github_issue_comment
    FOR EACH ROW EXECUTE FUNCTION github_skip_buried_in_repo('issue_comment');
CREATE TRIGGER github_issue_label_skip_buried BEFORE INSERT ON github_issue_label
    FOR EACH ROW EXECUTE FUNCTION github_skip_buried_in_repo('label');
CREATE TRIGGER github_milestone_skip_buried BEFORE INSERT ON github_milestone
    FOR EACH ROW EXECUTE FUNCTION github_skip_buried_in_repo('milestone');
CREATE TRIGGER github_user_repository_association_skip_buried BEFORE INSERT ON github_user_repository_association
    FOR EACH ROW EXECUTE FUNCTION github_skip_buried_repo();
CREATE TRIGGER github_installation_repository_skip_buried BEFORE INSERT ON github_installation_repository
    FOR EACH ROW EXECUTE FUNCTION github_skip_buried_repo();
CREATE TRIGGER github_pull_request_skip_buried BEFORE INSERT ON github_pull_request
    FOR EACH ROW EXECUTE FUNCTION github_pull_request_skip_buried();
CREATE TRIGGER github_pull_request_review_skip_buried BEFORE INSERT ON github_pull_request_review
    FOR EACH ROW EXECUTE FUNCTION github_skip_buried_in_pull_request('pull_request_review');
CREATE TRIGGER github_pull_request_review_comment_skip_buried BEFORE INSERT ON github_pull_request_review_comment
    FOR EACH ROW EXECUTE FUNCTION github_skip_buried_in_pull_request('pull_request_review_comment');

-- +goose Down
DROP TRIGGER github_pull_request_review_comment_skip_buried ON github_pull_request_review_comment;
DROP TRIGGER github_pull_request_review_skip_buried ON github_pull_request_review;
DROP TRIGGER github_pull_request_skip_buried ON github_pull_request;
DROP TRIGGER github_installation_repository_skip_buried ON github_installation_repository;
DROP TRIGGER github_user_repository_association_skip_buried ON github_user_repository_association;
DROP TRIGGER github_milestone_skip_buried ON github_milestone;
DROP TRIGGER github_issue_label_skip_buried ON github_issue_label;
DROP TRIGGER github_issue_comment_skip_buried ON github_issue_comment;
DROP TRIGGER github_issue_skip_buried ON github_issue;

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

DROP FUNCTION github_skip_buried_in_pull_request();
DROP FUNCTION github_pull_request_skip_buried();
DROP FUNCTION github_skip_buried_repo();
DROP FUNCTION github_skip_buried_in_repo();
DROP TRIGGER github_repository_skip_buried ON github_repository;
DROP INDEX github_repository_uncovered_at_idx;
ALTER TABLE github_repository DROP COLUMN uncovered_at;
