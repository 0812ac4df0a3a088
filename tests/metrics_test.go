package tests

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/fleetgraph/fleetgraph/app"
	"github.com/fleetgraph/fleetgraph/backends/runai/runaisim"
)

// firstRunAINode returns the ID of a Run:ai node with GPUs (gpu true) or
// without.
func firstRunAINode(t *testing.T, e *env, gpu bool) string {
	t.Helper()
	var data struct {
		Nodes struct {
			Edges []struct {
				Node struct {
					ID       string
					GpuCount int
				}
			}
		}
	}
	e.query(t, `{ nodes(first: 500, filter: {provider: RUNAI}) { edges { node { id gpuCount } } } }`, nil).mustData(t, &data)
	for _, edge := range data.Nodes.Edges {
		if (edge.Node.GpuCount > 0) == gpu {
			return edge.Node.ID
		}
	}
	t.Fatalf("no Run:ai node with gpu=%v in the simulated fleet", gpu)
	return ""
}

func TestMetricsAliasesOnOneNodeMakeOneCall(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var queries []string
	e := newEnv(t, envOptions{configure: func(c *app.Config) {}})
	// Record the raw query strings the gateway sends to the metrics route.
	spy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/metrics") {
			mu.Lock()
			queries = append(queries, r.URL.RawQuery)
			mu.Unlock()
		}
		e.ra.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(spy.Close)
	e2 := newEnvOver(t, e, spy.URL)
	id := firstRunAINode(t, e2, true)
	e.resetCounters()
	const q = `query($id: ID!, $s: DateTime!, $e: DateTime!) { node(id: $id) {
		gpu: metrics(types: [GPU_UTILIZATION], start: $s, end: $e, samples: 5) { type points { value } }
		cpu: metrics(types: [CPU_UTILIZATION, GPU_UTILIZATION], start: $s, end: $e, samples: 5) { type points { timestamp value } }
		...more
	} }
	fragment more on Node { mem: metrics(types: [CPU_MEMORY_UTILIZATION], start: $s, end: $e, samples: 5) { type } }`
	var data struct {
		Node struct {
			GPU []struct {
				Type   string
				Points []struct{ Value float64 }
			}
			CPU []struct{ Type string }
			Mem []struct{ Type string }
		}
	}
	e2.query(t, q, map[string]any{"id": id, "s": "2026-11-25T10:00:00Z", "e": "2026-11-25T11:00:00Z"}).mustData(t, &data)
	if got := e.ra.Control().Count(raNodeMetrics); got != 1 {
		t.Fatalf("%s called %d times, want 1", raNodeMetrics, got)
	}
	if len(data.Node.GPU) != 1 || data.Node.GPU[0].Type != "GPU_UTILIZATION" || len(data.Node.GPU[0].Points) != 5 {
		t.Fatalf("gpu alias: %+v", data.Node.GPU)
	}
	if len(data.Node.CPU) != 2 || len(data.Node.Mem) != 1 {
		t.Fatalf("cpu alias %+v, mem alias %+v", data.Node.CPU, data.Node.Mem)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(queries) != 1 || !strings.Contains(queries[0], "metricType=CPU_MEMORY_UTILIZATION,CPU_UTILIZATION,GPU_UTILIZATION") {
		t.Fatalf("metrics queries %q: want one comma-separated metricType", queries)
	}
	if !strings.Contains(queries[0], "numberOfSamples=5") {
		t.Fatalf("query %q lacks numberOfSamples=5", queries[0])
	}
}

// newEnvOver builds a second gateway whose Run:ai backend is reached at url
// (a spy in front of e's simulator).
func newEnvOver(t *testing.T, e *env, url string) *env {
	t.Helper()
	cfg := &app.Config{RunAI: []app.RunAIConfig{{Name: "runai-a", BaseURL: url, ClientID: "fleetgraph-demo", ClientSecret: "demo-secret"}}}
	gw, err := app.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw.Handler)
	t.Cleanup(srv.Close)
	return &env{ra: e.ra, ma: e.ma, gw: srv}
}

func TestDifferentRangesAreSeparateCalls(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	id := firstRunAINode(t, e, true)
	e.resetCounters()
	r := e.query(t, `query($id: ID!) { node(id: $id) {
		a: metrics(types: [GPU_UTILIZATION], start: "2026-11-25T10:00:00Z", end: "2026-11-25T11:00:00Z") { type }
		b: metrics(types: [GPU_UTILIZATION], start: "2026-11-25T09:00:00Z", end: "2026-11-25T11:00:00Z") { type }
		c: metrics(types: [CPU_UTILIZATION], start: "2026-11-25T10:00:00Z", end: "2026-11-25T11:00:00Z", samples: 20) { type }
	} }`, map[string]any{"id": id})
	var data map[string]any
	r.mustData(t, &data)
	// a and c share range and (default) samples: one call; b another.
	if got := e.ra.Control().Count(raNodeMetrics); got != 2 {
		t.Fatalf("%s called %d times, want 2", raNodeMetrics, got)
	}
}

func TestPartialMetricsAnswerKeepsData(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{runai: runaisim.Options{PoolsPerCluster: 3}})
	id := firstRunAINode(t, e, false) // a CPU-only node: GPU types come back null with 207
	r := e.query(t, `query($id: ID!) { node(id: $id) { name
		metrics(types: [CPU_UTILIZATION, GPU_UTILIZATION], start: "2026-11-25T10:00:00Z", end: "2026-11-25T11:00:00Z") { type points { value } } } }`,
		map[string]any{"id": id})
	if len(r.Errors) != 1 {
		t.Fatalf("errors %+v, want one partial-success error", r.Errors)
	}
	ext := r.Errors[0].Extensions
	if ext["code"] != "UPSTREAM_ERROR" || ext["provider"] != "RUNAI" || ext["partial"] != true {
		t.Fatalf("extensions %v", ext)
	}
	if missing, _ := ext["missing"].([]any); len(missing) != 1 || missing[0] != "GPU_UTILIZATION" {
		t.Fatalf("missing %v, want [GPU_UTILIZATION]", ext["missing"])
	}
	if !contains(string(r.Data), `"type":"CPU_UTILIZATION"`) {
		t.Fatalf("data lost the CPU series: %s", r.Data)
	}
}

func TestNodePoolMetricsOneCallPerPool(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{runai: runaisim.Options{Clusters: 1, PoolsPerCluster: 2}})
	e.query(t, `{ clusters { id } }`, nil)
	e.resetCounters()
	var data struct {
		NodePools struct {
			Edges []struct {
				Node struct {
					Name string
					U    []struct{ Type string }
					T    []struct{ Type string }
				}
			}
		}
	}
	e.query(t, `{ nodePools(filter: {provider: RUNAI}) { edges { node { name
		u: metrics(types: [GPU_UTILIZATION], start: "2026-11-25T10:00:00Z", end: "2026-11-25T11:00:00Z") { type }
		t: metrics(types: [TOTAL_GPU, ALLOCATED_GPU], start: "2026-11-25T10:00:00Z", end: "2026-11-25T11:00:00Z") { type } } } } }`, nil).mustData(t, &data)
	if n := len(data.NodePools.Edges); n != 2 {
		t.Fatalf("%d pools", n)
	}
	if got := e.ra.Control().Count(raPoolMetrics); got != 2 {
		t.Fatalf("%s called %d times, want 2 (one per pool)", raPoolMetrics, got)
	}
	for _, edge := range data.NodePools.Edges {
		if len(edge.Node.T) != 2 {
			t.Errorf("pool %s: %d series for [TOTAL_GPU, ALLOCATED_GPU]", edge.Node.Name, len(edge.Node.T))
		}
	}
}
