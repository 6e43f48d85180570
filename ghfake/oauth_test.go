package ghfake_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"
	"github.com/palantir/go-githubapp/oauth2"

	"github.com/webhookdb/webhookdb/ghfake"
)

// loginStore keeps the OAuth state in a cookie, enough for the test.
type loginStore struct{}

func (loginStore) GenerateState(w http.ResponseWriter, r *http.Request) (string, error) {
	http.SetCookie(w, &http.Cookie{Name: "state", Value: "s-123", Path: "/"})
	return "s-123", nil
}

func (loginStore) VerifyState(r *http.Request, expected string) (bool, error) {
	c, err := r.Cookie("state")
	return err == nil && c.Value == expected, nil
}

func TestOAuthLoginThroughGoGitHubApp(t *testing.T) {
	srv := start(t, ghfake.Options{Seed: &ghfake.SeedOptions{Seed: 1, Accounts: 2}})
	srv.SetOAuthUser("user-2")
	loggedIn := make(chan string, 1)
	h := oauth2.NewHandler(oauth2.GetConfig(srv.GitHubConfig(), nil),
		oauth2.WithStore(loginStore{}),
		oauth2.OnLogin(func(w http.ResponseWriter, r *http.Request, login *oauth2.Login) {
			gh, err := github.NewClient(login.Client).WithEnterpriseURLs(srv.APIURL(), srv.APIURL())
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			u, _, err := gh.Users.Get(r.Context(), "")
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			ins, _, err := gh.Apps.ListUserInstallations(r.Context(), nil)
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			repos, _, err := gh.Apps.ListUserRepos(r.Context(), ins[0].GetID(), nil)
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			loggedIn <- fmt.Sprintf("%s %d %d %v", u.GetLogin(), len(ins), repos.GetTotalCount(), repos.Repositories[0].GetPermissions()["push"])
			_, _ = io.WriteString(w, "welcome")
		}),
		oauth2.OnError(func(w http.ResponseWriter, r *http.Request, err error) { http.Error(w, err.Error(), 500) }),
	)
	web := httptest.NewServer(h)
	defer web.Close()
	jar, _ := cookiejar.New(nil)
	res, err := (&http.Client{Jar: jar}).Get(web.URL + "/api/github/auth")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(body) != "welcome" {
		t.Fatalf("login answered %d %s", res.StatusCode, body)
	}
	if got := <-loggedIn; got != "user-2 2 2 true" {
		t.Errorf("logged in as %q, want user-2 seeing 2 installations, 2 repos with push", got)
	}
}

func TestOAuthTokenExchangeRejectsBadCode(t *testing.T) {
	srv := start(t, ghfake.Options{})
	form := strings.NewReader("client_id=" + srv.OAuthClientID() + "&client_secret=" + srv.OAuthClientSecret() + "&code=nope")
	req, _ := http.NewRequest("POST", srv.URL()+"/login/oauth/access_token", form)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]string
	_ = json.NewDecoder(res.Body).Decode(&out)
	if out["error"] != "bad_verification_code" {
		t.Errorf("answer %v", out)
	}
}
