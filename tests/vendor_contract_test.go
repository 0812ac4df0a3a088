package tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/fleetgraph/fleetgraph/app"
	"github.com/fleetgraph/fleetgraph/backends/runai/runaisim"
)

// Vendor answers within the contract that a plain simulator never sends:
// the gateway keeps answering, and says what it skipped in /metrics.

// gatewayMetric returns the line of the gateway's /metrics that starts with
// prefix ("" when none).
func (e *env) gatewayMetric(t *testing.T, prefix string) string {
	t.Helper()
	resp, err := http.Get(e.gw.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for line := range strings.SplitSeq(string(body), "\n") {
		if strings.HasPrefix(line, prefix) {
			return line
		}
	}
	return ""
}

func TestNonFiniteSamplesAreDroppedFromSeries(t *testing.T) {
	t.Parallel()
	// Every second sample is "NaN", "+Inf" or "-Inf", as Prometheus answers
	// for a window without data.
	e := newEnv(t, envOptions{runai: runaisim.Options{GapEvery: 2}})
	id := firstRunAINode(t, e, true)
	e.resetCounters()
	var data struct {
		Node struct {
			Metrics []struct {
				Type   string
				Points []struct {
					Timestamp string
					Value     *float64
				}
			}
		}
	}
	e.query(t, `query($id: ID!) { node(id: $id) {
		metrics(types: [CPU_UTILIZATION, GPU_UTILIZATION], start: "2026-11-25T10:00:00Z", end: "2026-11-25T11:00:00Z", samples: 6) { type points { timestamp value } } } }`,
		map[string]any{"id": id}).mustData(t, &data)
	if len(data.Node.Metrics) != 2 {
		t.Fatalf("series %+v, want CPU_UTILIZATION and GPU_UTILIZATION", data.Node.Metrics)
	}
	for _, s := range data.Node.Metrics {
		// Samples 1, 3 and 5 of 0..5 were gaps: 0, 2 and 4 remain.
		if len(s.Points) != 3 {
			t.Fatalf("%s: %d points, want the 3 finite of 6", s.Type, len(s.Points))
		}
		for i, want := range []string{"2026-11-25T10:00:00Z", "2026-11-25T10:24:00Z", "2026-11-25T10:48:00Z"} {
			if p := s.Points[i]; p.Value == nil || !strings.HasPrefix(p.Timestamp, strings.TrimSuffix(want, "Z")) {
				t.Fatalf("%s point %d = %+v, want a value at %s", s.Type, i, p, want)
			}
		}
	}
	if n := e.ra.Control().Count(raNodeMetrics); n != 1 {
		t.Fatalf("%s called %d times, want 1", raNodeMetrics, n)
	}
	if line := e.gatewayMetric(t, `fleetgraph_vendor_dropped_samples_total{backend="runai-a",kind="metrics"}`); !strings.HasSuffix(line, " 6") {
		t.Fatalf("dropped-samples metric %q, want 6", line)
	}
}

const maNodePool = "GET /v2/{project_id}/pools/{pool_name}/nodepools/{nodepool_name}"

// TestModelArtsWritesCarryWhatTheAPIRequires: the simulator refuses what the
// API refuses (a PATCH without spec.resources.flavor, count and maxCount, a
// data volume without extendParams.volumeGroup), and the gateway sends them.
func TestModelArtsWritesCarryWhatTheAPIRequires(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{modelarts: maSlow})
	_, ma := clusterIDs(t, e)

	// A data volume without a volume group: refused before any call.
	e.resetCounters()
	r := e.query(t, createPool, map[string]any{"in": map[string]any{
		"clusterId": ma, "name": "disks", "flavor": cpuFlavor, "count": 1,
		"dataVolumes": []map[string]any{{"volumeType": "SSD", "size": "100"}},
	}})
	if codes := r.codes(); len(codes) != 1 || codes[0] != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != "input.dataVolumes[0].volumeGroup" {
		t.Fatalf("errors %+v, want BAD_USER_INPUT on input.dataVolumes[0].volumeGroup", r.Errors)
	}
	if n := e.upstreamCalls(); n != 0 {
		t.Fatalf("%d upstream calls for invalid input, want 0", n)
	}

	var created struct {
		CreateNodePool struct {
			ID  string
			Raw map[string]any
		}
	}
	e.query(t, `mutation($in: CreateNodePoolInput!) { createNodePool(input: $in) { id raw } }`, map[string]any{"in": map[string]any{
		"clusterId": ma, "name": "disks", "flavor": cpuFlavor, "count": 1,
		"dataVolumes": []map[string]any{{"volumeType": "SSD", "size": "100", "volumeGroup": "vguser1"}},
	}}).mustData(t, &created)
	if !contains(fmt.Sprint(created.CreateNodePool.Raw), "volumeGroup:vguser1") {
		t.Fatalf("created node pool %v lacks the data volume's group", created.CreateNodePool.Raw)
	}

	// Scaling: one GET for the flavor and counts, the PATCH once, the read-back.
	e.resetCounters()
	var scaled struct {
		PatchNodePool struct{ ReportedNodeCount int }
	}
	e.query(t, `mutation($id: ID!) { patchNodePool(id: $id, input: {count: 3}) { reportedNodeCount } }`,
		map[string]any{"id": created.CreateNodePool.ID}).mustData(t, &scaled)
	if scaled.PatchNodePool.ReportedNodeCount != 3 {
		t.Fatalf("scaled %+v", scaled.PatchNodePool)
	}
	for route, want := range map[string]int64{maNodePool: 2, maPatch: 1} {
		if n := e.ma.Control().Count(route); n != want {
			t.Errorf("%s called %d times, want %d", route, n, want)
		}
	}
	if n := e.upstreamCalls(); n != 3 {
		t.Errorf("%d upstream calls, want 3 (GET, PATCH, GET)", n)
	}
}

// TestModelArtsDuplicateNameRace: another client creates the same name
// between the gateway's check (the node-pool list) and its POST. ModelArts
// answers 400 ModelArts.50004000 "... already exists ...": CONFLICT, with
// the vendor's request id for a support case.
func TestModelArtsDuplicateNameRace(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{modelarts: maSlow})
	var (
		mu        sync.Mutex
		requestID string
	)
	sim := e.ma.Handler()
	spy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/nodepools") {
			sim.ServeHTTP(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		// The other client wins: the same signed request, first.
		first := r.Clone(r.Context())
		first.Body = io.NopCloser(bytes.NewReader(body))
		other := httptest.NewRecorder()
		sim.ServeHTTP(other, first)
		if other.Code != http.StatusOK {
			t.Errorf("the other client's create: %d %s", other.Code, other.Body)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		sim.ServeHTTP(rec, r)
		mu.Lock()
		requestID = rec.Header().Get("X-Request-Id")
		mu.Unlock()
		maps.Copy(w.Header(), rec.Header())
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	}))
	t.Cleanup(spy.Close)
	gw, err := app.Build(simConfig(e.raURL, spy.URL))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gw.Close() })
	raced := &env{ra: e.ra, ma: e.ma, gw: newServer(t, gw)}
	_, ma := clusterIDs(t, raced)
	e.resetCounters()
	r := raced.query(t, createPool, map[string]any{"in": map[string]any{"clusterId": ma, "name": "raced", "flavor": cpuFlavor, "count": 1}})
	if len(r.Errors) != 1 {
		t.Fatalf("errors %+v, want one", r.Errors)
	}
	ext := r.Errors[0].Extensions
	mu.Lock()
	wantID := requestID
	mu.Unlock()
	if ext["code"] != "CONFLICT" || ext["provider"] != "MODELARTS" || ext["vendorCode"] != "ModelArts.50004000" || wantID == "" || ext["requestId"] != wantID {
		t.Fatalf("extensions %v, want CONFLICT from ModelArts.50004000 with requestId %q", ext, wantID)
	}
	for route, want := range map[string]int64{maCreate: 2, maNodePools: 1} {
		if n := e.ma.Control().Count(route); n != want {
			t.Errorf("%s called %d times, want %d (the other client's and ours; one check)", route, n, want)
		}
	}
}

// rewritingGateway is a gateway whose Run:ai backend is e's simulator behind
// a proxy that passes each answer of a matching request through rewrite.
func rewritingGateway(t *testing.T, e *env, match func(*http.Request) bool, rewrite func([]byte) []byte) *env {
	t.Helper()
	sim := e.ra.Handler()
	spy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !match(r) {
			sim.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		sim.ServeHTTP(rec, r)
		body := rewrite(rec.Body.Bytes())
		maps.Copy(w.Header(), rec.Header())
		w.Header().Del("Content-Length")
		w.WriteHeader(rec.Code)
		w.Write(body)
	}))
	t.Cleanup(spy.Close)
	gw, err := app.Build(simConfig(spy.URL, e.maURL))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gw.Close() })
	return &env{ra: e.ra, ma: e.ma, raURL: spy.URL, maURL: e.maURL, gw: newServer(t, gw)}
}

// TestRunAIListingsWithinTheContract: members beside the list ("next",
// "total") and null items, in every Run:ai listing: the same nodes and node
// pools as from the plain simulator, no phantom, the nulls counted.
func TestRunAIListingsWithinTheContract(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	listing := func(r *http.Request) bool {
		return r.Method == http.MethodGet && (strings.HasSuffix(r.URL.Path, "/nodes") || strings.HasSuffix(r.URL.Path, "/node-pools"))
	}
	odd := rewritingGateway(t, e, listing, func(body []byte) []byte {
		var page map[string]any
		if json.Unmarshal(body, &page) != nil {
			return body
		}
		for k, v := range page {
			if items, ok := v.([]any); ok {
				page[k] = append([]any{nil}, append(items, nil)...)
			}
		}
		page["next"], page["total"] = "/api/v1/next-page", 3
		out, _ := json.Marshal(page)
		return out
	})
	const q = `{ nodes(first: 500, filter: {provider: RUNAI}) { totalCount edges { node { id name raw } } }
		nodePools(first: 500, filter: {provider: RUNAI}) { totalCount edges { node { id name raw } } } }`
	var plain, got struct {
		Nodes, NodePools struct {
			TotalCount int
			Edges      []struct {
				Node struct {
					ID, Name string
					Raw      map[string]any
				}
			}
		}
	}
	e.query(t, q, nil).mustData(t, &plain)
	odd.query(t, q, nil).mustData(t, &got)
	if plain.Nodes.TotalCount == 0 || plain.NodePools.TotalCount == 0 {
		t.Fatalf("the simulated fleet is empty: %+v", plain)
	}
	if got.Nodes.TotalCount != plain.Nodes.TotalCount || got.NodePools.TotalCount != plain.NodePools.TotalCount {
		t.Fatalf("%d nodes and %d node pools, want %d and %d", got.Nodes.TotalCount, got.NodePools.TotalCount, plain.Nodes.TotalCount, plain.NodePools.TotalCount)
	}
	for _, list := range [][]struct {
		Node struct {
			ID, Name string
			Raw      map[string]any
		}
	}{got.Nodes.Edges, got.NodePools.Edges} {
		for _, edge := range list {
			if edge.Node.Name == "" || edge.Node.Raw == nil {
				t.Fatalf("phantom item %+v", edge.Node)
			}
		}
	}
	if line := odd.gatewayMetric(t, `fleetgraph_vendor_null_items_total{backend="runai-a",kind="nodes"}`); line == "" || strings.HasSuffix(line, " 0") {
		t.Fatalf("null-items metric %q, want the nulls counted", line)
	}
}
