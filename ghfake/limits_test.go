package ghfake_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/ghfake"
)

func TestRateLimitErrors(t *testing.T) {
	// These check go-github's view of the limits, which it only has of 403s
	// (and of a secondary limit with Retry-After): ask for those alone.
	// TestRateLimitAnswers covers GitHub's mix of 403 and 429.
	srv := start(t, ghfake.Options{Seed: &ghfake.SeedOptions{Seed: 1}, TooManyRequestsShare: -1, SecondaryRetryAfterShare: 1})
	id := srv.World().Installations()[0].GetID()

	t.Run("primary", func(t *testing.T) {
		tok := srv.InstallationToken(id)
		gh := tokenClient(t, srv, tok)
		_, resp, err := gh.Repositories.Get(ctx, "org-0", "repo-0")
		if err != nil || resp.Rate.Limit != 5000 || resp.Rate.Remaining != 4999 {
			t.Fatalf("first request: %v %+v", err, resp.Rate)
		}
		srv.SpendRateLimit(tok)
		_, _, err = tokenClient(t, srv, tok).Repositories.Get(ctx, "org-0", "repo-0")
		var rle *github.RateLimitError
		if !errors.As(err, &rle) {
			t.Fatalf("got %T %v, want *github.RateLimitError", err, err)
		}
		if rle.Rate.Remaining != 0 || !strings.Contains(rle.Message, fmt.Sprintf("installation ID %d", id)) {
			t.Errorf("rate %+v message %q", rle.Rate, rle.Message)
		}
		// The budget is the installation's: a new token is limited too.
		_, _, err = tokenClient(t, srv, srv.InstallationToken(id)).Repositories.Get(ctx, "org-0", "repo-0")
		if !errors.As(err, &rle) {
			t.Errorf("new token of the same installation: %v", err)
		}
		srv.ResetRateLimits()
		if _, _, err := tokenClient(t, srv, tok).Repositories.Get(ctx, "org-0", "repo-0"); err != nil {
			t.Errorf("after reset: %v", err)
		}
		if got := srv.Stats().ByInstallation[id].RateLimited; got != 2 {
			t.Errorf("rate limited count %d, want 2", got)
		}
	})

	t.Run("configured budget", func(t *testing.T) {
		srv.ResetRateLimits()
		srv.SetRateLimit(2)
		defer srv.SetRateLimit(5000)
		gh := tokenClient(t, srv, srv.InstallationToken(id))
		var errs []error
		for i := 0; i < 3; i++ {
			_, _, err := gh.Issues.ListByRepo(ctx, "org-0", "repo-0", nil)
			errs = append(errs, err)
		}
		var rle *github.RateLimitError
		if errs[0] != nil || errs[1] != nil || !errors.As(errs[2], &rle) {
			t.Errorf("errors %v, want nil, nil, RateLimitError", errs)
		}
		srv.ResetRateLimits()
	})

	t.Run("secondary", func(t *testing.T) {
		srv.SetSecondaryLimit(ghfake.SecondaryLimit{RetryAfter: 42 * time.Second})
		srv.TriggerSecondaryLimit(1)
		_, _, err := tokenClient(t, srv, srv.InstallationToken(id)).Repositories.Get(ctx, "org-0", "repo-0")
		var ae *github.AbuseRateLimitError
		if !errors.As(err, &ae) {
			t.Fatalf("got %T %v, want *github.AbuseRateLimitError", err, err)
		}
		if ae.RetryAfter == nil || *ae.RetryAfter != 42*time.Second {
			t.Errorf("RetryAfter %v", ae.RetryAfter)
		}
	})

	t.Run("secondary points per minute", func(t *testing.T) {
		srv.ResetRateLimits()
		srv.SetSecondaryLimit(ghfake.SecondaryLimit{PointsPerMinute: 2})
		defer srv.SetSecondaryLimit(ghfake.SecondaryLimit{})
		tok := srv.InstallationToken(id)
		var codes []int
		for i := 0; i < 3; i++ {
			codes = append(codes, rawGet(t, srv, tok, "repos/org-0/repo-0/labels", nil).StatusCode)
		}
		if fmt.Sprint(codes) != "[200 200 403]" {
			t.Errorf("codes %v, want [200 200 403]", codes)
		}
		srv.Advance(time.Minute)
		if c := rawGet(t, srv, tok, "repos/org-0/repo-0/labels", nil).StatusCode; c != 200 {
			t.Errorf("after a minute: %d", c)
		}
	})
}

func TestFaults(t *testing.T) {
	srv := start(t, ghfake.Options{Seed: &ghfake.SeedOptions{Seed: 1}})
	tok := srv.InstallationToken(srv.World().Installations()[0].GetID())
	srv.FailNext(2, 502)
	codes := []int{}
	for i := 0; i < 3; i++ {
		codes = append(codes, rawGet(t, srv, tok, "repos/org-0/repo-0", nil).StatusCode)
	}
	if fmt.Sprint(codes) != "[502 502 200]" {
		t.Errorf("codes %v", codes)
	}
	srv.SetFailureRate(1)
	if c := rawGet(t, srv, tok, "repos/org-0/repo-0", nil).StatusCode; c != 500 && c != 502 {
		t.Errorf("failure rate 1: %d", c)
	}
	srv.SetFailureRate(0)

	// A hung request answers nothing until its client gives up.
	srv.HangNext(1)
	hctx, cancel := context.WithCancel(ctx)
	answered := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(hctx, "GET", srv.APIURL()+"repos/org-0/repo-0", nil)
		req.Header.Set("Authorization", "token "+tok)
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
		}
		answered <- err
	}()
	if err := srv.WaitHung(ctx, 1); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-answered:
		t.Fatalf("the hung request was answered: %v", err)
	default:
	}
	cancel()
	if err := <-answered; err == nil {
		t.Error("the hung request got an answer")
	}
	if c := rawGet(t, srv, tok, "repos/org-0/repo-0", nil).StatusCode; c != 200 {
		t.Errorf("after the hang: %d", c)
	}
}
