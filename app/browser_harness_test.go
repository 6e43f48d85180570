package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/webhookdb/webhookdb/ghfake"
	"github.com/webhookdb/webhookdb/internal/testutil"
)

// The browser tests (browser_test.go) drive a real headless Chromium with
// chromedp against `webhookdb serve` running in this process (web server
// and workers, so scans really finish) and ghfake standing in for GitHub.
// This file is their harness: finding Chromium, starting both servers,
// the browser itself, and the screenshots.

// chromiumNames are the commands Debian, Ubuntu and Google name the browser.
var chromiumNames = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// chromiumPath finds the browser: $CHROMIUM if set, else the first of
// chromiumNames on PATH. Without one the test skips with one line, except
// under CI (CI=true), where a missing browser is a failure: CI must never
// pass by not running them.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range chromiumNames {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const msg = "browser tests skipped: Chromium not found (apt-get install chromium, or run make test as root, which installs it)"
	if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
		t.Fatal(strings.Replace(msg, "skipped", "cannot run under CI", 1))
	}
	t.Skip(msg)
	return ""
}

// browser is one headless Chromium tab plus where its screenshots go.
type browser struct {
	t    *testing.T
	ctx  context.Context // the tab; every step runs under it
	dir  string          // screenshots
	shot int             // screenshots taken, to number the files in order
}

// newBrowser starts Chromium with the flags the issue names. The tab's
// context ends with the test (or after limit, so a hung page cannot hold
// the suite); Chromium's own output is shown only when the test fails.
func newBrowser(t *testing.T, path string, limit time.Duration) *browser {
	t.Helper()
	var out syncBuffer
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		// Containers have a small /dev/shm; Chromium crashes when it fills.
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 900),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.CombinedOutput(&out),
	}
	ctx, cancelTimeout := context.WithTimeout(context.Background(), limit)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	tab, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
		cancelTimeout()
		if t.Failed() && out.String() != "" {
			t.Logf("chromium output (tail):\n%s", tail(out.String(), 3000))
		}
	})
	// Starts the browser now, so a broken install fails here with its
	// own message rather than at the first page.
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("start chromium %s: %v\n%s", path, err, tail(out.String(), 3000))
	}
	// A relative folder is taken from the repository root (go test runs
	// in app/), so WEBHOOKDB_SCREENSHOTS=docs/screenshots is the README's.
	dir := os.Getenv("WEBHOOKDB_SCREENSHOTS")
	switch {
	case dir == "":
		// A test artifact that outlives the test, where the README says.
		dir = filepath.Join(os.TempDir(), "webhookdb-screenshots")
	case !filepath.IsAbs(dir):
		dir = filepath.Join("..", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots of every page in %s", dir)
	return &browser{t: t, ctx: tab, dir: dir}
}

// do runs steps, failing the test with what was being done.
func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.fail(what, err)
	}
}

// open navigates to url and returns the document's HTTP status.
func (b *browser) open(url string) int64 {
	b.t.Helper()
	resp, err := chromedp.RunResponse(b.ctx, chromedp.Navigate(url))
	if err == nil && resp == nil {
		err = errors.New("no response for the document")
	}
	if err != nil {
		b.fail("open "+url, err)
	}
	return resp.Status
}

// submit clicks a button that makes the page navigate (a plain form post
// answered with a redirect) and returns the final document's status.
func (b *browser) submit(what string, sel string) int64 {
	b.t.Helper()
	resp, err := chromedp.RunResponse(b.ctx, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
	if err == nil && resp == nil {
		err = errors.New("no response for the document")
	}
	if err != nil {
		b.fail(what, err)
	}
	return resp.Status
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](b *browser, what, js string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](js, chromedp.EvalAsValue))
	if err != nil {
		b.fail(what, err)
	}
	return v
}

// waitJS evaluates a JavaScript expression every 50 ms until its value is
// not the zero value (at most for d) and returns it: the way to wait for
// what a page does by itself. It evaluates from Go rather than with
// chromedp.Poll so that a navigation in between (a form answered 303)
// only costs one round, not the wait.
func waitJS[T comparable](b *browser, what, js string, d time.Duration) T {
	b.t.Helper()
	var zero T
	deadline := time.Now().Add(d)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	for {
		v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](js, chromedp.EvalAsValue))
		if err == nil && v != zero {
			return v
		}
		lastErr = err
		if time.Now().After(deadline) || b.ctx.Err() != nil {
			b.fail("timed out waiting for "+what, fmt.Errorf("last error: %v", lastErr))
		}
		select {
		case <-tick.C:
		case <-b.ctx.Done():
		}
	}
}

// text is the visible text of the first element matching a CSS selector,
// waiting for it to be visible.
func (b *browser) text(sel string) string {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.WaitVisible(chromedp.CSS(sel))); err != nil {
		b.fail("wait for "+sel, err)
	}
	return eval[string](b, "text of "+sel, fmt.Sprintf(`document.querySelector(%s).innerText`, strconv.Quote(sel)))
}

// fail stops the test with the page's address and text, which say more
// than a chromedp error about a selector that never appeared.
func (b *browser) fail(what string, err error) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
	defer cancel()
	page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n" + (document.body ? document.body.innerText : "")`))
	b.t.Fatalf("%s: %v\npage: %s", what, err, tail(page, 2000))
}

// screenshot saves the whole page as NN-name.png in the screenshot folder.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.fail("screenshot "+name, err)
	}
	b.shot++
	p := filepath.Join(b.dir, fmt.Sprintf("%02d-%s.png", b.shot, name))
	if err := os.WriteFile(p, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// fetchStatus sends a request from the page (its cookies, not its CSRF
// token unless body has one) and returns the HTTP status; a redirect is
// not followed and reads as 302.
func (b *browser) fetchStatus(method, path, body string) int {
	b.t.Helper()
	init := `{method: "GET", credentials: "same-origin", redirect: "manual"}`
	if method != "GET" {
		init = fmt.Sprintf(`{method: %s, credentials: "same-origin", redirect: "manual",
			headers: {"Content-Type": "application/x-www-form-urlencoded"}, body: %s}`, strconv.Quote(method), strconv.Quote(body))
	}
	js := fmt.Sprintf(`fetch(%s, %s).then(r => r.type === "opaqueredirect" ? 302 : r.status)`, strconv.Quote(path), init)
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](js, chromedp.EvalAsValue, chromedp.EvalAwaitPromise))
	if err != nil {
		b.fail(method+" "+path, err)
	}
	return v
}

// uiWorld is the app serving a seeded ghfake, for the browser to use.
type uiWorld struct {
	gh   *ghfake.Server
	base string // the app, e.g. http://127.0.0.1:1234
	logs *syncBuffer
}

// startUIWorld starts ghfake seeded with org-0 (repositories repo-0 and
// repo-1, the app installed on both; users user-0 and user-1 members) plus
// "outsider", a user of no organization, and `webhookdb serve` against it
// on a real port with its workers. Both stop with the test.
func startUIWorld(t *testing.T, seed ghfake.SeedOptions) *uiWorld {
	t.Helper()
	env.Truncate(t)
	addr := freeAddr(t)
	gh, err := ghfake.New(ghfake.Options{Seed: &seed, WebhookURL: "http://" + addr + "/replication", OAuthUser: "user-0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := gh.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gh.Close)
	if _, err := gh.AddUser("outsider"); err != nil {
		t.Fatal(err)
	}

	vars := serveEnv(t, addr, env.DatabaseURL)
	ns := env.Namespace + "_browser"
	t.Cleanup(func() { _ = testutil.DeleteNamespace(env.Redis, ns) })
	for k, v := range map[string]string{
		"WEBHOOKDB_NAMESPACE":          ns,
		"WEBHOOKDB_PUBLIC_URL":         "http://" + addr,
		"WEBHOOKDB_WORKERS":            "4",
		"GITHUB_V3_API_URL":            gh.APIURL(),
		"GITHUB_V4_API_URL":            gh.GraphQLURL(),
		"GITHUB_WEB_URL":               gh.URL() + "/",
		"GITHUB_APP_INTEGRATION_ID":    strconv.FormatInt(gh.AppID(), 10),
		"GITHUB_APP_WEBHOOK_SECRET":    gh.WebhookSecret(),
		"GITHUB_APP_PRIVATE_KEY":       gh.PrivateKeyPEM(),
		"GITHUB_OAUTH_CLIENT_ID":       gh.OAuthClientID(),
		"GITHUB_OAUTH_CLIENT_SECRET":   gh.OAuthClientSecret(),
		"WEBHOOKDB_RECONCILE_INTERVAL": "0",
		// The test makes a delivery fail on purpose and redelivers it
		// from the page; a catch-up run must not beat it to that.
		"WEBHOOKDB_CATCHUP_INTERVAL": "1h",
	} {
		vars[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	logs := &syncBuffer{}
	go func() { done <- Run(ctx, []string{"serve"}, Env{Stderr: logs, Getenv: envMap(vars)}) }()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("serve exited %d; log (tail):\n%s", code, tail(logs.String(), 4000))
			}
		case <-time.After(20 * time.Second):
			t.Error("serve did not stop")
		}
	})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("serve's log (tail):\n%s", tail(logs.String(), 6000))
		}
	})
	waitStatus(t, "http://"+addr+"/readyz", 200)
	return &uiWorld{gh: gh, base: "http://" + addr, logs: logs}
}

// waitDB polls a condition on the database (the workers and webhooks run
// in other goroutines and say nothing when they are done) until it holds
// or d has passed.
func waitDB(t *testing.T, what string, d time.Duration, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, err := cond()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}
