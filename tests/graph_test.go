package tests

import (
	"testing"

	"github.com/fleetgraph/fleetgraph/backends/modelarts/modelartssim"
	"github.com/fleetgraph/fleetgraph/backends/runai/runaisim"
)

// Route templates, as the simulators count them.
const (
	raToken       = "POST /api/v1/token"
	raClusters    = "GET /api/v1/clusters"
	raNodes       = "GET /api/v1/clusters/{clusterUuid}/nodes"
	raNodePools   = "GET /api/v1/node-pools"
	raNodeMetrics = "GET /api/v1/nodes/{nodeId}/metrics"
	raPoolMetrics = "GET /api/v1/clusters/{clusterUuid}/nodepools/{nodepoolName}/metrics"
	raTelemetry   = "GET /api/v1/nodes/telemetry"
	maPools       = "GET /v2/{project_id}/pools"
	maNodePools   = "GET /v2/{project_id}/pools/{pool_name}/nodepools"
	maNPNodes     = "GET /v2/{project_id}/pools/{pool_name}/nodepools/{nodepool_name}/nodes"
	maPoolNodes   = "GET /v2/{project_id}/pools/{pool_name}/nodes"
)

type cluster struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Provider string `json:"provider"`
	Backend  string `json:"backend"`
	VendorID string `json:"vendorId"`
}

func TestClustersOfBothProviders(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{runai: runaisim.Options{Clusters: 3}, modelarts: modelartssim.Options{Pools: 2}})
	var data struct{ Clusters []cluster }
	e.query(t, `{ clusters { id name provider backend vendorId } }`, nil).mustData(t, &data)
	count := map[string]int{}
	for _, c := range data.Clusters {
		count[c.Provider]++
		if c.ID == "" || c.Name == "" || c.VendorID == "" {
			t.Errorf("incomplete cluster %+v", c)
		}
	}
	if count["RUNAI"] != 3 || count["MODELARTS"] != 2 {
		t.Fatalf("clusters by provider %v, want RUNAI 3 MODELARTS 2", count)
	}
	// One listing per backend, and one token for the Run:ai client; AK/SK needs none.
	if got := e.ra.Control().Count(raClusters); got != 1 {
		t.Errorf("%s called %d times, want 1", raClusters, got)
	}
	if got := e.ma.Control().Count(maPools); got != 1 {
		t.Errorf("%s called %d times, want 1", maPools, got)
	}
	if got := e.ra.Control().Count(raToken); got != 1 {
		t.Errorf("%s called %d times, want 1", raToken, got)
	}

	// A provider filter calls only that provider.
	e.resetCounters()
	var only struct{ Clusters []cluster }
	e.query(t, `{ clusters(provider: MODELARTS) { id provider } }`, nil).mustData(t, &only)
	if len(only.Clusters) != 2 || e.ra.Control().Total() != 0 {
		t.Fatalf("provider filter: %d clusters, %d Run:ai calls", len(only.Clusters), e.ra.Control().Total())
	}

	// cluster(id) round-trips every ID.
	for _, c := range data.Clusters {
		var one struct{ Cluster *cluster }
		e.query(t, `query($id: ID!) { cluster(id: $id) { id name provider } }`, map[string]any{"id": c.ID}).mustData(t, &one)
		if one.Cluster == nil || one.Cluster.ID != c.ID || one.Cluster.Name != c.Name {
			t.Fatalf("cluster(%s) = %+v, want %+v", c.ID, one.Cluster, c)
		}
	}
}

func TestNodesOfManyPoolsBatchPerCluster(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{
		runai:     runaisim.Options{Clusters: 2, PoolsPerCluster: 3, NodesPerPool: 4},
		modelarts: modelartssim.Options{Pools: 2, NodePoolsPerPool: 3, NodesPerNodePool: 4},
	})
	e.query(t, `{ clusters { id } }`, nil) // warm the token: counted below from zero
	e.resetCounters()
	var data struct {
		NodePools struct {
			TotalCount int
			Edges      []struct {
				Node struct {
					Name     string
					Provider string
					Nodes    struct {
						TotalCount int
						Edges      []struct{ Node struct{ Name, Status string } }
					}
				}
			}
		}
	}
	e.query(t, `{ nodePools(first: 500) { totalCount edges { node { name provider
		nodes(first: 500) { totalCount edges { node { name status } } } } } } }`, nil).mustData(t, &data)
	if data.NodePools.TotalCount != 12 {
		t.Fatalf("%d node pools, want 12", data.NodePools.TotalCount)
	}
	for _, edge := range data.NodePools.Edges {
		if edge.Node.Nodes.TotalCount != 4 || len(edge.Node.Nodes.Edges) != 4 {
			t.Errorf("pool %s (%s) has %d nodes, want 4", edge.Node.Name, edge.Node.Provider, edge.Node.Nodes.TotalCount)
		}
	}
	// Run:ai: one node listing per cluster (not per pool), one pool listing per backend.
	want := map[string]int64{raNodes: 2, raNodePools: 1, raClusters: 0, raToken: 0} // pools carry their cluster: no cluster listing
	for route, n := range want {
		if got := e.ra.Control().Count(route); got != n {
			t.Errorf("%s called %d times, want %d", route, got, n)
		}
	}
	// ModelArts: one node listing per resource pool, shared by its node
	// pools (filtered on the node-pool name label), one node-pool listing
	// per resource pool.
	want = map[string]int64{maNPNodes: 0, maNodePools: 2, maPools: 1, maPoolNodes: 2}
	for route, n := range want {
		if got := e.ma.Control().Count(route); got != n {
			t.Errorf("%s called %d times, want %d", route, got, n)
		}
	}
}

func TestIdenticalRequestsNeverRepeatWithinARequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.query(t, `{ clusters { id } }`, nil)
	e.resetCounters()
	// Every node asks for its cluster and its pool; every pool for its cluster.
	r := e.query(t, `{ nodes(first: 500) { totalCount edges { node { name cluster { name } nodePool { name cluster { name } } } } } }`, nil)
	var data struct{ Nodes struct{ TotalCount int } }
	r.mustData(t, &data)
	if data.Nodes.TotalCount == 0 {
		t.Fatal("no nodes")
	}
	for route, n := range map[string]int64{raClusters: 1, raNodePools: 1, raNodes: 2} {
		if got := e.ra.Control().Count(route); got != n {
			t.Errorf("%s called %d times, want %d", route, got, n)
		}
	}
	for route, n := range map[string]int64{maPools: 1, maNodePools: 2, maPoolNodes: 2} {
		if got := e.ma.Control().Count(route); got != n {
			t.Errorf("%s called %d times, want %d", route, got, n)
		}
	}
}
