package ghfake_test

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v4"
	"github.com/google/go-github/v60/github"
	"github.com/palantir/go-githubapp/githubapp"

	"github.com/webhookdb/webhookdb/ghfake"
)

func TestTokens(t *testing.T) {
	srv := start(t, ghfake.Options{TokenTTL: time.Hour, Seed: &ghfake.SeedOptions{Seed: 1}})
	id := srv.World().Installations()[0].GetID()
	tests := []struct {
		name   string
		change func(tok string)
		want   int
	}{
		{"fresh", func(string) {}, 200},
		{"ExpireTokens", func(string) { srv.ExpireTokens() }, 401},
		{"clock past the TTL", func(string) { srv.Advance(61 * time.Minute) }, 401},
		{"unknown token", nil, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := srv.InstallationToken(id)
			if tt.change == nil {
				tok = "ghs_nonsense"
			} else {
				tt.change(tok)
			}
			_, _, err := tokenClient(t, srv, tok).Repositories.Get(ctx, "org-0", "repo-0")
			got := 200
			var er *github.ErrorResponse
			if errors.As(err, &er) {
				got = er.Response.StatusCode
				if got == 401 && er.Message != "Bad credentials" {
					t.Errorf("message %q", er.Message)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("status %d, want %d", got, tt.want)
			}
		})
	}

	t.Run("access token endpoint through ghinstallation", func(t *testing.T) {
		app := appClient(t, srv)
		it, _, err := app.Apps.CreateInstallationToken(ctx, id, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(it.GetToken(), "ghs_") || !it.GetExpiresAt().After(srv.Now()) {
			t.Errorf("token %q expires %v", it.GetToken(), it.GetExpiresAt())
		}
		if _, _, err := app.Apps.CreateInstallationToken(ctx, 999999, nil); !isStatus(err, 404) {
			t.Errorf("token for a missing installation: %v, want 404", err)
		}
	})
}

func isStatus(err error, code int) bool {
	var er *github.ErrorResponse
	return errors.As(err, &er) && er.Response.StatusCode == code
}

func TestInstallationScoping(t *testing.T) {
	srv := start(t, ghfake.Options{Seed: &ghfake.SeedOptions{Seed: 3, Accounts: 2, ReposPerAccount: 3}})
	ins := srv.World().Installations()
	if len(ins) != 2 {
		t.Fatalf("%d installations, want 2", len(ins))
	}
	// A third organization installs on one repository only.
	if _, err := srv.AddOrganization("solo", "user-0"); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a", "b"} {
		if _, _, err := srv.CreateRepo(ctx, "solo", n, false); err != nil {
			t.Fatal(err)
		}
	}
	solo, _, err := srv.InstallApp(ctx, "solo", []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		inst        int64
		owner, repo string
		want        int
	}{
		{ins[0].GetID(), "org-0", "repo-2", 200},
		{ins[0].GetID(), "org-1", "repo-0", 404},
		{ins[1].GetID(), "org-1", "repo-0", 200},
		{ins[1].GetID(), "org-0", "repo-0", 404},
		{solo.GetID(), "solo", "a", 200},
		{solo.GetID(), "solo", "b", 404},
		{ins[0].GetID(), "org-0", "no-such-repo", 404},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d %s/%s", tt.inst, tt.owner, tt.repo), func(t *testing.T) {
			gh := installationClient(t, srv, tt.inst)
			_, _, err := gh.PullRequests.List(ctx, tt.owner, tt.repo, nil)
			if tt.want == 200 && err != nil {
				t.Fatal(err)
			}
			if tt.want == 404 && !isStatus(err, 404) {
				t.Fatalf("got %v, want 404", err)
			}
		})
	}
	t.Run("installation repositories", func(t *testing.T) {
		gh := installationClient(t, srv, solo.GetID())
		rs, _, err := gh.Apps.ListRepos(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if rs.GetTotalCount() != 1 || rs.Repositories[0].GetFullName() != "solo/a" {
			t.Errorf("repositories %+v", rs)
		}
	})
	t.Run("app finds installations by repo, org and user", func(t *testing.T) {
		app := appClient(t, srv)
		if in, _, err := app.Apps.FindRepositoryInstallation(ctx, "solo", "a"); err != nil || in.GetID() != solo.GetID() {
			t.Errorf("by repo: %v %v", in.GetID(), err)
		}
		if _, _, err := app.Apps.FindRepositoryInstallation(ctx, "solo", "b"); !isStatus(err, 404) {
			t.Errorf("uncovered repo: %v", err)
		}
		if in, _, err := app.Apps.FindOrganizationInstallation(ctx, "org-1"); err != nil || in.GetID() != ins[1].GetID() {
			t.Errorf("by org: %v %v", in.GetID(), err)
		}
		list, _, err := app.Apps.ListInstallations(ctx, nil)
		if err != nil || len(list) != 3 {
			t.Errorf("list: %d %v", len(list), err)
		}
	})
}

func TestAppJWT(t *testing.T) {
	srv := start(t, ghfake.Options{AppID: 77, Seed: &ghfake.SeedOptions{Seed: 1}})
	app, _, err := appClient(t, srv).Apps.Get(ctx, "")
	if err != nil || app.GetID() != 77 {
		t.Fatalf("GET /app: %v %v", app.GetID(), err)
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	now := time.Now()
	sign := func(key *rsa.PrivateKey, claims jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	appKey, err := jwt.ParseRSAPrivateKeyFromPEM([]byte(srv.PrivateKeyPEM()))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		jwt  string
		want int
	}{
		{"valid", sign(appKey, jwt.MapClaims{"iss": "77", "iat": now.Unix() - 30, "exp": now.Unix() + 300}), 200},
		{"numeric iss", sign(appKey, jwt.MapClaims{"iss": 77, "iat": now.Unix() - 30, "exp": now.Unix() + 300}), 200},
		{"other key", sign(other, jwt.MapClaims{"iss": "77", "iat": now.Unix() - 30, "exp": now.Unix() + 300}), 401},
		{"wrong app", sign(appKey, jwt.MapClaims{"iss": "78", "iat": now.Unix() - 30, "exp": now.Unix() + 300}), 401},
		{"expired", sign(appKey, jwt.MapClaims{"iss": "77", "iat": now.Unix() - 700, "exp": now.Unix() - 100}), 401},
		{"longer than 10 minutes", sign(appKey, jwt.MapClaims{"iss": "77", "iat": now.Unix(), "exp": now.Unix() + 1200}), 401},
		{"garbage", "a.b.c", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", srv.APIURL()+"app/installations", nil)
			req.Header.Set("Authorization", "Bearer "+tt.jwt)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tt.want {
				t.Errorf("status %d (%s), want %d", res.StatusCode, body, tt.want)
			}
		})
	}
	t.Run("go-githubapp app client", func(t *testing.T) {
		cc, err := githubapp.NewDefaultCachingClientCreator(srv.GitHubConfig())
		if err != nil {
			t.Fatal(err)
		}
		gh, err := cc.NewAppClient()
		if err != nil {
			t.Fatal(err)
		}
		ins, _, err := gh.Apps.ListInstallations(ctx, nil)
		if err != nil || len(ins) != 1 || ins[0].GetAppID() != 77 {
			t.Errorf("installations %v %v", len(ins), err)
		}
	})
	t.Run("installation token on an app route", func(t *testing.T) {
		tok := srv.InstallationToken(srv.World().Installations()[0].GetID())
		if c := rawGet(t, srv, tok, "app/installations", nil).StatusCode; c != 401 {
			t.Errorf("status %d, want 401", c)
		}
	})
}
