-- +goose Up
-- The replica of GitHub. Every table that mirrors a GitHub object carries the
-- three replication timestamps; last_replicated_at is generated so no writer
-- can forget it. GREATEST ignores NULLs in PostgreSQL, which is what we want.

CREATE TABLE github_user (
    id                 bigint PRIMARY KEY,
    node_id            text,
    login              text NOT NULL,
    type               text,
    site_admin         boolean,
    name               text,
    company            text,
    blog               text,
    location           text,
    email              text,
    hireable           boolean,
    bio                text,
    twitter_username   text,
    avatar_url         text,
    html_url           text,
    public_repos       integer,
    public_gists       integer,
    followers          integer,
    following          integer,
    created_at         timestamptz,
    updated_at         timestamptz,
    last_replicated_via_webhook_at timestamptz,
    last_replicated_via_api_at     timestamptz,
    last_replicated_at timestamptz GENERATED ALWAYS AS (GREATEST(last_replicated_via_webhook_at, last_replicated_via_api_at)) STORED
);
CREATE INDEX github_user_login_idx ON github_user (lower(login));
CREATE INDEX github_user_updated_at_idx ON github_user (updated_at);

CREATE TABLE github_installation (
    id                   bigint PRIMARY KEY,
    app_id               bigint,
    account_id           bigint NOT NULL,
    account_login        text NOT NULL,
    account_type         text,
    target_type          text,
    repository_selection text,
    permissions          jsonb,
    events               text[],
    html_url             text,
    suspended_at         timestamptz,
    suspended_by_login   text,
    created_at           timestamptz,
    updated_at           timestamptz,
    deleted_at           timestamptz,
    repositories_last_scanned_at timestamptz,
    last_replicated_via_webhook_at timestamptz,
    last_replicated_via_api_at     timestamptz,
    last_replicated_at timestamptz GENERATED ALWAYS AS (GREATEST(last_replicated_via_webhook_at, last_replicated_via_api_at)) STORED
);
CREATE INDEX github_installation_account_login_idx ON github_installation (lower(account_login));

CREATE TABLE github_repository (
    id                  bigint PRIMARY KEY,
    node_id             text,
    name                text NOT NULL,
    full_name           text NOT NULL,
    owner_id            bigint,
    owner_login         text NOT NULL,
    owner_type          text,
    organization_id     bigint,
    organization_login  text,
    private             boolean,
    visibility          text,
    description         text,
    fork                boolean,
    archived            boolean,
    disabled            boolean,
    is_template         boolean,
    html_url            text,
    homepage            text,
    default_branch      text,
    language            text,
    topics              text[],
    size                integer,
    stargazers_count    integer,
    watchers_count      integer,
    forks_count         integer,
    open_issues_count   integer,
    has_issues          boolean,
    has_projects        boolean,
    has_wiki            boolean,
    has_downloads       boolean,
    created_at          timestamptz,
    updated_at          timestamptz,
    pushed_at           timestamptz,
    pull_requests_last_scanned_at  timestamptz,
    issues_last_scanned_at         timestamptz,
    labels_last_scanned_at         timestamptz,
    milestones_last_scanned_at     timestamptz,
    issue_comments_last_scanned_at timestamptz,
    last_replicated_via_webhook_at timestamptz,
    last_replicated_via_api_at     timestamptz,
    last_replicated_at timestamptz GENERATED ALWAYS AS (GREATEST(last_replicated_via_webhook_at, last_replicated_via_api_at)) STORED
);
-- Not unique: a rename and a new repository under the old name can cross.
CREATE INDEX github_repository_full_name_idx ON github_repository (lower(full_name));
CREATE INDEX github_repository_owner_login_idx ON github_repository (lower(owner_login));
CREATE INDEX github_repository_updated_at_idx ON github_repository (updated_at);

-- No foreign key to github_repository: an installation lists repositories
-- before we have loaded them.
CREATE TABLE github_installation_repository (
    installation_id bigint NOT NULL REFERENCES github_installation (id) ON DELETE CASCADE,
    repo_id         bigint NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (installation_id, repo_id)
);
CREATE INDEX github_installation_repository_repo_id_idx ON github_installation_repository (repo_id);

CREATE TABLE github_user_repository_association (
    user_id    bigint NOT NULL,
    repo_id    bigint NOT NULL REFERENCES github_repository (id) ON DELETE CASCADE,
    can_pull     boolean NOT NULL DEFAULT false,
    can_triage   boolean NOT NULL DEFAULT false,
    can_push     boolean NOT NULL DEFAULT false,
    can_maintain boolean NOT NULL DEFAULT false,
    can_admin    boolean NOT NULL DEFAULT false,
    role_name    text,
    last_replicated_via_webhook_at timestamptz,
    last_replicated_via_api_at     timestamptz,
    last_replicated_at timestamptz GENERATED ALWAYS AS (GREATEST(last_replicated_via_webhook_at, last_replicated_via_api_at)) STORED,
    PRIMARY KEY (user_id, repo_id)
);
CREATE INDEX github_user_repository_association_repo_id_idx ON github_user_repository_association (repo_id);

CREATE TABLE github_milestone (
    repo_id             bigint NOT NULL REFERENCES github_repository (id) ON DELETE CASCADE,
    number              integer NOT NULL,
    id                  bigint NOT NULL UNIQUE,
    node_id             text,
    html_url            text,
    state               text,
    title               text NOT NULL,
    description         text,
    creator_id          bigint,
    creator_login       text,
    open_issues_count   integer,
    closed_issues_count integer,
    created_at          timestamptz,
    updated_at          timestamptz,
    closed_at           timestamptz,
    due_at              timestamptz,
    last_replicated_via_webhook_at timestamptz,
    last_replicated_via_api_at     timestamptz,
    last_replicated_at timestamptz GENERATED ALWAYS AS (GREATEST(last_replicated_via_webhook_at, last_replicated_via_api_at)) STORED,
    PRIMARY KEY (repo_id, number)
);
CREATE INDEX github_milestone_updated_at_idx ON github_milestone (updated_at);

CREATE TABLE github_issue_label (
    repo_id     bigint NOT NULL REFERENCES github_repository (id) ON DELETE CASCADE,
    name        text NOT NULL,
    id          bigint NOT NULL UNIQUE,
    node_id     text,
    url         text,
    color       text,
    description text,
    "default"   boolean,
    last_replicated_via_webhook_at timestamptz,
    last_replicated_via_api_at     timestamptz,
    last_replicated_at timestamptz GENERATED ALWAYS AS (GREATEST(last_replicated_via_webhook_at, last_replicated_via_api_at)) STORED,
    PRIMARY KEY (repo_id, name)
);

CREATE TABLE github_issue (
    id                 bigint PRIMARY KEY,
    node_id            text,
    repo_id            bigint NOT NULL REFERENCES github_repository (id) ON DELETE CASCADE,
    number             integer NOT NULL,
    state              text NOT NULL,
    state_reason       text,
    title              text NOT NULL,
    body               text,
    user_id            bigint,
    user_login         text,
    assignee_id        bigint,
    assignee_login     text,
    assignee_logins    text[],
    milestone_number   integer,
    comments_count     integer,
    locked             boolean,
    active_lock_reason text,
    is_pull_request    boolean NOT NULL DEFAULT false,
    author_association text,
    html_url           text,
    created_at         timestamptz,
    updated_at         timestamptz,
    closed_at          timestamptz,
    closed_by_id       bigint,
    closed_by_login    text,
    last_replicated_via_webhook_at timestamptz,
    last_replicated_via_api_at     timestamptz,
    last_replicated_at timestamptz GENERATED ALWAYS AS (GREATEST(last_replicated_via_webhook_at, last_replicated_via_api_at)) STORED
);
-- Not unique: a transferred issue and its successor can cross in flight.
CREATE INDEX github_issue_repo_number_idx ON github_issue (repo_id, number);
CREATE INDEX github_issue_updated_at_idx ON github_issue (updated_at);
CREATE INDEX github_issue_user_login_idx ON github_issue (lower(user_login));

-- Follows its label through a rename (ON UPDATE CASCADE) and a delete.
CREATE TABLE github_issue_label_association (
    issue_id   bigint NOT NULL REFERENCES github_issue (id) ON DELETE CASCADE,
    repo_id    bigint NOT NULL,
    label_name text NOT NULL,
    PRIMARY KEY (issue_id, label_name),
    FOREIGN KEY (repo_id, label_name) REFERENCES github_issue_label (repo_id, name) ON UPDATE CASCADE ON DELETE CASCADE
);
CREATE INDEX github_issue_label_association_label_idx ON github_issue_label_association (repo_id, label_name);

CREATE TABLE github_issue_comment (
    id                 bigint PRIMARY KEY,
    node_id            text,
    repo_id            bigint NOT NULL REFERENCES github_repository (id) ON DELETE CASCADE,
    issue_number       integer NOT NULL,
    user_id            bigint,
    user_login         text,
    body               text,
    author_association text,
    html_url           text,
    created_at         timestamptz,
    updated_at         timestamptz,
    last_replicated_via_webhook_at timestamptz,
    last_replicated_via_api_at     timestamptz,
    last_replicated_at timestamptz GENERATED ALWAYS AS (GREATEST(last_replicated_via_webhook_at, last_replicated_via_api_at)) STORED
);
CREATE INDEX github_issue_comment_repo_issue_idx ON github_issue_comment (repo_id, issue_number);
CREATE INDEX github_issue_comment_updated_at_idx ON github_issue_comment (updated_at);
CREATE INDEX github_issue_comment_user_login_idx ON github_issue_comment (lower(user_login));

CREATE TABLE github_pull_request (
    id                    bigint PRIMARY KEY,
    node_id               text,
    number                integer NOT NULL,
    base_repo_id          bigint NOT NULL REFERENCES github_repository (id) ON DELETE CASCADE,
    head_repo_id          bigint,
    base_ref              text,
    base_sha              text,
    head_ref              text,
    head_sha              text,
    head_label            text,
    state                 text NOT NULL,
    locked                boolean,
    active_lock_reason    text,
    draft                 boolean,
    title                 text NOT NULL,
    body                  text,
    user_id               bigint,
    user_login            text,
    assignee_id           bigint,
    assignee_login        text,
    assignee_logins       text[],
    requested_reviewer_logins text[],
    milestone_number      integer,
    merged                boolean,
    mergeable             boolean,
    mergeable_state       text,
    rebaseable            boolean,
    merge_commit_sha      text,
    merged_at             timestamptz,
    merged_by_id          bigint,
    merged_by_login       text,
    maintainer_can_modify boolean,
    author_association    text,
    comments_count        integer,
    review_comments_count integer,
    commits_count         integer,
    additions             integer,
    deletions             integer,
    changed_files         integer,
    html_url              text,
    created_at            timestamptz,
    updated_at            timestamptz,
    closed_at             timestamptz,
    files_last_scanned_at           timestamptz,
    reviews_last_scanned_at         timestamptz,
    review_comments_last_scanned_at timestamptz,
    last_replicated_via_webhook_at timestamptz,
    last_replicated_via_api_at     timestamptz,
    last_replicated_at timestamptz GENERATED ALWAYS AS (GREATEST(last_replicated_via_webhook_at, last_replicated_via_api_at)) STORED
);
CREATE INDEX github_pull_request_repo_number_idx ON github_pull_request (base_repo_id, number);
CREATE INDEX github_pull_request_updated_at_idx ON github_pull_request (updated_at);
CREATE INDEX github_pull_request_merged_at_idx ON github_pull_request (merged_at);
CREATE INDEX github_pull_request_user_login_idx ON github_pull_request (lower(user_login));

-- A pull request's labels: its issue id is not in pull_request payloads, so
-- they are kept against the pull request itself.
CREATE TABLE github_pull_request_label_association (
    pull_request_id bigint NOT NULL REFERENCES github_pull_request (id) ON DELETE CASCADE,
    repo_id         bigint NOT NULL,
    label_name      text NOT NULL,
    PRIMARY KEY (pull_request_id, label_name),
    FOREIGN KEY (repo_id, label_name) REFERENCES github_issue_label (repo_id, name) ON UPDATE CASCADE ON DELETE CASCADE
);
CREATE INDEX github_pull_request_label_association_label_idx ON github_pull_request_label_association (repo_id, label_name);

CREATE TABLE github_pull_request_file (
    pull_request_id   bigint NOT NULL REFERENCES github_pull_request (id) ON DELETE CASCADE,
    filename          text NOT NULL,
    sha               text,
    status            text,
    additions         integer,
    deletions         integer,
    changes           integer,
    patch             text,
    previous_filename text,
    blob_url          text,
    raw_url           text,
    contents_url      text,
    last_replicated_via_webhook_at timestamptz,
    last_replicated_via_api_at     timestamptz,
    last_replicated_at timestamptz GENERATED ALWAYS AS (GREATEST(last_replicated_via_webhook_at, last_replicated_via_api_at)) STORED,
    PRIMARY KEY (pull_request_id, filename)
);
-- "Which pull requests touched this file": equality and prefix (directory) lookups.
CREATE INDEX github_pull_request_file_filename_idx ON github_pull_request_file (filename text_pattern_ops);

CREATE TABLE github_pull_request_review (
    id                 bigint PRIMARY KEY,
    node_id            text,
    pull_request_id    bigint NOT NULL REFERENCES github_pull_request (id) ON DELETE CASCADE,
    user_id            bigint,
    user_login         text,
    state              text,
    body               text,
    commit_id          text,
    author_association text,
    html_url           text,
    submitted_at       timestamptz,
    last_replicated_via_webhook_at timestamptz,
    last_replicated_via_api_at     timestamptz,
    last_replicated_at timestamptz GENERATED ALWAYS AS (GREATEST(last_replicated_via_webhook_at, last_replicated_via_api_at)) STORED
);
CREATE INDEX github_pull_request_review_pr_idx ON github_pull_request_review (pull_request_id);
CREATE INDEX github_pull_request_review_user_login_idx ON github_pull_request_review (lower(user_login));

CREATE TABLE github_pull_request_review_comment (
    id                 bigint PRIMARY KEY,
    node_id            text,
    pull_request_id    bigint NOT NULL REFERENCES github_pull_request (id) ON DELETE CASCADE,
    review_id          bigint,
    user_id            bigint,
    user_login         text,
    path               text,
    position           integer,
    original_position  integer,
    line               integer,
    original_line      integer,
    start_line         integer,
    original_start_line integer,
    side               text,
    start_side         text,
    commit_id          text,
    original_commit_id text,
    diff_hunk          text,
    body               text,
    in_reply_to_id     bigint,
    author_association text,
    html_url           text,
    created_at         timestamptz,
    updated_at         timestamptz,
    last_replicated_via_webhook_at timestamptz,
    last_replicated_via_api_at     timestamptz,
    last_replicated_at timestamptz GENERATED ALWAYS AS (GREATEST(last_replicated_via_webhook_at, last_replicated_via_api_at)) STORED
);
CREATE INDEX github_pull_request_review_comment_pr_idx ON github_pull_request_review_comment (pull_request_id);
CREATE INDEX github_pull_request_review_comment_updated_at_idx ON github_pull_request_review_comment (updated_at);

CREATE TABLE webhook_delivery (
    delivery_id     text PRIMARY KEY,
    event           text NOT NULL,
    action          text,
    installation_id bigint,
    repo_id         bigint,
    received_at     timestamptz NOT NULL DEFAULT now(),
    processed_at    timestamptz,
    status          text NOT NULL CHECK (status IN ('processed', 'stale', 'ignored', 'failed')),
    error           text,
    payload         jsonb
);
CREATE INDEX webhook_delivery_received_at_idx ON webhook_delivery (received_at);
CREATE INDEX webhook_delivery_status_idx ON webhook_delivery (status, received_at);

-- A scan of one collection (or one object). The fan-in of its pages lives
-- here: the page that brings pages_done to pages_total queues the scanned job.
CREATE TABLE scan (
    id              bigserial PRIMARY KEY,
    kind            text NOT NULL,
    -- Identifies the collection; one queued or running scan per key.
    scan_key        text NOT NULL,
    installation_id bigint,
    owner           text,
    repo            text,
    repo_id         bigint,
    number          integer,
    params          jsonb NOT NULL DEFAULT '{}',
    full_scan       boolean NOT NULL DEFAULT false,
    since           timestamptz,
    parent_scan_id  bigint REFERENCES scan (id) ON DELETE SET NULL,
    status          text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),
    incomplete      boolean NOT NULL DEFAULT false,
    pages_total     integer,
    pages_done      integer NOT NULL DEFAULT 0,
    pages_failed    integer NOT NULL DEFAULT 0,
    items           integer NOT NULL DEFAULT 0,
    requests        integer NOT NULL DEFAULT 0,
    not_modified    integer NOT NULL DEFAULT 0,
    requested_by    text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    finished_at     timestamptz,
    error           text
);
CREATE UNIQUE INDEX scan_running_key_idx ON scan (scan_key) WHERE status IN ('queued', 'running');
CREATE INDEX scan_status_idx ON scan (status, created_at);
CREATE INDEX scan_parent_idx ON scan (parent_scan_id);

CREATE TABLE scan_page (
    scan_id     bigint NOT NULL REFERENCES scan (id) ON DELETE CASCADE,
    page        integer NOT NULL,
    status      text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'failed')),
    attempts    integer NOT NULL DEFAULT 0,
    items       integer NOT NULL DEFAULT 0,
    not_modified boolean NOT NULL DEFAULT false,
    -- Ids seen on this page, for the sweep of rows GitHub no longer lists.
    seen_ids    bigint[],
    seen_keys   text[],
    error       text,
    finished_at timestamptz,
    PRIMARY KEY (scan_id, page)
);

-- ETags of the GitHub pages we fetched, sent back as If-None-Match.
CREATE TABLE api_etag (
    url        text PRIMARY KEY,
    etag       text NOT NULL,
    -- What the page held, so a 304 still tells the sweep which rows exist.
    seen_ids   bigint[],
    seen_keys  text[],
    items      integer NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- scs/v2 postgresstore's table.
CREATE TABLE sessions (
    token  text PRIMARY KEY,
    data   bytea NOT NULL,
    expiry timestamptz NOT NULL
);
CREATE INDEX sessions_expiry_idx ON sessions (expiry);

-- +goose Down
DROP TABLE sessions;
DROP TABLE api_etag;
DROP TABLE scan_page;
DROP TABLE scan;
DROP TABLE webhook_delivery;
DROP TABLE github_pull_request_review_comment;
DROP TABLE github_pull_request_review;
DROP TABLE github_pull_request_file;
DROP TABLE github_pull_request_label_association;
DROP TABLE github_pull_request;
DROP TABLE github_issue_comment;
DROP TABLE github_issue_label_association;
DROP TABLE github_issue;
DROP TABLE github_issue_label;
DROP TABLE github_milestone;
DROP TABLE github_user_repository_association;
DROP TABLE github_installation_repository;
DROP TABLE github_repository;
DROP TABLE github_installation;
DROP TABLE github_user;
