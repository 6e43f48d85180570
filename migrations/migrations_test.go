package migrations_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/volatiletech/null/v8"
	"github.com/volatiletech/sqlboiler/v4/boil"
	"github.com/volatiletech/sqlboiler/v4/types"

	"github.com/webhookdb/webhookdb/internal/testutil"
	"github.com/webhookdb/webhookdb/migrations"
	"github.com/webhookdb/webhookdb/models"
)

var env testutil.Env

func TestMain(m *testing.M) { os.Exit(testutil.Main(m, &env)) }

func TestUpTwiceIsANoop(t *testing.T) {
	ctx := context.Background()
	// testutil.Main already migrated this database once.
	res, err := migrations.Up(ctx, env.DB)
	if err != nil {
		t.Fatalf("second Up: %v", err)
	}
	if len(res.Applied) != 0 || res.To != migrations.Latest() {
		t.Fatalf("second Up applied %v, at %d; want nothing, at %d", res.Applied, res.To, migrations.Latest())
	}
	if migrations.Latest() < 1 {
		t.Fatalf("Latest() = %d; the embedded migrations were not found", migrations.Latest())
	}
}

func TestFreshDatabaseMigratesUp(t *testing.T) {
	ctx := context.Background()
	db := scratchDB(t)
	res, err := migrations.Up(ctx, db)
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	if res.From != 0 || res.To != migrations.Latest() || len(res.Applied) == 0 {
		t.Fatalf("Up on an empty database = %+v; want from 0 to %d", res, migrations.Latest())
	}
	var tables int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'github_%'`).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables < 15 {
		t.Fatalf("%d github_ tables after Up; the schema has 15", tables)
	}
}

func TestNewerDatabaseIsRefused(t *testing.T) {
	ctx := context.Background()
	db := scratchDB(t)
	if _, err := migrations.Up(ctx, db); err != nil {
		t.Fatal(err)
	}
	future := migrations.Latest() + 1
	if _, err := db.ExecContext(ctx, `INSERT INTO goose_db_version (version_id, is_applied) VALUES ($1, true)`, future); err != nil {
		t.Fatal(err)
	}
	_, err := migrations.Up(ctx, db)
	if !errors.Is(err, migrations.ErrDatabaseNewer) {
		t.Fatalf("Up on a newer database: %v; want ErrDatabaseNewer", err)
	}
}

func scratchDB(t *testing.T) *sql.DB {
	t.Helper()
	ctx := context.Background()
	name := env.DatabaseName + "_" + t.Name()
	if len(name) > 63 {
		name = name[:63]
	}
	url, err := testutil.CreateDatabase(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db.Close()
		if err := testutil.DropDatabase(ctx, name); err != nil {
			t.Error(err)
		}
	})
	return db
}

type inserter interface {
	Insert(ctx context.Context, exec boil.ContextExecutor, columns boil.Columns) error
}

// TestModelsRoundTrip inserts a row into every table through the generated
// models, with every column set, and reads it back unchanged. Parents come
// before children so the foreign keys hold.
func TestModelsRoundTrip(t *testing.T) {
	ctx := context.Background()
	tx, err := env.DB.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()

	type row struct {
		name string
		obj  inserter
		find func() (any, error)
		// fix sets, after fill, the columns whose CHECK fill's values break.
		fix func()
	}
	const id, num = int64(7), 3
	delivery := &models.WebhookDelivery{Status: "processed"}
	cursor := &models.CatchupCursor{}
	rows := []row{
		{"github_user", &models.GithubUser{}, func() (any, error) { return models.FindGithubUser(ctx, tx, id) }, nil},
		{"github_installation", &models.GithubInstallation{}, func() (any, error) { return models.FindGithubInstallation(ctx, tx, id) }, nil},
		{"github_repository", &models.GithubRepository{}, func() (any, error) { return models.FindGithubRepository(ctx, tx, id) }, nil},
		{"github_installation_repository", &models.GithubInstallationRepository{}, func() (any, error) { return models.FindGithubInstallationRepository(ctx, tx, id, id) }, nil},
		{"github_user_repository_association", &models.GithubUserRepositoryAssociation{}, func() (any, error) { return models.FindGithubUserRepositoryAssociation(ctx, tx, id, id) }, nil},
		{"github_milestone", &models.GithubMilestone{}, func() (any, error) { return models.FindGithubMilestone(ctx, tx, id, num) }, nil},
		{"github_issue_label", &models.GithubIssueLabel{}, func() (any, error) { return models.FindGithubIssueLabel(ctx, tx, id, "x") }, nil},
		{"github_issue", &models.GithubIssue{}, func() (any, error) { return models.FindGithubIssue(ctx, tx, id) }, nil},
		{"github_issue_label_association", &models.GithubIssueLabelAssociation{}, func() (any, error) { return models.FindGithubIssueLabelAssociation(ctx, tx, id, "x") }, nil},
		{"github_issue_comment", &models.GithubIssueComment{}, func() (any, error) { return models.FindGithubIssueComment(ctx, tx, id) }, nil},
		{"github_pull_request", &models.GithubPullRequest{}, func() (any, error) { return models.FindGithubPullRequest(ctx, tx, id) }, nil},
		{"github_pull_request_label_association", &models.GithubPullRequestLabelAssociation{}, func() (any, error) { return models.FindGithubPullRequestLabelAssociation(ctx, tx, id, "x") }, nil},
		{"github_pull_request_file", &models.GithubPullRequestFile{}, func() (any, error) { return models.FindGithubPullRequestFile(ctx, tx, id, "x") }, nil},
		{"github_pull_request_review", &models.GithubPullRequestReview{}, func() (any, error) { return models.FindGithubPullRequestReview(ctx, tx, id) }, nil},
		{"github_pull_request_review_comment", &models.GithubPullRequestReviewComment{}, func() (any, error) { return models.FindGithubPullRequestReviewComment(ctx, tx, id) }, nil},
		{"webhook_delivery", delivery, func() (any, error) { return models.FindWebhookDelivery(ctx, tx, "x") }, func() { delivery.RecoveredBy = null.StringFrom("replay") }},
		{"scan", &models.Scan{Status: "done"}, func() (any, error) { return models.FindScan(ctx, tx, id) }, nil},
		{"scan_page", &models.ScanPage{Status: "done"}, func() (any, error) { return models.FindScanPage(ctx, tx, id, num) }, nil},
		{"api_etag", &models.APIEtag{}, func() (any, error) { return models.FindAPIEtag(ctx, tx, "x") }, nil},
		{"sessions", &models.Session{}, func() (any, error) { return models.FindSession(ctx, tx, "x") }, nil},
		{"github_tombstone", &models.GithubTombstone{}, func() (any, error) { return models.FindGithubTombstone(ctx, tx, "x", id) }, nil},
		{"catchup_cursor", cursor, func() (any, error) { return models.FindCatchupCursor(ctx, tx, 1) }, func() { cursor.ID = 1 }},
		{"catchup_request", &models.CatchupRequest{}, func() (any, error) { return models.FindCatchupRequest(ctx, tx, "x") }, nil},
		{"reconcile_run", &models.ReconcileRun{}, func() (any, error) { return models.FindReconcileRun(ctx, tx, id) }, nil},
		{"github_user_repository_removal", &models.GithubUserRepositoryRemoval{}, func() (any, error) { return models.FindGithubUserRepositoryRemoval(ctx, tx, id, id) }, nil},
		{"sql_user_account", &models.SQLUserAccount{}, func() (any, error) { return models.FindSQLUserAccount(ctx, tx, "x", "x") }, nil},
	}
	var tables int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'goose_db_version'`).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != len(rows) {
		t.Fatalf("the schema has %d tables and this test covers %d: add the new ones", tables, len(rows))
	}

	base := time.Date(2024, 3, 1, 12, 30, 45, 123456000, time.UTC)
	for _, r := range rows {
		fill(reflect.ValueOf(r.obj).Elem(), id, num, base)
		if r.fix != nil {
			r.fix()
		}
		if err := r.obj.Insert(ctx, tx, boil.Infer()); err != nil {
			t.Fatalf("insert %s: %v", r.name, err)
		}
		got, err := r.find()
		if err != nil {
			t.Fatalf("find %s: %v", r.name, err)
		}
		want := reflect.ValueOf(r.obj).Elem()
		gotV := reflect.ValueOf(got).Elem()
		for i := 0; i < want.NumField(); i++ {
			f := want.Type().Field(i)
			if !f.IsExported() || f.Name == "R" || f.Name == "L" {
				continue
			}
			w, g := want.Field(i).Interface(), gotV.Field(i).Interface()
			if f.Name == "LastReplicatedAt" {
				// Generated: the later of the two replication times.
				w = null.TimeFrom(base.Add(time.Hour))
			}
			if !equal(w, g) {
				t.Errorf("%s.%s: wrote %v, read %v", r.name, f.Name, w, g)
			}
		}
	}
}

// fill sets every column: ids and foreign keys to id, numbers to num (so
// composite keys line up), text to "x", times to base (an hour later for the
// API replication time, so the generated column has something to choose).
func fill(v reflect.Value, id int64, num int, base time.Time) {
	for i := 0; i < v.NumField(); i++ {
		f, name := v.Field(i), v.Type().Field(i).Name
		if !v.Type().Field(i).IsExported() || name == "R" || name == "L" || name == "LastReplicatedAt" || name == "ParentScanID" {
			continue
		}
		ts := base
		if name == "LastReplicatedViaAPIAt" {
			ts = base.Add(time.Hour)
		}
		switch p := f.Addr().Interface().(type) {
		case *int64:
			*p = id
		case *int:
			*p = num
		case *string:
			if *p == "" {
				*p = "x"
			}
		case *bool:
			*p = true
		case *time.Time:
			*p = ts
		case *[]byte:
			*p = []byte("data")
		case *null.String:
			*p = null.StringFrom("x")
		case *null.Int64:
			*p = null.Int64From(id)
		case *null.Int:
			*p = null.IntFrom(num)
		case *null.Bool:
			*p = null.BoolFrom(true)
		case *null.Time:
			*p = null.TimeFrom(ts)
		case *null.JSON:
			*p = null.JSONFrom([]byte(`{"k": "v"}`))
		case *types.JSON:
			*p = types.JSON(`{"k": "v"}`)
		case *types.StringArray:
			*p = types.StringArray{"a", "b"}
		case *types.Int64Array:
			*p = types.Int64Array{1, 2}
		default:
			panic("fill: no value for " + name + " of type " + f.Type().String())
		}
	}
}

func equal(a, b any) bool {
	switch x := a.(type) {
	case time.Time:
		return x.Equal(b.(time.Time))
	case null.Time:
		y := b.(null.Time)
		return x.Valid == y.Valid && x.Time.Equal(y.Time)
	case null.JSON:
		return jsonEqual(x.JSON, b.(null.JSON).JSON)
	case types.JSON:
		return jsonEqual(x, b.(types.JSON))
	}
	return reflect.DeepEqual(a, b)
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if err := types.JSON(a).Unmarshal(&x); err != nil {
		return false
	}
	if err := types.JSON(b).Unmarshal(&y); err != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}
