package runaisim_test

import (
	"slices"
	"testing"

	"github.com/fleetgraph/fleetgraph/backends/runai"
	"github.com/fleetgraph/fleetgraph/backends/runai/runaisim"
)

type poolsBody struct {
	NodePools []runai.NodePool `json:"nodepools"`
}

func poolIDs(pools []runai.NodePool) []string {
	out := make([]string, len(pools))
	for i, p := range pools {
		out[i] = p.ID
	}
	return out
}

func TestListNodePoolsQueries(t *testing.T) {
	t.Parallel()
	h := newHarness(t, runaisim.Options{Clusters: 2, PoolsPerCluster: 3, NodesPerPool: 2})
	fleet := h.sim.Fleet()
	all := fleet.NodePools
	pick := func(keep func(runai.NodePool) bool) []string {
		var out []string
		for _, p := range all {
			if keep(p) {
				out = append(out, p.ID)
			}
		}
		return out
	}
	c2 := fleet.Clusters[1].UUID
	created := all[2].CreatedAt.Format("2006-01-02T15:04:05Z")
	byNameDesc := slices.Clone(all)
	slices.SortStableFunc(byNameDesc, func(a, b runai.NodePool) int {
		switch {
		case a.Name > b.Name:
			return -1
		case a.Name < b.Name:
			return 1
		}
		return 0
	})

	tests := []struct {
		name  string
		query string
		want  []string
	}{
		{"all", "", poolIDs(all)},
		{"by cluster", "filterBy=clusterId==" + c2, pick(func(p runai.NodePool) bool { return p.ClusterID == c2 })},
		{"by name", "filterBy=name==default", pick(func(p runai.NodePool) bool { return p.Name == "default" })},
		{"phase", "filterBy=phase==Ready", pick(func(p runai.NodePool) bool { return p.Phase == runai.PoolReady })},
		{"network acceleration detected", "filterBy=gpuNetworkAccelerationDetected==true", pick(func(p runai.NodePool) bool { return p.Status.GPUNetworkAccelerationDetected })},
		{"created at or before", "filterBy=createdAt<=" + created, pick(func(p runai.NodePool) bool { return !p.CreatedAt.After(all[2].CreatedAt) })},
		{"created exactly", "filterBy=createdAt==" + created, []string{all[2].ID}},
		{"swap disabled", "filterBy=swapEnabled==false", poolIDs(all)},
		{"sort by name desc", "sortBy=name&sortOrder=desc", poolIDs(byNameDesc)},
		{"paging", "offset=2&limit=3", poolIDs(all[2:5])},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got poolsBody
			h.getJSON(t, "/api/v1/node-pools?"+escapeQuery(tt.query), 200, &got)
			if g := poolIDs(got.NodePools); !slices.Equal(g, tt.want) {
				t.Fatalf("got %v, want %v", g, tt.want)
			}
		})
	}
}

func TestNodePoolByIDAndCount(t *testing.T) {
	t.Parallel()
	h := newHarness(t, runaisim.Options{})
	pools := h.sim.Fleet().NodePools
	var got runai.NodePool
	h.getJSON(t, "/api/v1/node-pools/"+pools[4].ID, 200, &got)
	if got.Name != pools[4].Name || got.ClusterID != pools[4].ClusterID {
		t.Fatalf("got pool %s/%s, want %s/%s", got.ClusterID, got.Name, pools[4].ClusterID, pools[4].Name)
	}
	var count struct{ Count int }
	h.getJSON(t, "/api/v1/node-pools/count?filterBy=name==default", 200, &count)
	if count.Count != 2 {
		t.Fatalf("count of default pools %d, want 2", count.Count)
	}

	tests := []struct {
		name, path string
		status     int
		check      check
	}{
		{"unknown id", "/api/v1/node-pools/9999", 404, checkAll},
		{"bad filter", "/api/v1/node-pools?filterBy=color==red", 400, checkResponse},
		{"date with contains", "/api/v1/node-pools?filterBy=createdAt=@2025", 400, checkAll},
		{"date not a date", "/api/v1/node-pools/count?filterBy=createdAt<=yesterday", 400, checkAll},
		{"limit too large", "/api/v1/node-pools?limit=1000", 400, checkResponse},
		{"bad sortBy", "/api/v1/node-pools?sortBy=color", 400, checkResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := h.get(t, tt.path, tt.check)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %s", status, tt.status, body)
			}
			if e := decodeError(t, body); e.Code != tt.status {
				t.Fatalf("error body %+v", e)
			}
		})
	}
}

func TestClusters(t *testing.T) {
	t.Parallel()
	clk := newClock()
	h := newHarness(t, runaisim.Options{Clusters: 3, Now: clk.Now})
	want := h.sim.Fleet().Clusters
	var list []runai.Cluster
	h.getJSON(t, "/api/v1/clusters", 200, &list)
	if len(list) != 3 || list[2].UUID != want[2].UUID {
		t.Fatalf("listing %d clusters, want 3 in fleet order", len(list))
	}
	if list[0].LastLiveness == nil || !list[0].LastLiveness.Equal(clk.Now()) {
		t.Fatalf("lastLiveness %v, want the simulator's now %v", list[0].LastLiveness, clk.Now())
	}
	if list[0].Status == nil || list[0].Status.State != runai.ClusterConnected {
		t.Fatalf("cluster status %+v, want Connected", list[0].Status)
	}

	var one runai.Cluster
	h.getJSON(t, "/api/v1/clusters/"+want[1].UUID+"?verbosity=metadata", 200, &one)
	if one.Name != "cluster-2" || one.Status != nil {
		t.Fatalf("metadata verbosity: got %s with status %v", one.Name, one.Status)
	}
	status, body := h.get(t, "/api/v1/clusters/00000000-0000-4000-8000-000000000000", checkAll)
	if e := decodeError(t, body); status != 404 || e.Message != "Resource id not found." {
		t.Fatalf("unknown cluster: %d %+v", status, e)
	}
}
