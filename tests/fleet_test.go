package tests

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/fleetgraph/fleetgraph/app"
)

func TestNodePagination(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	type page struct {
		Nodes struct {
			TotalCount int
			PageInfo   struct {
				HasNextPage bool
				EndCursor   *string
			}
			Edges []struct {
				Cursor string
				Node   struct{ ID string }
			}
		}
	}
	const q = `query($after: String) { nodes(first: 7, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id } } } }`
	seen := map[string]bool{}
	var after any
	pages := 0
	for {
		var p page
		e.query(t, q, map[string]any{"after": after}).mustData(t, &p)
		pages++
		for _, edge := range p.Nodes.Edges {
			if seen[edge.Node.ID] {
				t.Fatalf("node %s on two pages", edge.Node.ID)
			}
			seen[edge.Node.ID] = true
		}
		if !p.Nodes.PageInfo.HasNextPage {
			if len(seen) != p.Nodes.TotalCount {
				t.Fatalf("walked %d nodes, totalCount %d", len(seen), p.Nodes.TotalCount)
			}
			break
		}
		if p.Nodes.PageInfo.EndCursor == nil || len(p.Nodes.Edges) != 7 {
			t.Fatalf("page %d: %d edges, endCursor %v", pages, len(p.Nodes.Edges), p.Nodes.PageInfo.EndCursor)
		}
		after = *p.Nodes.PageInfo.EndCursor
	}
	// Default fleet: 2 clusters x 3 pools x 4 nodes per vendor = 48 nodes.
	if len(seen) != 48 || pages != 7 {
		t.Fatalf("%d nodes over %d pages, want 48 over 7", len(seen), pages)
	}
}

func TestLookupsRoundTrip(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	var data struct {
		NodePools struct {
			Edges []struct {
				Node struct {
					ID, Name, Provider string
					Cluster            struct{ ID string }
					Nodes              struct {
						Edges []struct{ Node struct{ ID, Name string } }
					}
				}
			}
		}
	}
	e.query(t, `{ nodePools { edges { node { id name provider cluster { id } nodes(first: 1) { edges { node { id name } } } } } } }`, nil).mustData(t, &data)
	for _, edge := range data.NodePools.Edges {
		p := edge.Node
		var one struct {
			NodePool *struct {
				ID, Name string
				Cluster  struct{ ID string }
			}
		}
		e.query(t, `query($id: ID!) { nodePool(id: $id) { id name cluster { id } } }`, map[string]any{"id": p.ID}).mustData(t, &one)
		if one.NodePool == nil || one.NodePool.Name != p.Name || one.NodePool.Cluster.ID != p.Cluster.ID {
			t.Fatalf("nodePool(%s) = %+v, want %s", p.ID, one.NodePool, p.Name)
		}
		if len(p.Nodes.Edges) == 0 {
			continue
		}
		n := p.Nodes.Edges[0].Node
		var node struct {
			Node *struct {
				Name     string
				NodePool *struct{ ID string }
				Cluster  struct{ ID string }
			}
		}
		e.query(t, `query($id: ID!) { node(id: $id) { name nodePool { id } cluster { id } } }`, map[string]any{"id": n.ID}).mustData(t, &node)
		if node.Node == nil || node.Node.Name != n.Name || node.Node.NodePool == nil || node.Node.NodePool.ID != p.ID || node.Node.Cluster.ID != p.Cluster.ID {
			t.Fatalf("node(%s) = %+v, want %s in pool %s", n.ID, node.Node, n.Name, p.ID)
		}
	}
}

func TestFleetSummaryMatchesTheSimulatedFleet(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	wantNodes, wantGPUs, wantReady := 0, 0, 0
	for _, n := range e.ra.Fleet().Nodes {
		wantNodes++
		if n.GPUInfo != nil {
			wantGPUs += n.GPUInfo.GPUCount
		}
		if n.Status == "Ready" {
			wantReady++
		}
	}
	for _, nodes := range e.ma.Fleet().Nodes {
		for _, n := range nodes {
			wantNodes++
			if n.Status.Phase == "Available" {
				wantReady++
			}
		}
	}
	var data struct {
		FleetSummary struct {
			Nodes, ReadyNodes, Gpus, AllocatedGpus int
			ByProvider                             []struct {
				Key         string
				Nodes, Gpus int
			}
			ByGpuType []struct {
				Key   string
				Nodes int
			}
		}
	}
	e.query(t, `{ fleetSummary { nodes readyNodes gpus allocatedGpus byProvider { key nodes gpus } byGpuType { key nodes } } }`, nil).mustData(t, &data)
	s := data.FleetSummary
	if s.Nodes != wantNodes || s.ReadyNodes != wantReady {
		t.Fatalf("summary %+v, want nodes %d ready %d", s, wantNodes, wantReady)
	}
	raGPUs := 0
	for _, g := range s.ByProvider {
		if g.Key == "RUNAI" {
			raGPUs = g.Gpus
		}
	}
	if raGPUs != wantGPUs {
		t.Fatalf("Run:ai GPUs %d, want %d", raGPUs, wantGPUs)
	}
	if s.AllocatedGpus <= 0 || s.AllocatedGpus > s.Gpus {
		t.Fatalf("allocated %d of %d GPUs", s.AllocatedGpus, s.Gpus)
	}
	if got := e.ra.Control().Count(raTelemetry); got != 1 {
		t.Fatalf("%s called %d times, want 1 (allocation for every node)", raTelemetry, got)
	}
	// Without allocatedGpus no telemetry call is made.
	e.resetCounters()
	e.query(t, `{ fleetSummary { nodes } }`, nil).mustData(t, &data)
	if got := e.ra.Control().Count(raTelemetry); got != 0 {
		t.Fatalf("%s called %d times without allocatedGpus, want 0", raTelemetry, got)
	}
}

func TestNodeTelemetry(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	var data struct {
		NodeTelemetry []struct {
			Provider, Backend, Type string
			Value                   float64
			Groups                  []struct{ Key, Value string }
		}
	}
	e.query(t, `{ nodeTelemetry(type: TOTAL_GPUS, groupBy: [CLUSTER_ID]) { provider backend type value groups { key value } } }`, nil).mustData(t, &data)
	if len(data.NodeTelemetry) != 2 {
		t.Fatalf("%d values, want one per cluster (2)", len(data.NodeTelemetry))
	}
	total := 0.0
	for _, v := range data.NodeTelemetry {
		total += v.Value
		if v.Provider != "RUNAI" || v.Type != "TOTAL_GPUS" || len(v.Groups) != 1 {
			t.Fatalf("value %+v", v)
		}
	}
	want := 0
	for _, n := range e.ra.Fleet().Nodes {
		if n.GPUInfo != nil {
			want += n.GPUInfo.GPUCount
		}
	}
	if int(total) != want {
		t.Fatalf("TOTAL_GPUS sums to %v, want %d", total, want)
	}
}

func TestGraphiQLAndHealth(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	for path, want := range map[string]string{"/": "graphiql", "/healthz": "ok"} {
		resp, err := http.Get(e.gw.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(strings.ToLower(string(body)), want) {
			t.Fatalf("GET %s: %d %.80s", path, resp.StatusCode, body)
		}
		if path == "/" && strings.Contains(string(body), "https://") {
			t.Fatalf("GraphiQL page references the internet")
		}
	}
}

func TestDemoModeWiring(t *testing.T) {
	t.Parallel()
	sims, err := app.StartSims(app.SimOptions{RunAIAddr: "127.0.0.1:0", ModelArtsAddr: "127.0.0.1:0", Clusters: 1, Pools: 2, NodesPerPool: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sims.Close)
	mr, err := app.StartRedis()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mr.Close)
	gw, err := app.Build(sims.DemoConfig())
	if err != nil {
		t.Fatal(err)
	}
	e := &env{ra: sims.RunAISim, ma: sims.ModelArtsSim}
	srv := newServer(t, gw)
	e.gw = srv
	var data struct {
		Backends     []struct{ Name, Provider string }
		FleetSummary struct{ Nodes int }
	}
	e.query(t, `{ backends { name provider } fleetSummary { nodes } }`, nil).mustData(t, &data)
	if len(data.Backends) != 2 || data.FleetSummary.Nodes != 12 {
		t.Fatalf("demo: %+v", data)
	}
	// The real auth paths ran: a Run:ai token was issued, ModelArts requests were AK/SK-signed.
	if sims.RunAISim.Control().Count(raToken) != 1 || sims.ModelArtsSim.Control().Count(maPools) != 1 {
		t.Fatalf("Run:ai stats %v, ModelArts stats %v", sims.RunAISim.Control().Stats(), sims.ModelArtsSim.Control().Stats())
	}
}
