package process

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/volatiletech/sqlboiler/v4/boil"
)

// Later holds the user rows of a webhook transaction until its end, where
// they are written at once: each user once however many deliveries and
// objects carry it, in id order, and only the users whose stored row
// lacks what the payloads say (flushUsers).
//
// Users nested in payloads (senders, owners, authors, assignees) are the
// rows that deliveries of different repositories share. Written where
// they occur, each delivery would lock them early and hold them to its
// commit, and two group commits would lock the same users in different
// orders and deadlock; written last, sorted, in one statement, and not at
// all when unchanged (the common case), they are locked by nobody for
// long and never in a cycle. No table references github_user, so nothing
// needs the row before the end of the transaction.
//
// A transaction uses a Later by passing, as the executor of the process
// functions, a value whose Later method returns it, and calls Flush before
// its commit.
type Later struct {
	via   Via
	users []row
}

// LaterHolder is an executor that defers user writes to its Later.
type LaterHolder interface {
	boil.ContextExecutor
	Later() *Later
}

// laterOf is the Later of exec, or nil when exec writes everything at once.
func laterOf(exec boil.ContextExecutor) *Later {
	if h, ok := exec.(LaterHolder); ok {
		return h.Later()
	}
	return nil
}

// addUsers defers rows of users as of m.
func (l *Later) addUsers(m Meta, rows []row) error {
	if err := checkMeta(m); err != nil {
		return err
	}
	if len(l.users) == 0 {
		l.via = m.Via
	} else if l.via != m.Via {
		return fmt.Errorf("deferred users replicated via %s and %s: %w", l.via, m.Via, ErrInvalid)
	}
	for _, r := range rows {
		if r.fetchedAt.IsZero() {
			r.fetchedAt = m.FetchedAt
		}
		l.users = append(l.users, r)
	}
	return nil
}

// Flush writes the deferred users and forgets them.
func (l *Later) Flush(ctx context.Context, exec boil.ContextExecutor) error {
	if l == nil || len(l.users) == 0 {
		return nil
	}
	via, err := viaColumn(Meta{Via: l.via})
	if err != nil {
		return err
	}
	for _, partial := range []bool{false, true} {
		rows := mergeUsers(l.users, partial)
		if len(rows) == 0 {
			continue
		}
		if err := flushUsers(ctx, exec, via, partial, rows); err != nil {
			return err
		}
	}
	l.users = nil
	return nil
}

// mergeUsers keeps one row per user of the requested kind, in id order. Of
// full rows the one that would win alone does (dedup). Partial rows (no
// version) are merged as writing them one after the other in the order of
// their moments would: a later non-null field over an earlier one, the
// latest moment.
func mergeUsers(rows []row, partial bool) []row {
	if !partial {
		return dedup(rows, false)
	}
	byMoment := make([]row, 0, len(rows))
	for _, r := range rows {
		if r.partial {
			byMoment = append(byMoment, r)
		}
	}
	sort.SliceStable(byMoment, func(i, j int) bool { return byMoment[i].fetchedAt.Before(byMoment[j].fetchedAt) })
	idx := map[string]int{}
	var out []row
	for _, r := range byMoment {
		i, ok := idx[r.key]
		if !ok {
			idx[r.key] = len(out)
			r.vals = append([]any(nil), r.vals...)
			out = append(out, r)
			continue
		}
		for c, v := range r.vals {
			if v != nil {
				out[i].vals[c] = v
			}
		}
		out[i].fetchedAt = r.fetchedAt
	}
	sort.Slice(out, func(i, j int) bool { return keyLess(out[i].key, out[j].key) })
	return out
}

// flushUsers upserts rows (all partial or all full) in one statement that
// first leaves out, without locking them, the users whose stored row
// already holds every value given (for a full row: every value), so an
// unchanged user costs no row lock and no WAL. The rows travel as one JSON
// array turned into github_user records by PostgreSQL, so each value gets
// its column's type. What is left is the same guarded upsert as upsert's.
func flushUsers(ctx context.Context, exec boil.ContextExecutor, via string, partial bool, rows []row) error {
	s := userSpec
	objs := make([]map[string]any, len(rows))
	for i, r := range rows {
		o := make(map[string]any, len(s.cols)+1)
		for j, c := range s.cols {
			o[c.name] = r.vals[j]
		}
		o[via] = r.fetchedAt
		objs[i] = o
	}
	input, err := json.Marshal(objs)
	if err != nil {
		return fmt.Errorf("encode %d users: %w", len(rows), err)
	}
	var differs []string
	for _, c := range s.cols {
		if c.key {
			continue
		}
		if partial {
			differs = append(differs, fmt.Sprintf("(i.%[1]s IS NOT NULL AND i.%[1]s IS DISTINCT FROM s.%[1]s)", c.name))
		} else {
			differs = append(differs, fmt.Sprintf("i.%[1]s IS DISTINCT FROM s.%[1]s", c.name))
		}
	}
	names := make([]string, 0, len(s.cols)+1)
	for _, c := range s.cols {
		names = append(names, c.name)
	}
	names = append(names, via)
	var b strings.Builder
	fmt.Fprintf(&b, `WITH i AS (SELECT * FROM jsonb_populate_recordset(NULL::%[1]s, $1::jsonb)),
changed AS (SELECT i.* FROM i LEFT JOIN %[1]s s ON s.id = i.id WHERE s.id IS NULL OR %[2]s)
INSERT INTO %[1]s AS t (%[3]s) SELECT %[3]s FROM changed ORDER BY id`,
		s.table, strings.Join(differs, " OR "), strings.Join(names, ", "))
	writeConflict(&b, s, via, partial)
	if _, err := exec.ExecContext(ctx, b.String(), string(input)); err != nil {
		return fmt.Errorf("upsert %d users at the end of the transaction: %w", len(rows), classify(err))
	}
	return nil
}
