package runai_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"testing"

	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/backends/runai"
	"github.com/fleetgraph/fleetgraph/backends/runai/runaisim"
)

const (
	routeLegacyList   = "GET /v1/k8s/clusters/{clusterId}/node-pools"
	routeLegacyCreate = "POST /v1/k8s/clusters/{clusterId}/node-pools"
	routeLegacyUpdate = "PUT /v1/k8s/clusters/{clusterId}/node-pools/{id}"
	routeLegacyLabels = "PUT /v1/k8s/clusters/{clusterId}/node-pools/{id}/labels"
	routeLegacyDelete = "DELETE /v1/k8s/clusters/{clusterId}/node-pools/{id}"
)

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func legacyNamed(pools []runai.LegacyNodePool, name string) *runai.LegacyNodePool {
	for i := range pools {
		if pools[i].Name == name {
			return &pools[i]
		}
	}
	return nil
}

func TestLegacyNodePools(t *testing.T) {
	t.Parallel()
	e := setup(t, runaisim.Options{PhaseDelay: -1}, nil)
	ctx := t.Context()
	f := e.sim.Fleet()
	cl := f.Clusters[0].UUID

	// The deprecated listing shows the same pools as the current API.
	legacy, err := e.client.LegacyListNodePools(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	current, err := e.client.ListNodePools(ctx, &runai.NodePoolListOptions{FilterBy: []string{"clusterId==" + cl}})
	if err != nil {
		t.Fatal(err)
	}
	if len(legacy) != len(current) {
		t.Fatalf("%d legacy pools, %d current", len(legacy), len(current))
	}
	for i, lp := range legacy {
		cp := current[i]
		names, err := lp.NodeNames()
		if err != nil || strconv.Itoa(lp.ID) != cp.ID || lp.Name != cp.Name || lp.Status != cp.Phase || !slices.Equal(names, cp.Status.Nodes) ||
			lp.IsDefault != cp.IsDefault || !lp.CreatedAt.Equal(cp.CreatedAt) || lp.PlacementStrategy.GPU != deref(cp.PlacementStrategy.GPU) {
			t.Fatalf("legacy %+v (nodes %v, %v)\ncurrent %+v", lp, names, err, cp)
		}
		checkRawNumber(t, lp.Raw, lp.ID)
	}

	// Create: no body back; the pool is in both APIs.
	if err := e.client.LegacyCreateNodePool(ctx, cl, runai.LegacyNodePoolCreate{
		Name: "legacy-a", LabelKey: "k", LabelValue: "v", OverProvisioningRatio: 2,
		PlacementStrategy: &runai.LegacyPlacementStrategy{CPU: "binpack", GPU: "binpack"},
	}); err != nil {
		t.Fatal(err)
	}
	created := e.poolsNamed(t, "legacy-a")
	if len(created) != 1 || created[0].ClusterID != cl || deref(created[0].OverProvisioningRatio) != 2 || created[0].CreatedBy != runaisim.DefaultClientID {
		t.Fatalf("the current API lists %+v", created)
	}
	id := atoi(t, created[0].ID)
	legacy, err = e.client.LegacyListNodePools(ctx, cl)
	if lp := legacyNamed(legacy, "legacy-a"); err != nil || lp == nil || lp.ID != id || lp.Status != runai.PoolEmpty || lp.Nodes != "[]" {
		t.Fatalf("legacy listing after create: %+v %v", lp, err)
	}
	if err := e.client.LegacyCreateNodePool(ctx, cl, runai.LegacyNodePoolCreate{Name: "legacy-a", LabelKey: "k", LabelValue: "v"}); !errors.Is(err, backends.ErrConflict) {
		t.Fatalf("duplicate: err %v, want ErrConflict", err)
	}

	// Update and labels: 202; what is left out stays.
	if err := e.client.LegacyUpdateNodePool(ctx, cl, id, runai.LegacyNodePoolUpdate{OverProvisioningRatio: 3}); err != nil {
		t.Fatal(err)
	}
	if p := e.pool(t, created[0].ID); deref(p.OverProvisioningRatio) != 3 || p.LabelKey != "k" || deref(p.PlacementStrategy.CPU) != "binpack" {
		t.Fatalf("after legacy update: %+v", p)
	}
	if err := e.client.LegacyUpdateNodePoolLabels(ctx, cl, id, "run.ai/node-pool", "default"); err != nil {
		t.Fatal(err)
	}
	if p := e.pool(t, created[0].ID); p.LabelValue != "default" || p.Phase == runai.PoolEmpty || len(p.Status.Nodes) == 0 {
		t.Fatalf("after relabelling onto the default pool's nodes: %+v", p)
	}

	// Errors: Error1 bodies read like Error.
	unknown := "00000000-0000-4000-8000-000000000000"
	if _, err := e.client.LegacyListNodePools(ctx, unknown); !errors.Is(err, backends.ErrNotFound) {
		t.Fatalf("unknown cluster: %v", err)
	}
	var apiErr *backends.APIError
	if err := e.client.LegacyDeleteNodePool(ctx, cl, 9999); !errors.As(err, &apiErr) || apiErr.Status != 404 || apiErr.Code != "404" ||
		apiErr.Route != "/v1/k8s/clusters/{clusterId}/node-pools/{id}" {
		t.Fatalf("unknown pool: %v", err)
	}
	if err := e.client.LegacyUpdateNodePoolLabels(ctx, cl, id, "", "x"); !errors.Is(err, backends.ErrBadRequest) {
		t.Fatalf("empty label key: %v", err)
	}

	// Delete: 202; gone from both once settled.
	if err := e.client.LegacyDeleteNodePool(ctx, cl, id); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.GetNodePool(ctx, created[0].ID); !errors.Is(err, backends.ErrNotFound) {
		t.Fatalf("after legacy delete: %v", err)
	}
	for route, want := range map[string]int64{routeLegacyList: 3, routeLegacyCreate: 2, routeLegacyUpdate: 1, routeLegacyLabels: 2, routeLegacyDelete: 2} {
		if got := e.count(route); got != want {
			t.Errorf("%s counted %d, want %d", route, got, want)
		}
	}
}

// checkRawNumber checks that raw's id is the JSON number want.
func checkRawNumber(t *testing.T, raw json.RawMessage, want int) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if got, ok := m["id"].(float64); !ok || int(got) != want {
		t.Fatalf("Raw id %#v, want the number %d", m["id"], want)
	}
}

func TestLegacyNodePoolDecoding(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body string
		wantID     int
		wantErr    bool
	}{
		{"integer id", `[{"id":5,"name":"a","nodes":"[\"n1\"]"}]`, 5, false},
		{"integral number", `[{"id":5.0,"name":"a"}]`, 5, false},
		{"exponent", `[{"id":1e2,"name":"a"}]`, 100, false},
		{"fraction", `[{"id":5.5,"name":"a"}]`, 0, true},
		{"string id", `[{"id":"5","name":"a"}]`, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, _ := fakeServer(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, tt.body) })
			ctx := backends.WithCredentials(t.Context(), backends.Credentials{RunAIBearer: "caller-token"})
			pools, err := c.LegacyListNodePools(ctx, "c-1")
			if (err != nil) != tt.wantErr {
				t.Fatalf("err %v, want error %v", err, tt.wantErr)
			}
			if err == nil && (len(pools) != 1 || pools[0].ID != tt.wantID || pools[0].Name != "a" || len(pools[0].Raw) == 0) {
				t.Fatalf("decoded %+v", pools)
			}
		})
	}
}
