package process

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/volatiletech/sqlboiler/v4/boil"
)

// ErrMissingParent wraps a write that needs a row that is not stored yet
// (an issue whose repository was never written, a file of an unknown pull
// request). Callers write the parent from the payload first.
var ErrMissingParent = errors.New("parent row not stored")

// maxParams is PostgreSQL's limit of bind parameters in one statement.
const maxParams = 65535

// guard decides when an existing row may be overwritten.
type guard int

const (
	// guardNone: last writer wins (objects without a version, like files).
	guardNone guard = iota
	// guardUpdatedAt: a newer GitHub updated_at wins, an equal one when
	// it is as of a moment at least as late as the stored row's; data
	// without updated_at (a partial, nested object) is merged in unless it
	// was fetched before the stored row's updated_at.
	guardUpdatedAt
	// guardFetched: for objects without updated_at (reviews, permissions):
	// data fetched at least as late as the stored replication wins; with a
	// spec's rank, a higher rank wins first.
	guardFetched
)

// column of a spec. A key column is only inserted (never in SET); a keep
// column is never set to NULL by a later write (COALESCE), for fields some
// GitHub representations leave out.
type column struct {
	name string
	key  bool
	keep bool
}

// spec describes the conditional upsert of one table.
type spec struct {
	table     string
	conflict  string // conflict target, e.g. "id" or "repo_id, number"
	cols      []column
	guard     guard
	returning string // text expression identifying a written row; matches row.key
	doNothing bool   // insert only, never update an existing row
	// defaults of NOT NULL columns a partial row may lack: the stored value
	// is kept, and a new row gets the default (SQL literal).
	defaults map[string]string
	// rank, with guardFetched, orders states that only move forward (a
	// review's): an SQL expression of a row's rank, %[1]s standing for the
	// row ("t" or "EXCLUDED"). A higher rank wins whatever its fetch time,
	// a lower one is stale as a whole; within a rank, fetch time decides.
	rank string
}

// cols builds a column list from names: a "!" suffix marks a key column,
// a "~" suffix a keep column.
func cols(names ...string) []column {
	out := make([]column, len(names))
	for i, n := range names {
		switch {
		case strings.HasSuffix(n, "!"):
			out[i] = column{name: strings.TrimSuffix(n, "!"), key: true}
		case strings.HasSuffix(n, "~"):
			out[i] = column{name: strings.TrimSuffix(n, "~"), keep: true}
		default:
			out[i] = column{name: n}
		}
	}
	return out
}

// row is one object to write: its values in the spec's column order.
type row struct {
	key     string
	vals    []any
	partial bool      // merge: no column of the stored row is set to NULL
	version time.Time // among duplicates in one batch, the newest is kept
	// fetchedAt, when set, is this row's own as-of moment instead of the
	// statement's Meta.FetchedAt: rows of several deliveries committed
	// together (a group commit) each keep their delivery's.
	fetchedAt time.Time
}

// viaColumn is the replication timestamp column m stamps.
func viaColumn(m Meta) (string, error) {
	switch m.Via {
	case ViaWebhook:
		return "last_replicated_via_webhook_at", nil
	case ViaAPI:
		return "last_replicated_via_api_at", nil
	}
	return "", fmt.Errorf("meta via %d: %w", m.Via, ErrInvalid)
}

func checkMeta(m Meta) error {
	if _, err := viaColumn(m); err != nil {
		return err
	}
	if m.FetchedAt.IsZero() {
		return fmt.Errorf("meta without fetched_at: %w", ErrInvalid)
	}
	return nil
}

// upsert writes rows in as few statements as possible (one per group of
// partial or full rows, chunked under the parameter limit) and returns the
// keys of the rows written; the others were stale.
//
// Hand-written SQL, not the models' Upsert: SQLBoiler's Upsert writes one
// row per statement and has no WHERE on its DO UPDATE, so it can neither
// keep the newer row (the guard) nor write a page of 100 rows in one
// statement.
func upsert(ctx context.Context, exec boil.ContextExecutor, s *spec, m Meta, rows []row) (map[string]struct{}, error) {
	via, err := viaColumn(m)
	if err != nil {
		return nil, err
	}
	written := make(map[string]struct{}, len(rows))
	for _, partial := range []bool{false, true} {
		group := dedup(rows, partial)
		if len(group) == 0 {
			continue
		}
		per := len(s.cols) + 1
		chunk := maxParams / per
		for start := 0; start < len(group); start += chunk {
			end := min(start+chunk, len(group))
			if err := upsertChunk(ctx, exec, s, via, m.FetchedAt, partial, group[start:end], written); err != nil {
				return nil, err
			}
		}
	}
	return written, nil
}

// dedup keeps, per key, the newest row of the requested kind, sorted by key
// so that concurrent transactions lock rows in the same order. PostgreSQL
// refuses one statement that would update the same row twice.
func dedup(rows []row, partial bool) []row {
	idx := make(map[string]int, len(rows))
	out := make([]row, 0, len(rows))
	for _, r := range rows {
		if r.partial != partial {
			continue
		}
		if i, ok := idx[r.key]; ok {
			// The newest version wins; of equal versions, the one as of
			// the later moment (the guard's own rule), then the later one.
			if v := r.version.Compare(out[i].version); v > 0 || v == 0 && !r.fetchedAt.Before(out[i].fetchedAt) {
				out[i] = r
			}
			continue
		}
		idx[r.key] = len(out)
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return keyLess(out[i].key, out[j].key) })
	return out
}

// keyLess orders numeric keys numerically, others as text.
func keyLess(a, b string) bool {
	x, errA := strconv.ParseInt(a, 10, 64)
	y, errB := strconv.ParseInt(b, 10, 64)
	if errA == nil && errB == nil {
		return x < y
	}
	return a < b
}

func upsertChunk(ctx context.Context, exec boil.ContextExecutor, s *spec, via string, fetchedAt time.Time, partial bool, rows []row, written map[string]struct{}) error {
	q := buildUpsert(s, via, partial, len(rows))
	args := make([]any, 0, len(rows)*(len(s.cols)+1))
	for _, r := range rows {
		if len(r.vals) != len(s.cols) {
			return fmt.Errorf("upsert %s: %d values for %d columns", s.table, len(r.vals), len(s.cols))
		}
		args = append(args, r.vals...)
		if !r.fetchedAt.IsZero() {
			args = append(args, r.fetchedAt)
		} else {
			args = append(args, fetchedAt)
		}
	}
	res, err := exec.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("upsert %d rows into %s: %w", len(rows), s.table, classify(err))
	}
	defer res.Close()
	for res.Next() {
		var k string
		if err := res.Scan(&k); err != nil {
			return fmt.Errorf("upsert into %s: read result: %w", s.table, err)
		}
		written[k] = struct{}{}
	}
	if err := res.Err(); err != nil {
		return fmt.Errorf("upsert %d rows into %s: %w", len(rows), s.table, classify(err))
	}
	return nil
}

// buildUpsert writes the statement for n rows. Values are always
// placeholders; only identifiers from the specs are spliced in.
func buildUpsert(s *spec, via string, partial bool, n int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO ")
	b.WriteString(s.table)
	b.WriteString(" AS t (")
	for _, c := range s.cols {
		b.WriteString(c.name)
		b.WriteString(", ")
	}
	b.WriteString(via)
	b.WriteString(") VALUES ")
	per := len(s.cols) + 1
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for j := 0; j < per; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			p := "$" + strconv.Itoa(i*per+j+1)
			if def, ok := s.defaults[colName(s, j)]; ok && partial {
				// The stored value, else the default: NOT NULL is checked on
				// the proposed row before the conflict is detected.
				fmt.Fprintf(&b, "COALESCE(%s, (SELECT %s FROM %s WHERE %s), %s)", p, colName(s, j), s.table, keyMatch(s, i*per), def)
				continue
			}
			b.WriteString(p)
		}
		b.WriteByte(')')
	}
	writeConflict(&b, s, via, partial)
	b.WriteString(" RETURNING ")
	b.WriteString(s.returning)
	return b.String()
}

// writeConflict writes the ON CONFLICT clause of s: the guard that decides
// when a stored row is overwritten, and the columns set.
func writeConflict(b *strings.Builder, s *spec, via string, partial bool) {
	if s.doNothing {
		b.WriteString(" ON CONFLICT DO NOTHING")
	} else {
		b.WriteString(" ON CONFLICT (")
		b.WriteString(s.conflict)
		b.WriteString(") DO UPDATE SET ")
		for _, c := range s.cols {
			if c.key {
				continue
			}
			if partial || c.keep {
				fmt.Fprintf(b, "%s = COALESCE(EXCLUDED.%s, t.%s), ", c.name, c.name, c.name)
			} else {
				fmt.Fprintf(b, "%s = EXCLUDED.%s, ", c.name, c.name)
			}
		}
		fmt.Fprintf(b, "%s = EXCLUDED.%s", via, via)
		switch s.guard {
		case guardUpdatedAt:
			// A newer updated_at wins. GitHub's are to the second, so
			// several changes in one second carry the same one: then the
			// data as of the later moment wins (a delivery's first
			// arrival, an API read's time), not the write that happens to
			// run last. Data without updated_at (a nested, partial object)
			// is only older than the stored row when it was fetched
			// before the stored version was made.
			fmt.Fprintf(b, " WHERE t.updated_at IS NULL OR t.updated_at < EXCLUDED.updated_at"+
				" OR (t.updated_at = EXCLUDED.updated_at AND (t.last_replicated_at IS NULL OR t.last_replicated_at <= EXCLUDED.%s))"+
				" OR (EXCLUDED.updated_at IS NULL AND t.updated_at <= EXCLUDED.%s)", via, via)
		case guardFetched:
			fetched := fmt.Sprintf("t.last_replicated_at IS NULL OR t.last_replicated_at <= EXCLUDED.%s", via)
			if s.rank == "" {
				b.WriteString(" WHERE " + fetched)
				break
			}
			stored, proposed := fmt.Sprintf(s.rank, "t"), fmt.Sprintf(s.rank, "EXCLUDED")
			fmt.Fprintf(b, " WHERE %s > %s OR (%s = %s AND (%s))", proposed, stored, proposed, stored, fetched)
		}
	}
}

// classify marks a foreign key violation as ErrMissingParent so callers can
// tell "write the repository first" from a failure of the database, and
// values that cannot be stored as ErrInvalid: PostgreSQL's data exceptions
// (class 22: a \u0000 in text, a number out of range) and pgx refusing to
// encode a parameter (a number too large for an integer column). The same
// values would fail again, so retrying cannot help.
func classify(err error) error {
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == "23503":
		return fmt.Errorf("%s (%s): %w", pgErr.Message, pgErr.Detail, ErrMissingParent)
	case errors.As(err, &pgErr) && strings.HasPrefix(pgErr.Code, "22"),
		err != nil && strings.Contains(err.Error(), "failed to encode args["):
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return err
}

// Value helpers: go-github pointers become SQL NULL when absent.

func ts(t *github.Timestamp) any {
	if t == nil {
		return nil
	}
	return t.Time
}

func str(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}

func i64(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

func num(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

func boolean(p *bool) any {
	if p == nil {
		return nil
	}
	return *p
}

func strs(s []string) any {
	if s == nil {
		return nil
	}
	return s
}

func version(t *github.Timestamp) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.Time
}

func idKey(id int64) string { return strconv.FormatInt(id, 10) }

// outcome of the single row keyed k.
func outcome(written map[string]struct{}, k string) Outcome {
	if _, ok := written[k]; ok {
		return Written
	}
	return Stale
}

func isMissingParent(err error) bool { return errors.Is(err, ErrMissingParent) }

func colName(s *spec, j int) string {
	if j < len(s.cols) {
		return s.cols[j].name
	}
	return ""
}

// keyMatch is "k1 = $a AND k2 = $b" over the conflict columns of the row
// whose parameters start after offset.
func keyMatch(s *spec, offset int) string {
	var parts []string
	for _, k := range strings.Split(s.conflict, ",") {
		k = strings.TrimSpace(k)
		for j, c := range s.cols {
			if c.name == k {
				parts = append(parts, fmt.Sprintf("%s = $%d", k, offset+j+1))
			}
		}
	}
	return strings.Join(parts, " AND ")
}
