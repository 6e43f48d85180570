package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/lib/pq"

	"github.com/webhookdb/webhookdb/process"
)

// sqlUserRole is a cluster-wide role name unique to this test run, dropped
// when the test ends.
func sqlUserRole(t *testing.T, tag string) string {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	name := "whdb_test_" + tag + "_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		ctx := context.Background()
		var exists bool
		if err := env.DB.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)`, name).Scan(&exists); err != nil || !exists {
			return
		}
		// Its grants in this database go with DROP OWNED; it owns nothing.
		for _, q := range []string{"DROP OWNED BY " + pq.QuoteIdentifier(name), "DROP ROLE " + pq.QuoteIdentifier(name)} {
			if _, err := env.DB.ExecContext(ctx, q); err != nil {
				t.Errorf("%s: %v", q, err)
			}
		}
		if _, err := env.DB.ExecContext(ctx, `DELETE FROM sql_user_account WHERE role_name = $1`, name); err != nil {
			t.Error(err)
		}
	})
	return name
}

// runSQLUserCmd runs `webhookdb sql-user` against dbURL and returns the
// exit code, stdout and stderr.
func runSQLUserCmd(t *testing.T, dbURL string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), append([]string{"-c", os.DevNull, "sql-user"}, args...),
		Env{Stdout: &stdout, Stderr: &stderr, Getenv: envMap(map[string]string{"DATABASE_URL": dbURL})})
	return code, stdout.String(), stderr.String()
}

// createSQLUser runs the command and opens a pool on the URL it printed.
func createSQLUser(t *testing.T, name string, accounts ...string) (*sql.DB, string) {
	t.Helper()
	args := []string{name}
	for _, a := range accounts {
		args = append(args, "--account", a)
	}
	code, out, errOut := runSQLUserCmd(t, env.DatabaseURL, args...)
	if code != 0 {
		t.Fatalf("sql-user %v: exit %d: %s", args, code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	connURL := lines[len(lines)-1]
	if !strings.HasPrefix(connURL, "postgres://"+name+":") {
		t.Fatalf("last line of the output is not the role's URL:\n%s", out)
	}
	db, err := sql.Open("pgx", connURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, out
}

func isPermissionDenied(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "42501"
}

func TestSQLUserTwiceConvergesAndIsReadOnly(t *testing.T) {
	ctx := context.Background()
	name := sqlUserRole(t, "conv")
	first, out1 := createSQLUser(t, name, "OrgB", "orgc")
	if !strings.Contains(out1, "created role "+name) || !strings.Contains(out1, "limited to accounts: orgb, orgc") {
		t.Errorf("first run said:\n%s", out1)
	}
	var who string
	if err := first.QueryRowContext(ctx, `SELECT current_user`).Scan(&who); err != nil || who != name {
		t.Fatalf("connected with the first URL as %q (%v); want %s", who, err, name)
	}
	first.Close()
	before := storedPassword(t, name)

	db, out2 := createSQLUser(t, name, "orga")
	if !strings.Contains(out2, "updated role "+name) || !strings.Contains(out2, "limited to accounts: orga") {
		t.Errorf("second run said:\n%s", out2)
	}
	if after := storedPassword(t, name); after == before || after == "" {
		t.Errorf("the second run left the stored password as it was")
	}
	var accounts []string
	rows, err := env.DB.QueryContext(ctx, `SELECT account_login FROM sql_user_account WHERE role_name = $1 ORDER BY 1`, name)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var a string
		rows.Scan(&a)
		accounts = append(accounts, a)
	}
	rows.Close()
	if !slices.Equal(accounts, []string{"orga"}) {
		t.Errorf("accounts after the second run: %v; want the second run's [orga]", accounts)
	}
	var super, inherit, bypass bool
	if err := env.DB.QueryRowContext(ctx, `SELECT rolsuper, rolinherit, rolbypassrls FROM pg_roles WHERE rolname = $1`, name).Scan(&super, &inherit, &bypass); err != nil {
		t.Fatal(err)
	}
	if super || inherit || bypass {
		t.Errorf("role attributes super=%v inherit=%v bypassrls=%v; want all false", super, inherit, bypass)
	}

	tables, err := listTables(ctx, env.DB, `tablename LIKE 'github\_%'`)
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range tables {
		if _, err := db.ExecContext(ctx, `SELECT count(*) FROM `+pq.QuoteIdentifier(tb)); err != nil {
			t.Errorf("SELECT on %s: %v", tb, err)
		}
	}
	// The bookkeeping tables are not granted.
	for _, tb := range []string{"webhook_delivery", "scan", "scan_page", "api_etag", "sessions", "sql_user_account", "goose_db_version"} {
		if _, err := db.ExecContext(ctx, `SELECT count(*) FROM `+pq.QuoteIdentifier(tb)); !isPermissionDenied(err) {
			t.Errorf("SELECT on %s: %v; want permission denied", tb, err)
		}
	}
	for _, q := range []string{
		`INSERT INTO github_issue (id, repo_id, number, state, title) VALUES (1, 1, 1, 'open', 'x')`,
		`UPDATE github_issue SET title = 'x'`,
		`DELETE FROM github_issue`,
		`CREATE TABLE github_mine (id int)`,
	} {
		if _, err := db.ExecContext(ctx, q); !isPermissionDenied(err) {
			t.Errorf("%s: %v; want permission denied", q, err)
		}
	}
	// Another role's accounts are not for it to read.
	var others []string
	if err := db.QueryRowContext(ctx, `SELECT webhookdb_sql_user_accounts($1)`, "postgres").Scan((*pq.StringArray)(&others)); err != nil || len(others) != 0 {
		t.Errorf("accounts of another role: %v (%v); want none", others, err)
	}
}

// storedPassword is the role's password verifier (SCRAM: differs for each
// password set).
func storedPassword(t *testing.T, name string) string {
	t.Helper()
	var p sql.NullString
	if err := env.DB.QueryRow(`SELECT rolpassword FROM pg_authid WHERE rolname = $1`, name).Scan(&p); err != nil {
		t.Fatal(err)
	}
	return p.String
}

func TestSQLUserPasswordStdin(t *testing.T) {
	name := sqlUserRole(t, "stdin")
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), []string{"-c", os.DevNull, "sql-user", "--password-stdin", name},
		Env{Stdout: &stdout, Stderr: &stderr, Stdin: strings.NewReader("correct-horse\n"), Getenv: envMap(map[string]string{"DATABASE_URL": env.DatabaseURL})})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "postgres://"+name+":correct-horse@") || !strings.Contains(stdout.String(), "sees all accounts") {
		t.Errorf("output does not carry the given password or the scope:\n%s", stdout.String())
	}
	if storedPassword(t, name) == "" {
		t.Error("no password stored")
	}
	code = Run(context.Background(), []string{"-c", os.DevNull, "sql-user", name, "--password-stdin"},
		Env{Stderr: &stderr, Stdin: strings.NewReader(""), Getenv: envMap(map[string]string{"DATABASE_URL": env.DatabaseURL})})
	if code != 2 || !strings.Contains(stderr.String(), "no password on standard input") {
		t.Errorf("empty stdin: exit %d, stderr %q", code, stderr.String())
	}
}

func TestSQLUserCommandLineMistakes(t *testing.T) {
	unmigrated := scratchDatabase(t, "sqlu_bare")
	tests := []struct {
		name     string
		dbURL    string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"account without a name", env.DatabaseURL, []string{"--account", "orga"}, 2, "a role NAME is required"},
		{"unknown flag", env.DatabaseURL, []string{"someone", "--bogus"}, 2, "flag provided but not defined: -bogus"},
		{"upper-case name", env.DatabaseURL, []string{"Analyst"}, 2, `"Analyst" is not a role name`},
		{"quoting in the name", env.DatabaseURL, []string{`x"; DROP TABLE github_issue; --`}, 2, "is not a role name"},
		{"reserved name", env.DatabaseURL, []string{"pg_monitor"}, 2, "is not a role name"},
		{"two names", env.DatabaseURL, []string{"one", "two"}, 2, `unexpected argument "two"`},
		{"bad login", env.DatabaseURL, []string{"someone", "--account", "org/a"}, 2, `"org/a" is not a GitHub login`},
		{"the app's own role", env.DatabaseURL, []string{"postgres"}, 1, "webhookdb's own role"},
		{"not migrated", unmigrated, []string{"someone"}, 1, "run webhookdb migrate first"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runSQLUserCmd(t, tt.dbURL, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tt.wantCode, errOut)
			}
			if strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("stderr = %q; want one line containing %q", errOut, tt.wantErr)
			}
		})
	}
	t.Run("existing superuser", func(t *testing.T) {
		name := sqlUserRole(t, "super")
		if _, err := env.DB.Exec(`CREATE ROLE ` + pq.QuoteIdentifier(name) + ` SUPERUSER`); err != nil {
			t.Fatal(err)
		}
		code, _, errOut := runSQLUserCmd(t, env.DatabaseURL, name)
		if code != 1 || !strings.Contains(errOut, "is an existing superuser") {
			t.Errorf("exit %d, stderr %q; want 1 and a refusal", code, errOut)
		}
	})
}

func listTables(ctx context.Context, db *sql.DB, where string) ([]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND `+strings.ReplaceAll(where, "tablename", "table_name")+` ORDER BY 1`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	return names, rows.Err()
}

// Whose a row is: the lower-cased login of the account owning the
// repository it hangs from (NULL for rows of no account), over the table
// aliased t, evaluated by the app's role. Every github_ table must be here.
const repoOwner = `(SELECT lower(r.owner_login) FROM github_repository r WHERE r.id = t.repo_id)`
const pullOwner = `(SELECT lower(r.owner_login) FROM github_pull_request p JOIN github_repository r ON r.id = p.base_repo_id WHERE p.id = t.pull_request_id)`

var rowOwner = map[string]string{
	"github_repository":                     `lower(t.owner_login)`,
	"github_installation":                   `lower(t.account_login)`,
	"github_installation_repository":        repoOwner,
	"github_user_repository_association":    repoOwner,
	"github_user_repository_removal":        repoOwner,
	"github_milestone":                      repoOwner,
	"github_issue_label":                    repoOwner,
	"github_issue":                          repoOwner,
	"github_issue_label_association":        repoOwner,
	"github_issue_comment":                  repoOwner,
	"github_pull_request_label_association": repoOwner,
	"github_pull_request":                   `(SELECT lower(r.owner_login) FROM github_repository r WHERE r.id = t.base_repo_id)`,
	"github_pull_request_file":              pullOwner,
	"github_pull_request_review":            pullOwner,
	"github_pull_request_review_comment":    pullOwner,
	// The seed's people are named after their one organization.
	"github_user": `split_part(lower(t.login), '-', 1)`,
	// Bare ids of deleted objects: nobody's.
	"github_tombstone": `NULL::text`,
}

// rowsOf is the ctids of a table's rows the pool sees; with the owner
// expression, the owner of each (as the app's role sees it).
func rowsOf(ctx context.Context, db *sql.DB, table, owner string) (map[string]string, error) {
	q := `SELECT t.ctid::text, ''::text FROM ` + pq.QuoteIdentifier(table) + ` t`
	if owner != "" {
		q = `SELECT t.ctid::text, coalesce(` + owner + `, '') FROM ` + pq.QuoteIdentifier(table) + ` t`
	}
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", table, err)
	}
	defer rows.Close()
	got := map[string]string{}
	for rows.Next() {
		var ctid, o string
		if err := rows.Scan(&ctid, &o); err != nil {
			return nil, err
		}
		got[ctid] = o
	}
	return got, rows.Err()
}

// The acceptance test: a role limited to orga sees every row of orga's and
// none of orgb's in every replicated table; an unrestricted one sees all.
func TestSQLUserRowLevelSecurity(t *testing.T) {
	ctx := context.Background()
	seedTwoOrgs(t)
	restricted, _ := createSQLUser(t, sqlUserRole(t, "rls_a"), "OrgA")
	everyone, _ := createSQLUser(t, sqlUserRole(t, "rls_all"))

	tables, err := listTables(ctx, env.DB, `tablename LIKE 'github\_%'`)
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range tables {
		t.Run(tb, func(t *testing.T) {
			var rls bool
			var policies int
			if err := env.DB.QueryRowContext(ctx, `SELECT c.relrowsecurity,
				(SELECT count(*) FROM pg_policies p WHERE p.schemaname = current_schema() AND p.tablename = c.relname AND p.policyname = 'webhookdb_sql_user_read')
				FROM pg_class c WHERE c.oid = $1::regclass`, tb).Scan(&rls, &policies); err != nil {
				t.Fatal(err)
			}
			if !rls || policies != 1 {
				t.Errorf("row level security %v, %d webhookdb_sql_user_read policies; want on and one", rls, policies)
			}
			owner, ok := rowOwner[tb]
			if !ok {
				t.Fatalf("no owner relation for %s in this test: add it to rowOwner (and a policy to the migrations)", tb)
			}
			all, err := rowsOf(ctx, env.DB, tb, owner)
			if err != nil {
				t.Fatal(err)
			}
			var ofA, ofB int
			for _, o := range all {
				switch o {
				case "orga":
					ofA++
				case "orgb":
					ofB++
				}
			}
			if owner == `NULL::text` {
				// Nobody's rows: the seed must still have written some,
				// so that seeing none is the policy's doing.
				if len(all) == 0 {
					t.Fatal("the seed left no rows here")
				}
			} else if ofA == 0 || ofB == 0 {
				t.Fatalf("the seed left %d rows of orga and %d of orgb here; it must write both", ofA, ofB)
			}
			seen, err := rowsOf(ctx, restricted, tb, "")
			if err != nil {
				t.Fatal(err)
			}
			for ctid := range seen {
				if o := all[ctid]; o != "orga" {
					t.Errorf("the orga role sees row %s of %q", ctid, o)
				}
			}
			if len(seen) != ofA {
				t.Errorf("the orga role sees %d rows; orga has %d", len(seen), ofA)
			}
			seenAll, err := rowsOf(ctx, everyone, tb, "")
			if err != nil {
				t.Fatal(err)
			}
			if len(seenAll) != len(all) {
				t.Errorf("the unrestricted role sees %d rows of %d", len(seenAll), len(all))
			}
		})
	}
}

// sqlUserSeedMonth is where the seed's merged pull requests fall: the
// first of the month 45 days ago, so the merges sit in one month and
// inside the last 90 days.
func sqlUserSeedMonth(now time.Time) time.Time {
	d := now.AddDate(0, 0, -45).UTC()
	return time.Date(d.Year(), d.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// seedTwoOrgs writes orga's and orgb's data through process/, as GitHub's
// payloads would bring it: rows in every replicated table for both, a
// private repository each, people who belong to one organization only.
// Upserts, so seeding twice leaves the same rows.
func seedTwoOrgs(t *testing.T) {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	seedOrg(t, "orga", 1_000_000, now)
	seedOrg(t, "orgb", 2_000_000, now)
}

func seedOrg(t *testing.T, org string, base int64, now time.Time) {
	t.Helper()
	ctx := context.Background()
	m := process.Meta{Via: process.ViaAPI, FetchedAt: now}
	ts := func(tm time.Time) *github.Timestamp { return &github.Timestamp{Time: tm} }
	s, i, i64, b := github.String, github.Int, github.Int64, github.Bool
	user := func(n int64, suffix string) *github.User {
		login := org
		if suffix != "" {
			login += "-" + suffix
		}
		return &github.User{ID: i64(base + n), Login: s(login), Type: s("User")}
	}
	orgUser := &github.User{ID: i64(base), Login: s(org), Type: s("Organization")}
	dev, gone, author, reviewer, commenter := user(11, "dev"), user(12, "gone"), user(13, "author"), user(14, "reviewer"), user(15, "commenter")
	month := sqlUserSeedMonth(now)
	created := month.AddDate(0, 0, -20)

	repo := func(n int64, name string, private bool) *github.Repository {
		return &github.Repository{ID: i64(base + n), Name: s(name), FullName: s(org + "/" + name), Owner: orgUser,
			Private: b(private), DefaultBranch: s("main"), CreatedAt: ts(created), UpdatedAt: ts(created), PushedAt: ts(now)}
	}
	site, app := repo(100, "site", false), repo(101, "app", true)
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("seed %s: %s: %v", org, what, err)
		}
	}
	do := func(what string) func(process.Outcome, error) {
		return func(_ process.Outcome, err error) { t.Helper(); must(what, err) }
	}
	db := env.DB

	for _, u := range []*github.User{orgUser, dev, gone, author, reviewer, commenter} {
		do("user")(process.User(ctx, db, u, m))
	}
	do("installation")(process.Installation(ctx, db, &github.Installation{ID: i64(base + 1), AppID: i64(1), Account: orgUser,
		TargetType: s("Organization"), RepositorySelection: s("all"), CreatedAt: ts(created), UpdatedAt: ts(created)}, m))
	for _, r := range []*github.Repository{site, app} {
		do("repository")(process.Repository(ctx, db, r, m))
	}
	must("installation repositories", process.SetInstallationRepositories(ctx, db, base+1, []*github.Repository{site, app}, m))
	must("collaborator", process.UserRepositoryPermissionLevel(ctx, db, dev.GetID(), app.GetID(), "write", m))
	must("removed collaborator", process.DeleteUserRepositoryAssociation(ctx, db, gone.GetID(), app.GetID(), m))
	must("tombstone", process.Bury(ctx, db, "issue", base+999, m))

	label := &github.Label{ID: i64(base + 200), Name: s("bug"), Color: s("d73a4a"), Description: s(org + " bugs")}
	do("label")(process.Label(ctx, db, app.GetID(), label, m))
	milestone := &github.Milestone{ID: i64(base + 300), Number: i(1), Title: s(org + " v1"), State: s("open"), Creator: dev,
		CreatedAt: ts(created), UpdatedAt: ts(created)}
	do("milestone")(process.Milestone(ctx, db, app.GetID(), milestone, m))
	for _, r := range []*github.Repository{site, app} {
		do("issue")(process.Issue(ctx, db, r.GetID(), &github.Issue{ID: i64(r.GetID()*10 + 1), Number: i(10), State: s("open"),
			Title: s(org + " issue"), User: gone, Labels: labelsIf(r == app, label), Milestone: milestoneIf(r == app, milestone),
			CreatedAt: ts(created), UpdatedAt: ts(created)}, m))
		do("issue comment")(process.IssueComment(ctx, db, r.GetID(), 10, &github.IssueComment{ID: i64(r.GetID()*10 + 2),
			User: commenter, Body: s("seen in " + org), CreatedAt: ts(created), UpdatedAt: ts(created)}, m))
	}

	// Pull requests of the private repository: two merged in the seed month
	// (48 and 24 hours for orga, 240 and 120 for orgb), one open waiting for
	// review, one draft, one open and reviewed.
	hours := map[string][2]int{"orga": {48, 24}, "orgb": {240, 120}}[org]
	type pull struct {
		number         int
		opened, merged time.Time
		draft          bool
		files          map[string]int
		reviewed       bool
	}
	pulls := []pull{
		{1, month.Add(24 * time.Hour), month.Add(time.Duration(24+hours[0]) * time.Hour), false, map[string]int{"src/main.go": 10, "README.md": 2}, true},
		{2, month.Add(48 * time.Hour), month.Add(time.Duration(48+hours[1]) * time.Hour), false, map[string]int{"src/main.go": 5}, false},
		{3, now.Add(-72 * time.Hour), time.Time{}, false, map[string]int{"docs/" + org + ".md": 3}, false},
		{4, now.Add(-48 * time.Hour), time.Time{}, true, nil, false},
		{5, now.Add(-24 * time.Hour), time.Time{}, false, nil, true},
	}
	for _, p := range pulls {
		prID := base + 500 + int64(p.number)
		pr := &github.PullRequest{ID: i64(prID), Number: i(p.number), State: s("open"), Title: s(fmt.Sprintf("%s change %d", org, p.number)),
			Draft: b(p.draft), User: author, Labels: labelsIf(p.number == 1, label),
			Base: &github.PullRequestBranch{Ref: s("main"), SHA: s("base"), Repo: app}, Head: &github.PullRequestBranch{Ref: s("topic"), SHA: s(fmt.Sprintf("%040d", prID)), Repo: app},
			CreatedAt: ts(p.opened), UpdatedAt: ts(p.opened)}
		if !p.merged.IsZero() {
			pr.State, pr.Merged, pr.MergedAt, pr.ClosedAt, pr.UpdatedAt, pr.MergedBy = s("closed"), b(true), ts(p.merged), ts(p.merged), ts(p.merged), dev
		}
		do("pull request")(process.PullRequest(ctx, db, pr, m))
		var files []*github.CommitFile
		for name, changes := range p.files {
			files = append(files, &github.CommitFile{Filename: s(name), Status: s("modified"), Additions: i(changes), Changes: i(changes), SHA: s("f")})
		}
		if len(files) > 0 {
			_, _, err := process.SetPullRequestFiles(ctx, db, prID, files, m)
			must("files", err)
		}
		if p.reviewed {
			do("review")(process.PullRequestReview(ctx, db, prID, &github.PullRequestReview{ID: i64(prID*10 + 1), User: reviewer,
				State: s("APPROVED"), Body: s("fine"), CommitID: pr.Head.SHA, SubmittedAt: ts(p.opened.Add(time.Hour))}, m))
			do("review comment")(process.PullRequestReviewComment(ctx, db, prID, &github.PullRequestComment{ID: i64(prID*10 + 2),
				PullRequestReviewID: i64(prID*10 + 1), User: reviewer, Path: s("src/main.go"), Line: i(1), Body: s("nit"),
				CommitID: pr.Head.SHA, CreatedAt: ts(p.opened.Add(time.Hour)), UpdatedAt: ts(p.opened.Add(time.Hour))}, m))
		}
	}
}

func labelsIf(ok bool, l *github.Label) []*github.Label {
	if !ok {
		return nil
	}
	return []*github.Label{l}
}

func milestoneIf(ok bool, ms *github.Milestone) *github.Milestone {
	if !ok {
		return nil
	}
	return ms
}

// readmeQuery is the SQL between README.md's <!-- query:NAME --> marker and
// the next <!-- /query -->, without its code fence.
func readmeQuery(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "<!-- query:"+name+" -->")
	body, _, ok2 := strings.Cut(rest, "<!-- /query -->")
	if !ok || !ok2 {
		t.Fatalf("README.md has no <!-- query:%s --> ... <!-- /query --> block", name)
	}
	body = strings.TrimSpace(body)
	body = strings.TrimPrefix(body, "```sql")
	return strings.TrimSpace(strings.TrimSuffix(body, "```"))
}

// The README's queries, run as a role limited to orga, return orga's rows
// and nothing of orgb's.
func TestSQLUserREADMEQueries(t *testing.T) {
	ctx := context.Background()
	seedTwoOrgs(t)
	db, _ := createSQLUser(t, sqlUserRole(t, "readme"), "orga")
	month := sqlUserSeedMonth(time.Now()).Format(time.RFC3339Nano)
	tests := []struct {
		query string
		cols  int // leading columns compared; the rest are only read
		want  [][]string
	}{
		{"time-to-merge", 4, [][]string{{month, "2", "36.0", "45.6"}}},
		{"most-changed-files", 4, [][]string{
			{"orga/app", "src/main.go", "2", "15"},
			{"orga/app", "docs/orga.md", "1", "3"},
			{"orga/app", "README.md", "1", "2"},
		}},
		{"waiting-for-review", 4, [][]string{{"orga/app", "3", "orga change 3", "orga-author"}}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			rows, err := db.QueryContext(ctx, readmeQuery(t, tt.query))
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			cols, err := rows.Columns()
			if err != nil {
				t.Fatal(err)
			}
			var got [][]string
			for rows.Next() {
				vals := make([]sql.NullString, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				if err := rows.Scan(ptrs...); err != nil {
					t.Fatal(err)
				}
				row := make([]string, tt.cols)
				for i := range row {
					row[i] = vals[i].String
				}
				got = append(got, row)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got rows\n%v\nwant\n%v", got, tt.want)
			}
		})
	}
}
