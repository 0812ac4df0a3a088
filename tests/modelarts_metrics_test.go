package tests

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/fleetgraph/fleetgraph/app"
	"github.com/fleetgraph/fleetgraph/backends/modelarts/modelartssim"
	"github.com/fleetgraph/fleetgraph/backends/simctl"
)

// ModelArts node and node-pool metrics come from AOM (the aom: block that
// simConfig sets, served by the ModelArts simulator): one query_range per
// resource pool, metric type and window, whatever the number of nodes,
// node pools and fields.

const (
	maAOMQueryRange = modelartssim.RouteAOMQueryRange
	aomStart        = "2026-11-25T10:00:05Z"
	aomEnd          = "2026-11-25T11:00:05Z"
)

type maSeries struct {
	Type   string
	Points []struct {
		Timestamp time.Time
		Value     float64
	}
}

type maFleet struct {
	Clusters []struct {
		VendorID  string
		NodePools []struct {
			Name    string
			Metrics []maSeries
		}
		Nodes struct {
			Edges []struct {
				Node struct {
					Name     string
					IP       *string
					NodePool *struct{ Name string }
					Metrics  []maSeries
					CPU      []maSeries
				}
			}
		}
	}
}

// Every pool with its node pools and nodes, three metric types in all
// (GPU_UTILIZATION on both levels).
const maMetricsQuery = `query($s: DateTime!, $e: DateTime!) { clusters(provider: MODELARTS) { vendorId
	nodePools { name metrics(types: [GPU_UTILIZATION, CPU_MEMORY_USAGE_BYTES], start: $s, end: $e, samples: 12) { type points { timestamp value } } }
	nodes(first: 500) { edges { node { name ip nodePool { name }
		metrics(types: [GPU_UTILIZATION, CPU_MEMORY_USAGE_BYTES], start: $s, end: $e, samples: 12) { type points { timestamp value } }
		cpu: metrics(types: [CPU_UTILIZATION], start: $s, end: $e, samples: 12) { type points { timestamp value } } } } } } }`

func simStats(t *testing.T, url string) map[string]int64 {
	t.Helper()
	resp, err := http.Get(url + "/_sim/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b struct{ Requests map[string]int64 }
	if err := json.NewDecoder(resp.Body).Decode(&b); err != nil {
		t.Fatal(err)
	}
	return b.Requests
}

func TestModelArtsNodeAndPoolMetricsFromAOM(t *testing.T) {
	t.Parallel()
	mr := miniredis.RunT(t)
	e := newEnv(t, envOptions{configure: withRedis(mr.Addr(), nil)})
	vars := map[string]any{"s": aomStart, "e": aomEnd}
	var data maFleet
	e.query(t, maMetricsQuery, vars).mustData(t, &data)
	pools := len(data.Clusters)
	if pools < 2 {
		t.Fatalf("%d resource pools", pools)
	}
	// Per resource pool: its node listing (shared by Cluster.nodes and the
	// metrics) and one query_range per type (3), for every node and pool.
	stats := simStats(t, e.maURL)
	if got, want := stats[maAOMQueryRange], int64(3*pools); got != want {
		t.Errorf("query_range calls %d, want %d (3 types x %d pools): %v", got, want, pools, stats)
	}
	if got := stats[maPoolNodes]; got != int64(pools) {
		t.Errorf("pool node listings %d, want %d: %v", got, pools, stats)
	}
	if got := stats[modelartssim.RouteAOMLabelVals]; got != 0 {
		t.Errorf("label values called %d times", got)
	}

	gpuPoints := 0
	for _, c := range data.Clusters {
		byPool := map[string][]maSeries{}
		for _, edge := range c.Nodes.Edges {
			n := edge.Node
			if len(n.Metrics) != 2 || n.Metrics[0].Type != "CPU_MEMORY_USAGE_BYTES" || n.Metrics[1].Type != "GPU_UTILIZATION" || len(n.CPU) != 1 {
				t.Fatalf("node %s: series %+v cpu %+v", n.Name, n.Metrics, n.CPU)
			}
			for _, p := range n.CPU[0].Points {
				if p.Value < 0 || p.Value > 100 {
					t.Errorf("node %s CPU_UTILIZATION %v outside 0..100", n.Name, p.Value)
				}
			}
			for _, p := range n.Metrics[1].Points {
				if p.Value < 0 || p.Value > 100 {
					t.Errorf("node %s GPU_UTILIZATION %v outside 0..100", n.Name, p.Value)
				}
			}
			gpuPoints += len(n.Metrics[1].Points)
			for _, p := range n.Metrics[0].Points {
				if p.Value < 1<<20 { // bytes, not MB
					t.Errorf("node %s CPU_MEMORY_USAGE_BYTES %v: not bytes", n.Name, p.Value)
				}
			}
			if len(n.CPU[0].Points) > 0 && n.NodePool != nil {
				byPool[n.NodePool.Name] = append(byPool[n.NodePool.Name], n.Metrics...)
			}
		}
		for _, np := range c.NodePools {
			if len(np.Metrics) != 2 {
				t.Fatalf("pool %s: %+v", np.Name, np.Metrics)
			}
			checkAggregate(t, np.Name, np.Metrics[0], byPool[np.Name], "CPU_MEMORY_USAGE_BYTES", true)
			checkAggregate(t, np.Name, np.Metrics[1], byPool[np.Name], "GPU_UTILIZATION", false)
		}
	}
	if gpuPoints == 0 {
		t.Fatal("no ModelArts node has GPU_UTILIZATION points")
	}

	// Warm: every answer from the cache.
	e.resetCounters()
	var again maFleet
	e.query(t, maMetricsQuery, vars).mustData(t, &again)
	if n := e.upstreamCalls(); n != 0 {
		t.Fatalf("warm repeat made %d upstream calls: %v", n, e.ma.Control().Stats())
	}
}

// checkAggregate: a node pool's series is, at each timestamp, the sum
// (bytes) or the mean (percent) of its nodes' series.
func checkAggregate(t *testing.T, pool string, got maSeries, nodes []maSeries, typ string, sum bool) {
	t.Helper()
	if got.Type != typ {
		t.Fatalf("pool %s: type %s, want %s", pool, got.Type, typ)
	}
	type acc struct {
		sum float64
		n   int
	}
	at := map[time.Time]*acc{}
	for _, s := range nodes {
		if s.Type != typ {
			continue
		}
		for _, p := range s.Points {
			if at[p.Timestamp] == nil {
				at[p.Timestamp] = &acc{}
			}
			at[p.Timestamp].sum += p.Value
			at[p.Timestamp].n++
		}
	}
	if len(got.Points) != len(at) {
		t.Fatalf("pool %s %s: %d points, its nodes have %d timestamps", pool, typ, len(got.Points), len(at))
	}
	for _, p := range got.Points {
		a := at[p.Timestamp]
		want := a.sum
		if !sum {
			want /= float64(a.n)
		}
		if math.Abs(p.Value-want) > 1e-6*math.Max(1, math.Abs(want)) {
			t.Errorf("pool %s %s at %s: %v, want %v", pool, typ, p.Timestamp, p.Value, want)
		}
	}
}

func TestModelArtsMetricsWithoutAOM(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{configure: func(c *app.Config) { c.ModelArts[0].AOM = nil }})
	e.resetCounters()
	r := e.query(t, `{ nodes(first: 3, filter: {provider: MODELARTS}) { edges { node {
		metrics(types: [GPU_UTILIZATION], start: "2026-11-25T10:00:00Z", end: "2026-11-25T11:00:00Z") { type } } } }
		nodePools(first: 2, filter: {provider: MODELARTS}) { edges { node {
		metrics(types: [GPU_UTILIZATION], start: "2026-11-25T10:00:00Z", end: "2026-11-25T11:00:00Z") { type } } } } }`, nil)
	var data struct {
		Nodes, NodePools struct {
			Edges []struct {
				Node struct{ Metrics []any }
			}
		}
	}
	if err := json.Unmarshal(r.Data, &data); err != nil {
		t.Fatal(err)
	}
	if len(data.Nodes.Edges) != 3 || len(data.NodePools.Edges) != 2 {
		t.Fatalf("%s", r.Data)
	}
	for _, edge := range append(data.Nodes.Edges, data.NodePools.Edges...) {
		if edge.Node.Metrics == nil || len(edge.Node.Metrics) != 0 {
			t.Fatalf("metrics %v, want []", edge.Node.Metrics)
		}
	}
	if len(r.Errors) != 5 {
		t.Fatalf("%d errors, want one per field: %+v", len(r.Errors), r.Errors)
	}
	for _, er := range r.Errors {
		if er.Extensions["code"] != "METRICS_NOT_CONFIGURED" || er.Extensions["provider"] != "MODELARTS" || er.Extensions["backend"] != "modelarts-a" ||
			!strings.Contains(er.Message, "aom") {
			t.Fatalf("error %+v", er)
		}
	}
	if n := e.ma.Control().Count(maAOMQueryRange) + e.ra.Control().Total(); n != 0 {
		t.Fatalf("%d AOM or Run:ai calls", n)
	}
}

func TestModelArtsRefusesTypesItCannotServe(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.resetCounters()
	r := e.query(t, `{ nodes(first: 1, filter: {provider: MODELARTS}) { edges { node {
		metrics(types: [GPU_UTILIZATION, GPU_UTILIZATION_PER_GPU], start: "2026-11-25T10:00:00Z", end: "2026-11-25T11:00:00Z") { type } } } }
		nodePools(first: 1, filter: {provider: MODELARTS}) { edges { node {
		metrics(types: [TOTAL_GPU], start: "2026-11-25T10:00:00Z", end: "2026-11-25T11:00:00Z") { type } } } } }`, nil)
	var data struct {
		Nodes, NodePools struct {
			Edges []struct {
				Node struct{ Metrics []struct{ Type string } }
			}
		}
	}
	if err := json.Unmarshal(r.Data, &data); err != nil {
		t.Fatal(err)
	}
	if m := data.Nodes.Edges[0].Node.Metrics; len(m) != 1 || m[0].Type != "GPU_UTILIZATION" {
		t.Fatalf("node metrics %+v: the served type answers beside the error", m)
	}
	if m := data.NodePools.Edges[0].Node.Metrics; m == nil || len(m) != 0 {
		t.Fatalf("pool metrics %+v", m)
	}
	if len(r.Errors) != 2 {
		t.Fatalf("errors %+v", r.Errors)
	}
	for _, er := range r.Errors {
		if er.Extensions["code"] != "BAD_USER_INPUT" || er.Extensions["field"] != "types" || er.Extensions["provider"] != "MODELARTS" {
			t.Fatalf("error %+v", er)
		}
	}
	msgs := r.Errors[0].Message + r.Errors[1].Message
	if !strings.Contains(msgs, "GPU_UTILIZATION_PER_GPU") || !strings.Contains(msgs, "TOTAL_GPU") {
		t.Fatalf("the errors do not name the types: %q", msgs)
	}
	if got := e.ma.Control().Count(maAOMQueryRange); got != 1 {
		t.Fatalf("query_range %d calls, want 1 (GPU_UTILIZATION of one pool)", got)
	}
}

// A sample AOM answers as NaN or ±Inf is dropped, not shown as a number:
// the node's series is still listed, the pool's mean leaves the node out.
func TestModelArtsAOMNaNSamplesAreDropped(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	poisoned := map[string]bool{} // node IPs whose every sample became NaN
	wrap := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasSuffix(r.URL.Path, "/aom/api/v1/query_range") {
				next.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			var body struct {
				Status string `json:"status"`
				Data   struct {
					ResultType string `json:"resultType"`
					Result     []struct {
						Metric map[string]string `json:"metric"`
						Values [][2]any          `json:"values"`
					} `json:"result"`
				} `json:"data"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || len(body.Data.Result) == 0 {
				w.WriteHeader(rec.Code)
				_, _ = w.Write(rec.Body.Bytes())
				return
			}
			first := &body.Data.Result[0]
			for i := range first.Values {
				first.Values[i][1] = []string{"NaN", "+Inf", "-Inf"}[i%3]
			}
			mu.Lock()
			poisoned[first.Metric["node_ip"]] = true
			mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(body)
		})
	}
	e := newEnv(t, envOptions{wrapModelArts: wrap})
	var data maFleet
	e.query(t, maMetricsQuery, map[string]any{"s": aomStart, "e": aomEnd}).mustData(t, &data)
	mu.Lock()
	defer mu.Unlock()
	if len(poisoned) == 0 {
		t.Fatal("no series was poisoned")
	}
	seen := 0
	for _, c := range data.Clusters {
		for _, edge := range c.Nodes.Edges {
			n := edge.Node
			if n.IP == nil || !poisoned[*n.IP] {
				continue
			}
			seen++
			// Every type's first series was one node's: each type lists it
			// with no points, or a series of the other nodes.
			empty := 0
			for _, s := range append(n.Metrics, n.CPU...) {
				if len(s.Points) == 0 {
					empty++
				}
			}
			if empty == 0 {
				t.Errorf("node %s: no series lost its NaN samples: %+v", n.Name, n.Metrics)
			}
		}
	}
	if seen == 0 {
		t.Fatal("no poisoned node in the answer")
	}
	if v := metricValue(t, e, `fleetgraph_vendor_dropped_samples_total{backend="modelarts-a",kind="query_range"}`); v == 0 {
		t.Error("dropped samples not counted")
	}
}

// AOM failing opens its own breaker, not the ModelArts one: inventory stays.
func TestAOMFailureLeavesTheModelArtsBreakerClosed(t *testing.T) {
	t.Parallel()
	e := newProdEnv(t, prodOptions{envOptions: envOptions{configure: breakerFast}})
	if err := e.ma.Control().SetFaults(simctl.Faults{ErrorRate: 1, ErrorStatus: 503, Routes: []string{maAOMQueryRange}}); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		// A new window each time: no cached answer or memoised failure.
		s := time.Date(2026, 11, 25, 10+i, 0, 0, 0, time.UTC)
		r := e.query(t, `query($s: DateTime!, $e: DateTime!) { nodes(first: 1, filter: {provider: MODELARTS}) { edges { node { name
			metrics(types: [GPU_UTILIZATION], start: $s, end: $e) { type } } } } }`, map[string]any{"s": s, "e": s.Add(time.Hour)})
		if len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != "UPSTREAM_UNAVAILABLE" || !bytes.Contains(r.Data, []byte(`"name"`)) {
			t.Fatalf("query %d: %s %+v", i, r.Data, r.Errors)
		}
	}
	_, b := readyz(t, e.gw.URL)
	states := map[string]string{}
	for _, be := range b.Backends {
		states[be.Name] = be.Breaker
	}
	if states["modelarts-a/aom"] != "open" || states["modelarts-a"] != "closed" {
		t.Fatalf("breakers %v", states)
	}
	var clusters struct{ Clusters []struct{ Name string } }
	e.query(t, `{ clusters(provider: MODELARTS) { name } }`, nil).mustData(t, &clusters)
	if len(clusters.Clusters) == 0 {
		t.Fatal("no ModelArts pools while AOM is down")
	}
}
