package runaisim_test

import (
	"reflect"
	"slices"
	"strconv"
	"testing"

	"github.com/fleetgraph/fleetgraph/backends/runai"
	"github.com/fleetgraph/fleetgraph/backends/runai/runaisim"
)

func TestFleetIsDeterministic(t *testing.T) {
	t.Parallel()
	a := runaisim.New(runaisim.Options{Seed: 7}).Fleet()
	b := runaisim.New(runaisim.Options{Seed: 7}).Fleet()
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two simulators with the same seed built different fleets")
	}
	c := runaisim.New(runaisim.Options{Seed: 8}).Fleet()
	if a.Clusters[0].UUID == c.Clusters[0].UUID || a.Nodes[0].ID == c.Nodes[0].ID {
		t.Fatal("seeds 7 and 8 gave the same UUIDs")
	}
}

func TestFleetShape(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                    string
		opts                    runaisim.Options
		clusters, pools, nodes  int
		cpuPools                int
		wantNotReady, wantEmpty bool
	}{
		{name: "defaults", opts: runaisim.Options{}, clusters: 2, pools: 6, nodes: 24, cpuPools: 2, wantNotReady: true},
		{name: "two pools have no CPU pool", opts: runaisim.Options{Clusters: 1, PoolsPerCluster: 2, NodesPerPool: 3}, clusters: 1, pools: 2, nodes: 6, wantNotReady: true},
		{name: "five pools", opts: runaisim.Options{Clusters: 3, PoolsPerCluster: 5, NodesPerPool: 2, Seed: 3}, clusters: 3, pools: 15, nodes: 30, cpuPools: 3, wantNotReady: true},
		{name: "empty pools", opts: runaisim.Options{Clusters: 1, NodesPerPool: -1}, clusters: 1, pools: 3, cpuPools: 1, wantEmpty: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := runaisim.New(tt.opts).Fleet()
			if len(f.Clusters) != tt.clusters || len(f.NodePools) != tt.pools || len(f.Nodes) != tt.nodes {
				t.Fatalf("got %d clusters, %d pools, %d nodes; want %d, %d, %d",
					len(f.Clusters), len(f.NodePools), len(f.Nodes), tt.clusters, tt.pools, tt.nodes)
			}
			for i, c := range f.Clusters {
				if want := "cluster-" + strconv.Itoa(i+1); c.Name != want {
					t.Errorf("cluster %d is %q, want %q", i, c.Name, want)
				}
			}
			checkPools(t, f, tt.cpuPools, tt.wantEmpty)
			notReady := slices.ContainsFunc(f.Nodes, func(n runai.Node) bool { return n.Status == runai.NodeNotReady })
			if notReady != tt.wantNotReady {
				t.Errorf("some node NotReady: %v, want %v", notReady, tt.wantNotReady)
			}
		})
	}
}

// checkPools checks the invariants tying pools, clusters and nodes together.
func checkPools(t *testing.T, f runaisim.Fleet, wantCPUPools int, wantEmpty bool) {
	t.Helper()
	ids := map[string]bool{}
	cpuPools := 0
	for _, p := range f.NodePools {
		if _, err := strconv.Atoi(p.ID); err != nil || ids[p.ID] {
			t.Errorf("pool id %q is not a unique numeric string", p.ID)
		}
		ids[p.ID] = true
		if p.IsDefault != (p.Name == "default") {
			t.Errorf("pool %s: isDefault %v", p.Name, p.IsDefault)
		}
		var names []string
		var gpu *runai.GPUInfo
		for _, n := range f.Nodes {
			if n.ClusterUUID == p.ClusterID && n.NodePool == p.Name {
				names = append(names, n.Name)
				gpu = n.GPUInfo
				if n.GPUInfo != nil && n.GPUInfo.GPUCount != 4 && n.GPUInfo.GPUCount != 8 {
					t.Errorf("node %s has %d GPUs", n.Name, n.GPUInfo.GPUCount)
				}
			}
		}
		if len(names) > 0 && gpu == nil {
			cpuPools++
		}
		if !slices.Equal(p.Status.Nodes, names) {
			t.Errorf("pool %s: status.nodes %v, its nodes %v", p.Name, p.Status.Nodes, names)
		}
		wantPhase := runai.PoolReady
		if len(names) == 0 {
			wantPhase = runai.PoolEmpty
		}
		if p.Phase != wantPhase && p.Phase != runai.PoolUnschedulable {
			t.Errorf("pool %s: phase %s, want %s", p.Name, p.Phase, wantPhase)
		}
	}
	if !wantEmpty && cpuPools != wantCPUPools {
		t.Errorf("%d CPU-only pools, want %d", cpuPools, wantCPUPools)
	}
}

func TestFleetSnapshotOverHTTP(t *testing.T) {
	t.Parallel()
	h := newHarness(t, runaisim.Options{})
	var got runaisim.Fleet
	h.getJSON(t, "/_sim/fleet", 200, &got)
	want := h.sim.Fleet()
	if len(got.Nodes) != len(want.Nodes) || got.Nodes[0].ID != want.Nodes[0].ID {
		t.Fatalf("GET /_sim/fleet differs from Fleet()")
	}
}
