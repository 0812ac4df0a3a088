package modelartssim_test

import (
	"testing"

	"github.com/fleetgraph/fleetgraph/backends/modelarts"
	"github.com/fleetgraph/fleetgraph/backends/modelarts/modelartssim"
)

// TestSetAllocatedShowsInAvailableResources: the node's availableResources
// carry its accelerators minus the used ones; its resources do not change.
func TestSetAllocatedShowsInAvailableResources(t *testing.T) {
	t.Parallel()
	h := start(t, modelartssim.Options{Pools: 1, NodePoolsPerPool: 4, NodesPerNodePool: 2})
	f := h.sim.Fleet()
	pool := f.Pools[0].Metadata.Name
	var a100 modelarts.Node
	for _, n := range f.Nodes[pool] {
		if n.Spec.Flavor == "modelarts.bm.gpu.8a100" {
			a100 = n
			break
		}
	}
	if a100.Metadata.Name == "" {
		t.Fatal("no A100 node in a GPU pool of four node pools")
	}
	if err := h.sim.SetAllocated(a100.Metadata.Name, 3); err != nil {
		t.Fatal(err)
	}
	for _, n := range h.sim.Fleet().Nodes[pool] {
		if n.Metadata.Name != a100.Metadata.Name {
			continue
		}
		if got := n.Status.AvailableResources[modelarts.ResourceNvidiaGPU]; got != "5" {
			t.Errorf("available %s = %q, want 5", modelarts.ResourceNvidiaGPU, got)
		}
		if got := n.Status.Resources[modelarts.ResourceNvidiaGPU]; got != "8" {
			t.Errorf("resources %s = %q, want 8", modelarts.ResourceNvidiaGPU, got)
		}
	}
	if err := h.sim.SetAllocated(a100.Metadata.Name, 9); err == nil {
		t.Error("SetAllocated accepted 9 of 8 accelerators")
	}
	var cpu string
	for _, n := range f.Nodes[pool] {
		if n.Spec.Flavor == "modelarts.vm.cpu.4ud" {
			cpu = n.Metadata.Name
		}
	}
	if err := h.sim.SetAllocated(cpu, 0); err == nil {
		t.Error("SetAllocated accepted a CPU node")
	}
}
