package load

import (
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// badInput is a request GitHub would refuse: it answers 400 with its
// message and nothing is queued.
type badInput struct{ msg string }

func (e *badInput) Error() string { return e.msg }

func bad(format string, args ...any) error { return &badInput{msg: fmt.Sprintf(format, args...)} }

// GitHub's rules for account and repository names.
var (
	ownerRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,38}$`)
	repoRe  = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`)
	digits  = regexp.MustCompile(`^[0-9]+$`)
)

func checkOwner(s string) error {
	if !ownerRe.MatchString(s) {
		return bad("owner %q is not a GitHub account name (letters, digits and hyphens, not starting with a hyphen, at most 39)", s)
	}
	return nil
}

func checkRepo(s string) error {
	if !repoRe.MatchString(s) || s == "." || s == ".." {
		return bad("repo %q is not a GitHub repository name (letters, digits, '.', '-' and '_', at most 100, not . or ..)", s)
	}
	return nil
}

// parseNumber reads a pull request, issue or milestone number: a positive
// integer that fits the schema's integer columns.
func parseNumber(what, s string) (int, error) {
	if !digits.MatchString(s) {
		return 0, bad("%s %q is not a positive integer", what, s)
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil || n <= 0 {
		return 0, bad("%s %q is not a positive integer", what, s)
	}
	return int(n), nil
}

// parseID reads a GitHub id (an installation or a scan): a positive int64.
func parseID(what, s string) (int64, error) {
	if !digits.MatchString(s) {
		return 0, bad("%s %q is not a positive integer", what, s)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, bad("%s %q is not a positive integer", what, s)
	}
	return n, nil
}

// checkLabelName accepts what GitHub accepts as a label name: 1 to 50
// characters, no control characters.
func checkLabelName(s string) error {
	if s == "" || !utf8.ValidString(s) || utf8.RuneCountInString(s) > 50 {
		return bad("label name %q is not a GitHub label name (1 to 50 characters)", s)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return bad("label name %q contains a control character", s)
		}
	}
	return nil
}

// query is the parsed query string of one endpoint.
type query struct {
	state    string
	children bool
	inline   bool
	full     bool
}

// parseQuery checks q against the parameters the endpoint allows and
// reads them. An unknown or repeated parameter, an unknown state or a
// boolean other than true/false is bad input.
func parseQuery(raw string, allowed []string) (query, error) {
	var out query
	q, err := url.ParseQuery(raw)
	if err != nil {
		return out, bad("query string %q cannot be parsed: %v", raw, err)
	}
	names := make([]string, 0, len(q))
	for k := range q {
		names = append(names, k)
	}
	sort.Strings(names) // the same message for the same request
	for _, k := range names {
		vs := q[k]
		if !contains(allowed, k) {
			if len(allowed) == 0 {
				return out, bad("unknown query parameter %q: this endpoint takes none", k)
			}
			return out, bad("unknown query parameter %q: this endpoint takes %s", k, strings.Join(allowed, ", "))
		}
		if len(vs) > 1 {
			return out, bad("query parameter %q is given %d times", k, len(vs))
		}
		v := vs[0]
		switch k {
		case "state":
			switch v {
			case "open", "closed", "all":
				out.state = v
			default:
				return out, bad("state %q is not open, closed or all", v)
			}
		case "children", "inline", "full":
			b, err := parseBool(k, v)
			if err != nil {
				return out, err
			}
			switch k {
			case "children":
				out.children = b
			case "inline":
				out.inline = b
			default:
				out.full = b
			}
		}
	}
	return out, nil
}

func parseBool(name, v string) (bool, error) {
	switch v {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, bad("%s %q is not true or false", name, v)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
