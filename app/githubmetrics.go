package app

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/palantir/go-githubapp/githubapp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// githubMetrics count and time every request webhookdb sends to GitHub, by
// route family and status code.
type githubMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newGitHubMetrics(reg prometheus.Registerer, logger zerolog.Logger) *githubMetrics {
	m := &githubMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "webhookdb_github_requests_total",
			Help: "Requests sent to GitHub, by route family (repos/pulls, app/hook/deliveries, ...) and status code (304 apart from 200; error for no answer).",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "webhookdb_github_request_duration_seconds",
			Help:    "Time until GitHub's answer headers, by route family.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 12),
		}, []string{"route"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration} {
		if err := reg.Register(c); err != nil {
			// A second client creator on the same registry (tests) keeps
			// counting into its own, unseen collectors.
			logger.Warn().Err(err).Msg("register GitHub request metrics")
		}
	}
	return m
}

// option is the client creator's base transport: the innermost layer, so
// it sees what is really sent, the installation token requests of
// ghinstallation included, and GitHub's own 304s.
func (m *githubMetrics) option() githubapp.ClientOption {
	return githubapp.WithTransport(m.transport(http.DefaultTransport))
}

func (m *githubMetrics) transport(next http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		route := githubRouteFamily(req.URL.Path)
		start := time.Now()
		resp, err := next.RoundTrip(req)
		code := "error"
		if err == nil {
			code = strconv.Itoa(resp.StatusCode)
		}
		m.requests.WithLabelValues(route, code).Inc()
		m.duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
		return resp, err
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// maxFamilyWords bounds a family's length; no GitHub route we call is
// deeper.
const maxFamilyWords = 5

// githubRouteFamily names the route of a GitHub API path for a metric
// label: its fixed words only. Owners, repository names, numbers, logins,
// label names and anything unknown are dropped, so the label's values are a
// small fixed set whatever a path (a label name is chosen by users) holds.
func githubRouteFamily(path string) string {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	// GitHub Enterprise and ghfake serve the REST API under /api/v3.
	if len(segs) >= 2 && segs[0] == "api" && segs[1] == "v3" {
		segs = segs[2:]
	}
	if len(segs) == 0 || segs[0] == "" {
		return "root"
	}
	head := segs[0]
	var skip int // variable segments right after the head
	switch head {
	case "repos":
		skip = 2 // owner, repo
	case "users", "orgs", "repositories", "applications", "teams":
		skip = 1 // login, org, id, client id
	case "app", "user", "installation", "rate_limit", "meta", "search", "graphql", "login", "zen", "octocat":
	default:
		return "other"
	}
	words := []string{head}
	for _, s := range segs[min(1+skip, len(segs)):] {
		if len(words) == maxFamilyWords {
			break
		}
		if githubRouteWord(s) {
			words = append(words, s)
		}
	}
	return strings.Join(words, "/")
}

// githubRouteWord says whether s is one of the fixed words of the GitHub
// routes webhookdb calls (or may call); everything else is a value.
func githubRouteWord(s string) bool {
	switch s {
	case "pulls", "issues", "comments", "files", "reviews", "commits", "labels", "milestones",
		"events", "timeline", "collaborators", "permission", "requested_reviewers", "replies",
		"dismissals", "assignees", "reactions", "merge", "branches", "contents", "releases",
		"hooks", "hook", "deliveries", "attempts", "config", "installations", "installation",
		"access_tokens", "repositories", "members", "memberships", "teams", "token", "grant",
		"oauth", "access_token", "authorize", "suspended":
		return true
	}
	return false
}
