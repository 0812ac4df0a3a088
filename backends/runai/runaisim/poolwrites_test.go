package runaisim_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetgraph/fleetgraph/backends/runai"
	"github.com/fleetgraph/fleetgraph/backends/runai/runaisim"
)

// call sends body (JSON, "" for none) with the harness token, requires
// status want and decodes the answer into out when out is non-nil.
func (h *harness) call(t *testing.T, method, path, body string, want int, out any, c check) []byte {
	t.Helper()
	status, data := h.do(t, method, path, body, h.token, c)
	if status != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, status, want, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, data)
		}
	}
	return data
}

func (h *harness) pool(t *testing.T, id string) runai.NodePool {
	t.Helper()
	var p runai.NodePool
	h.call(t, http.MethodGet, "/api/v1/node-pools/"+id, "", 200, &p, checkAll)
	return p
}

// poolNodes returns the names of the nodes whose nodePool is name.
func poolNodes(f runaisim.Fleet, clusterID, name string) []string {
	var out []string
	for _, n := range f.Nodes {
		if n.ClusterUUID == clusterID && n.NodePool == name {
			out = append(out, n.Name)
		}
	}
	return out
}

func TestCreateNodePoolValidation(t *testing.T) {
	t.Parallel()
	h := newHarness(t, runaisim.Options{})
	cl := h.sim.Fleet().Clusters[0].UUID
	before := len(h.sim.Fleet().NodePools)
	// body completes a valid body with extra fields ("" for none).
	body := func(extra string) string {
		b := `"name":"p","labelKey":"k","labelValue":"v","clusterId":"` + cl + `"`
		if extra != "" {
			b += "," + extra
		}
		return "{" + b + "}"
	}
	tests := []struct {
		name, body string
		field      string // the message must name it
		c          check  // checkResponse: the request breaks the schema on purpose
	}{
		{"no name", `{"labelKey":"k","labelValue":"v","clusterId":"` + cl + `"}`, "name", checkResponse},
		{"empty name", strings.Replace(body(""), `"name":"p"`, `"name":""`, 1), "name", checkResponse},
		{"name not a string", strings.Replace(body(""), `"name":"p"`, `"name":5`, 1), "name must be a string", checkResponse},
		{"no labelKey", `{"name":"p","labelValue":"v","clusterId":"` + cl + `"}`, "labelKey", checkResponse},
		{"empty labelValue", strings.Replace(body(""), `"labelValue":"v"`, `"labelValue":""`, 1), "labelValue", checkResponse},
		{"no clusterId", `{"name":"p","labelKey":"k","labelValue":"v"}`, "clusterId", checkResponse},
		{"clusterId not a UUID", strings.Replace(body(""), cl, "cluster-1", 1), "clusterId", checkResponse},
		{"unknown cluster", strings.Replace(body(""), cl, "00000000-0000-4000-8000-000000000000", 1), "clusterId", checkAll},
		{"ratio 0", body(`"overProvisioningRatio":0`), "overProvisioningRatio", checkResponse},
		{"ratio 6", body(`"overProvisioningRatio":6`), "overProvisioningRatio", checkResponse},
		{"ratio not an integer", body(`"overProvisioningRatio":1.5`), "overProvisioningRatio must be an integer", checkResponse},
		{"cpu placement", body(`"placementStrategy":{"cpu":"random"}`), "placementStrategy.cpu", checkResponse},
		{"gpu placement", body(`"placementStrategy":{"gpu":"pack"}`), "placementStrategy.gpu", checkResponse},
		{"detection", body(`"gpuNetworkAccelerationDetection":"Maybe"`), "gpuNetworkAccelerationDetection", checkResponse},
		{"swap size pattern", body(`"gpuResourceOptimization":{"swapEnabled":true,"cpuSwapMemorySize":"lots"}`), "gpuResourceOptimization.cpuSwapMemorySize", checkResponse},
		{"reserved size pattern", body(`"gpuResourceOptimization":{"swapEnabled":true,"reservedGpuMemoryForSwapOperations":"2 G"}`), "gpuResourceOptimization.reservedGpuMemoryForSwapOperations", checkResponse},
		{"size without swap", body(`"gpuResourceOptimization":{"swapEnabled":false,"reservedGpuMemoryForSwapOperations":"2G"}`), "reservedGpuMemoryForSwapOperations is only allowed when swapEnabled is true", checkAll},
		{"size with swap unset", body(`"gpuResourceOptimization":{"cpuSwapMemorySize":"100G"}`), "cpuSwapMemorySize is only allowed when swapEnabled is true", checkAll},
		{"unknown field", body(`"color":"blue"`), `unknown field "color"`, checkAll},
		{"unknown nested field", body(`"placementStrategy":{"memory":"spread"}`), `unknown field "memory"`, checkAll},
		{"not an object", `[]`, "JSON object", checkResponse},
		{"no body", ``, "request body", checkResponse},
		{"trailing data", body("") + ` {}`, "after the JSON object", checkResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := h.call(t, http.MethodPost, "/api/v1/node-pools", tt.body, 400, nil, tt.c)
			if e := decodeError(t, data); e.Code != 400 || !strings.Contains(e.Message, tt.field) {
				t.Fatalf("error %+v does not name %q", e, tt.field)
			}
		})
	}
	if got := len(h.sim.Fleet().NodePools); got != before {
		t.Fatalf("%d pools after refused creations, want %d", got, before)
	}
	if got := h.sim.Control().Count("POST /api/v1/node-pools"); got != int64(len(tests)) {
		t.Fatalf("POST counted %d times, want %d", got, len(tests))
	}
}

func TestNodePoolLifecycle(t *testing.T) {
	t.Parallel()
	clk := newClock()
	const delay = time.Minute
	h := newHarness(t, runaisim.Options{Clusters: 2, PoolsPerCluster: 3, NodesPerPool: 2, Now: clk.Now, PhaseDelay: delay})
	f := h.sim.Fleet()
	cl := f.Clusters[0]
	def := f.NodePools[0] // cluster-1's default pool
	defNodes := poolNodes(f, cl.UUID, "default")

	// A pool selecting the label the default pool's nodes carry takes them.
	var p runai.NodePool
	h.call(t, http.MethodPost, "/api/v1/node-pools",
		`{"name":"team-a","labelKey":"run.ai/node-pool","labelValue":"default","clusterId":"`+cl.UUID+`"}`, 201, &p, checkAll)
	if p.ID != "7" || p.Phase != runai.PoolCreating || p.ClusterName != "cluster-1" || p.IsDefault ||
		p.CreatedBy != runaisim.DefaultClientID || p.UpdatedBy != runaisim.DefaultClientID || !p.CreatedAt.Equal(clk.Now()) {
		t.Fatalf("created %+v", p)
	}
	if deref(p.OverProvisioningRatio) != 1 || deref(p.GPUNetworkAccelerationDetection) != "Auto" ||
		deref(p.PlacementStrategy.CPU) != "spread" || deref(p.GPUResourceOptimization.SwapEnabled) {
		t.Fatalf("defaults not applied: %+v", p)
	}
	if got := poolNodes(h.sim.Fleet(), cl.UUID, "team-a"); !slices.Equal(got, defNodes) || !slices.Equal(p.Status.Nodes, defNodes) {
		t.Fatalf("team-a has nodes %v (status %v), want the default pool's %v", got, p.Status.Nodes, defNodes)
	}
	if d := h.pool(t, def.ID); d.Phase != runai.PoolEmpty || len(d.Status.Nodes) != 0 {
		t.Fatalf("default pool after losing its nodes: %s %v", d.Phase, d.Status.Nodes)
	}
	clk.Advance(delay - time.Second)
	if got := h.pool(t, p.ID).Phase; got != runai.PoolCreating {
		t.Fatalf("phase %s before PhaseDelay, want Creating", got)
	}
	clk.Advance(time.Second)
	if got := h.pool(t, p.ID); got.Phase != runai.PoolReady && got.Phase != runai.PoolUnschedulable {
		t.Fatalf("phase %s after PhaseDelay, want Ready", got.Phase)
	}
	var count struct{ Count int }
	h.call(t, http.MethodGet, "/api/v1/node-pools/count?filterBy=name==team-a", "", 200, &count, checkAll)
	if count.Count != 1 {
		t.Fatalf("count %d", count.Count)
	}
	h.call(t, http.MethodGet, "/api/v1/clusters/"+cl.UUID+"/nodepools/team-a/metrics?metricType=TOTAL_GPU&start=2026-03-01T11:00:00Z&end=2026-03-01T12:00:00Z", "", 200, nil, checkAll)

	// PATCH changes what it names; the settings otherwise stay.
	clk.Advance(10 * time.Minute)
	var patched runai.NodePool
	h.call(t, http.MethodPatch, "/api/v1/node-pools/"+p.ID, `{"overProvisioningRatio":3,"gpuResourceOptimization":{"swapEnabled":true}}`, 200, &patched, checkAll)
	if patched.Phase != runai.PoolUpdating || deref(patched.OverProvisioningRatio) != 3 || deref(patched.PlacementStrategy.GPU) != "binpack" ||
		patched.LabelValue != "default" || !patched.UpdatedAt.Equal(clk.Now()) || !patched.CreatedAt.Equal(p.CreatedAt) ||
		deref(patched.GPUResourceOptimization.CPUSwapMemorySize) != "100G" || deref(patched.GPUResourceOptimization.ReservedGPUMemoryForSwapOperations) != "2G" {
		t.Fatalf("patched %+v", patched)
	}
	h.call(t, http.MethodPatch, "/api/v1/node-pools/"+p.ID, `{"labelValue":"nobody"}`, 200, nil, checkAll)
	clk.Advance(delay)
	if got, d := h.pool(t, p.ID), h.pool(t, def.ID); got.Phase != runai.PoolEmpty || d.Phase == runai.PoolEmpty || !slices.Equal(d.Status.Nodes, defNodes) {
		t.Fatalf("after relabelling: team-a %s, default %s %v", got.Phase, d.Phase, d.Status.Nodes)
	}

	// PUT replaces: what it leaves out takes its default, labels excepted.
	var put runai.NodePool
	h.call(t, http.MethodPut, "/api/v1/node-pools/"+p.ID, `{"gpuNetworkAccelerationDetection":"DontUse","placementStrategy":{"cpu":"binpack","gpu":null}}`, 200, &put, checkAll)
	if deref(put.OverProvisioningRatio) != 1 || deref(put.GPUNetworkAccelerationDetection) != "DontUse" || put.LabelValue != "nobody" ||
		deref(put.PlacementStrategy.CPU) != "binpack" || put.PlacementStrategy.GPU != nil || deref(put.GPUResourceOptimization.SwapEnabled) ||
		put.GPUResourceOptimization.CPUSwapMemorySize != nil {
		t.Fatalf("after PUT: %+v", put)
	}

	// DELETE: accepted, Deleting, idempotent, then gone.
	var accepted struct {
		Code    int
		Message string
	}
	h.call(t, http.MethodDelete, "/api/v1/node-pools/"+p.ID, "", 202, &accepted, checkAll)
	if accepted.Code != 202 || accepted.Message != "Node pool deletion accepted" {
		t.Fatalf("202 body %+v", accepted)
	}
	if got := h.pool(t, p.ID); got.Phase != runai.PoolDeleting || got.DeletedBy != runaisim.DefaultClientID || got.DeletedAt == nil {
		t.Fatalf("after DELETE: %s by %q at %v", got.Phase, got.DeletedBy, got.DeletedAt)
	}
	clk.Advance(delay / 2)
	h.call(t, http.MethodDelete, "/api/v1/node-pools/"+p.ID, "", 202, nil, checkAll)
	data := h.call(t, http.MethodPatch, "/api/v1/node-pools/"+p.ID, `{"labelValue":"x"}`, 400, nil, checkAll)
	if e := decodeError(t, data); !strings.Contains(e.Message, "being deleted") {
		t.Fatalf("update while deleting: %+v", e)
	}
	// The name stays taken until the pool is gone. 409 is not declared on
	// this operation (see createNodePool).
	dup := `{"name":"team-a","labelKey":"k","labelValue":"v","clusterId":"` + cl.UUID + `"}`
	data = h.call(t, http.MethodPost, "/api/v1/node-pools", dup, 409, nil, checkRequest)
	if e := decodeError(t, data); e.Code != 409 || e.Message != "Node pool team-a already exists in cluster cluster-1" {
		t.Fatalf("duplicate: %+v", e)
	}
	clk.Advance(delay / 2) // the first DELETE's end, not the second's
	h.call(t, http.MethodGet, "/api/v1/node-pools/"+p.ID, "", 404, nil, checkAll)
	h.call(t, http.MethodPost, "/api/v1/node-pools", dup, 201, nil, checkAll)

	counts := map[string]int64{
		"POST /api/v1/node-pools":                     3,
		"PATCH /api/v1/node-pools/{nodepoolId}":       3,
		"PUT /api/v1/node-pools/{nodepoolId}":         1,
		"DELETE /api/v1/node-pools/{nodepoolId}":      2,
		"GET /api/v1/node-pools/{nodepoolId}":         7,
		"GET /api/v1/node-pools/count":                1,
		"GET /v1/k8s/clusters/{clusterId}/node-pools": 0,
	}
	for route, want := range counts {
		if got := h.sim.Control().Count(route); got != want {
			t.Errorf("%s counted %d, want %d", route, got, want)
		}
	}
}

func TestNodePoolWriteRefusals(t *testing.T) {
	t.Parallel()
	h := newHarness(t, runaisim.Options{})
	def := h.sim.Fleet().NodePools[0]
	data := h.call(t, http.MethodDelete, "/api/v1/node-pools/"+def.ID, "", 400, nil, checkAll)
	if e := decodeError(t, data); !strings.Contains(e.Message, "default node pool") {
		t.Fatalf("deleting the default pool: %+v", e)
	}
	for _, m := range []string{http.MethodPut, http.MethodPatch, http.MethodDelete} {
		body := ""
		if m != http.MethodDelete {
			body = `{"labelValue":"x"}`
		}
		data := h.call(t, m, "/api/v1/node-pools/9999", body, 404, nil, checkAll)
		if e := decodeError(t, data); e.Code != 404 {
			t.Fatalf("%s unknown pool: %+v", m, e)
		}
	}
	h.call(t, http.MethodPatch, "/api/v1/node-pools/"+def.ID, `{"labelKey":""}`, 400, nil, checkResponse)
	h.call(t, http.MethodPut, "/api/v1/node-pools/"+def.ID, ``, 400, nil, checkResponse)
	h.call(t, http.MethodPatch, "/api/v1/node-pools/"+def.ID, `{"isDefault":false}`, 400, nil, checkAll)
	if got := h.pool(t, def.ID); got.Phase == runai.PoolUpdating {
		t.Fatal("a refused write changed the phase")
	}
}

func TestPhaseDelayDefaultAndSetter(t *testing.T) {
	t.Parallel()
	h := newHarness(t, runaisim.Options{}) // real clock, default 2s
	cl := h.sim.Fleet().Clusters[0].UUID
	var p runai.NodePool
	h.call(t, http.MethodPost, "/api/v1/node-pools", `{"name":"x","labelKey":"k","labelValue":"v","clusterId":"`+cl+`"}`, 201, &p, checkAll)
	if got := h.pool(t, p.ID).Phase; got != runai.PoolCreating {
		t.Fatalf("phase %s right after creation with the default delay", got)
	}
	h.sim.SetPhaseDelay(-1)
	var patched runai.NodePool
	h.call(t, http.MethodPatch, "/api/v1/node-pools/"+p.ID, `{"overProvisioningRatio":2}`, 200, &patched, checkAll)
	if patched.Phase != runai.PoolUpdating {
		t.Fatalf("the write's answer shows %s, want Updating", patched.Phase)
	}
	if got := h.pool(t, p.ID).Phase; got != runai.PoolEmpty {
		t.Fatalf("phase %s on the next read, want Empty", got)
	}
}

func TestWritesLeaveOtherPoolsAlone(t *testing.T) {
	t.Parallel()
	h := newHarness(t, runaisim.Options{PhaseDelay: -1, NodesPerPool: 3})
	before := h.sim.Fleet()
	c2 := before.Clusters[1].UUID
	var p runai.NodePool
	h.call(t, http.MethodPost, "/api/v1/node-pools", `{"name":"side","labelKey":"k","labelValue":"v","clusterId":"`+c2+`"}`, 201, &p, checkAll)
	h.call(t, http.MethodDelete, "/api/v1/node-pools/"+p.ID, "", 202, nil, checkAll)
	after := h.sim.Fleet()
	if !reflect.DeepEqual(before, after) {
		t.Fatal("creating and deleting a pool nobody's nodes match changed the rest of the fleet")
	}
}

func TestConcurrentCreatesOfOneName(t *testing.T) {
	t.Parallel()
	sim := runaisim.New(runaisim.Options{})
	srv := httptest.NewServer(sim.Handler()) // no recorder: the 409s are not declared
	t.Cleanup(srv.Close)
	tok := sim.IssueToken()
	body := `{"name":"race","labelKey":"k","labelValue":"v","clusterId":"` + sim.Fleet().Clusters[0].UUID + `"}`
	const n = 8
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/api/v1/node-pools", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		})
	}
	wg.Wait()
	slices.Sort(statuses)
	if want := append([]int{201}, slices.Repeat([]int{409}, n-1)...); !slices.Equal(statuses, want) {
		t.Fatalf("statuses %v, want one 201 and %d 409", statuses, n-1)
	}
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
