// Package migrations holds the SQL schema of webhookdb as goose migrations,
// embedded in the binary and applied by `webhookdb migrate`.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed *.sql
var files embed.FS

// ErrDatabaseNewer is returned when the database was migrated by a newer
// binary than this one: running against it could corrupt data.
var ErrDatabaseNewer = errors.New("database schema is newer than this binary")

func provider(db *sql.DB) (*goose.Provider, error) {
	// A session lock (pg_advisory_lock) so that several processes migrating at
	// once apply each migration once.
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, fmt.Errorf("create migration lock: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, files,
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true),
	)
	if err != nil {
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	return p, nil
}

// Latest is the newest schema version this binary knows.
func Latest() int64 {
	var latest int64
	entries, _ := fs.ReadDir(files, ".") // embedded at build time; cannot fail
	for _, e := range entries {
		if v, err := goose.NumericComponent(e.Name()); err == nil {
			latest = max(latest, v)
		}
	}
	return latest
}

// Result tells what Up did.
type Result struct {
	From, To int64
	Applied  []int64
}

// Up applies every pending migration. It is safe to run any number of times
// and from several processes at once. A database newer than the binary is
// refused with ErrDatabaseNewer before anything is changed.
func Up(ctx context.Context, db *sql.DB) (Result, error) {
	p, err := provider(db)
	if err != nil {
		return Result{}, err
	}
	current, err := p.GetDBVersion(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("read schema version: %w", err)
	}
	latest := Latest()
	if current > latest {
		return Result{From: current, To: current}, fmt.Errorf("%w: database is at version %d, this binary knows up to %d; run a newer webhookdb", ErrDatabaseNewer, current, latest)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return Result{From: current}, fmt.Errorf("apply migrations from version %d: %w", current, err)
	}
	res := Result{From: current, To: current}
	for _, r := range results {
		res.Applied = append(res.Applied, r.Source.Version)
		res.To = max(res.To, r.Source.Version)
	}
	return res, nil
}

// Version is the schema version the database is at (0 for an empty one).
func Version(ctx context.Context, db *sql.DB) (int64, error) {
	p, err := provider(db)
	if err != nil {
		return 0, err
	}
	v, err := p.GetDBVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}
