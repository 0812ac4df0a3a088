package tests

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/fleetgraph/fleetgraph/app"
)

// A fleet of more pools than a connection may hold subscriptions
// (subscriptions.maxPerConnection, 20): every chart still updates, those
// the gateway had no subscription for by one chunked poll, and no card
// shows the SUBSCRIPTION_LIMIT refusal.
func TestDashboardWithMorePoolsThanSubscriptions(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test: skipped with -short")
	}
	b := newBrowser(t, artifactDir(t))                          // skips (or fails under CI) without chromium
	srv, _ := demoGatewayWith(t, app.SimOptions{Pools: 6}, nil) // 24 pools, 20 subscriptions per connection

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
