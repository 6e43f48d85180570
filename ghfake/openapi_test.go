package ghfake_test

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/webhookdb/webhookdb/ghfake"
)

// The fixture is GitHub's OpenAPI description cut down to the operations
// ghfake serves; scripts/openapi-fixture.sh makes it.
const openAPIFixture = "testdata/openapi.json"

// apiCase is one route ghfake serves and the requests that exercise it.
type apiCase struct {
	route string // as registered in api.go
	op    string // the operation in GitHub's description
	auth  string // "app" (JWT), "inst" (installation token) or "user"
	body  string // request body, for POSTs
	paths []string
}

// openAPIWorld is the seeded world after the mutations that give every
// answer its variants (open and closed milestones, merged pulls, failed
// deliveries, ...).
type openAPIWorld struct {
	srv                      *ghfake.Server
	inst, userInst           int64
	repoID                   int64
	issueOpenMS, issueClosed int // issues with an open and a closed milestone
	prOpen, prMerged, prShut int
	deliveries               []int64 // ok, failed (500), not reached
}

// TestOpenAPI validates every answer of every route ghfake serves
// against GitHub's OpenAPI description.
func TestOpenAPI(t *testing.T) {
	doc := loadOpenAPI(t)
	w := openAPISetup(t)
	cases := openAPICases(w)
	checkRouteTable(t, cases, doc)

	app := appHTTP(t, w.srv)
	inst := w.srv.InstallationToken(w.inst)
	user := w.srv.UserToken("user-0")
	// GET /repos/.../pulls/{n} answers mergeable null once, then true.
	for _, n := range []int{w.prOpen, w.prOpen} {
		get(t, w.srv, inst, fmt.Sprintf("repos/org-0/repo-0/pulls/%d", n))
	}
	for _, c := range cases {
		method, specPath, _ := strings.Cut(c.op, " ")
		pi := doc.Paths.Value(specPath)
		route := &routers.Route{Spec: doc, Path: specPath, PathItem: pi, Method: method, Operation: pi.GetOperation(method)}
		paths := c.paths
		// Every repository route answers by id too, alike.
		for _, p := range c.paths {
			if rest, ok := strings.CutPrefix(p, "repos/org-0/repo-0"); ok && c.auth != "app" {
				paths = append(paths, "repositories/"+strconv.FormatInt(w.repoID, 10)+rest)
			}
		}
		for _, p := range paths {
			t.Run(c.route+"/"+p, func(t *testing.T) {
				req, err := http.NewRequest(method, w.srv.APIURL()+p, strings.NewReader(c.body))
				if err != nil {
					t.Fatal(err)
				}
				client := http.DefaultClient
				switch c.auth {
				case "app":
					client = app
				case "inst":
					req.Header.Set("Authorization", "token "+inst)
				case "user":
					req.Header.Set("Authorization", "token "+user)
				}
				res, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, err := io.ReadAll(res.Body)
				res.Body.Close()
				if err != nil {
					t.Fatal(err)
				}
				if res.StatusCode/100 != 2 {
					t.Fatalf("%s %s: %d %s", method, p, res.StatusCode, body)
				}
				in := &openapi3filter.ResponseValidationInput{
					RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, Route: route},
					Status:                 res.StatusCode,
					Header:                 res.Header,
					Options: &openapi3filter.Options{MultiError: true, IncludeResponseStatus: true,
						SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.WithStringFormatValidator("uri", uriFormat)}},
				}
				in.SetBodyBytes(body)
				if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
					t.Errorf("%s %s breaks %s:\n  %s", method, p, c.op, strings.Join(violations(err), "\n  "))
				}
			})
		}
	}
}

// uriFormat is what GitHub's "format: uri" asks: an absolute URI ("" is
// not one; the schemas say null where there is none).
var uriFormat = openapi3.NewCallbackValidator(func(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("not a URI: %w", err)
	}
	if !u.IsAbs() {
		return fmt.Errorf("not an absolute URI: %q", s)
	}
	return nil
})

func openAPICases(w *openAPIWorld) []apiCase {
	inst, uinst := strconv.FormatInt(w.inst, 10), strconv.FormatInt(w.userInst, 10)
	n := strconv.Itoa
	repo := "repos/org-0/repo-0"
	var deliveries []string
	for _, id := range w.deliveries {
		deliveries = append(deliveries, "app/hook/deliveries/"+strconv.FormatInt(id, 10))
	}
	return []apiCase{
		{route: "GET /app", op: "GET /app", auth: "app", paths: []string{"app"}},
		{route: "GET /app/installations", op: "GET /app/installations", auth: "app", paths: []string{"app/installations"}},
		{route: "GET /app/installations/{id}", op: "GET /app/installations/{installation_id}", auth: "app",
			paths: []string{"app/installations/" + inst, "app/installations/" + uinst}},
		{route: "POST /app/installations/{id}/access_tokens", op: "POST /app/installations/{installation_id}/access_tokens", auth: "app",
			paths: []string{"app/installations/" + inst + "/access_tokens"}},
		{route: "POST /app/installations/{id}/access_tokens", op: "POST /app/installations/{installation_id}/access_tokens", auth: "app",
			body: `{"repositories":["repo-0"]}`, paths: []string{"app/installations/" + inst + "/access_tokens"}},
		{route: "GET /repos/{owner}/{repo}/installation", op: "GET /repos/{owner}/{repo}/installation", auth: "app", paths: []string{repo + "/installation"}},
		{route: "GET /orgs/{org}/installation", op: "GET /orgs/{org}/installation", auth: "app", paths: []string{"orgs/org-0/installation"}},
		{route: "GET /users/{username}/installation", op: "GET /users/{username}/installation", auth: "app", paths: []string{"users/user-0/installation"}},
		{route: "GET /app/hook/deliveries", op: "GET /app/hook/deliveries", auth: "app",
			paths: []string{"app/hook/deliveries?per_page=100", "app/hook/deliveries?status=failure"}},
		{route: "GET /app/hook/deliveries/{id}", op: "GET /app/hook/deliveries/{delivery_id}", auth: "app", paths: deliveries},
		{route: "POST /app/hook/deliveries/{id}/attempts", op: "POST /app/hook/deliveries/{delivery_id}/attempts", auth: "app",
			paths: []string{deliveries[0] + "/attempts"}},
		{route: "GET /installation/repositories", op: "GET /installation/repositories", auth: "inst", paths: []string{"installation/repositories"}},
		{route: "GET /user", op: "GET /user", auth: "user", paths: []string{"user"}},
		{route: "GET /user/installations", op: "GET /user/installations", auth: "user", paths: []string{"user/installations"}},
		{route: "GET /user/installations/{id}/repositories", op: "GET /user/installations/{installation_id}/repositories", auth: "user",
			paths: []string{"user/installations/" + inst + "/repositories", "user/installations/" + uinst + "/repositories"}},
		{route: "GET /users/{username}", op: "GET /users/{username}", auth: "inst", paths: []string{"users/user-0", "users/org-0"}},
		{route: "GET /rate_limit", op: "GET /rate_limit", auth: "inst", paths: []string{"rate_limit"}},
		{route: "GET /repos/{owner}/{repo}", op: "GET /repos/{owner}/{repo}", auth: "inst", paths: []string{repo}},
		{route: "GET /repos/{owner}/{repo}", op: "GET /repos/{owner}/{repo}", auth: "user", paths: []string{"repos/user-0/own"}},
		{route: "GET /repos/{owner}/{repo}/pulls", op: "GET /repos/{owner}/{repo}/pulls", auth: "inst", paths: []string{repo + "/pulls?state=all&per_page=100"}},
		{route: "GET /repos/{owner}/{repo}/pulls/comments", op: "GET /repos/{owner}/{repo}/pulls/comments", auth: "inst", paths: []string{repo + "/pulls/comments"}},
		{route: "GET /repos/{owner}/{repo}/pulls/{number}", op: "GET /repos/{owner}/{repo}/pulls/{pull_number}", auth: "inst",
			paths: []string{repo + "/pulls/" + n(w.prOpen), repo + "/pulls/" + n(w.prMerged), repo + "/pulls/" + n(w.prShut)}},
		{route: "GET /repos/{owner}/{repo}/pulls/{number}/files", op: "GET /repos/{owner}/{repo}/pulls/{pull_number}/files", auth: "inst",
			paths: []string{repo + "/pulls/" + n(w.prOpen) + "/files"}},
		{route: "GET /repos/{owner}/{repo}/pulls/{number}/reviews", op: "GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews", auth: "inst",
			paths: []string{repo + "/pulls/" + n(w.prOpen) + "/reviews"}},
		{route: "GET /repos/{owner}/{repo}/pulls/{number}/comments", op: "GET /repos/{owner}/{repo}/pulls/{pull_number}/comments", auth: "inst",
			paths: []string{repo + "/pulls/" + n(w.prOpen) + "/comments"}},
		{route: "GET /repos/{owner}/{repo}/issues", op: "GET /repos/{owner}/{repo}/issues", auth: "inst", paths: []string{repo + "/issues?state=all&per_page=100"}},
		{route: "GET /repos/{owner}/{repo}/issues/comments", op: "GET /repos/{owner}/{repo}/issues/comments", auth: "inst", paths: []string{repo + "/issues/comments"}},
		{route: "GET /repos/{owner}/{repo}/issues/{number}", op: "GET /repos/{owner}/{repo}/issues/{issue_number}", auth: "inst",
			paths: []string{repo + "/issues/" + n(w.issueOpenMS), repo + "/issues/" + n(w.issueClosed), repo + "/issues/" + n(w.prMerged)}},
		{route: "GET /repos/{owner}/{repo}/issues/{number}/comments", op: "GET /repos/{owner}/{repo}/issues/{issue_number}/comments", auth: "inst",
			paths: []string{repo + "/issues/" + n(w.issueOpenMS) + "/comments"}},
		{route: "GET /repos/{owner}/{repo}/labels", op: "GET /repos/{owner}/{repo}/labels", auth: "inst", paths: []string{repo + "/labels"}},
		{route: "GET /repos/{owner}/{repo}/labels/{name}", op: "GET /repos/{owner}/{repo}/labels/{name}", auth: "inst", paths: []string{repo + "/labels/" + url.PathEscape("needs review")}},
		{route: "GET /repos/{owner}/{repo}/milestones", op: "GET /repos/{owner}/{repo}/milestones", auth: "inst", paths: []string{repo + "/milestones?state=all"}},
		{route: "GET /repos/{owner}/{repo}/milestones/{number}", op: "GET /repos/{owner}/{repo}/milestones/{milestone_number}", auth: "inst",
			paths: []string{repo + "/milestones/1", repo + "/milestones/2", repo + "/milestones/3"}},
		{route: "GET /repos/{owner}/{repo}/collaborators/{username}/permission", op: "GET /repos/{owner}/{repo}/collaborators/{username}/permission", auth: "inst",
			paths: []string{repo + "/collaborators/user-0/permission"}},
	}
}

// openAPISetup seeds a world and changes it so that the answers cover
// their variants: null and non-null milestones, closed_at, merged_by,
// review bodies, failed and unreached deliveries.
func openAPISetup(t *testing.T) *openAPIWorld {
	t.Helper()
	srv := start(t, ghfake.Options{Seed: &ghfake.SeedOptions{Seed: 13, MilestonesPerRepo: 2}})
	newReceiver(t, srv)
	w := &openAPIWorld{srv: srv, inst: srv.World().InstallationFor("org-0", "repo-0").GetID(),
		repoID: srv.World().Repository("org-0", "repo-0").GetID()}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	const o, r = "org-0", "repo-0"
	_, _, err := srv.CreateLabel(ctx, o, r, ghfake.LabelSpec{Name: "needs review", Color: "ededed"})
	must(err)
	_, _, err = srv.CreateMilestone(ctx, o, r, ghfake.MilestoneSpec{Title: "v3", Description: "due", DueOn: srv.Now().Add(72 * time.Hour)})
	must(err)
	is, _, err := srv.OpenIssue(ctx, o, r, ghfake.NewIssue{Title: "open milestone", Body: "b", Labels: []string{"needs review"}, Milestone: 1, Assignee: "user-1"})
	must(err)
	w.issueOpenMS = is.GetNumber()
	_, _, err = srv.CreateIssueComment(ctx, o, r, w.issueOpenMS, "a comment")
	must(err)
	is, _, err = srv.OpenIssue(ctx, o, r, ghfake.NewIssue{Title: "closed milestone", Milestone: 2})
	must(err)
	w.issueClosed = is.GetNumber()
	_, _, err = srv.CloseIssue(ctx, o, r, w.issueClosed)
	must(err)
	_, _, err = srv.CloseMilestone(ctx, o, r, 2)
	must(err)
	pr, _, err := srv.OpenPullRequest(ctx, o, r, ghfake.NewPull{Title: "open", Body: "b", Milestone: 1, Labels: []string{"needs review"}, Assignee: "user-2", Files: 9})
	must(err)
	w.prOpen = pr.GetNumber()
	_, _, err = srv.SubmitReview(ctx, o, r, w.prOpen, "APPROVED", "")
	must(err)
	rv, _, err := srv.SubmitReview(ctx, o, r, w.prOpen, "CHANGES_REQUESTED", "please")
	must(err)
	rc, _, err := srv.CreateReviewComment(ctx, o, r, w.prOpen, ghfake.NewReviewComment{Body: "here", ReviewID: rv.GetID()})
	must(err)
	_, _, err = srv.CreateReviewComment(ctx, o, r, w.prOpen, ghfake.NewReviewComment{Body: "reply", InReplyTo: rc.GetID()})
	must(err)
	pr, _, err = srv.OpenPullRequest(ctx, o, r, ghfake.NewPull{Title: "merged", Milestone: 2})
	must(err)
	w.prMerged = pr.GetNumber()
	_, _, err = srv.MergePullRequest(ctx, o, r, w.prMerged)
	must(err)
	pr, _, err = srv.OpenPullRequest(ctx, o, r, ghfake.NewPull{Title: "closed", Draft: true})
	must(err)
	w.prShut = pr.GetNumber()
	_, d, err := srv.ClosePullRequest(ctx, o, r, w.prShut)
	must(err)
	w.deliveries = append(w.deliveries, d.ID)

	// A user's own installation (target type User).
	_, _, err = srv.CreateRepo(ctx, "user-0", "own", false)
	must(err)
	in, _, err := srv.InstallApp(ctx, "user-0", nil)
	must(err)
	w.userInst = in.GetID()

	// A receiver that fails, then none at all.
	failing := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
		rw.Header().Set("X-Failure", "yes")
		http.Error(rw, "boom", http.StatusInternalServerError)
	}))
	t.Cleanup(failing.Close)
	srv.SetWebhookURL(failing.URL)
	_, d, err = srv.EditIssue(ctx, o, r, w.issueOpenMS, ghfake.IssueEdit{Title: ptrTo("edited")})
	must(err)
	w.deliveries = append(w.deliveries, d.ID)
	srv.SetWebhookURL("")
	_, d, err = srv.EditIssue(ctx, o, r, w.issueOpenMS, ghfake.IssueEdit{Title: ptrTo("edited again")})
	must(err)
	w.deliveries = append(w.deliveries, d.ID)
	return w
}

func ptrTo[T any](v T) *T { return &v }

func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromFile(openAPIFixture)
	if err != nil {
		t.Fatalf("load %s: %v", openAPIFixture, err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("%s is not a valid description: %v", openAPIFixture, err)
	}
	return doc
}

// checkRouteTable fails for a route api.go serves that the table misses,
// and for a table entry whose operation the fixture lacks.
func checkRouteTable(t *testing.T, cases []apiCase, doc *openapi3.T) {
	t.Helper()
	inTable := map[string]bool{}
	for _, c := range cases {
		inTable[c.route] = true
		method, path, _ := strings.Cut(c.op, " ")
		if pi := doc.Paths.Value(path); pi == nil || pi.GetOperation(method) == nil {
			t.Errorf("%s: %s is not in %s; add it to scripts/openapi-fixture.sh and run it", c.route, c.op, openAPIFixture)
		}
	}
	served := servedRoutes(t)
	for _, r := range served {
		if !inTable[r] {
			t.Errorf("ghfake serves %s but TestOpenAPI does not check it: add it to openAPICases", r)
		}
	}
	if len(served) < 20 {
		t.Fatalf("found only %d routes in api.go: %v", len(served), served)
	}
}

// servedRoutes reads the REST routes from api.go's api("METHOD", "/path", ...) calls.
func servedRoutes(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "api.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) < 2 {
			return true
		}
		if id, ok := call.Fun.(*ast.Ident); !ok || id.Name != "api" {
			return true
		}
		m, ok1 := call.Args[0].(*ast.BasicLit)
		p, ok2 := call.Args[1].(*ast.BasicLit)
		if ok1 && ok2 && m.Kind == token.STRING && p.Kind == token.STRING {
			ms, _ := strconv.Unquote(m.Value)
			ps, _ := strconv.Unquote(p.Value)
			out = append(out, ms+" "+ps)
		}
		return true
	})
	return out
}

func appHTTP(t *testing.T, srv *ghfake.Server) *http.Client {
	t.Helper()
	tr, err := ghinstallation.NewAppsTransport(http.DefaultTransport, srv.AppID(), []byte(srv.PrivateKeyPEM()))
	if err != nil {
		t.Fatal(err)
	}
	tr.BaseURL = srv.URL() + "/api/v3"
	return &http.Client{Transport: tr}
}

func get(t *testing.T, srv *ghfake.Server, tok, path string) {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.APIURL()+path, nil)
	req.Header.Set("Authorization", "token "+tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
}

var itemIndex = regexp.MustCompile(`/[0-9]+(/|$)`)

// violations flattens kin-openapi's errors into "pointer: reason" lines,
// one per distinct pointer (list items folded into /*) and reason.
func violations(err error) []string {
	seen := map[string]bool{}
	var walk func(err error, prefix []string)
	walk = func(err error, prefix []string) {
		var me openapi3.MultiError
		if errors.As(err, &me) {
			for _, e := range me {
				walk(e, prefix)
			}
			return
		}
		var se *openapi3.SchemaError
		if errors.As(err, &se) {
			ptr := append(append([]string(nil), prefix...), se.JSONPointer()...)
			var inner *openapi3.SchemaError
			if errors.As(se.Origin, &me) || errors.As(se.Origin, &inner) {
				walk(se.Origin, ptr)
				return
			}
			p := itemIndex.ReplaceAllString("/"+strings.Join(ptr, "/"), "/*$1")
			p = itemIndex.ReplaceAllString(p, "/*$1")
			seen[p+": "+se.Reason] = true
			return
		}
		var re *openapi3filter.ResponseError
		if errors.As(err, &re) && re.Err != nil {
			walk(re.Err, prefix)
			return
		}
		seen[err.Error()] = true
	}
	walk(err, nil)
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
