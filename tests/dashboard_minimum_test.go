package tests

import (
	"maps"
	"testing"

	"github.com/fleetgraph/fleetgraph/backends/modelarts/modelartssim"
)

// The dashboard over both vendors (cache_test.go's query), cold: ModelArts
// node pools and nodes get GPU and CPU series as Run:ai's do, and the
// answer costs exactly the minimum upstream calls, route by route:
//
//	Run:ai    token 1 · clusters 1 (the pools' cluster names) · node pools 1
//	          (one page) · nodes 1 per cluster · node telemetry 1
//	          (fleetSummary.allocatedGpus) · pool metrics 1 per pool ·
//	          node metrics 1 per node (every type in one call)
//	ModelArts pools 1 · node pools 1 per resource pool · nodes 1 per
//	          resource pool (shared by its node pools and AOM) · AOM
//	          query_range 1 per resource pool and metric type (3: GPU on both
//	          levels, CPU on pools, CPU memory on nodes) · nothing per node
//	          pool or per node
//
// On the default simulators (2 Run:ai clusters x 2 pools x 8 nodes, 2
// ModelArts pools x 3 node pools x 4 nodes) that is 26 + 11 = 37 calls.
func TestDashboardOverBothVendorsAtTheMinimumCalls(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{runai: gpuOnly})
	e.resetCounters()
	var data struct {
		NodePools struct {
			Edges []struct {
				Node struct {
					Name    string
					Cluster struct{ Name string }
					Metrics []maSeries
					Nodes   struct {
						Edges []struct {
							Node struct{ Metrics []maSeries }
						}
					}
				}
			}
		}
	}
	e.query(t, dashboard, nil).mustData(t, &data)
	ra, ma := e.ra.Control().Stats(), e.ma.Control().Stats()

	var clusters struct {
		Clusters []struct {
			Name, Provider string
			NodePools      []struct{ Name string }
			Nodes          struct{ TotalCount int }
		}
	}
	e.query(t, `{ clusters { name provider nodePools { name } nodes(first: 1) { totalCount } } }`, nil).mustData(t, &clusters)
	var raClustersN, raPoolsN, raNodesN, maPoolsN int64
	isMA := map[string]bool{}
	for _, c := range clusters.Clusters {
		switch c.Provider {
		case "RUNAI":
			raClustersN++
			raPoolsN += int64(len(c.NodePools))
			raNodesN += int64(c.Nodes.TotalCount)
		case "MODELARTS":
			maPoolsN++
			isMA[c.Name] = true
		}
	}
	if raClustersN < 2 || maPoolsN < 2 {
		t.Fatalf("%d Run:ai clusters, %d ModelArts pools", raClustersN, maPoolsN)
	}
	wantRA := map[string]int64{raToken: 1, raClusters: 1, raNodePools: 1, raNodes: raClustersN,
		raTelemetry: 1, raPoolMetrics: raPoolsN, raNodeMetrics: raNodesN}
	wantMA := map[string]int64{maPools: 1, maNodePools: maPoolsN, maPoolNodes: maPoolsN,
		modelartssim.RouteAOMQueryRange: 3 * maPoolsN}
	if !maps.Equal(ra, wantRA) {
		t.Errorf("Run:ai calls %v, want %v", ra, wantRA)
	}
	if !maps.Equal(ma, wantMA) {
		t.Errorf("ModelArts calls %v, want %v", ma, wantMA)
	}
	total := int64(0)
	for _, n := range wantRA {
		total += n
	}
	for _, n := range wantMA {
		total += n
	}
	if total != 37 {
		t.Errorf("minimum %d, the comment above says 37: update one of them", total)
	}

	cpu, gpu, nodeCPU := 0, 0, 0
	for _, edge := range data.NodePools.Edges {
		if !isMA[edge.Node.Cluster.Name] {
			continue // a Run:ai pool
		}
		for _, s := range edge.Node.Metrics {
			switch {
			case s.Type == "CPU_UTILIZATION" && len(s.Points) > 0:
				cpu++
			case s.Type == "GPU_UTILIZATION" && len(s.Points) > 0:
				gpu++
			}
		}
		for _, n := range edge.Node.Nodes.Edges {
			for _, s := range n.Node.Metrics {
				if s.Type == "CPU_MEMORY_UTILIZATION" && len(s.Points) > 0 {
					nodeCPU++
				}
			}
		}
	}
	if cpu == 0 || gpu == 0 || nodeCPU == 0 {
		t.Fatalf("ModelArts pools with CPU series %d, with GPU series %d; nodes with CPU memory series %d", cpu, gpu, nodeCPU)
	}
}
