package tests

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetgraph/fleetgraph/backends/modelarts"
	"github.com/fleetgraph/fleetgraph/backends/runai/runaisim"
)

// placementEnv is the default Run:ai fleet (cluster 1: a100 pool of four
// 8-GPU nodes, the fourth NotReady; cluster 2: default pool of four 4-GPU
// A100 nodes) and a ModelArts fleet whose GPU pool has an A100 node pool
// (nodepool-4: four 8-card nodes, the second Abnormal), with known
// allocations pinned on every A100 node and the Run:ai clock frozen.
type placementEnv struct {
	*env
	maA100 []string // the ModelArts A100 nodes in listing order
}

func newPlacementEnv(t *testing.T, o envOptions) placementEnv {
	t.Helper()
	at := time.Now()
	o.runai.Now = func() time.Time { return at }
	o.modelarts.NodePoolsPerPool = 4
	e := placementEnv{env: newEnv(t, o)}
	pins := map[string]int{
		"c1-a100-node-01": 0, "c1-a100-node-02": 1, "c1-a100-node-03": 0, "c1-a100-node-04": 0, // 8, 7, 8 free; 04 NotReady
		"c2-default-node-01": 0, "c2-default-node-02": 2, "c2-default-node-03": 4, "c2-default-node-04": 1, // 4, 2, 0, 3 free
	}
	for name, n := range pins {
		if err := e.ra.SetAllocated(name, n); err != nil {
			t.Fatal(err)
		}
	}
	f := e.ma.Fleet()
	for _, n := range f.Nodes[f.Pools[0].Metadata.Name] {
		if n.Spec.Flavor == "modelarts.bm.gpu.8a100" {
			e.maA100 = append(e.maA100, n.Metadata.Name)
		}
	}
	if len(e.maA100) != 4 {
		t.Fatalf("%d ModelArts A100 nodes, want 4", len(e.maA100))
	}
	phases := map[string]string{}
	for _, n := range f.Nodes[f.Pools[0].Metadata.Name] {
		phases[n.Metadata.Name] = n.Status.Phase
	}
	want := []string{modelarts.NodeAvailable, modelarts.NodeAbnormal, modelarts.NodeAvailable, modelarts.NodeAvailable}
	for i, used := range []int{0, 0, 2, 0} { // 8, (Abnormal: 8 available, none free), 6, 8 free
		if phases[e.maA100[i]] != want[i] {
			t.Fatalf("ModelArts A100 node %d is %s, want %s: the fixture moved", i, phases[e.maA100[i]], want[i])
		}
		if err := e.ma.SetAllocated(e.maA100[i], used); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

type placementJSON struct {
	Provider         string
	Vendor, Model    string
	FreeAccelerators int
	LeftOver         int
	NodePool         *struct{ Name string }
	Nodes            []struct{ Name string }
}

func (p placementJSON) names() string {
	var out []string
	for _, n := range p.Nodes {
		out = append(out, n.Name)
	}
	return strings.Join(out, "+")
}

const placementsQuery = `query($r: PlacementRequest!) { placements(request: $r) {
	provider vendor model freeAccelerators leftOver nodes { name } } }`

func (e placementEnv) placements(t *testing.T, query string, r map[string]any) []placementJSON {
	t.Helper()
	var data struct{ Placements []placementJSON }
	e.query(t, query, map[string]any{"r": r}).mustData(t, &data)
	return data.Placements
}

// TestPlacementsEightA100OnOneNode: exactly the READY nodes with 8 free
// A100s of both providers, at the minimum upstream calls, and none warm.
func TestPlacementsEightA100OnOneNode(t *testing.T) {
	t.Parallel()
	e := newPlacementEnv(t, envOptions{configure: withRedis(newMiniredis(t).Addr(), nil)})
	e.resetCounters()
	got := e.placements(t, placementsQuery, map[string]any{"accelerators": 8, "model": "A100"})
	var names []string
	for _, p := range got {
		names = append(names, p.names())
		if p.Model != "A100" || p.Vendor != "NVIDIA" || p.FreeAccelerators != 8 || p.LeftOver != 0 || len(p.Nodes) != 1 {
			t.Errorf("placement %+v", p)
		}
	}
	// Best fit ties (leftOver 0): provider, then backend, cluster, pool, name.
	want := append(slices.Sorted(slices.Values([]string{e.maA100[0], e.maA100[3]})), "c1-a100-node-01", "c1-a100-node-03")
	if !slices.Equal(names, want) {
		t.Fatalf("placements %v, want %v", names, want)
	}
	// Cold: Run:ai 2.22 one cluster listing, one node listing per cluster
	// (2), one FREE_GPUS telemetry call; ModelArts one pool listing, one
	// node listing per resource pool (2), no free-count call. 7 in all.
	wantRA := map[string]int64{raToken: 1, raClusters: 1, raNodes: 2, raTelemetry: 1}
	wantMA := map[string]int64{maPools: 1, maPoolNodes: 2}
	assertRoutes(t, e.env, wantRA, wantMA)
	if n := e.upstreamCalls(); n != 8 {
		t.Errorf("%d upstream calls, want 8 (7 and the token)", n)
	}

	e.resetCounters()
	again := e.placements(t, placementsQuery, map[string]any{"accelerators": 8, "model": "A100"})
	if n := e.upstreamCalls(); n != 0 {
		t.Fatalf("warm placements made %d upstream calls (Run:ai %v, ModelArts %v), want 0", n, e.ra.Control().Stats(), e.ma.Control().Stats())
	}
	if len(again) != len(got) {
		t.Fatalf("warm answer has %d placements, cold %d", len(again), len(got))
	}
}

// TestPlacementsOnRunAI223: from Run:ai 2.23 the nodes of every cluster
// come from one tenant-wide listing: 6 upstream calls cold instead of 7.
func TestPlacementsOnRunAI223(t *testing.T) {
	t.Parallel()
	e := newPlacementEnv(t, envOptions{runai: runaisim.Options{Version: runaisim.Version223}})
	e.resetCounters()
	got := e.placements(t, placementsQuery, map[string]any{"accelerators": 8, "model": "A100"})
	if len(got) != 4 {
		t.Fatalf("%d placements, want 4", len(got))
	}
	assertRoutes(t, e.env, map[string]int64{raToken: 1, raClusters: 1, raTenantNodes: 1, raTelemetry: 1},
		map[string]int64{maPools: 1, maPoolNodes: 2})
}

func assertRoutes(t *testing.T, e *env, ra, ma map[string]int64) {
	t.Helper()
	for route, n := range ra {
		if got := e.ra.Control().Count(route); got != n {
			t.Errorf("Run:ai %s called %d times, want %d", route, got, n)
		}
	}
	for route, n := range ma {
		if got := e.ma.Control().Count(route); got != n {
			t.Errorf("ModelArts %s called %d times, want %d", route, got, n)
		}
	}
	var sum int64
	for _, n := range ra {
		sum += n
	}
	for _, n := range ma {
		sum += n
	}
	if total := e.upstreamCalls(); total != sum {
		t.Errorf("%d upstream calls, want %d (Run:ai %v, ModelArts %v)", total, sum, e.ra.Control().Stats(), e.ma.Control().Stats())
	}
}

// TestPlacementsRankByBestFit: four A100s fit on more nodes; the fewest
// left over come first. Not-ready nodes (Run:ai NotReady, ModelArts
// Abnormal with all its cards available) never appear.
func TestPlacementsRankByBestFit(t *testing.T) {
	t.Parallel()
	e := newPlacementEnv(t, envOptions{})
	got := e.placements(t, placementsQuery, map[string]any{"accelerators": 4, "model": "a100", "vendor": "nvidia"})
	var left []int
	var names []string
	for _, p := range got {
		left = append(left, p.LeftOver)
		names = append(names, p.names())
	}
	if want := []int{0, 2, 3, 4, 4, 4, 4}; !slices.Equal(left, want) {
		t.Fatalf("leftOver %v (%v), want %v", left, names, want)
	}
	if want := []string{"c2-default-node-01", e.maA100[2], "c1-a100-node-02"}; !slices.Equal(names[:3], want) {
		t.Fatalf("best fits %v, want %v", names[:3], want)
	}
	for _, bad := range []string{"c1-a100-node-04", e.maA100[1]} {
		if slices.Contains(names, bad) {
			t.Errorf("not-ready node %s offered", bad)
		}
	}

	// A provider filter asks only that provider: no Run:ai call at all.
	e.resetCounters()
	ma := e.placements(t, placementsQuery, map[string]any{"accelerators": 4, "model": "A100", "provider": "MODELARTS"})
	if len(ma) != 3 || e.ra.Control().Total() != 0 {
		t.Fatalf("MODELARTS only: %d placements, %d Run:ai calls", len(ma), e.ra.Control().Total())
	}
	// No Run:ai node could take 4 T4s: no FREE_GPUS call.
	e.resetCounters()
	e.placements(t, placementsQuery, map[string]any{"accelerators": 4, "model": "T4"})
	if n := e.ra.Control().Count(raTelemetry); n != 0 {
		t.Fatalf("%d telemetry calls for a model no Run:ai node has", n)
	}
}

// TestPlacementsPoolLevel: sameNode false sums a pool's READY nodes.
func TestPlacementsPoolLevel(t *testing.T) {
	t.Parallel()
	e := newPlacementEnv(t, envOptions{})
	q := `query($r: PlacementRequest!) { placements(request: $r) { provider model freeAccelerators leftOver nodePool { name } nodes { name } } }`
	e.resetCounters()
	got := e.placements(t, q, map[string]any{"accelerators": 20, "model": "A100", "sameNode": false})
	// nodePool costs the pool listings of the placements' clusters: Run:ai
	// one per backend, ModelArts one per resource pool (only the GPU pool
	// has a placement): 7 + 2 calls (and the token).
	assertRoutes(t, e.env, map[string]int64{raToken: 1, raClusters: 1, raNodes: 2, raTelemetry: 1, raNodePools: 1},
		map[string]int64{maPools: 1, maPoolNodes: 2, maNodePools: 1})
	if len(got) != 2 {
		t.Fatalf("%d placements, want 2: %+v", len(got), got)
	}
	ma, ra := got[0], got[1]
	if ma.Provider != "MODELARTS" || ma.FreeAccelerators != 22 || ma.LeftOver != 2 || ma.NodePool == nil || ma.NodePool.Name != "nodepool-4" || len(ma.Nodes) != 3 {
		t.Errorf("ModelArts placement %+v", ma)
	}
	if ra.Provider != "RUNAI" || ra.FreeAccelerators != 23 || ra.LeftOver != 3 || ra.NodePool == nil || ra.NodePool.Name != "a100" ||
		ra.names() != "c1-a100-node-01+c1-a100-node-03+c1-a100-node-02" {
		t.Errorf("Run:ai placement %+v (%s)", ra, ra.names())
	}
	// 9 fit cluster 2's default pool too (4+2+3 free); the fewest nodes
	// that hold 9 are its three with free GPUs, most free first.
	small := e.placements(t, q, map[string]any{"accelerators": 9, "model": "A100", "sameNode": false, "provider": "RUNAI"})
	if len(small) != 2 || small[0].LeftOver != 0 || small[0].names() != "c2-default-node-01+c2-default-node-04+c2-default-node-02" {
		t.Fatalf("9 on Run:ai: %+v", small)
	}
}

// TestPlacementRequestRefused: every bad request is BAD_USER_INPUT naming
// the field, without data and without an upstream call.
func TestPlacementRequestRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	cases := []struct {
		r     map[string]any
		field string
	}{
		{map[string]any{"accelerators": 0}, "request.accelerators"},
		{map[string]any{"accelerators": -8}, "request.accelerators"},
		{map[string]any{"accelerators": 10001}, "request.accelerators"},
		{map[string]any{"accelerators": 8, "model": "B300X"}, "request.model"},
		{map[string]any{"accelerators": 8, "model": "UNKNOWN"}, "request.model"},
		{map[string]any{"accelerators": 8, "vendor": "AMD"}, "request.vendor"},
	}
	for _, tc := range cases {
		e.resetCounters()
		resp := e.query(t, placementsQuery, map[string]any{"r": tc.r})
		if len(resp.Errors) != 1 || resp.Errors[0].Extensions["code"] != "BAD_USER_INPUT" || resp.Errors[0].Extensions["field"] != tc.field {
			t.Errorf("%v: errors %+v, want one BAD_USER_INPUT on %s", tc.r, resp.Errors, tc.field)
		}
		if len(resp.Data) != 0 && string(resp.Data) != "null" {
			t.Errorf("%v: data %s", tc.r, resp.Data)
		}
		// The subscription refuses the same request, over SSE.
		sub := sseOnce(t, e, `subscription($r: PlacementRequest!) { placements(request: $r) { at } }`, map[string]any{"r": tc.r})
		if len(sub.Errors) != 1 || sub.Errors[0].Extensions["code"] != "BAD_USER_INPUT" || sub.Errors[0].Extensions["field"] != tc.field {
			t.Errorf("%v: subscription errors %+v, want one BAD_USER_INPUT on %s", tc.r, sub.Errors, tc.field)
		}
		if n := e.upstreamCalls(); n != 0 {
			t.Errorf("%v: %d upstream calls", tc.r, n)
		}
	}
	// An unknown provider is refused by GraphQL itself.
	resp := e.query(t, placementsQuery, map[string]any{"r": map[string]any{"accelerators": 8, "provider": "AWS"}})
	if len(resp.Errors) != 1 || resp.Errors[0].Extensions["code"] != "BAD_USER_INPUT" {
		t.Errorf("provider AWS: %+v", resp.Errors)
	}
}

// TestFreeAcceleratorsAndCatalogue: Node.accelerator and freeAccelerators on
// both vendors, and byAccelerator grouping V100s of both.
func TestFreeAcceleratorsAndCatalogue(t *testing.T) {
	t.Parallel()
	e := newPlacementEnv(t, envOptions{})
	var data struct {
		Nodes struct {
			Edges []struct {
				Node struct {
					Name, Status     string
					FreeAccelerators *int
					Accelerator      *struct {
						Vendor, Model, Raw string
						MemoryBytes        *float64
						Count              int
					}
				}
			}
		}
		FleetSummary struct {
			ByAccelerator []struct {
				Vendor, Model string
				Nodes, Gpus   int
				ReadyNodes    int
			}
			ByGpuType []struct{ Key string }
		}
	}
	e.resetCounters()
	e.query(t, `{ nodes(first: 500) { edges { node { name status freeAccelerators accelerator { vendor model raw memoryBytes count } } } }
		fleetSummary { byAccelerator { vendor model nodes gpus readyNodes } byGpuType { key } } }`, nil).mustData(t, &data)
	if n := e.ra.Control().Count(raTelemetry); n != 1 {
		t.Errorf("%d Run:ai telemetry calls for every node's freeAccelerators, want 1", n)
	}
	byName := map[string]int{}
	for i, edge := range data.Nodes.Edges {
		byName[edge.Node.Name] = i
	}
	free := func(name string) any {
		n := data.Nodes.Edges[byName[name]].Node
		if n.FreeAccelerators == nil {
			return nil
		}
		return *n.FreeAccelerators
	}
	for name, want := range map[string]any{
		"c1-a100-node-01": 8, "c1-a100-node-02": 7, "c1-a100-node-04": 0, "c2-default-node-03": 0,
		e.maA100[0]: 8, e.maA100[1]: 0, e.maA100[2]: 6,
	} {
		if got := free(name); got != want {
			t.Errorf("%s freeAccelerators %v, want %v", name, got, want)
		}
	}
	a := data.Nodes.Edges[byName["c1-a100-node-01"]].Node.Accelerator
	if a == nil || a.Vendor != "NVIDIA" || a.Model != "A100" || a.Raw != "NVIDIA-A100-SXM4-80GB" || a.Count != 8 || a.MemoryBytes == nil || *a.MemoryBytes != 80<<30 {
		t.Errorf("c1-a100-node-01 accelerator %+v", a)
	}
	if b := data.Nodes.Edges[byName[e.maA100[0]]].Node.Accelerator; b == nil || b.Model != "A100" || b.Raw != "modelarts.bm.gpu.8a100" || b.Count != 8 {
		t.Errorf("ModelArts A100 accelerator %+v", b)
	}
	// V100: Run:ai Tesla-V100 (4 nodes x 8) and ModelArts 8v100 (4 x 8): one group.
	var v100 bool
	for _, g := range data.FleetSummary.ByAccelerator {
		if g.Vendor == "NVIDIA" && g.Model == "V100" {
			v100 = true
			if g.Nodes != 8 || g.Gpus != 64 {
				t.Errorf("V100 group %+v, want 8 nodes, 64 GPUs", g)
			}
		}
	}
	if !v100 {
		t.Errorf("no V100 group in %+v", data.FleetSummary.ByAccelerator)
	}
	var raw []string
	for _, g := range data.FleetSummary.ByGpuType {
		raw = append(raw, g.Key)
	}
	if !slices.Contains(raw, "Tesla-V100") || !slices.Contains(raw, "modelarts.bm.gpu.8v100") {
		t.Errorf("byGpuType %v lost a raw string", raw)
	}
}

// TestFreeAcceleratorsNullWhereTheVendorCannotSay: a ModelArts answer
// without availableResources, and a Run:ai telemetry answer that leaves the
// nodes out, give null on READY nodes (0 still on not-ready ones).
func TestFreeAcceleratorsNullWhereTheVendorCannotSay(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{
		wrapModelArts: func(h http.Handler) http.Handler {
			return rewriteJSON(h, `/nodes$`, func(_ *http.Request, v any) any {
				for _, it := range items(v, "items") {
					if st, ok := it.(map[string]any)["status"].(map[string]any); ok {
						delete(st, "availableResources")
					}
				}
				return v
			})
		},
		wrapRunAI: func(h http.Handler) http.Handler {
			return rewriteJSON(h, `^/api/v1/nodes/telemetry$`, func(_ *http.Request, v any) any {
				if m, ok := v.(map[string]any); ok {
					m["values"] = []any{}
				}
				return v
			})
		},
	})
	var data struct {
		Nodes struct {
			Edges []struct {
				Node struct {
					Name, Status     string
					GpuCount         int
					FreeAccelerators *int
				}
			}
		}
	}
	e.query(t, `{ nodes(first: 500) { edges { node { name status gpuCount freeAccelerators } } } }`, nil).mustData(t, &data)
	ready, notReady := 0, 0
	for _, edge := range data.Nodes.Edges {
		n := edge.Node
		switch {
		case n.Status != "READY":
			notReady++
			if n.FreeAccelerators == nil || *n.FreeAccelerators != 0 {
				t.Errorf("not-ready %s: freeAccelerators %v, want 0", n.Name, n.FreeAccelerators)
			}
		case n.GpuCount > 0:
			ready++
			if n.FreeAccelerators != nil {
				t.Errorf("%s: freeAccelerators %d, want null (the vendor did not say)", n.Name, *n.FreeAccelerators)
			}
		}
	}
	if ready == 0 || notReady == 0 {
		t.Fatalf("%d ready GPU nodes, %d not ready: the fleet has no case", ready, notReady)
	}
}

// TestPlacementsSubscription: two subscribers of one request share one
// poller; an update carries the same placements as the query.
func TestPlacementsSubscription(t *testing.T) {
	t.Parallel()
	e := newPlacementEnv(t, envOptions{configure: fastSubscriptions})
	want := e.placements(t, placementsQuery, map[string]any{"accelerators": 8, "model": "A100"})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	sub := `subscription($r: PlacementRequest!) { placements(request: $r, intervalSeconds: 1) { at placements { provider vendor model freeAccelerators leftOver nodes { name } } } }`
	e.resetCounters()
	r := map[string]any{"accelerators": 8, "model": "A100"}
	a, b := sse(t, ctx, e.env, sub, map[string]any{"r": r}), sse(t, ctx, e.env, sub, map[string]any{"r": r})
	for i := range 2 {
		for _, s := range []<-chan gqlResponse{a, b} {
			u, ok := <-s
			if !ok || len(u.Errors) > 0 {
				t.Fatalf("update %d: %+v", i, u)
			}
			var data struct {
				Placements struct{ Placements []placementJSON }
			}
			if err := json.Unmarshal(u.Data, &data); err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(data.Placements.Placements)
			exp, _ := json.Marshal(want)
			if string(got) != string(exp) {
				t.Fatalf("update %d: %s, want %s", i, got, exp)
			}
		}
	}
	// Two polls (a third may have started): one FREE_GPUS call each,
	// whatever the number of subscribers.
	if n := e.ra.Control().Count(raTelemetry); n < 2 || n > 3 {
		t.Fatalf("%d telemetry calls for two subscribers over two updates, want 2 (3 if a third poll started)", n)
	}
}

// sseOnce subscribes over SSE and returns the first event (a refused
// subscription's only one), within 5 s.
func sseOnce(t *testing.T, e *env, query string, vars map[string]any) gqlResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	select {
	case r := <-sse(t, ctx, e, query, vars):
		return r
	case <-ctx.Done():
		t.Fatal("no SSE event within 5 s")
		return gqlResponse{}
	}
}
