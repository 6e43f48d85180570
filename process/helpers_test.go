package process_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/volatiletech/null/v8"

	"github.com/webhookdb/webhookdb/internal/testutil"
	"github.com/webhookdb/webhookdb/process"
)

var env testutil.Env

func TestMain(m *testing.M) { os.Exit(testutil.Main(m, &env)) }

// payloadDir holds real GitHub webhook payloads (see testutil.PayloadsDir).
func payloadDir() string { return testutil.PayloadsDir() }

// payload parses the payload of event in file (relative to payloadDir).
func payload(t testing.TB, event, file string) any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(payloadDir(), event, file))
	if err != nil {
		t.Fatalf("read payload: %v", err)
	}
	ev, err := github.ParseWebHook(event, data)
	if err != nil {
		t.Fatalf("parse %s/%s: %v", event, file, err)
	}
	return ev
}

// tx gives a test its own transaction, rolled back at the end, so tests
// leave nothing behind and see only their own rows.
func tx(t testing.TB) *sql.Tx {
	t.Helper()
	tx, err := env.DB.BeginTx(context.Background(), nil)
	if err != nil {
		t.Fatalf("begin: %v", err)
	}
	t.Cleanup(func() { _ = tx.Rollback() })
	return tx
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func webhook(at time.Time) process.Meta {
	return process.Meta{Via: process.ViaWebhook, FetchedAt: at}
}

func api(at time.Time) process.Meta {
	return process.Meta{Via: process.ViaAPI, FetchedAt: at}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func mustOutcome(t testing.TB, want process.Outcome) func(process.Outcome, error) {
	return func(got process.Outcome, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("outcome %v, want %v", got, want)
		}
	}
}

// Field comparisons between a stored column and the GitHub field.

func eqStr(t testing.TB, name string, got null.String, want *string) {
	t.Helper()
	if got.Valid != (want != nil) || (want != nil && got.String != *want) {
		t.Errorf("%s = %s, want %s", name, show(got.Valid, got.String), showp(want))
	}
}

func eqI64(t testing.TB, name string, got null.Int64, want *int64) {
	t.Helper()
	if got.Valid != (want != nil) || (want != nil && got.Int64 != *want) {
		t.Errorf("%s = %s, want %s", name, show(got.Valid, got.Int64), showp(want))
	}
}

func eqInt(t testing.TB, name string, got null.Int, want *int) {
	t.Helper()
	if got.Valid != (want != nil) || (want != nil && got.Int != *want) {
		t.Errorf("%s = %s, want %s", name, show(got.Valid, got.Int), showp(want))
	}
}

func eqBool(t testing.TB, name string, got null.Bool, want *bool) {
	t.Helper()
	if got.Valid != (want != nil) || (want != nil && got.Bool != *want) {
		t.Errorf("%s = %s, want %s", name, show(got.Valid, got.Bool), showp(want))
	}
}

func eqTime(t testing.TB, name string, got null.Time, want *github.Timestamp) {
	t.Helper()
	if got.Valid != (want != nil) || (want != nil && !got.Time.Equal(want.Time)) {
		var w *time.Time
		if want != nil {
			w = &want.Time
		}
		t.Errorf("%s = %s, want %s", name, show(got.Valid, got.Time), showp(w))
	}
}

func eq[T comparable](t testing.TB, name string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", name, got, want)
	}
}

func show[T any](valid bool, v T) string {
	if !valid {
		return "NULL"
	}
	return fmt.Sprint(v)
}

func showp[T any](p *T) string {
	if p == nil {
		return "NULL"
	}
	return fmt.Sprint(*p)
}

func isErr(t testing.TB, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error %v, want one wrapping %v", err, target)
	}
}

func count(t testing.TB, q sqlQuerier, query string, args ...any) int {
	t.Helper()
	var n int
	if err := q.QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

type sqlQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func ptr[T any](v T) *T { return &v }

func stamp(tm time.Time) *github.Timestamp { return &github.Timestamp{Time: tm} }
