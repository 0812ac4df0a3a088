package tests

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/fleetgraph/fleetgraph/backends/runai"
)

// TestDashboardFindCapacity drives the overview's "find capacity" box in a
// headless Chromium over the demo gateway, with known allocations pinned on
// the demo's Run:ai A100 nodes (the demo's ModelArts fleet has none): the
// ranked rows are exactly the nodes with 4 free A100s, best fit first, and
// live; a model the catalogue does not know shows the gateway's refusal.
func TestDashboardFindCapacity(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test: skipped with -short")
	}
	b := newBrowser(t, artifactDir(t)) // skips (or fails under CI) without chromium
	srv, sims := demoGateway(t)

	// First 8-GPU A100 node: 8 free; second: 7; first 4-GPU: 4; the rest full.
	var eights, fours []string
	for _, n := range sims.RunAISim.Fleet().Nodes {
		if n.GPUInfo == nil || n.GPUInfo.GPUType != "NVIDIA-A100-SXM4-80GB" {
			continue
		}
		used := n.GPUInfo.GPUCount
		switch {
		case n.Status != runai.NodeReady:
		case n.GPUInfo.GPUCount == 8 && len(eights) < 2:
			used = len(eights) // 0, then 1
			eights = append(eights, n.Name)
		case n.GPUInfo.GPUCount == 4 && len(fours) < 1:
			used = 0
			fours = append(fours, n.Name)
		}
		if err := sims.RunAISim.SetAllocated(n.Name, used); err != nil {
			t.Fatal(err)
		}
	}
	if len(eights) != 2 || len(fours) != 1 {
		t.Fatalf("the demo fleet changed: ready 8-GPU A100 nodes %v, 4-GPU %v", eights, fours)
	}
	want := []string{fours[0], eights[1], eights[0]} // leftOver 0, 3, 4

	b.do(t, "open dashboard", 20*time.Second, chromedp.Navigate(srv.URL+"/dashboard/?interval=5"))
	b.waitFor(t, "capacity box", 15*time.Second, `document.querySelector('[data-panel=capacity] form')`)
	if n := eval[int](t, b, `document.querySelectorAll('[data-table=placements] tbody tr').length`); n != 0 {
		t.Fatalf("%d placement rows before any search", n)
	}
	const form = `[data-form=capacity] `
	b.do(t, "search 4 x A100", 10*time.Second,
		setValue(form+`input[name=model]`, "a100"),
		setValue(form+`input[name=accelerators]`, "4"),
		chromedp.Click(chromedp.CSS(form+`button[type=submit]`)))
	b.waitFor(t, "placement rows", 15*time.Second, `document.querySelectorAll('[data-table=placements] tbody tr[data-rank]').length > 0`)
	rows := eval[[]string](t, b, `[...document.querySelectorAll('[data-table=placements] tbody tr[data-rank]')].map(r => r.dataset.leftOver + ' ' + r.cells[4].textContent)`)
	var got []string
	for _, r := range rows {
		got = append(got, r[strings.IndexByte(r, ' ')+1:])
	}
	if strings.Join(got, ",") != strings.Join(want, ",") || !strings.HasPrefix(rows[0], "0 ") || !strings.HasPrefix(rows[1], "3 ") || !strings.HasPrefix(rows[2], "4 ") {
		t.Fatalf("rows %q, want %v with leftOver 0, 3, 4", rows, want)
	}
	b.waitFor(t, "live status", 10*time.Second, `document.querySelector('[data-panel=capacity] .at').dataset.source === 'live'`)
	b.screenshot(t, "find-capacity")

	b.do(t, "search an unknown model", 10*time.Second,
		setValue(form+`input[name=model]`, "B300X"),
		chromedp.Click(chromedp.CSS(form+`button[type=submit]`)))
	b.waitFor(t, "refusal shown", 10*time.Second,
		`(e => !e.hidden && e.textContent.includes('BAD_USER_INPUT') && e.textContent.includes('B300X'))(document.querySelector('[data-form=capacity] .form-error'))`)
	if n := eval[int](t, b, `document.querySelectorAll('[data-table=placements] tbody tr').length`); n != 0 {
		t.Errorf("%d rows left after a refused search", n)
	}
	if p := b.takeProblems(); len(p) > 0 {
		t.Errorf("page problems: %q", p)
	}
}
