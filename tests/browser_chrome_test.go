package tests

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/fleetgraph/fleetgraph/app"
	dashboardui "github.com/fleetgraph/fleetgraph/web/dashboard"
)

// Helpers of the browser tests: a demo gateway with the dashboard, a headless
// Chromium driven by chromedp, waits that poll the page, and screenshots.

// chromiumPath finds Chromium. Under CI (env CI set) a missing browser fails
// the test: .ci/run installs it, so its absence is a broken CI image, not a
// reason to pass. Locally the test is skipped with a hint.
func chromiumPath(t *testing.T) string {
	t.Helper()
	candidates := []string{os.Getenv("FLEETGRAPH_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"}
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium not found (CI is set, so this fails): .ci/run installs Debian's chromium; or set FLEETGRAPH_CHROMIUM")
	}
	t.Skip("chromium not found: `apt-get install chromium` (or set FLEETGRAPH_CHROMIUM) to run the browser tests")
	return ""
}

// demoGateway starts both simulators and the gateway in demo mode, and serves
// the gateway at / with the dashboard at /dashboard/ (mounted here the way
// the gateway mounts it). A second dashboard at /nows/dashboard/ talks to
// /nows/graphql, the same API behind a proxy that refuses websockets, as
// some corporate proxies do: its subscriptions must fall back to SSE.
func demoGateway(t *testing.T) (*httptest.Server, *app.Sims) {
	t.Helper()
	return demoGatewayWith(t, app.SimOptions{}, func(cfg *app.Config) {
		// The test takes a vendor down and back up: a short-lived breaker
		// lets the dashboard show the recovery within seconds, not the
		// default 10 s.
		cfg.Resilience.Breaker.OpenFor = app.Duration(time.Second)
	})
}

// demoGatewayWith is demoGateway over simulators of o (their addresses
// are free loopback ports) with the demo configuration edited by edit.
func demoGatewayWith(t *testing.T, o app.SimOptions, edit func(*app.Config)) (*httptest.Server, *app.Sims) {
	t.Helper()
	o.RunAIAddr, o.ModelArtsAddr = "127.0.0.1:0", "127.0.0.1:0"
	sims, err := app.StartSims(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sims.Close)
	cfg := sims.DemoConfig()
	if edit != nil {
		edit(cfg)
	}
	gw, err := app.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gw.Close() })
	mux := http.NewServeMux()
	mux.Handle("/", gw.Handler)
	mux.Handle("/dashboard/", http.StripPrefix("/dashboard", dashboardui.Handler("/graphql")))
	mux.Handle("/nows/dashboard/", http.StripPrefix("/nows/dashboard", dashboardui.Handler("/nows/graphql")))
	mux.HandleFunc("/nows/graphql", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "" {
			http.Error(w, "websockets are not allowed here", http.StatusForbidden)
			return
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/graphql"
		gw.Handler.ServeHTTP(w, r2)
	})
	srv := httptest.NewServer(mux)
	// Close cuts the websockets and event streams the browser may still hold.
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close() })
	return srv, sims
}

// artifactDir is where screenshots go: $FLEETGRAPH_ARTIFACTS (created, and
// kept), else a new temporary directory that is removed when the test
// passes and kept, with its path logged, when it fails.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("FLEETGRAPH_ARTIFACTS")
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		abs, _ := filepath.Abs(dir)
		t.Logf("browser test artifacts (screenshots) in %s (FLEETGRAPH_ARTIFACTS, kept)", abs)
		return abs
	}
	dir, err := os.MkdirTemp("", "fleetgraph-browser-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the test failed: its screenshots are kept in %s", dir)
			return
		}
		_ = os.RemoveAll(dir)
	})
	t.Logf("browser test screenshots in %s, removed when the test passes (set FLEETGRAPH_ARTIFACTS=DIR to keep them)", dir)
	return dir
}

// browser is one tab of a headless Chromium, and what its pages logged as
// errors or threw.
type browser struct {
	ctx       context.Context
	artifacts string

	mu       sync.Mutex
	problems []string
}

// newBrowser starts Chromium with a fresh profile. It is stopped, and its
// profile removed, when the test ends.
func newBrowser(t *testing.T, artifacts string) *browser {
	t.Helper()
	exe := chromiumPath(t)
	profile, err := os.MkdirTemp("", "fleetgraph-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	// Chromium's helper processes may still write to the profile as it exits:
	// remove it best-effort, not through t.TempDir, whose failure to remove
	// fails the test.
	t.Cleanup(func() { _ = os.RemoveAll(profile) })
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(profile),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.WindowSize(1400, 1000),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc) // kills Chromium and waits for it
	return openTab(t, allocCtx, artifacts)
}

// newTab opens another tab of the same browser.
func (b *browser) newTab(t *testing.T) *browser {
	t.Helper()
	return openTab(t, b.ctx, b.artifacts)
}

func openTab(t *testing.T, parent context.Context, artifacts string) *browser {
	t.Helper()
	ctx, cancel := chromedp.NewContext(parent)
	t.Cleanup(cancel)
	// The first Run starts the browser or the tab: no timeout on it, or the
	// timeout would end the browser.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	b := &browser{ctx: ctx, artifacts: artifacts}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type != chromedp.ConsoleError && m.Type != chromedp.ConsoleException {
				continue
			}
			b.mu.Lock()
			b.problems = append(b.problems, fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line))
			b.mu.Unlock()
		}
	}()
	return b
}

// takeProblems returns the errors and exceptions of the pages since the last
// call.
func (b *browser) takeProblems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.problems
	b.problems = nil
	return p
}

// do runs actions with a timeout; on failure it saves a screenshot named
// after the step and fails the test.
func (b *browser) do(t *testing.T, step string, timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.fail(t, step, err)
	}
}

func (b *browser) fail(t *testing.T, step string, err error) {
	t.Helper()
	shot := b.screenshot(t, "failed-"+strings.ReplaceAll(step, " ", "-"))
	t.Fatalf("%s: %v\nscreenshot: %s\npage errors: %q", step, err, shot, b.takeProblems())
}

// waitFor polls a JavaScript expression in the page until it is truthy.
func (b *browser) waitFor(t *testing.T, step string, timeout time.Duration, expr string) {
	t.Helper()
	b.do(t, step, timeout+time.Second, chromedp.Poll[chromedp.Void]("!!("+expr+")",
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(timeout)))
}

// eval evaluates a JavaScript expression and decodes its value.
func eval[T any](t *testing.T, b *browser, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.fail(t, "eval "+expr, err)
	}
	return v
}

// screenshot saves the whole page as <artifacts>/<name>.png and returns its
// path ("" when the browser could not take it).
func (b *browser) screenshot(t *testing.T, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	// From the top: the sticky header would otherwise sit mid-page.
	_ = chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			t.Logf("screenshot %s: %v", name, err)
		}
		return ""
	}
	p := filepath.Join(b.artifacts, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return ""
	}
	t.Logf("screenshot %s", p)
	return p
}

// js quotes s as a JavaScript string literal.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
