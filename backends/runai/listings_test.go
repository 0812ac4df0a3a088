package runai_test

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/fleetgraph/fleetgraph/backends/runai"
	"github.com/fleetgraph/fleetgraph/backends/runai/runaisim"
)

func TestClusters(t *testing.T) {
	t.Parallel()
	e := setup(t, runaisim.Options{Clusters: 3}, nil)
	want := e.sim.Fleet().Clusters
	got, err := e.client.ListClusters(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("%d clusters, want 3", len(got))
	}
	for i, c := range got {
		if c.UUID != want[i].UUID || c.Name != want[i].Name || c.Status == nil || c.Status.State != runai.ClusterConnected ||
			c.Status.Platform == nil || c.LastLiveness == nil || !c.CreatedAt.Equal(want[i].CreatedAt) {
			t.Fatalf("cluster %d: got %+v", i, c)
		}
		checkRaw(t, c.Raw, "uuid", c.UUID)
	}
	one, err := e.client.GetCluster(t.Context(), want[2].UUID)
	if err != nil {
		t.Fatal(err)
	}
	if one.Name != "cluster-3" || one.Version == nil || *one.Version != *want[2].Version {
		t.Fatalf("GetCluster: %+v", one)
	}
	checkRaw(t, one.Raw, "uuid", one.UUID)
}

// checkRaw checks that raw is one vendor object whose key holds want.
func checkRaw(t *testing.T, raw json.RawMessage, key, want string) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("Raw is not a JSON object: %v: %s", err, raw)
	}
	if m[key] != want {
		t.Fatalf("Raw has %s %v, want %s", key, m[key], want)
	}
}

func TestListNodesFollowsPages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		pools     int
		perPool   int
		pageSize  int
		wantCalls int64
	}{
		{"10 nodes by 4: 4+4+2", 2, 5, 4, 3},
		{"8 nodes by 4: 4+4+0", 2, 4, 4, 3},
		{"3 nodes by 1", 1, 3, 1, 4},
		{"default page size", 2, 4, 0, 1},
		{"page size 500 on 500 nodes", 2, 250, 500, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, runaisim.Options{Clusters: 2, PoolsPerCluster: tt.pools, NodesPerPool: tt.perPool},
				func(c *runai.Config) { c.PageSize = tt.pageSize })
			fleet := e.sim.Fleet()
			cl := fleet.Clusters[1].UUID
			got, err := e.client.ListNodes(t.Context(), cl, nil)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, n := range fleet.Nodes {
				if n.ClusterUUID == cl {
					want = append(want, n.ID)
				}
			}
			if ids := nodeIDs(got); !slices.Equal(ids, want) {
				t.Fatalf("got %d nodes %v\nwant %d %v", len(ids), ids, len(want), want)
			}
			if calls := e.count(routeNodes); calls != tt.wantCalls {
				t.Fatalf("%d page calls, want %d", calls, tt.wantCalls)
			}
			for _, n := range got {
				checkRaw(t, n.Raw, "id", n.ID)
			}
		})
	}
}

func nodeIDs(nodes []runai.Node) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = n.ID
	}
	return out
}

func TestListNodesOptions(t *testing.T) {
	t.Parallel()
	e := setup(t, runaisim.Options{Clusters: 1, NodesPerPool: 6}, func(c *runai.Config) { c.PageSize = 5 })
	fleet := e.sim.Fleet()
	cl := fleet.Clusters[0].UUID
	opts := &runai.NodeListOptions{
		FilterBy:  []string{"nodePool==default", "status==Ready"},
		SortBy:    "name",
		SortOrder: "desc",
		Search:    "node",
	}
	got, err := e.client.ListNodes(t.Context(), cl, opts)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, n := range slices.Backward(fleet.Nodes) {
		if n.NodePool == "default" && n.Status == runai.NodeReady {
			want = append(want, n.Name)
		}
	}
	var names []string
	for _, n := range got {
		names = append(names, n.Name)
		if n.GPUInfo == nil || n.GPUInfo.GPUCount == 0 || n.ClusterUUID != cl || n.CreatedAt.IsZero() {
			t.Fatalf("node decoded incompletely: %+v", n)
		}
	}
	if !slices.Equal(names, want) || len(want) < 2 {
		t.Fatalf("got %v, want %v", names, want)
	}
	// Array parameters are one comma-separated parameter (explode: false).
	ex := e.rec.Exchanges()
	raw := ex[len(ex)-1].RawQuery
	if !strings.Contains(raw, "filterBy=nodePool%3D%3Ddefault,status%3D%3DReady") {
		t.Fatalf("raw query %q does not carry filterBy as one comma-separated parameter", raw)
	}
	q, _ := url.ParseQuery(raw)
	if q.Get("sortBy") != "name" || q.Get("sortOrder") != "desc" || q.Get("search") != "node" || q.Get("limit") != "5" {
		t.Fatalf("query %v", q)
	}

	n, err := e.client.CountNodes(t.Context(), cl, []string{"nodePool==default", "status==Ready"})
	if err != nil || n != int64(len(want)) {
		t.Fatalf("CountNodes = %d, %v; want %d", n, err, len(want))
	}
	cpu := slices.IndexFunc(fleet.Nodes, func(n runai.Node) bool { return n.GPUInfo == nil })
	cpuNodes, err := e.client.ListNodes(t.Context(), cl, &runai.NodeListOptions{FilterBy: []string{"name==" + fleet.Nodes[cpu].Name}})
	if err != nil || len(cpuNodes) != 1 || cpuNodes[0].GPUInfo != nil {
		t.Fatalf("CPU node: %+v, %v; want one node with gpuInfo null", cpuNodes, err)
	}
}

func TestNodePools(t *testing.T) {
	t.Parallel()
	e := setup(t, runaisim.Options{Clusters: 2, PoolsPerCluster: 3}, func(c *runai.Config) { c.PageSize = 4 })
	fleet := e.sim.Fleet()
	all, err := e.client.ListNodePools(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 6 || e.count("GET /api/v1/node-pools") != 2 {
		t.Fatalf("%d pools in %d calls, want 6 in 2", len(all), e.count("GET /api/v1/node-pools"))
	}
	for i, p := range all {
		w := fleet.NodePools[i]
		if p.ID != w.ID || p.Name != w.Name || p.ClusterName != w.ClusterName || p.Status == nil ||
			!slices.Equal(p.Status.Nodes, w.Status.Nodes) || p.PlacementStrategy == nil || *p.PlacementStrategy.GPU != "binpack" {
			t.Fatalf("pool %d: got %+v", i, p)
		}
		checkRaw(t, p.Raw, "id", p.ID)
	}

	c2 := fleet.Clusters[1].UUID
	some, err := e.client.ListNodePools(t.Context(), &runai.NodePoolListOptions{
		FilterBy: []string{"clusterId==" + c2}, SortBy: "name", SortOrder: "asc",
	})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range some {
		names = append(names, p.Name)
	}
	if !slices.IsSorted(names) || len(names) != 3 {
		t.Fatalf("pools of cluster 2 by name: %v", names)
	}

	n, err := e.client.CountNodePools(t.Context(), []string{"name==default"})
	if err != nil || n != 2 {
		t.Fatalf("CountNodePools = %d, %v; want 2", n, err)
	}
	p, err := e.client.GetNodePool(t.Context(), fleet.NodePools[5].ID)
	if err != nil || p.Name != fleet.NodePools[5].Name || p.IsDefault != fleet.NodePools[5].IsDefault {
		t.Fatalf("GetNodePool = %+v, %v", p, err)
	}
	checkRaw(t, p.Raw, "id", p.ID)
}
