package readapi

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/volatiletech/null/v8"
	"github.com/volatiletech/sqlboiler/v4/types"
)

// enumParam reads a parameter that takes one of values (def when absent);
// anything else is GitHub's 422.
func enumParam(q url.Values, name, resource, def string, values ...string) (string, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	for _, ok := range values {
		if v == ok {
			return v, nil
		}
	}
	return "", invalid(resource, name, v)
}

// sinceParam reads since, an ISO 8601 time, as GitHub does.
func sinceParam(q url.Values, resource string) (time.Time, bool, error) {
	v := q.Get("since")
	if v == "" {
		return time.Time{}, false, nil
	}
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(v))
	if err != nil {
		return time.Time{}, false, invalid(resource, "since", v)
	}
	return t, true, nil
}

func nullString(s string) null.String { return null.StringFrom(s) }

func nullInt64(n int64) null.Int64 { return null.Int64From(n) }

func int64Array(ids []int64) types.Int64Array { return types.Int64Array(ids) }

// number reads a GitHub number (of an issue, pull request or milestone):
// the replica keeps them as PostgreSQL integers, so a number past that
// is no object we have, never a database error.
func number(s string) (int, bool) {
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil || n <= 0 {
		return 0, false
	}
	return int(n), true
}
