package ghfake_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/webhookdb/webhookdb/ghfake"
)

// limitAnswer is what a client sees of a rate-limit answer.
type limitAnswer struct {
	status     int
	retryAfter string
	remaining  string
	message    string
}

func getLimitAnswer(t *testing.T, srv *ghfake.Server, token, path string) limitAnswer {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.APIURL()+path, nil)
	req.Header.Set("Authorization", "token "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		Message string `json:"message"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatalf("decode the %d answer: %v", res.StatusCode, err)
	}
	return limitAnswer{res.StatusCode, res.Header.Get("Retry-After"), res.Header.Get("X-RateLimit-Remaining"), body.Message}
}

// TestRateLimitAnswers checks that rate limits are answered as GitHub
// does: 403 or 429 for both kinds, Retry-After only on some secondary
// answers, in a reproducible order.
func TestRateLimitAnswers(t *testing.T) {
	tests := []struct {
		name                  string
		tooMany, retryAfter   float64 // Options; 0 is the default
		secondary             bool
		wantStatus            []int
		wantRetryAfterPresent []bool
	}{
		{"primary, default mix", 0, 0, false, []int{403, 429, 403, 429}, []bool{false, false, false, false}},
		{"secondary, default mix", 0, 0, true, []int{403, 429, 403, 429}, []bool{false, true, false, true}},
		{"primary, always 429", 1, 0, false, []int{429, 429, 429}, []bool{false, false, false}},
		{"secondary, always 403 with Retry-After", -1, 1, true, []int{403, 403, 403}, []bool{true, true, true}},
		{"secondary, always 429 without Retry-After", 1, -1, true, []int{429, 429, 429}, []bool{false, false, false}},
		{"a quarter 429", 0.25, 0, false, []int{403, 403, 403, 429, 403, 403, 403, 429}, []bool{false, false, false, false, false, false, false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := start(t, ghfake.Options{Seed: &ghfake.SeedOptions{Seed: 1}, TooManyRequestsShare: tt.tooMany, SecondaryRetryAfterShare: tt.retryAfter})
			id := srv.World().Installations()[0].GetID()
			tok := srv.InstallationToken(id)
			srv.SetSecondaryLimit(ghfake.SecondaryLimit{RetryAfter: 7 * time.Second})
			if tt.secondary {
				srv.TriggerSecondaryLimit(len(tt.wantStatus))
			} else {
				srv.SpendRateLimit(tok)
			}
			var statuses []int
			var present []bool
			for range tt.wantStatus {
				a := getLimitAnswer(t, srv, tok, "repos/org-0/repo-0")
				statuses = append(statuses, a.status)
				present = append(present, a.retryAfter != "")
				switch {
				case tt.secondary && !strings.HasPrefix(a.message, "You have exceeded a secondary rate limit"):
					t.Errorf("secondary message %q", a.message)
				case tt.secondary && a.remaining == "0":
					t.Errorf("a secondary limit says the primary budget is spent")
				case tt.secondary && a.retryAfter != "" && a.retryAfter != "7":
					t.Errorf("Retry-After %q, want the configured 7", a.retryAfter)
				case !tt.secondary && a.message != fmt.Sprintf("API rate limit exceeded for installation ID %d.", id):
					t.Errorf("primary message %q", a.message)
				case !tt.secondary && a.remaining != "0":
					t.Errorf("primary limit with X-RateLimit-Remaining %q, want 0", a.remaining)
				}
			}
			if fmt.Sprint(statuses) != fmt.Sprint(tt.wantStatus) {
				t.Errorf("statuses %v, want %v", statuses, tt.wantStatus)
			}
			if fmt.Sprint(present) != fmt.Sprint(tt.wantRetryAfterPresent) {
				t.Errorf("Retry-After present %v, want %v", present, tt.wantRetryAfterPresent)
			}
			if got := srv.Stats().Total.RateLimited; got != len(tt.wantStatus) {
				t.Errorf("%d rate-limited answers counted, want %d", got, len(tt.wantStatus))
			}
		})
	}

	t.Run("SetRateLimitAnswers restarts the mix", func(t *testing.T) {
		srv := start(t, ghfake.Options{Seed: &ghfake.SeedOptions{Seed: 1}})
		tok := srv.InstallationToken(srv.World().Installations()[0].GetID())
		srv.SpendRateLimit(tok)
		srv.SetRateLimitAnswers(1, 0)
		if a := getLimitAnswer(t, srv, tok, "repos/org-0/repo-0"); a.status != 429 {
			t.Errorf("status %d, want 429", a.status)
		}
		srv.SetRateLimitAnswers(-1, 0)
		if a := getLimitAnswer(t, srv, tok, "repos/org-0/repo-0"); a.status != 403 {
			t.Errorf("status %d, want 403", a.status)
		}
	})
}
