// Package testutil gives every test package a PostgreSQL database and a
// Redis namespace of its own on the local servers, so that packages can run
// in parallel and leave nothing behind.
//
// Use it from TestMain:
//
//	var env testutil.Env
//
//	func TestMain(m *testing.M) { os.Exit(testutil.Main(m, &env)) }
package testutil

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver

	"github.com/webhookdb/webhookdb/migrations"
)

// Env is what a test package gets: a migrated database and a Redis
// namespace, both its own.
type Env struct {
	// DB is a pool on the package's database.
	DB *sql.DB
	// DatabaseURL reaches the same database, for code that opens its own pool.
	DatabaseURL string
	// DatabaseName is the name of the database.
	DatabaseName string
	// Redis is a pool on the local Redis.
	Redis *redis.Pool
	// RedisURL reaches the same Redis.
	RedisURL string
	// Namespace is the package's own Redis key prefix (for gocraft/work).
	Namespace string
}

// AdminURL is the database used to create and drop test databases;
// WEBHOOKDB_TEST_ADMIN_URL overrides it.
func AdminURL() string {
	if u := os.Getenv("WEBHOOKDB_TEST_ADMIN_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// RedisURL is the Redis the tests use; WEBHOOKDB_TEST_REDIS_URL overrides it.
func RedisURL() string {
	if u := os.Getenv("WEBHOOKDB_TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// Main sets up env, runs the package's tests, tears everything down and
// returns the exit code for os.Exit.
func Main(m *testing.M, env *Env) int {
	ctx := context.Background()
	dropAbandoned(ctx)
	suffix := randomHex(4)
	pkg := packageName()
	if err := setup(ctx, env, pkg, suffix); err != nil {
		fmt.Fprintf(os.Stderr, "testutil: %v\n", err)
		teardown(ctx, env)
		return 1
	}
	code := m.Run()
	if err := teardown(ctx, env); err != nil {
		fmt.Fprintf(os.Stderr, "testutil: cleanup: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

func setup(ctx context.Context, env *Env, pkg, suffix string) error {
	name := "webhookdb_test_" + pkg + "_" + suffix
	dbURL, err := CreateDatabase(ctx, name)
	if err != nil {
		return err
	}
	env.DatabaseName = name
	env.DatabaseURL = dbURL
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		return fmt.Errorf("open %s: %w", name, err)
	}
	env.DB = db
	if _, err := migrations.Up(ctx, db); err != nil {
		return fmt.Errorf("migrate %s: %w", name, err)
	}
	env.RedisURL = RedisURL()
	env.Namespace = "webhookdb_test_" + pkg + "_" + suffix
	env.Redis = &redis.Pool{
		MaxIdle:   16,
		MaxActive: 64,
		Wait:      true,
		Dial:      func() (redis.Conn, error) { return redis.DialURL(env.RedisURL) },
	}
	conn := env.Redis.Get()
	defer conn.Close()
	if _, err := conn.Do("PING"); err != nil {
		return fmt.Errorf("redis at %s: %w (start it with: redis-server --daemonize yes)", env.RedisURL, err)
	}
	return nil
}

func teardown(ctx context.Context, env *Env) error {
	var errs []string
	if env.DB != nil {
		env.DB.Close()
	}
	if env.DatabaseName != "" {
		if err := DropDatabase(ctx, env.DatabaseName); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if env.Redis != nil {
		if err := DeleteNamespace(env.Redis, env.Namespace); err != nil {
			errs = append(errs, err.Error())
		}
		env.Redis.Close()
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// abandonedAfter is the age past which a test database is taken to belong
// to a test binary that was killed before it could drop it.
const abandonedAfter = 6 * time.Hour

// dropAbandoned drops test databases left by killed test binaries. It is
// best effort: without the rights to read file dates it does nothing.
func dropAbandoned(ctx context.Context) {
	admin, err := sql.Open("pgx", AdminURL())
	if err != nil {
		return
	}
	defer admin.Close()
	rows, err := admin.QueryContext(ctx, `
		SELECT datname FROM pg_database
		WHERE datname LIKE 'webhookdb\_test\_%'
		  AND (pg_stat_file('base/' || oid || '/PG_VERSION')).modification < now() - $1::interval`,
		fmt.Sprintf("%d seconds", int(abandonedAfter.Seconds())))
	if err != nil {
		return
	}
	var names []string
	for rows.Next() {
		var n string
		if rows.Scan(&n) == nil {
			names = append(names, n)
		}
	}
	rows.Close()
	for _, n := range names {
		_ = DropDatabase(ctx, n) // another package may be dropping it too
	}
}

// CreateDatabase creates an empty database and returns its URL.
func CreateDatabase(ctx context.Context, name string) (string, error) {
	admin, err := sql.Open("pgx", AdminURL())
	if err != nil {
		return "", err
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, `CREATE DATABASE `+quoteIdent(name)); err != nil {
		return "", fmt.Errorf("create database %s (is PostgreSQL running on 127.0.0.1:5432?): %w", name, err)
	}
	u, err := url.Parse(AdminURL())
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}

// DropDatabase drops a database, closing whatever is still connected to it.
func DropDatabase(ctx context.Context, name string) error {
	admin, err := sql.Open("pgx", AdminURL())
	if err != nil {
		return err
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, `DROP DATABASE IF EXISTS `+quoteIdent(name)+` WITH (FORCE)`); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

// DeleteNamespace removes every Redis key under namespace.
func DeleteNamespace(pool *redis.Pool, namespace string) error {
	conn := pool.Get()
	defer conn.Close()
	cursor := "0"
	for {
		vals, err := redis.Values(conn.Do("SCAN", cursor, "MATCH", namespace+"*", "COUNT", 1000))
		if err != nil {
			return fmt.Errorf("scan redis namespace %s: %w", namespace, err)
		}
		cursor, _ = redis.String(vals[0], nil)
		keys, _ := redis.Strings(vals[1], nil)
		for _, k := range keys {
			if _, err := conn.Do("DEL", k); err != nil {
				return fmt.Errorf("delete redis key %s: %w", k, err)
			}
		}
		if cursor == "0" {
			return nil
		}
	}
}

// Truncate empties every table of the schema, for a test that needs a clean
// slate. Tests that call it must not run in parallel with others of their
// package.
func (e *Env) Truncate(t testing.TB) {
	t.Helper()
	_, err := e.DB.Exec(`DO $$ DECLARE r record; BEGIN
		FOR r IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'goose_db_version' LOOP
			EXECUTE 'TRUNCATE TABLE ' || quote_ident(r.tablename) || ' CASCADE';
		END LOOP; END $$`)
	if err != nil {
		t.Fatalf("truncate: %v", err)
	}
}

var nonIdent = regexp.MustCompile(`[^a-z0-9_]+`)

// packageName names the test binary's package for the database name.
func packageName() string {
	base := strings.TrimSuffix(filepath.Base(os.Args[0]), ".test")
	base = nonIdent.ReplaceAllString(strings.ToLower(base), "_")
	if len(base) > 30 {
		base = base[:30]
	}
	return base
}

func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b)
}
