package app

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/lib/pq"
)

// `webhookdb sql-user NAME [--account LOGIN]... [--password-stdin]` makes a
// PostgreSQL role that can only SELECT the replicated github_* tables,
// limited by row-level security (migration 00007) to the given accounts'
// repositories when --account is given.

const sqlUserKey = "sql-user"

type sqlUserOptions struct {
	accounts      []string
	passwordStdin bool
}

var (
	sqlRoleName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)
	// GitHub's login syntax, loosely: legacy logins may hold "--" or end
	// in "-", so only the alphabet, the first character and the length are
	// checked.
	githubLogin = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,38}$`)
)

// sqlUserHelpers are the migration's functions a sql user must be able to
// call, since the policies call them as the querying role.
var sqlUserHelpers = []string{
	"webhookdb_sql_user_accounts(text)",
	"webhookdb_sql_user_restricted(text)",
	"webhookdb_visible_repo_ids(text)",
}

// sqlUserLockKey serialises concurrent runs (pg_advisory_xact_lock), so two
// at once cannot interleave their grants and account lists.
const sqlUserLockKey = 0x77686462_73716c75 // "whdb" "sqlu"

func sqlUserFlags(fs *flag.FlagSet, cc *cmdContext) {
	o := &sqlUserOptions{}
	fs.Func("account", "limit the role to this GitHub account's repositories (repeatable)", func(v string) error {
		if !githubLogin.MatchString(v) {
			return fmt.Errorf("%q is not a GitHub login", v)
		}
		o.accounts = append(o.accounts, strings.ToLower(v))
		return nil
	})
	fs.BoolVar(&o.passwordStdin, "password-stdin", false, "read the role's password from standard input instead of generating one")
	cc.extra[sqlUserKey] = o
}

func runSQLUser(ctx context.Context, cc *cmdContext) error {
	o, ok := cc.extra[sqlUserKey].(*sqlUserOptions)
	if !ok {
		return errors.New("sql-user: flags were not registered")
	}
	switch {
	case len(cc.args) == 0:
		return fmt.Errorf("%w: sql-user: a role NAME is required: webhookdb sql-user NAME [--account LOGIN]...", errUsage)
	case len(cc.args) > 1:
		return fmt.Errorf("%w: sql-user: unexpected argument %q (one role NAME per run)", errUsage, cc.args[1])
	}
	name := cc.args[0]
	if !sqlRoleName.MatchString(name) || strings.HasPrefix(name, "pg_") {
		return fmt.Errorf("%w: sql-user: %q is not a role name for it: lower-case letters, digits and _, not starting with a digit or pg_, at most 63", errUsage, name)
	}
	slices.Sort(o.accounts)
	accounts := slices.Compact(o.accounts)

	cfg, err := cc.loadConfig(false)
	if err != nil {
		return err
	}
	password, err := sqlUserPassword(cc.env, o.passwordStdin)
	if err != nil {
		return err
	}
	db, err := OpenDB(cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	created, err := applySQLUser(ctx, db, name, password, accounts)
	if err != nil {
		return fmt.Errorf("sql-user %s: %w", name, err)
	}
	connURL, err := sqlUserURL(cfg.DatabaseURL, name, password)
	if err != nil {
		return err
	}
	out := cc.env.Stdout
	if created {
		fmt.Fprintf(out, "created role %s\n", name)
	} else {
		fmt.Fprintf(out, "updated role %s: new password (the old one no longer works), accounts replaced\n", name)
	}
	if len(accounts) == 0 {
		fmt.Fprintln(out, "sees all accounts")
	} else {
		fmt.Fprintf(out, "limited to accounts: %s\n", strings.Join(accounts, ", "))
	}
	fmt.Fprintln(out, connURL)
	return nil
}

// sqlUserPassword is the first line of stdin, or 32 random bytes, URL-safe
// so the connection URL needs no escaping.
func sqlUserPassword(env Env, fromStdin bool) (string, error) {
	if !fromStdin {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return "", fmt.Errorf("sql-user: generate password: %w", err)
		}
		return base64.RawURLEncoding.EncodeToString(b), nil
	}
	if env.Stdin == nil {
		return "", fmt.Errorf("%w: sql-user: --password-stdin: no standard input", errUsage)
	}
	line, err := bufio.NewReader(env.Stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", fmt.Errorf("%w: sql-user: --password-stdin: no password on standard input", errUsage)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("%w: sql-user: --password-stdin: the password is empty", errUsage)
	}
	return line, nil
}

// sqlUserURL is DATABASE_URL with the role's name and password.
func sqlUserURL(databaseURL, name, password string) (string, error) {
	u, err := url.Parse(databaseURL)
	if err != nil {
		return "", fmt.Errorf("sql-user: DATABASE_URL: %w", err)
	}
	u.User = url.UserPassword(name, password)
	q := u.Query()
	if q.Has("user") || q.Has("password") {
		q.Del("user")
		q.Del("password")
		u.RawQuery = q.Encode()
	}
	return u.String(), nil
}

// applySQLUser creates or updates the role in one transaction and says
// whether it was created. Identifiers and literals in DDL, which takes no
// parameters, go through pq's quoting.
func applySQLUser(ctx context.Context, db *sql.DB, name, password string, accounts []string) (created bool, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(sqlUserLockKey)); err != nil {
		return false, fmt.Errorf("lock: %w", err)
	}
	var migrated bool
	var schema, database, self string
	if err := tx.QueryRowContext(ctx, `SELECT to_regclass('sql_user_account') IS NOT NULL, current_schema(), current_database(), current_user`).
		Scan(&migrated, &schema, &database, &self); err != nil {
		return false, fmt.Errorf("read schema: %w", err)
	}
	if !migrated {
		return false, errors.New("the database has no sql_user_account table: run webhookdb migrate first")
	}
	if name == self {
		return false, fmt.Errorf("%s is webhookdb's own role (it owns the tables); choose another name", name)
	}
	var exists, super, bypass, repl, owns bool
	err = tx.QueryRowContext(ctx, `
		SELECT true, r.rolsuper, r.rolbypassrls, r.rolreplication,
		       EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		               WHERE n.nspname = current_schema() AND c.relowner = r.oid)
		FROM pg_roles r WHERE r.rolname = $1`, name).Scan(&exists, &super, &bypass, &repl, &owns)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("read role: %w", err)
	}
	switch {
	case super:
		return false, fmt.Errorf("%s is an existing superuser; a sql user must not be one, choose another name", name)
	case owns:
		return false, fmt.Errorf("%s owns tables of schema %s; a sql user must not, choose another name", name, schema)
	}
	role := pq.QuoteIdentifier(name)
	// NOINHERIT: it gets nothing through roles it may be granted later.
	// NOBYPASSRLS and NOREPLICATION only when set: changing them takes a
	// superuser, and a role created here never has them.
	attrs := "LOGIN NOCREATEDB NOCREATEROLE NOINHERIT"
	if bypass {
		attrs += " NOBYPASSRLS"
	}
	if repl {
		attrs += " NOREPLICATION"
	}
	verb := "ALTER"
	if !exists {
		verb = "CREATE"
	}
	stmts := []string{
		fmt.Sprintf("%s ROLE %s %s PASSWORD %s", verb, role, attrs, pq.QuoteLiteral(password)),
		// Whatever it was granted before goes, so a second run converges.
		fmt.Sprintf("REVOKE ALL ON ALL TABLES IN SCHEMA %s FROM %s", pq.QuoteIdentifier(schema), role),
		fmt.Sprintf("REVOKE ALL ON ALL SEQUENCES IN SCHEMA %s FROM %s", pq.QuoteIdentifier(schema), role),
		fmt.Sprintf("GRANT CONNECT ON DATABASE %s TO %s", pq.QuoteIdentifier(database), role),
		fmt.Sprintf("GRANT USAGE ON SCHEMA %s TO %s", pq.QuoteIdentifier(schema), role),
	}
	for _, fn := range sqlUserHelpers {
		stmts = append(stmts, fmt.Sprintf("GRANT EXECUTE ON FUNCTION %s.%s TO %s", pq.QuoteIdentifier(schema), fn, role))
	}
	tables, err := replicatedTables(ctx, tx)
	if err != nil {
		return false, err
	}
	for _, t := range tables {
		stmts = append(stmts, fmt.Sprintf("GRANT SELECT ON %s.%s TO %s", pq.QuoteIdentifier(schema), pq.QuoteIdentifier(t), role))
	}
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			// The statement holds the password: name its verb only.
			return false, fmt.Errorf("%s: %w", strings.Join(strings.Fields(s)[:2], " "), err)
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM sql_user_account WHERE role_name = $1`, name); err != nil {
		return false, fmt.Errorf("clear accounts: %w", err)
	}
	if len(accounts) > 0 {
		if _, err := tx.ExecContext(ctx, `INSERT INTO sql_user_account (role_name, account_login) SELECT $1, unnest($2::text[])`, name, accounts); err != nil {
			return false, fmt.Errorf("record accounts: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("commit: %w", err)
	}
	return !exists, nil
}

// replicatedTables are the github_* tables of the current schema: what a
// sql user may read. Listed from the catalog so a table added by a later
// migration is granted by the next run.
func replicatedTables(ctx context.Context, tx *sql.Tx) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE 'github\_%' ORDER BY tablename`)
	if err != nil {
		return nil, fmt.Errorf("list replicated tables: %w", err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("list replicated tables: %w", err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list replicated tables: %w", err)
	}
	return names, nil
}
