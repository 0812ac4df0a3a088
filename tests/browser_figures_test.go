package tests

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestDashboardFiguresInBrowser checks what the dashboard's figures say
// against the gateway's own answers: "GPUs allocated" has one definition
// (allocated out of all GPUs) on the cards and in every table, no share
// over 100% is drawn, allocation on nodes that are not ready is shown as
// such (the ModelArts pool card once said "3 / 2, 150% of ready"), a Run:ai
// node's allocation comes from the vendor's telemetry beside its capacity,
// a pool's node readiness is shown beside its phase, a CPU pool charts CPU,
// and long node names stay on one line.
func TestDashboardFiguresInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test: skipped with -short")
	}
	b := newBrowser(t, artifactDir(t)) // skips (or fails under CI) without chromium
	srv, _ := demoGateway(t)

	type node struct {
		Name, Status string
		GpuCount     int
		Capacity     struct{ Gpus *int }
		Available    struct{ Gpus *int }
	}
	var fleet struct {
		All struct {
			Nodes, Gpus, AllocatedGpus int
			ByAccelerator              []struct {
				Vendor, Model string
				Nodes, Gpus   int
			}
		}
		Ready     struct{ Gpus, AllocatedGpus int }
		NodePools struct {
			Edges []struct {
				Node struct {
					ID, Name, Provider string
					Cluster            struct{ ID string }
					Nodes              struct{ Edges []struct{ Node node } }
				}
			}
		}
	}
	postGraphQL(t, srv.URL, `{ all: fleetSummary { nodes gpus allocatedGpus byAccelerator { vendor model nodes gpus } } ready: fleetSummary(filter: {status: [READY]}) { gpus allocatedGpus }
		nodePools(first: 500) { edges { node { id name provider cluster { id }
			nodes(first: 500) { edges { node { name status gpuCount capacity { gpus } available { gpus } } } } } } } }`, &fleet)
	// A ModelArts pool with GPUs allocated on a node that is not READY, a
	// Run:ai GPU pool with a NOT_READY node, and a Run:ai pool without GPUs.
	var maPool, runaiPool, cpuPool, runaiCluster, runaiName, runaiReady string
	maNotReady, maGpus := 0, 0
	for _, e := range fleet.NodePools.Edges {
		p := e.Node
		gpus, notReadyAlloc, notReady, ready := 0, 0, false, 0
		for _, n := range p.Nodes.Edges {
			gpus += n.Node.GpuCount
			if n.Node.Status == "READY" {
				ready++
			} else {
				notReady = true
				if n.Node.Capacity.Gpus != nil && n.Node.Available.Gpus != nil {
					notReadyAlloc += *n.Node.Capacity.Gpus - *n.Node.Available.Gpus
				}
			}
		}
		switch {
		case p.Provider == "MODELARTS" && notReadyAlloc > 0 && maPool == "":
			maPool, maNotReady, maGpus = p.ID, notReadyAlloc, gpus
		case p.Provider == "RUNAI" && gpus > 0 && notReady && runaiPool == "":
			runaiPool, runaiCluster, runaiName = p.ID, p.Cluster.ID, p.Name
			runaiReady = fmt.Sprintf("%d / %d nodes ready", ready, len(p.Nodes.Edges))
		case p.Provider == "RUNAI" && gpus == 0 && cpuPool == "":
			cpuPool = p.ID
		}
	}
	if maPool == "" || runaiPool == "" || cpuPool == "" {
		t.Fatalf("the demo fleet lacks a pool this test needs: ModelArts with allocation on a not-ready node %q, Run:ai with a NOT_READY node %q, Run:ai without GPUs %q", maPool, runaiPool, cpuPool)
	}

	// ---- overview ---------------------------------------------------------
	b.do(t, "open dashboard", 20*time.Second, chromedp.Navigate(srv.URL+"/dashboard/?interval=5"))
	b.waitFor(t, "pool allocation drawn", 15*time.Second, `document.querySelector('[data-table=pools] tr[data-pool-id=`+js(maPool)+`] .meter')`)
	noShareOver100(t, b, "overview")
	cards := eval[map[string]int](t, b, `Object.fromEntries([...document.querySelectorAll('[data-card] .of')].map(e => [e.closest('[data-card]').dataset.card, Number(e.dataset.total)]))`)
	if cards["allocated"] != fleet.All.Gpus || cards["gpus"] != fleet.All.Gpus {
		t.Errorf("cards: GPUs allocated out of %d, GPUs ready out of %d; want both out of all %d GPUs", cards["allocated"], cards["gpus"], fleet.All.Gpus)
	}
	if want := fleet.All.AllocatedGpus - fleet.Ready.AllocatedGpus; want > 0 {
		b.waitFor(t, "the allocated card names the not-ready part", 10*time.Second,
			`document.querySelector('[data-card=allocated] .card-sub').textContent.includes(`+js(fmt.Sprintf("%d on not-ready nodes", want))+`)`)
	}
	// The accelerator table: one row per catalogue model, whatever each
	// vendor calls it, with its nodes and GPUs, then the nodes without one.
	rows := eval[map[string]string](t, b, `Object.fromEntries([...document.querySelectorAll('[data-table=by-accelerator] tbody tr')]
		.map(r => [r.dataset.accelerator, r.cells[1].textContent.split('/')[1].trim() + ' ' + r.cells[2].textContent.split('/').pop().trim()]))`)
	want := map[string]string{}
	grouped := 0
	for _, g := range fleet.All.ByAccelerator {
		want[g.Vendor+" "+g.Model] = fmt.Sprintf("%d %d", g.Nodes, g.Gpus)
		grouped += g.Nodes
	}
	if fleet.All.Nodes > grouped {
		want["none"] = fmt.Sprintf("%d –", fleet.All.Nodes-grouped)
	}
	if fmt.Sprint(rows) != fmt.Sprint(want) || len(fleet.All.ByAccelerator) < 2 {
		t.Errorf("accelerator table (nodes, GPUs by row) %v, want the gateway's byAccelerator %v", rows, want)
	}
	// Every table's allocation is out of the same GPUs as the row's total.
	mismatch := eval[[]string](t, b, `[...document.querySelectorAll('[data-table=by-provider] tbody tr, [data-table=by-accelerator] tbody tr')]
		.filter(r => r.querySelector('.meter'))
		.filter(r => r.querySelector('.meter').dataset.gpus !== r.cells[2].textContent.split('/')[1].trim().replace(/\D/g, ''))
		.map(r => r.textContent)`)
	if len(mismatch) > 0 {
		t.Errorf("table rows whose allocation is not out of the row's GPUs: %q", mismatch)
	}
	row := `document.querySelector('[data-table=pools] tr[data-pool-id=` + js(maPool) + `]')`
	if got := eval[string](t, b, row+`.querySelector('.meter').dataset.notReady`); got != strconv.Itoa(maNotReady) {
		t.Errorf("ModelArts pool row: %s GPUs shown as allocated on not-ready nodes, want %d", got, maNotReady)
	}
	if got := eval[string](t, b, row+`.querySelector('.meter').dataset.gpus`); got != strconv.Itoa(maGpus) {
		t.Errorf("ModelArts pool row: allocation out of %s GPUs, want all %d", got, maGpus)
	}
	phase := eval[string](t, b, `document.querySelector('[data-table=pools] tr[data-pool-id=`+js(runaiPool)+`] td.phase').textContent`)
	if !strings.Contains(phase, runaiReady) {
		t.Errorf("Run:ai pool phase cell %q, want the node readiness %q beside the phase", phase, runaiReady)
	}
	b.waitFor(t, "the CPU pool charts CPU", 15*time.Second, `document.querySelector('.chart-card[data-pool-id=`+js(cpuPool)+`]')?.dataset.chartType === 'CPU_UTILIZATION' && `+chartDrawn(`'pool:' + `+js(cpuPool)))
	if s := eval[string](t, b, `document.getElementById('live').textContent`); s == "idle" {
		t.Errorf("the live indicator says only %q", s)
	}
	b.screenshot(t, "figures-overview")

	// ---- the ModelArts pool page: the case of "3 / 2, 150% of ready" ------
	b.do(t, "open the ModelArts pool", 10*time.Second, chromedp.Evaluate[chromedp.Void](`location.hash = '#/pool/' + `+js(maPool)))
	b.waitFor(t, "ModelArts nodes", 10*time.Second, `document.querySelectorAll('[data-table=nodes] tbody tr').length > 0 && document.querySelector('[data-card=allocated]')`)
	noShareOver100(t, b, "ModelArts pool page")
	if got := eval[int](t, b, `Number(document.querySelector('[data-card=allocated] .of').dataset.total)`); got != maGpus {
		t.Errorf("pool card: GPUs allocated out of %d, want all %d GPUs of the pool", got, maGpus)
	}
	if sub := eval[string](t, b, `document.querySelector('[data-card=allocated] .card-sub').textContent`); !strings.Contains(sub, fmt.Sprintf("%d on not-ready nodes", maNotReady)) {
		t.Errorf("pool card says %q, want the %d GPUs on not-ready nodes named", sub, maNotReady)
	}
	if n := eval[int](t, b, `[...document.querySelectorAll('[data-table=nodes] tbody tr:not([data-status=READY]) .meter')].filter(m => Number(m.dataset.notReady) > 0).length`); n == 0 {
		t.Error("no not-ready node row shows its allocation as on a not-ready node")
	}
	if got := eval[string](t, b, `document.querySelector('.pool-title .readiness')?.textContent`); !strings.Contains(got, "nodes ready") {
		t.Errorf("pool title readiness %q, want 'N / M nodes ready' beside the phase", got)
	}
	if empty := eval[[]string](t, b, `[...document.querySelectorAll('.details dd')].filter(d => d.textContent.trim() === '—').map(d => d.previousElementSibling.textContent)`); len(empty) > 0 {
		t.Errorf("details rows with nothing to say: %q", empty)
	}
	// Node names on one line: never taller than one line, the full name in
	// the title.
	if bad := eval[[]string](t, b, `[...document.querySelectorAll('[data-table=nodes] .node-name')]
		.filter(e => e.title !== e.closest('tr').dataset.nodeName || e.getBoundingClientRect().height > 1.6 * parseFloat(getComputedStyle(e).lineHeight || '20'))
		.map(e => e.title)`); len(bad) > 0 {
		t.Errorf("node names wrapped or without their title: %q", bad)
	}
	b.screenshot(t, "figures-pool-modelarts")

	// ---- the Run:ai pool page: capacity beside the vendor's allocation ----
	telemetry := func() map[string]int {
		var d struct {
			NodeTelemetry []struct {
				Value  float64
				Groups []struct{ Key, Value string }
			}
		}
		postGraphQL(t, srv.URL, `{ nodeTelemetry(type: ALLOCATED_GPUS, clusterId: `+js(runaiCluster)+`, nodePoolName: `+js(runaiName)+`, groupBy: [NODE]) { value groups { key value } } }`, &d)
		out := map[string]int{}
		for _, v := range d.NodeTelemetry {
			out[v.Groups[0].Value] = int(v.Value + 0.5)
		}
		return out
	}
	before := telemetry()
	b.do(t, "open the Run:ai pool", 10*time.Second, chromedp.Evaluate[chromedp.Void](`location.hash = '#/pool/' + `+js(runaiPool)))
	b.waitFor(t, "Run:ai nodes with allocation", 10*time.Second, `document.querySelectorAll('[data-table=nodes] tbody [data-col="GPUs allocated"] .meter').length > 0`)
	shown := eval[map[string]string](t, b, `Object.fromEntries([...document.querySelectorAll('[data-table=nodes] tbody tr')].map(r => [r.dataset.nodeName, r.querySelector('[data-col="GPUs allocated"] .meter')?.dataset.allocated ?? '']))`)
	capacity := eval[map[string]string](t, b, `Object.fromEntries([...document.querySelectorAll('[data-table=nodes] tbody tr')].map(r => [r.dataset.nodeName, r.querySelector('[data-col="GPU capacity"]').textContent]))`)
	after := telemetry()
	noShareOver100(t, b, "Run:ai pool page")
	for name, want := range after {
		if before[name] != want {
			continue // the simulator's allocation stepped meanwhile
		}
		if shown[name] != strconv.Itoa(want) {
			t.Errorf("node %s: %q GPUs allocated shown, want the vendor's %d", name, shown[name], want)
		}
	}
	for _, e := range fleet.NodePools.Edges {
		if e.Node.ID != runaiPool {
			continue
		}
		for _, n := range e.Node.Nodes.Edges {
			if capacity[n.Node.Name] != strconv.Itoa(n.Node.GpuCount) {
				t.Errorf("node %s: GPU capacity %q, want %d", n.Node.Name, capacity[n.Node.Name], n.Node.GpuCount)
			}
		}
	}
	b.screenshot(t, "figures-pool-runai")
	if p := b.takeProblems(); len(p) > 0 {
		t.Errorf("the dashboard logged errors: %q", p)
	}
}

// noShareOver100 fails the test when the page shows a percentage over 100
// (in its text or a tooltip) or draws a meter wider than its track.
func noShareOver100(t *testing.T, b *browser, page string) {
	t.Helper()
	over := eval[[]string](t, b, `[document.body.innerText, ...[...document.querySelectorAll('[title]')].map(e => e.title)]
		.flatMap(s => [...s.matchAll(/(\d+(?:\.\d+)?)\s*%/g)]).filter(m => Number(m[1]) > 100).map(m => m[0])
		.concat([...document.querySelectorAll('.meter-fill')].map(e => e.style.width).filter(w => parseFloat(w) > 100))`)
	if len(over) > 0 {
		t.Errorf("%s shows shares over 100%%: %q", page, over)
	}
}
