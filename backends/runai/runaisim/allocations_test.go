package runaisim_test

import (
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/fleetgraph/fleetgraph/backends/runai"
	"github.com/fleetgraph/fleetgraph/backends/runai/runaisim"
)

// TestSetAllocatedHoldsTelemetry: a pinned node reports its GPUs minus the
// pinned ones as FREE_GPUS, and the pinned count as ALLOCATED_GPUS, across
// the model's 5-minute allocation steps; a not-ready node stays at none.
func TestSetAllocatedHoldsTelemetry(t *testing.T) {
	t.Parallel()
	clk := newClock()
	h := newHarness(t, runaisim.Options{Seed: 3, Now: clk.Now})
	var ready, notReady runai.Node
	for _, n := range h.sim.Fleet().Nodes {
		switch {
		case n.GPUInfo == nil:
		case n.Status == runai.NodeReady && ready.Name == "":
			ready = n
		case n.Status != runai.NodeReady && notReady.Name == "":
			notReady = n
		}
	}
	if ready.Name == "" || notReady.Name == "" {
		t.Fatal("the fleet has no ready and no not-ready GPU node")
	}
	if err := h.sim.SetAllocated(ready.Name, 1); err != nil {
		t.Fatal(err)
	}
	if err := h.sim.SetAllocated(notReady.Name, 1); err != nil {
		t.Fatal(err)
	}
	byNode := func(typ string) map[string]string {
		b := telemetry(t, h, typ, url.Values{"groupBy": {"Node"}})
		out := map[string]string{}
		for _, v := range b.Values {
			out[v.Groups[0].Value] = v.Value
		}
		return out
	}
	for step := range 4 {
		free, alloc := byNode("FREE_GPUS"), byNode("ALLOCATED_GPUS")
		if want := strconv.Itoa(ready.GPUInfo.GPUCount - 1); free[ready.Name] != want || alloc[ready.Name] != "1" {
			t.Errorf("step %d: %s free %s allocated %s, want %s and 1", step, ready.Name, free[ready.Name], alloc[ready.Name], want)
		}
		if free[notReady.Name] != "0" || alloc[notReady.Name] != "0" {
			t.Errorf("step %d: not-ready %s free %s allocated %s, want 0 and 0", step, notReady.Name, free[notReady.Name], alloc[notReady.Name])
		}
		clk.Advance(5 * time.Minute)
	}
	if err := h.sim.SetAllocated(ready.Name, ready.GPUInfo.GPUCount+1); err == nil {
		t.Error("SetAllocated accepted more GPUs than the node has")
	}
	if err := h.sim.SetAllocated("no-such-node", 0); err == nil {
		t.Error("SetAllocated accepted an unknown node")
	}
}
