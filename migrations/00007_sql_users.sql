-- +goose Up
-- SQL access for analysts (`webhookdb sql-user`): read-only roles that may
-- SELECT the replicated github_* tables, optionally limited to the rows of
-- some accounts' repositories by row-level security.
--
-- Who the policies bind: the app's own role owns these tables and so
-- bypasses their row-level security (no FORCE ROW LEVEL SECURITY: the
-- writers of process/ must see every row), and superusers bypass it too.
-- Every other role sees only what the policies below allow, and a role
-- without SELECT on a table (every role but the sql users) sees nothing at
-- all.

-- The accounts a restricted sql user may see; a role with no rows here is
-- unrestricted. Not granted to sql users: they learn their accounts only
-- through the functions below.
CREATE TABLE sql_user_account (
    role_name     text NOT NULL,
    account_login text NOT NULL,
    PRIMARY KEY (role_name, account_login)
);

-- The helpers are SECURITY DEFINER so that they read sql_user_account and
-- github_repository as their owner: without RLS recursion (a policy on
-- github_repository reading github_repository) and without granting the
-- bookkeeping table. Inside them current_user is the owner, so the caller's
-- role arrives as an argument whose default, current_user, is evaluated in
-- the caller's query. A caller may only ask about a role that its session
-- user is a member of (itself, or one it SET ROLE to); any other role is
-- answered as restricted to nothing, so no analyst learns another's accounts.

-- +goose StatementBegin
CREATE FUNCTION webhookdb_sql_user_accounts(role_name text DEFAULT current_user) RETURNS text[]
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT CASE WHEN pg_has_role(session_user, role_name, 'MEMBER')
        THEN coalesce((SELECT array_agg(lower(a.account_login)) FROM sql_user_account a
                       WHERE a.role_name = webhookdb_sql_user_accounts.role_name), '{}')
        ELSE '{}' END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION webhookdb_sql_user_restricted(role_name text DEFAULT current_user) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT NOT pg_has_role(session_user, role_name, 'MEMBER')
        OR EXISTS (SELECT 1 FROM sql_user_account a WHERE a.role_name = webhookdb_sql_user_restricted.role_name)
$$;
-- +goose StatementEnd

-- A repository belongs to an account when the account owns it or is its
-- organization (the two differ only for payloads that name both).
-- +goose StatementBegin
CREATE FUNCTION webhookdb_visible_repo_ids(role_name text DEFAULT current_user) RETURNS bigint[]
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT coalesce(array_agg(r.id), '{}')
    FROM github_repository r
    WHERE lower(r.owner_login) = ANY (webhookdb_sql_user_accounts(role_name))
       OR lower(r.organization_login) = ANY (webhookdb_sql_user_accounts(role_name))
$$;
-- +goose StatementEnd

-- Only the sql users get EXECUTE (webhookdb sql-user grants it).
REVOKE EXECUTE ON FUNCTION webhookdb_sql_user_accounts(text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION webhookdb_sql_user_restricted(text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION webhookdb_visible_repo_ids(text) FROM PUBLIC;

-- The policies. Each is "unrestricted, or the row is visible", and each
-- function call is a scalar subquery, so it is an InitPlan evaluated once
-- per query, not once per row (the ::type[] cast makes the parenthesised
-- subquery one array value; without it ANY would read it as a set). Subqueries on other github_* tables are
-- themselves subject to those tables' policies, which is the point: a row
-- is visible when what it hangs from is visible. No policy refers back to
-- a table whose policy refers to it, so there is no recursion.

-- Repositories: the accounts' own.
ALTER TABLE github_repository ENABLE ROW LEVEL SECURITY;
CREATE POLICY webhookdb_sql_user_read ON github_repository FOR SELECT TO PUBLIC
    USING (NOT (SELECT webhookdb_sql_user_restricted()) OR id = ANY ((SELECT webhookdb_visible_repo_ids())::bigint[]));

-- Tables with a repo_id: the rows of a visible repository.
ALTER TABLE github_milestone ENABLE ROW LEVEL SECURITY;
CREATE POLICY webhookdb_sql_user_read ON github_milestone FOR SELECT TO PUBLIC
    USING (NOT (SELECT webhookdb_sql_user_restricted()) OR repo_id = ANY ((SELECT webhookdb_visible_repo_ids())::bigint[]));
ALTER TABLE github_issue_label ENABLE ROW LEVEL SECURITY;
CREATE POLICY webhookdb_sql_user_read ON github_issue_label FOR SELECT TO PUBLIC
    USING (NOT (SELECT webhookdb_sql_user_restricted()) OR repo_id = ANY ((SELECT webhookdb_visible_repo_ids())::bigint[]));
ALTER TABLE github_issue ENABLE ROW LEVEL SECURITY;
CREATE POLICY webhookdb_sql_user_read ON github_issue FOR SELECT TO PUBLIC
    USING (NOT (SELECT webhookdb_sql_user_restricted()) OR repo_id = ANY ((SELECT webhookdb_visible_repo_ids())::bigint[]));
-- Label associations carry their repo_id (it is half of the label's key).
ALTER TABLE github_issue_label_association ENABLE ROW LEVEL SECURITY;
CREATE POLICY webhookdb_sql_user_read ON github_issue_label_association FOR SELECT TO PUBLIC
    USING (NOT (SELECT webhookdb_sql_user_restricted()) OR repo_id = ANY ((SELECT webhookdb_visible_repo_ids())::bigint[]));
ALTER TABLE github_pull_request_label_association ENABLE ROW LEVEL SECURITY;
CREATE POLICY webhookdb_sql_user_read ON github_pull_request_label_association FOR SELECT TO PUBLIC
    USING (NOT (SELECT webhookdb_sql_user_restricted()) OR repo_id = ANY ((SELECT webhookdb_visible_repo_ids())::bigint[]));
ALTER TABLE github_issue_comment ENABLE ROW LEVEL SECURITY;
CREATE POLICY webhookdb_sql_user_read ON github_issue_comment FOR SELECT TO PUBLIC
    USING (NOT (SELECT webhookdb_sql_user_restricted()) OR repo_id = ANY ((SELECT webhookdb_visible_repo_ids())::bigint[]));
-- Who can do what where: a visible repository's collaborators (and former
-- collaborators), not their rights elsewhere.
ALTER TABLE github_user_repository_association ENABLE ROW LEVEL SECURITY;
CREATE POLICY webhookdb_sql_user_read ON github_user_repository_association FOR SELECT TO PUBLIC
    USING (NOT (SELECT webhookdb_sql_user_restricted()) OR repo_id = ANY ((SELECT webhookdb_visible_repo_ids())::bigint[]));
ALTER TABLE github_user_repository_removal ENABLE ROW LEVEL SECURITY;
CREATE POLICY webhookdb_sql_user_read ON github_user_repository_removal FOR SELECT TO PUBLIC
    USING (NOT (SELECT webhookdb_sql_user_restricted()) OR repo_id = ANY ((SELECT webhookdb_visible_repo_ids())::bigint[]));

-- Pull requests hang from their base repository (the head may be a fork
-- elsewhere; the pull request is the base repository's).
ALTER TABLE github_pull_request ENABLE ROW LEVEL SECURITY;
CREATE POLICY webhookdb_sql_user_read ON github_pull_request FOR SELECT TO PUBLIC
    USING (NOT (SELECT webhookdb_sql_user_restricted()) OR base_repo_id = ANY ((SELECT webhookdb_visible_repo_ids())::bigint[]));

-- Tables keyed by pull_request_id alone: visible with their pull request,
-- whose own policy applies inside the EXISTS (a primary-key lookup).
ALTER TABLE github_pull_request_file ENABLE ROW LEVEL SECURITY;
CREATE POLICY webhookdb_sql_user_read ON github_pull_request_file FOR SELECT TO PUBLIC
    USING (NOT (SELECT webhookdb_sql_user_restricted())
        OR EXISTS (SELECT 1 FROM github_pull_request p WHERE p.id = pull_request_id));
ALTER TABLE github_pull_request_review ENABLE ROW LEVEL SECURITY;
CREATE POLICY webhookdb_sql_user_read ON github_pull_request_review FOR SELECT TO PUBLIC
    USING (NOT (SELECT webhookdb_sql_user_restricted())
        OR EXISTS (SELECT 1 FROM github_pull_request p WHERE p.id = pull_request_id));
ALTER TABLE github_pull_request_review_comment ENABLE ROW LEVEL SECURITY;
CREATE POLICY webhookdb_sql_user_read ON github_pull_request_review_comment FOR SELECT TO PUBLIC
    USING (NOT (SELECT webhookdb_sql_user_restricted())
        OR EXISTS (SELECT 1 FROM github_pull_request p WHERE p.id = pull_request_id));

-- Installations: those of the accounts themselves.
ALTER TABLE github_installation ENABLE ROW LEVEL SECURITY;
CREATE POLICY webhookdb_sql_user_read ON github_installation FOR SELECT TO PUBLIC
    USING (NOT (SELECT webhookdb_sql_user_restricted())
        OR lower(account_login) = ANY ((SELECT webhookdb_sql_user_accounts())::text[]));
-- An installation's repositories: a visible repository, or a link of a
-- visible installation (an installation lists repositories before they are
-- loaded, and an account's installation covers only its own repositories).
ALTER TABLE github_installation_repository ENABLE ROW LEVEL SECURITY;
CREATE POLICY webhookdb_sql_user_read ON github_installation_repository FOR SELECT TO PUBLIC
    USING (NOT (SELECT webhookdb_sql_user_restricted())
        OR repo_id = ANY ((SELECT webhookdb_visible_repo_ids())::bigint[])
        OR EXISTS (SELECT 1 FROM github_installation i WHERE i.id = installation_id));

-- Users: the accounts themselves, and the people seen in a visible
-- repository: its owner, its collaborators, and the authors of its issues,
-- comments, pull requests and reviews (each lookup on an indexed column,
-- each under its table's policy). A user who appears only in another
-- account's repositories stays hidden, so the people of one organization
-- are not listed to another's analysts.
ALTER TABLE github_user ENABLE ROW LEVEL SECURITY;
CREATE POLICY webhookdb_sql_user_read ON github_user FOR SELECT TO PUBLIC
    USING (NOT (SELECT webhookdb_sql_user_restricted())
        OR lower(login) = ANY ((SELECT webhookdb_sql_user_accounts())::text[])
        OR EXISTS (SELECT 1 FROM github_repository r WHERE lower(r.owner_login) = lower(github_user.login))
        OR EXISTS (SELECT 1 FROM github_user_repository_association a WHERE a.user_id = github_user.id)
        OR EXISTS (SELECT 1 FROM github_issue i WHERE lower(i.user_login) = lower(github_user.login))
        OR EXISTS (SELECT 1 FROM github_issue_comment c WHERE lower(c.user_login) = lower(github_user.login))
        OR EXISTS (SELECT 1 FROM github_pull_request p WHERE lower(p.user_login) = lower(github_user.login))
        OR EXISTS (SELECT 1 FROM github_pull_request_review v WHERE lower(v.user_login) = lower(github_user.login)));

-- Tombstones are bare (kind, id) pairs of objects that are gone: nothing
-- ties them to an account any more, so restricted roles see none.
ALTER TABLE github_tombstone ENABLE ROW LEVEL SECURITY;
CREATE POLICY webhookdb_sql_user_read ON github_tombstone FOR SELECT TO PUBLIC
    USING (NOT (SELECT webhookdb_sql_user_restricted()));

-- +goose Down
DROP POLICY webhookdb_sql_user_read ON github_tombstone;
ALTER TABLE github_tombstone DISABLE ROW LEVEL SECURITY;
DROP POLICY webhookdb_sql_user_read ON github_user;
ALTER TABLE github_user DISABLE ROW LEVEL SECURITY;
DROP POLICY webhookdb_sql_user_read ON github_installation_repository;
ALTER TABLE github_installation_repository DISABLE ROW LEVEL SECURITY;
DROP POLICY webhookdb_sql_user_read ON github_installation;
ALTER TABLE github_installation DISABLE ROW LEVEL SECURITY;
DROP POLICY webhookdb_sql_user_read ON github_pull_request_review_comment;
ALTER TABLE github_pull_request_review_comment DISABLE ROW LEVEL SECURITY;
DROP POLICY webhookdb_sql_user_read ON github_pull_request_review;
ALTER TABLE github_pull_request_review DISABLE ROW LEVEL SECURITY;
DROP POLICY webhookdb_sql_user_read ON github_pull_request_file;
ALTER TABLE github_pull_request_file DISABLE ROW LEVEL SECURITY;
DROP POLICY webhookdb_sql_user_read ON github_pull_request;
ALTER TABLE github_pull_request DISABLE ROW LEVEL SECURITY;
DROP POLICY webhookdb_sql_user_read ON github_user_repository_removal;
ALTER TABLE github_user_repository_removal DISABLE ROW LEVEL SECURITY;
DROP POLICY webhookdb_sql_user_read ON github_user_repository_association;
ALTER TABLE github_user_repository_association DISABLE ROW LEVEL SECURITY;
DROP POLICY webhookdb_sql_user_read ON github_issue_comment;
ALTER TABLE github_issue_comment DISABLE ROW LEVEL SECURITY;
DROP POLICY webhookdb_sql_user_read ON github_pull_request_label_association;
ALTER TABLE github_pull_request_label_association DISABLE ROW LEVEL SECURITY;
DROP POLICY webhookdb_sql_user_read ON github_issue_label_association;
ALTER TABLE github_issue_label_association DISABLE ROW LEVEL SECURITY;
DROP POLICY webhookdb_sql_user_read ON github_issue;
ALTER TABLE github_issue DISABLE ROW LEVEL SECURITY;
DROP POLICY webhookdb_sql_user_read ON github_issue_label;
ALTER TABLE github_issue_label DISABLE ROW LEVEL SECURITY;
DROP POLICY webhookdb_sql_user_read ON github_milestone;
ALTER TABLE github_milestone DISABLE ROW LEVEL SECURITY;
DROP POLICY webhookdb_sql_user_read ON github_repository;
ALTER TABLE github_repository DISABLE ROW LEVEL SECURITY;
DROP FUNCTION webhookdb_visible_repo_ids(text);
DROP FUNCTION webhookdb_sql_user_restricted(text);
DROP FUNCTION webhookdb_sql_user_accounts(text);
DROP TABLE sql_user_account;
