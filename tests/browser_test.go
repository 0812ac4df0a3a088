package tests

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/fleetgraph/fleetgraph/backends/simctl"
	"github.com/fleetgraph/fleetgraph/web"
)

// TestDashboardInBrowser drives the dashboard and GraphiQL in a headless
// Chromium against the gateway in demo mode: real HTTP, real websocket, real
// rendering. Screenshots of every view go to the artifacts directory.
//
// Not parallel: Chromium takes the CPU that the package's timing-sensitive
// tests (cache TTLs, breakers) would miss; alone, it runs before them.
func TestDashboardInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test: skipped with -short")
	}
	b := newBrowser(t, artifactDir(t)) // skips (or fails under CI) without chromium
	srv, sims := demoGateway(t)
	start := time.Now()
	dash := srv.URL + "/dashboard/?interval=5" // the gateway's shortest interval

	var fleet struct {
		NodePools struct {
			TotalCount int
			Edges      []struct {
				Node struct{ ID, Name, Provider string }
			}
		}
	}
	postGraphQL(t, srv.URL, `{ nodePools(first: 500) { totalCount edges { node { id name provider } } } }`, &fleet)
	var runaiGPUPool string
	for _, e := range fleet.NodePools.Edges {
		if e.Node.Provider == "RUNAI" && e.Node.Name != "cpu" && runaiGPUPool == "" {
			runaiGPUPool = e.Node.ID
		}
	}
	// A ModelArts pool with GPU_UTILIZATION data (demo mode configures aom:).
	maGPUPool := modelartsGPUPool(t, srv.URL)
	if runaiGPUPool == "" {
		t.Fatal("the demo fleet has no Run:ai GPU pool")
	}

	// Meanwhile a second tab follows that pool's page through a proxy that
	// refuses websockets: the subscription falls back to SSE.
	sse := b.newTab(t)
	sse.do(t, "open pool page without websockets", 20*time.Second,
		chromedp.Navigate(srv.URL+"/nows/dashboard/?interval=5#/pool/"+runaiGPUPool))

	// ---- overview: totals, pool table, charts ----------------------------
	b.do(t, "open dashboard", 20*time.Second, chromedp.Navigate(dash))
	b.waitFor(t, "pool table rows", 15*time.Second,
		`document.querySelectorAll('[data-table=pools] tbody tr[data-pool-id]').length === `+strconv.Itoa(fleet.NodePools.TotalCount))
	cards := eval[map[string]int](t, b, `Object.fromEntries([...document.querySelectorAll('[data-card] .big')]
		.map(e => [e.closest('[data-card]').dataset.card, Number(e.dataset.value)]))`)
	for _, k := range []string{"nodes", "gpus", "allocated", "providers"} {
		if cards[k] <= 0 {
			t.Errorf("summary card %q = %d, want > 0 (cards %v)", k, cards[k], cards)
		}
	}
	if n := eval[int](t, b, `document.querySelectorAll('[data-table=by-provider] tbody tr').length`); n != 2 {
		t.Errorf("by-provider rows = %d, want 2", n)
	}
	if n := eval[int](t, b, `document.querySelectorAll('[data-table=by-accelerator] tbody tr').length`); n < 2 {
		t.Errorf("by-accelerator rows = %d, want several", n)
	}
	b.waitFor(t, "GPU allocation per pool", 10*time.Second, `document.querySelectorAll('[data-table=pools] .meter').length > 0`)

	// Every Run:ai pool with GPUs gets a chart whose canvas shows the series
	// (pixels of the series colour, not just axes); so do ModelArts pools
	// (from AOM), and none says "no metrics API" (demo mode has aom:).
	gpuPools := eval[int](t, b, `[...document.querySelectorAll('[data-table=pools] tr[data-pool-id]')]
		.filter(r => r.querySelector('[data-provider=RUNAI]') && r.querySelector('.meter')).length`)
	if gpuPools == 0 {
		t.Fatal("no Run:ai pool with GPUs in the table")
	}
	b.waitFor(t, "charts with drawn series", 15*time.Second, chartsDrawn+` >= `+strconv.Itoa(gpuPools))
	b.waitFor(t, "a ModelArts pool chart with drawn series", 15*time.Second, chartDrawn(`'pool:' + `+js(maGPUPool)))
	if n := eval[int](t, b, `document.querySelectorAll('.chart-card.no-metrics').length`); n != 0 {
		t.Errorf("%d cards say \"no metrics API\" with aom: configured", n)
	}

	// ---- a live update arrives through the websocket ----------------------
	b.waitFor(t, "websocket transport live", 10*time.Second, `fleetgraph.live.transport === 'websocket' && fleetgraph.live.state === 'live'`)
	// One chart's 'at' (the poll time of the update shown) must change.
	liveAt := `document.querySelector('.chart-card[data-pool-id=` + js(runaiGPUPool) + `] .at')`
	b.waitFor(t, "first live update", 15*time.Second, liveAt+`.dataset.source === 'live'`)
	first := eval[string](t, b, liveAt+`.dataset.at`)
	b.waitFor(t, "a second live update ('at' changes)", 20*time.Second, liveAt+`.dataset.at !== `+js(first))
	t.Logf("live pool metrics: at %s, then %s", first, eval[string](t, b, liveAt+`.dataset.at`))
	b.waitFor(t, "live fleet totals", 10*time.Second, `Number(document.querySelector('.section-head .at').dataset.updates) >= 1`)

	// A failed poll arrives as an update with errors: the chart says so and
	// keeps its data; the subscription goes on and recovers with the vendor.
	metricsRoute := "GET /api/v1/clusters/{clusterUuid}/nodepools/{nodepoolName}/metrics"
	if err := sims.RunAISim.Control().SetFaults(simctl.Faults{Down: true, Routes: []string{metricsRoute}}); err != nil {
		t.Fatal(err)
	}
	card := `document.querySelector('.chart-card[data-pool-id=` + js(runaiGPUPool) + `]')`
	b.waitFor(t, "a failed poll shown on the chart", 20*time.Second, card+`?.querySelector('.warn').textContent.includes('UPSTREAM')`)
	t.Logf("failed poll shown as %q", eval[string](t, b, card+`.querySelector('footer').textContent`))
	if !eval[bool](t, b, chartsDrawn+` >= `+strconv.Itoa(gpuPools)) {
		t.Error("a failed poll blanked the charts")
	}
	b.screenshot(t, "dashboard-poll-failed")
	sims.RunAISim.Control().ClearFaults()
	b.waitFor(t, "recovery after the vendor is back", 20*time.Second, card+`?.querySelector('.warn').textContent === ''`)
	b.screenshot(t, "dashboard-overview")

	// ---- create a pool: an invalid name first, inline; then a valid one ---
	create := `form[data-form=create] `
	b.do(t, "open the create form", 10*time.Second,
		chromedp.Click(chromedp.CSS(`details.create > summary`)),
		chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector('`+create+`select[name=clusterId]');
			s.value = s.querySelector('option[data-provider=MODELARTS]').value; s.dispatchEvent(new Event('change')); })()`),
		chromedp.SendKeys(chromedp.CSS(create+`input[name=name]`), "Bad_Name"),
		setValue(create+`input[name=flavor]`, "modelarts.vm.cpu.4ud"),
		setValue(create+`input[name=count]`, "1"),
		chromedp.Click(chromedp.CSS(create+`button[type=submit]`)),
	)
	nameError := create + `[data-field="input.name"] .field-error`
	b.waitFor(t, "inline error on the name", 10*time.Second, `document.querySelector('`+nameError+`').textContent.trim() !== ''`)
	msg := eval[string](t, b, `document.querySelector('`+nameError+`').textContent`)
	if invalid := eval[bool](t, b, `document.querySelector('`+create+`input[name=name]').getAttribute('aria-invalid') === 'true'`); !invalid {
		t.Error("the name input is not marked aria-invalid")
	}
	if other := eval[string](t, b, `document.querySelector('`+create+`.form-error').textContent`); other != "" {
		t.Errorf("form-level error %q: the name error belongs next to the field", other)
	}
	t.Logf("inline error for name Bad_Name: %q", msg)
	b.screenshot(t, "dashboard-create-invalid")

	b.do(t, "submit a valid pool", 10*time.Second,
		setValue(create+`input[name=name]`, ""),
		chromedp.SendKeys(chromedp.CSS(create+`input[name=name]`), "browser-pool"),
		chromedp.Click(chromedp.CSS(create+`button[type=submit]`)),
	)
	b.waitFor(t, "the new pool in the table", 15*time.Second, `document.querySelector('[data-table=pools] tr[data-pool-name="browser-pool"]')`)
	if msg := eval[string](t, b, `document.querySelector('`+nameError+`').textContent`); msg != "" {
		t.Errorf("name error %q still shown after a valid create", msg)
	}
	b.screenshot(t, "dashboard-created")

	// ---- the new pool's page: scale it, then delete it --------------------
	b.do(t, "open the new pool", 10*time.Second, chromedp.Click(chromedp.CSS(create+`.form-status a`)))
	b.waitFor(t, "pool page", 10*time.Second, `document.querySelector('.pool-title h1')?.textContent === 'browser-pool'`)
	// Its nodes are being created and report nothing yet: the page charts
	// the series that have samples (AOM), and with none says so in one line.
	b.waitFor(t, "the new pool's chart or why it is empty", 10*time.Second, `(() => {
		const u = fleetgraph.charts.get('poolpage:' + document.querySelector('.pool-side code.id')?.textContent);
		if (u) return u.data.slice(1).some(s => s.some(v => v != null));
		return document.querySelector('.panel.metrics .chart.empty .empty-why')?.textContent.startsWith('no samples in the last hour');
	})()`)
	if eval[bool](t, b, `document.querySelector('.panel.metrics').textContent.includes('no metrics API')`) {
		t.Error(`the ModelArts pool page says "no metrics API" with aom: configured`)
	}
	b.do(t, "scale to 2 nodes", 10*time.Second,
		setValue(`form[data-form=scale] input[name=count]`, "2"),
		chromedp.Click(chromedp.CSS(`form[data-form=scale] button[type=submit]`)))
	// The page reloads after a write and says what happened above it.
	outcome := func(form string) string {
		return `[...document.querySelectorAll('form[data-form=` + form + `] .form-status, [data-flash]')].map(e => e.textContent).join(' ')`
	}
	b.waitFor(t, "scale accepted", 10*time.Second, outcome("scale")+`.includes('Scale accepted: CREATING, 2 nodes')`)
	b.do(t, "delete", 10*time.Second,
		chromedp.Click(chromedp.CSS(`form[data-form=delete] button.danger-outline`)),
		chromedp.Click(chromedp.CSS(`form[data-form=delete] button.danger`)))
	b.waitFor(t, "deletion accepted", 10*time.Second, outcome("delete")+`.includes('Deletion of browser-pool accepted')`)
	b.waitFor(t, "pool shown as deleting", 10*time.Second, `document.querySelector('.pool-title .badge[data-phase=DELETING]')`)
	b.screenshot(t, "dashboard-pool-modelarts")

	// ---- a Run:ai pool's page: nodes, status and four live series ---------
	b.do(t, "open a Run:ai pool", 10*time.Second, chromedp.Evaluate[chromedp.Void](`location.hash = '#/pool/' + `+js(runaiGPUPool)))
	b.waitFor(t, "nodes table", 10*time.Second, `document.querySelectorAll('[data-table=nodes] tbody tr').length > 0`)
	if n := eval[int](t, b, `document.querySelectorAll('[data-table=nodes] tbody .badge[data-status]').length`); n == 0 {
		t.Error("the nodes table shows no node status")
	}
	b.waitFor(t, "pool chart with 4 series", 15*time.Second, `(() => { const u = fleetgraph.charts.get('poolpage:' + `+js(runaiGPUPool)+`);
		return u && u.data.length === 5 && u.data.slice(1).every(s => s.some(v => v != null)); })()`)
	b.screenshot(t, "dashboard-pool-runai")

	// ---- a ModelArts pool's page: the same chart, from AOM ----------------
	b.do(t, "open a ModelArts pool", 10*time.Second, chromedp.Evaluate[chromedp.Void](`location.hash = '#/pool/' + `+js(maGPUPool)))
	b.waitFor(t, "ModelArts pool chart drawn", 15*time.Second, chartDrawn(`'poolpage:' + `+js(maGPUPool)))
	b.screenshot(t, "dashboard-pool-modelarts-metrics")

	if v := eval[[]string](t, b, `fleetgraph.cspViolations`); len(v) > 0 {
		t.Errorf("Content-Security-Policy violations: %q", v)
	}
	if p := b.takeProblems(); len(p) > 0 {
		t.Errorf("the dashboard logged errors: %q", p)
	}

	// ---- the SSE tab got live updates too ---------------------------------
	sse.waitFor(t, "SSE live updates", 20*time.Second, `fleetgraph.live.transport === 'sse' &&
		fleetgraph.live.detail.startsWith('websocket unavailable') &&
		Number(document.querySelector('.panel.metrics .at')?.dataset.updates) >= 2`)
	sse.screenshot(t, "dashboard-pool-sse")
	for _, p := range sse.takeProblems() {
		// The browser itself logs the refused handshake; nothing else may.
		if !strings.Contains(p, "WebSocket connection to 'ws://"+strings.TrimPrefix(srv.URL, "http://")+"/nows/graphql' failed") {
			t.Errorf("the SSE tab logged an error: %q", p)
		}
	}

	// ---- GraphiQL at / opens on the README's examples, each runs as it is ---
	b.do(t, "open GraphiQL", 20*time.Second, chromedp.Navigate(srv.URL+"/"))
	b.waitFor(t, "GraphiQL editor", 15*time.Second, `document.querySelector('.graphiql-query-editor .CodeMirror')?.CodeMirror`)
	tabs := eval[[]string](t, b, `[...document.querySelectorAll('.graphiql-tab .graphiql-tab-button')].map(e => e.textContent.trim())`)
	var want []string // the operation names of web.Examples, in order
	for _, e := range web.Examples {
		want = append(want, regexp.MustCompile(`(?m)^query (\w+)`).FindStringSubmatch(e.Query)[1])
	}
	if strings.Join(tabs, ",") != strings.Join(want, ",") {
		t.Errorf("GraphiQL tabs %q, want the README's examples %q", tabs, want)
	}
	response := `document.querySelector('.graphiql-response .CodeMirror').CodeMirror.getValue()`
	b.do(t, "run the first tab", 10*time.Second, chromedp.Click(chromedp.CSS(`.graphiql-execute-button`)))
	b.waitFor(t, "GraphiQL result", 15*time.Second, response+`.includes('"byGpuType"')`)
	var result struct {
		Data struct{ FleetSummary struct{ Nodes, Gpus int } }
	}
	raw := eval[string](t, b, response)
	if err := json.Unmarshal([]byte(raw), &result); err != nil || result.Data.FleetSummary.Nodes == 0 {
		t.Errorf("GraphiQL result %q (%v), want fleetSummary with nodes", raw, err)
	}
	// The metrics tab has a real node ID and the last hour: one click.
	b.do(t, "open the NodeMetrics tab", 10*time.Second, chromedp.Evaluate[chromedp.Void](
		`[...document.querySelectorAll('.graphiql-tab .graphiql-tab-button')].find(e => e.textContent.trim() === 'NodeMetrics').click()`))
	b.waitFor(t, "NodeMetrics variables", 10*time.Second, `document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.getValue().includes('query NodeMetrics')`)
	var vars struct{ ID, From, To string }
	rawVars := eval[string](t, b, `document.querySelector('section[aria-label=Variables] .CodeMirror').CodeMirror.getValue()`)
	if err := json.Unmarshal([]byte(rawVars), &vars); err != nil || !strings.HasPrefix(vars.ID, "fg1") {
		t.Fatalf("NodeMetrics variables %q (%v), want a node ID filled in", rawVars, err)
	}
	if from, err := time.Parse(time.RFC3339, vars.From); err != nil || time.Since(from) < 59*time.Minute || time.Since(from) > 2*time.Hour {
		t.Errorf("NodeMetrics from %q, want an hour ago", vars.From)
	}
	// GraphiQL takes the tab's operation name from its editor a moment
	// after the switch (debounced): a run before that names the previous
	// tab's operation, so run again until the answer is this tab's.
	b.waitFor(t, "NodeMetrics result", 15*time.Second, `(() => {
		const r = `+response+`, run = document.querySelector('.graphiql-execute-button');
		if (r.includes('"cpu"')) return true;
		if (run.getAttribute('aria-label').startsWith('Execute') && (!window.fgRan || r.includes('not found'))) { window.fgRan = true; run.click(); }
		return false;
	})()`)
	var metrics struct {
		Data struct {
			Node struct {
				Name     string
				Gpu, Cpu []struct{ Points []struct{ Value float64 } }
			}
		}
		Errors []struct{ Message string }
	}
	raw = eval[string](t, b, response)
	if err := json.Unmarshal([]byte(raw), &metrics); err != nil || len(metrics.Errors) > 0 || len(metrics.Data.Node.Cpu) == 0 || len(metrics.Data.Node.Cpu[0].Points) == 0 {
		t.Errorf("NodeMetrics result %q (%v), want CPU series with points", raw, err)
	}
	b.screenshot(t, "graphiql")
	t.Logf("browser test took %s", time.Since(start).Round(100*time.Millisecond))
}

// setValue sets an input's value as a script would (SendKeys types).
func setValue(sel, v string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](`(() => { const e = document.querySelector(` + js(sel) + `); e.value = ` + js(v) +
		`; e.dispatchEvent(new Event('input', {bubbles: true})); })()`)
}

// drawnJS says whether uPlot chart u shows its first series: data points,
// and pixels of the series colour (#2f6fe4), not only axes and grid.
const drawnJS = `(u => {
	if (!u || !u.data[1] || !u.data[1].some(v => v != null)) return false;
	const c = u.ctx.canvas, d = u.ctx.getImageData(0, 0, c.width, c.height).data;
	let n = 0;
	for (let i = 0; i < d.length; i += 4)
		if (d[i + 3] > 200 && Math.abs(d[i] - 47) < 24 && Math.abs(d[i + 1] - 111) < 24 && Math.abs(d[i + 2] - 228) < 24) n++;
	return n > 20;
})`

// chartsDrawn counts the charts that show their first series.
const chartsDrawn = `[...fleetgraph.charts.values()].filter(` + drawnJS + `).length`

// chartDrawn says whether the chart under key (a JS expression) shows its
// first series.
func chartDrawn(key string) string { return drawnJS + `(fleetgraph.charts.get(` + key + `))` }

// modelartsGPUPool returns the ID of a ModelArts node pool whose
// GPU_UTILIZATION (from AOM) has points in the last hour.
func modelartsGPUPool(t *testing.T, base string) string {
	t.Helper()
	end := time.Now().UTC()
	var data struct {
		NodePools struct {
			Edges []struct {
				Node struct {
					ID      string
					Metrics []struct{ Points []struct{ Value float64 } }
				}
			}
		}
	}
	postGraphQL(t, base, `{ nodePools(first: 500, filter: {provider: MODELARTS}) { edges { node { id
		metrics(types: [GPU_UTILIZATION], start: "`+end.Add(-time.Hour).Format(time.RFC3339)+`", end: "`+end.Format(time.RFC3339)+`") { points { value } } } } } }`, &data)
	for _, e := range data.NodePools.Edges {
		if len(e.Node.Metrics) == 1 && len(e.Node.Metrics[0].Points) > 0 {
			return e.Node.ID
		}
	}
	t.Fatal("no ModelArts pool with GPU_UTILIZATION points (is aom: configured in demo mode?)")
	return ""
}

// postGraphQL runs a query against the gateway and decodes its data.
func postGraphQL(t *testing.T, base, query string, data any) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"query": query})
	resp, err := http.Post(base+"/graphql", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Data   json.RawMessage
		Errors []struct{ Message string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	if len(r.Errors) > 0 {
		var msgs []string
		for _, e := range r.Errors {
			msgs = append(msgs, e.Message)
		}
		t.Fatalf("query errors: %s", strings.Join(msgs, "; "))
	}
	if err := json.Unmarshal(r.Data, data); err != nil {
		t.Fatal(err)
	}
}
