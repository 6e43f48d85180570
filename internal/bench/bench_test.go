package bench

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/webhookdb/webhookdb/internal/testutil"
)

// issueKeys are the JSON keys issue 12 and /work/shared/design.md name.
var issueKeys = map[string][]string{
	"ingest":   {"deliveries_per_s", "p50_ms", "p99_ms", "single_p99_ms", "baseline_upserts_per_s", "ratio"},
	"backfill": {"objects", "wall_s", "requests", "min_requests", "requests_ratio", "ideal_wall_s", "wall_ratio", "rate_limit_violations"},
	"rescan":   {"primary_spent", "wall_s"},
	"memory":   {"small_peak_rss_mb", "large_peak_rss_mb"},
	"read":     {"pulls_per_s", "p50_ms", "p99_ms", "ghfake_pulls_per_s", "ratio", "clients", "per_page", "items"},
}

// TestBenchTiny builds the binary, runs every part of the bench at a tiny
// size and duration, and checks the JSON: every key present and sane. It
// asserts no speed (that is what the bench reports, not what a test holds).
func TestBenchTiny(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs serve processes")
	}
	ctx := context.Background()
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "webhookdb")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = filepath.Dir(strings.TrimSpace(string(gomod)))
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	name := "webhookdb_benchtest_" + randomHex(3)
	t.Cleanup(func() { dropDatabases(t, name) })
	logDir := filepath.Join(dir, "logs")
	if err := os.Mkdir(logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	res, err := Run(ctx, Options{
		Binary: bin, DatabaseURL: testutil.AdminURL(), RedisURL: testutil.RedisURL(),
		Workers: 4, InstallationConcurrency: 4, Size: 6, Senders: 4, Phase: 400 * time.Millisecond,
		Latency: 2 * time.Millisecond, LargeFactor: 2, LargeTimeout: 2 * time.Minute, Name: name, Dir: logDir,
		Log: zerolog.New(zerolog.NewTestWriter(t)),
	})
	if res == nil {
		t.Fatalf("no result: %v", err)
	}
	var table strings.Builder
	res.PrintTable(&table)
	t.Logf("\n%s", table.String())
	if err != nil {
		t.Fatalf("bench: %v (logs in %s)", err, logDir)
	}
	path := filepath.Join(dir, "bench.json")
	if err := res.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]json.RawMessage
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	figures := map[string]float64{}
	for part, keys := range issueKeys {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(got[part], &m); err != nil {
			t.Fatalf("%s: %v in %s", part, err, got[part])
		}
		for _, k := range keys {
			raw, ok := m[k]
			var v *float64
			if ok {
				if err := json.Unmarshal(raw, &v); err != nil {
					t.Errorf("%s.%s = %s, not a number: %v", part, k, raw, err)
					continue
				}
			}
			switch {
			case !ok:
				t.Errorf("%s.%s is missing", part, k)
			case v == nil:
				t.Errorf("%s.%s is null", part, k)
			case *v < 0:
				t.Errorf("%s.%s = %v, negative", part, k, *v)
			default:
				figures[part+"."+k] = *v
			}
		}
	}
	for _, k := range []string{"date", "machine", "logs"} {
		if _, ok := got[k]; !ok {
			t.Errorf("%s is missing", k)
		}
	}
	if res.Machine.Cores < 1 || res.Machine.Go == "" || !strings.HasPrefix(res.Machine.Postgres, "PostgreSQL ") {
		t.Errorf("machine = %+v", res.Machine)
	}
	positive := []string{"ingest.deliveries_per_s", "ingest.p50_ms", "ingest.p99_ms", "ingest.single_p99_ms",
		"ingest.baseline_upserts_per_s", "ingest.ratio", "backfill.objects", "backfill.wall_s", "backfill.requests",
		"backfill.min_requests", "backfill.ideal_wall_s", "memory.small_peak_rss_mb", "memory.large_peak_rss_mb",
		"read.pulls_per_s", "read.ghfake_pulls_per_s", "read.p50_ms", "read.items"}
	for _, k := range positive {
		if figures[k] <= 0 {
			t.Errorf("%s = %v, want > 0", k, figures[k])
		}
	}
	if res.Ingest.Lost == nil || *res.Ingest.Lost != 0 {
		t.Errorf("ingest.lost = %v, want 0", res.Ingest.Lost)
	}
	if figures["ingest.p99_ms"] < figures["ingest.p50_ms"] {
		t.Errorf("p99 %v below p50 %v", figures["ingest.p99_ms"], figures["ingest.p50_ms"])
	}
	if figures["backfill.requests"] < figures["backfill.min_requests"] {
		t.Errorf("backfill.requests %v below the design's minimum %v", figures["backfill.requests"], figures["backfill.min_requests"])
	}
	if figures["backfill.rate_limit_violations"] != 0 {
		t.Errorf("backfill.rate_limit_violations = %v, want 0", figures["backfill.rate_limit_violations"])
	}
	if res.Memory.LargeFinished == nil || !*res.Memory.LargeFinished {
		t.Errorf("the large backfill did not finish: %+v", res.Memory)
	}
	for _, f := range []string{"ingest.log", "backfill.log", "large.log", "read.log"} {
		if st, err := os.Stat(filepath.Join(logDir, f)); err != nil || st.Size() == 0 {
			t.Errorf("log %s: %v (empty or missing)", f, err)
		}
	}
}

func dropDatabases(t *testing.T, name string) {
	db, err := sql.Open("pgx", testutil.AdminURL())
	if err != nil {
		t.Log(err)
		return
	}
	defer db.Close()
	for _, n := range []string{name, name + "_backfill", name + "_large", name + "_read"} {
		if _, err := db.Exec(`DROP DATABASE IF EXISTS "` + n + `" WITH (FORCE)`); err != nil {
			t.Logf("drop %s: %v", n, err)
		}
	}
}

// TestArrayLen: the timed reads count a page's items without decoding it,
// so the count must be right and a cut or malformed page must not pass.
func TestArrayLen(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int
		bad  bool
	}{
		{in: `[]`, want: 0},
		{in: " [ ] \n", want: 0},
		{in: `[1]`, want: 1},
		{in: `[{"a":[1,2,{"b":"],}["}]},{"c":"\"],"},null]`, want: 3},
		{in: `[[1,2],[3],[]]`, want: 3},
		{in: `["a\\",1]`, want: 2},
		{in: `["\\\"],[",2]`, want: 2},
		{in: `["\\\\"]`, want: 1},
		{in: `[{"title":"a, b"},{"title":"c"}]`, want: 2},
		{in: `{"message":"Not Found"}`, bad: true},
		{in: `[{"a":1},{"b":2}`, bad: true},
		{in: `[{"a":1}]]`, bad: true},
		{in: `[{"a":1]}`, bad: true},
		{in: `[1,]`, bad: true},
		{in: `[,1]`, bad: true},
		{in: `[1,,2]`, bad: true},
		{in: `["abc`, bad: true},
		{in: `["a\"]`, bad: true},
		{in: ``, bad: true},
	} {
		got, err := arrayLen([]byte(c.in))
		switch {
		case c.bad && err == nil:
			t.Errorf("arrayLen(%s) = %d, want an error", c.in, got)
		case !c.bad && err != nil:
			t.Errorf("arrayLen(%s): %v", c.in, err)
		case !c.bad && got != c.want:
			t.Errorf("arrayLen(%s) = %d, want %d", c.in, got, c.want)
		}
	}
	// A real page: what encoding/json counts, arrayLen counts.
	page, err := json.Marshal([]map[string]any{{"title": "x]y", "labels": []string{"a,b"}}, {"body": "q\\\"["}, {}})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := arrayLen(page); err != nil || got != 3 {
		t.Errorf("arrayLen(%s) = %d, %v; want 3", page, got, err)
	}
}

func TestPageLengths(t *testing.T) {
	for _, c := range []struct {
		items, per int
		want       []int
	}{
		{300, 100, []int{100, 100, 100}},
		{250, 100, []int{100, 100, 50}},
		{84, 100, []int{84}},
		{0, 100, nil},
	} {
		if got := pageLengths(c.items, c.per); !slices.Equal(got, c.want) {
			t.Errorf("pageLengths(%d, %d) = %v, want %v", c.items, c.per, got, c.want)
		}
	}
}
