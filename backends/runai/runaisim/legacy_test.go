package runaisim_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/fleetgraph/fleetgraph/backends/runai"
	"github.com/fleetgraph/fleetgraph/backends/runai/runaisim"
)

// legacyPools lists a cluster's pools through the deprecated API and checks
// the NodePool1 encoding: id a JSON number, nodes a JSON string.
func (h *harness) legacyPools(t *testing.T, clusterID string) []runai.LegacyNodePool {
	t.Helper()
	data := h.call(t, http.MethodGet, "/v1/k8s/clusters/"+clusterID+"/node-pools", "", 200, nil, checkAll)
	var raw []map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	for _, m := range raw {
		if _, ok := m["id"].(float64); !ok {
			t.Fatalf("id %#v is not a JSON number", m["id"])
		}
		if _, ok := m["nodes"].(string); !ok {
			t.Fatalf("nodes %#v is not a string", m["nodes"])
		}
		if _, ok := m["phase"]; ok {
			t.Fatal("NodePool1 has status, not phase")
		}
	}
	var pools []runai.LegacyNodePool
	if err := json.Unmarshal(data, &pools); err != nil {
		t.Fatal(err)
	}
	return pools
}

func legacyByName(pools []runai.LegacyNodePool, name string) (runai.LegacyNodePool, bool) {
	i := slices.IndexFunc(pools, func(p runai.LegacyNodePool) bool { return p.Name == name })
	if i < 0 {
		return runai.LegacyNodePool{}, false
	}
	return pools[i], true
}

func TestLegacyNodePools(t *testing.T) {
	t.Parallel()
	h := newHarness(t, runaisim.Options{PhaseDelay: -1})
	f := h.sim.Fleet()
	cl, c2 := f.Clusters[0].UUID, f.Clusters[1].UUID
	base := "/v1/k8s/clusters/" + cl + "/node-pools"

	// The listing is the cluster's pools of the current API.
	pools := h.legacyPools(t, cl)
	var want []string
	for _, p := range f.NodePools {
		if p.ClusterID == cl {
			want = append(want, p.ID)
		}
	}
	var got []string
	for _, p := range pools {
		got = append(got, strconv.Itoa(p.ID))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("legacy ids %v, want %v", got, want)
	}
	def, _ := legacyByName(pools, "default")
	names, err := def.NodeNames()
	if err != nil || !slices.Equal(names, poolNodes(f, cl, "default")) || !def.IsDefault || def.Status != runai.PoolReady {
		t.Fatalf("default pool %+v (nodes %v, %v)", def, names, err)
	}

	// Create: 201 without a body, seen by both APIs.
	data := h.call(t, http.MethodPost, base, `{"name":"legacy-a","labelKey":"k","labelValue":"v","overProvisioningRatio":2,"placementStrategy":{"cpu":"binpack","gpu":"binpack"}}`, 201, nil, checkAll)
	if len(data) != 0 {
		t.Fatalf("201 with a body: %s", data)
	}
	var listed poolsBody
	h.call(t, http.MethodGet, "/api/v1/node-pools?filterBy=name==legacy-a", "", 200, &listed, checkAll)
	if len(listed.NodePools) != 1 || listed.NodePools[0].ClusterID != cl || deref(listed.NodePools[0].OverProvisioningRatio) != 2 ||
		listed.NodePools[0].CreatedBy != runaisim.DefaultClientID {
		t.Fatalf("the current API lists %+v", listed.NodePools)
	}
	np := listed.NodePools[0]
	lp, ok := legacyByName(h.legacyPools(t, cl), "legacy-a")
	if !ok || strconv.Itoa(lp.ID) != np.ID || lp.Status != runai.PoolEmpty || lp.Nodes != "[]" || lp.PlacementStrategy.CPU != "binpack" {
		t.Fatalf("legacy view %+v", lp)
	}
	id := "/" + np.ID

	data = h.call(t, http.MethodPost, base, `{"name":"legacy-a","labelKey":"k","labelValue":"v"}`, 409, nil, checkAll)
	if e := decodeError(t, data); !strings.Contains(e.Message, "legacy-a already exists") {
		t.Fatalf("duplicate: %+v", e)
	}

	// PUT changes only what it carries (the vendor points to PATCH).
	h.call(t, http.MethodPut, base+id, `{"overProvisioningRatio":4}`, 202, nil, checkAll)
	if p := h.pool(t, np.ID); deref(p.OverProvisioningRatio) != 4 || p.LabelKey != "k" || deref(p.PlacementStrategy.GPU) != "binpack" {
		t.Fatalf("after legacy PUT: %+v", p)
	}
	// Labels: the pool takes the nodes the label selects.
	h.call(t, http.MethodPut, base+id+"/labels", `{"labelKey":"run.ai/node-pool","labelValue":"default"}`, 202, nil, checkAll)
	lp, _ = legacyByName(h.legacyPools(t, cl), "legacy-a")
	if names, _ := lp.NodeNames(); !slices.Equal(names, poolNodes(f, cl, "default")) || lp.LabelValue != "default" {
		t.Fatalf("after relabelling: %+v", lp)
	}

	refusals := []struct {
		name, method, path, body string
		status                   int
		c                        check
	}{
		{"list, unknown cluster", http.MethodGet, "/v1/k8s/clusters/00000000-0000-4000-8000-000000000000/node-pools", "", 404, checkAll},
		{"create, unknown cluster", http.MethodPost, "/v1/k8s/clusters/00000000-0000-4000-8000-000000000000/node-pools", `{"name":"x","labelKey":"k","labelValue":"v"}`, 404, checkAll},
		{"create without labelKey", http.MethodPost, base, `{"name":"x","labelValue":"v"}`, 400, checkAll},
		{"create with ratio 9", http.MethodPost, base, `{"name":"x","labelKey":"k","labelValue":"v","overProvisioningRatio":9}`, 400, checkAll},
		{"create with unknown field", http.MethodPost, base, `{"name":"x","labelKey":"k","labelValue":"v","gpuResourceOptimization":{}}`, 400, checkAll},
		{"labels without value", http.MethodPut, base + id + "/labels", `{"labelKey":"k"}`, 400, checkAll},
		{"update with bad placement", http.MethodPut, base + id, `{"placementStrategy":{"gpu":"random"}}`, 400, checkResponse},
		{"id not an integer", http.MethodPut, base + "/abc", `{"labelKey":"k"}`, 400, checkResponse},
		{"unknown id", http.MethodDelete, base + "/9999", "", 404, checkAll},
		{"pool of another cluster", http.MethodDelete, "/v1/k8s/clusters/" + c2 + "/node-pools" + id, "", 404, checkAll},
		{"default pool", http.MethodDelete, base + "/" + strconv.Itoa(def.ID), "", 400, checkAll},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			data := h.call(t, tt.method, tt.path, tt.body, tt.status, nil, tt.c)
			if e := decodeError(t, data); e.Code != tt.status || e.Message == "" {
				t.Fatalf("error body %+v", e)
			}
		})
	}

	// Delete: 202 without a body; gone from both APIs once settled.
	data = h.call(t, http.MethodDelete, base+id, "", 202, nil, checkAll)
	if len(data) != 0 {
		t.Fatalf("202 with a body: %s", data)
	}
	h.call(t, http.MethodGet, "/api/v1/node-pools"+id, "", 404, nil, checkAll)
	if _, ok := legacyByName(h.legacyPools(t, cl), "legacy-a"); ok {
		t.Fatal("the deleted pool is still listed")
	}
	if got := poolNodes(h.sim.Fleet(), cl, "default"); !slices.Equal(got, poolNodes(f, cl, "default")) {
		t.Fatalf("the default pool has %v after the deletion", got)
	}

	for route, want := range map[string]int64{
		"GET /v1/k8s/clusters/{clusterId}/node-pools":             5,
		"POST /v1/k8s/clusters/{clusterId}/node-pools":            6,
		"PUT /v1/k8s/clusters/{clusterId}/node-pools/{id}":        3,
		"PUT /v1/k8s/clusters/{clusterId}/node-pools/{id}/labels": 2,
		"DELETE /v1/k8s/clusters/{clusterId}/node-pools/{id}":     4,
		"POST /api/v1/node-pools":                                 0,
		"DELETE /api/v1/node-pools/{nodepoolId}":                  0,
	} {
		if got := h.sim.Control().Count(route); got != want {
			t.Errorf("%s counted %d, want %d", route, got, want)
		}
	}
}
