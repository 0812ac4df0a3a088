package runaisim_test

import (
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/fleetgraph/fleetgraph/backends/runai"
	"github.com/fleetgraph/fleetgraph/backends/runai/runaisim"
)

type nodesBody struct {
	Nodes []runai.Node `json:"nodes"`
}

func names(nodes []runai.Node) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = n.Name
	}
	return out
}

func TestListNodesQueries(t *testing.T) {
	t.Parallel()
	h := newHarness(t, runaisim.Options{Seed: 5, Clusters: 1, PoolsPerCluster: 3, NodesPerPool: 4})
	fleet := h.sim.Fleet()
	cl := fleet.Clusters[0].UUID
	all := fleet.Nodes
	// pick returns the fleet's node names (in creation order) that keep holds for.
	pick := func(keep func(runai.Node) bool) []string {
		var out []string
		for _, n := range all {
			if keep(n) {
				out = append(out, n.Name)
			}
		}
		return out
	}
	h100 := all[0].GPUInfo.GPUType // the default pool of cluster 1 runs H100s
	sorted := names(all)
	slices.Sort(sorted)
	reversed := slices.Clone(sorted)
	slices.Reverse(reversed)

	tests := []struct {
		name  string
		query string
		want  []string
	}{
		{"all", "", names(all)},
		{"name ==", "filterBy=name==" + all[5].Name, []string{all[5].Name}},
		{"name !=", "filterBy=name!=" + all[5].Name, pick(func(n runai.Node) bool { return n.Name != all[5].Name })},
		{"status", "filterBy=status==NotReady", pick(func(n runai.Node) bool { return n.Status == "NotReady" })},
		{"pool", "filterBy=nodePool==default", pick(func(n runai.Node) bool { return n.NodePool == "default" })},
		{"gpuType contains", "filterBy=gpuType=@H100", pick(func(n runai.Node) bool { return n.GPUInfo != nil && n.GPUInfo.GPUType == h100 })},
		{"gpuType does not contain (CPU nodes included)", "filterBy=gpuType!@H100", pick(func(n runai.Node) bool { return n.GPUInfo == nil || n.GPUInfo.GPUType != h100 })},
		{"name starts with", "filterBy=name=^c1-cpu", pick(func(n runai.Node) bool { return strings.HasPrefix(n.Name, "c1-cpu") })},
		{"name ends with", "filterBy=name=$-01", pick(func(n runai.Node) bool { return strings.HasSuffix(n.Name, "-01") })},
		{"name <=", "filterBy=name<=" + sorted[2], sorted[:3]},
		{"name >=", "filterBy=name>=" + sorted[9], sorted[9:]},
		{"nvLink domain set", "filterBy=nvLinkDomainUid=@-", pick(func(n runai.Node) bool { return n.NvLinkDomainUID != nil })},
		{"two filters AND", "filterBy=nodePool==default,name=$-02", pick(func(n runai.Node) bool { return n.NodePool == "default" && strings.HasSuffix(n.Name, "-02") })},
		{"sort by name desc", "sortBy=name&sortOrder=desc", reversed},
		{"sort by status then paging", "sortBy=status&offset=0&limit=3", firstN(stableSortBy(all, func(n runai.Node) string { return n.Status }), 3)},
		{"offset and limit", "offset=4&limit=3", names(all)[4:7]},
		{"offset past the end", "offset=100", nil},
		{"search", "search=CPU-NODE-0", pick(func(n runai.Node) bool { return strings.Contains(n.Name, "cpu-node-0") })},
		{"legacy nodeName", "nodeName=" + all[3].Name, []string{all[3].Name}},
		{"legacy nodeName unknown", "nodeName=nope", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got nodesBody
			h.getJSON(t, "/api/v1/clusters/"+cl+"/nodes?"+escapeQuery(tt.query), 200, &got)
			if g := names(got.Nodes); !slices.Equal(g, tt.want) && (len(g) != 0 || len(tt.want) != 0) {
				t.Fatalf("got %v\nwant %v", g, tt.want)
			}
			var count struct{ Count int }
			if !strings.Contains(tt.query, "offset") && !strings.Contains(tt.query, "nodeName") {
				h.getJSON(t, "/api/v1/clusters/"+cl+"/nodes/count?"+escapeQuery(tt.query), 200, &count)
				if count.Count != len(tt.want) {
					t.Fatalf("count %d, listing %d", count.Count, len(tt.want))
				}
			}
		})
	}
}

// escapeQuery encodes a readable query ("filterBy=name==a,b&limit=2").
func escapeQuery(raw string) string {
	if raw == "" {
		return ""
	}
	q := url.Values{}
	for kv := range strings.SplitSeq(raw, "&") {
		k, v, _ := strings.Cut(kv, "=")
		q.Add(k, v)
	}
	return q.Encode()
}

func stableSortBy(nodes []runai.Node, key func(runai.Node) string) []runai.Node {
	out := slices.Clone(nodes)
	slices.SortStableFunc(out, func(a, b runai.Node) int { return strings.Compare(key(a), key(b)) })
	return out
}

func firstN(nodes []runai.Node, n int) []string { return names(nodes)[:n] }

func TestListNodesPagingDefaults(t *testing.T) {
	t.Parallel()
	h := newHarness(t, runaisim.Options{Clusters: 1, PoolsPerCluster: 4, NodesPerPool: 20})
	cl := h.sim.Fleet().Clusters[0].UUID
	var got nodesBody
	h.getJSON(t, "/api/v1/clusters/"+cl+"/nodes", 200, &got)
	if len(got.Nodes) != 50 {
		t.Fatalf("default page has %d nodes, want 50", len(got.Nodes))
	}
	h.getJSON(t, "/api/v1/clusters/"+cl+"/nodes?limit=500", 200, &got)
	if len(got.Nodes) != 80 {
		t.Fatalf("limit=500 gave %d nodes, want all 80", len(got.Nodes))
	}
}

func TestListNodesErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t, runaisim.Options{})
	cl := h.sim.Fleet().Clusters[0].UUID
	// The document declares no 400 for the nodes listing (its count does);
	// the simulator answers bad parameters with one anyway.
	tests := []struct {
		name, path string
		status     int
		check      check
	}{
		{"unknown cluster", "/api/v1/clusters/00000000-0000-4000-8000-000000000000/nodes", 404, checkAll},
		{"unknown cluster count", "/api/v1/clusters/00000000-0000-4000-8000-000000000000/nodes/count", 404, checkNothing},
		{"limit 0", "/api/v1/clusters/" + cl + "/nodes?limit=0", 400, checkNothing},
		{"limit 501", "/api/v1/clusters/" + cl + "/nodes?limit=501", 400, checkNothing},
		{"negative offset", "/api/v1/clusters/" + cl + "/nodes?offset=-1", 400, checkNothing},
		{"unknown filter field", "/api/v1/clusters/" + cl + "/nodes?filterBy=color==red", 400, checkNothing},
		{"no operator", "/api/v1/clusters/" + cl + "/nodes/count?filterBy=name", 400, checkResponse},
		{"bad sortBy", "/api/v1/clusters/" + cl + "/nodes?sortBy=color", 400, checkNothing},
		{"bad sortOrder", "/api/v1/clusters/" + cl + "/nodes?sortOrder=up", 400, checkNothing},
		{"nodeName with limit", "/api/v1/clusters/" + cl + "/nodes?nodeName=a&limit=5", 400, checkNothing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := h.get(t, tt.path, tt.check)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %s", status, tt.status, body)
			}
			if e := decodeError(t, body); e.Code != tt.status || e.Message == "" {
				t.Fatalf("error body %+v", e)
			}
		})
	}
}
