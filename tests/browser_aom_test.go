package tests

import (
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/fleetgraph/fleetgraph/app"
)

// Without aom: a ModelArts pool's card and page say "no metrics API" and
// why (METRICS_NOT_CONFIGURED), and Run:ai's charts still draw.
func TestDashboardWithoutAOMInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test: skipped with -short")
	}
	b := newBrowser(t, artifactDir(t)) // skips (or fails under CI) without chromium
	srv, _ := demoGatewayWith(t, app.SimOptions{}, func(cfg *app.Config) { cfg.ModelArts[0].AOM = nil })

	var fleet struct {
		NodePools struct {
			Edges []struct {
				Node struct{ ID, Provider string }
			}
		}
	}
	postGraphQL(t, srv.URL, `{ nodePools(first: 500) { edges { node { id provider } } } }`, &fleet)
	maPools, maPool := 0, ""
	for _, e := range fleet.NodePools.Edges {
		if e.Node.Provider == "MODELARTS" {
			maPools++
			maPool = e.Node.ID
		}
	}
	if maPools == 0 {
		t.Fatal("no ModelArts pool in the demo fleet")
	}
	b.do(t, "open dashboard", 20*time.Second, chromedp.Navigate(srv.URL+"/dashboard/?interval=5"))
	tiles := `[...document.querySelectorAll('.chart-card.no-metrics')].filter(c => c.textContent.includes('no metrics API') && c.textContent.includes('aom:')).length`
	b.waitFor(t, "a no-metrics tile per ModelArts pool", 15*time.Second, tiles+` === `+strconv.Itoa(maPools))
	b.waitFor(t, "Run:ai charts still drawn", 15*time.Second, chartsDrawn+` > 0`)
	b.screenshot(t, "dashboard-without-aom")
	b.do(t, "open a ModelArts pool", 10*time.Second, chromedp.Evaluate[chromedp.Void](`location.hash = '#/pool/' + `+js(maPool)))
	b.waitFor(t, "the pool page's tile", 15*time.Second, `document.querySelector('.panel.metrics')?.textContent.includes('no metrics API')`)
	if p := b.takeProblems(); len(p) > 0 {
		t.Errorf("the dashboard logged errors: %q", p)
	}
}
