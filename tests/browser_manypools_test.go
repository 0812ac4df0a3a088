package tests

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/fleetgraph/fleetgraph/app"
	dashboardui "github.com/fleetgraph/fleetgraph/web/dashboard"
)

// A fleet of more pools than a connection may hold subscriptions
// (subscriptions.maxPerConnection, 20): every chart still updates, those
// the gateway had no subscription for by one chunked poll, and no card
// shows the SUBSCRIPTION_LIMIT refusal.
func TestDashboardWithMorePoolsThanSubscriptions(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test: skipped with -short")
	}
	b := newBrowser(t, artifactDir(t)) // skips (or fails under CI) without chromium
	sims, err := app.StartSims(app.SimOptions{RunAIAddr: "127.0.0.1:0", ModelArtsAddr: "127.0.0.1:0", Pools: 6})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sims.Close)
	gw, err := app.Build(sims.DemoConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gw.Close() })
	mux := http.NewServeMux()
	mux.Handle("/", gw.Handler)
	mux.Handle("/dashboard/", http.StripPrefix("/dashboard", dashboardui.Handler("/graphql")))
	srv := httptest.NewServer(mux)
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close() })

	b.do(t, "open dashboard", 20*time.Second, chromedp.Navigate(srv.URL+"/dashboard/?interval=5"))
	const charts = `[...document.querySelectorAll('.chart-card:not(.no-metrics)')]`
	b.waitFor(t, "more pool charts than subscriptions", 20*time.Second, charts+`.length > 20`)
	b.waitFor(t, "every chart updated, live or polled, some polled", 40*time.Second,
		`(() => { const at = `+charts+`.map(c => c.querySelector('footer .at')?.dataset.source);
		  return at.every(s => s === 'live' || s === 'poll') && at.includes('poll') && at.includes('live'); })()`)
	b.waitFor(t, "no card shows a refusal", 5*time.Second,
		charts+`.every(c => (c.querySelector('.warn')?.textContent || '') === '')`)
	b.screenshot(t, "dashboard-many-pools")
}
