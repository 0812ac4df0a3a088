package modelarts_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/fleetgraph/fleetgraph/backends/modelarts"
	"github.com/fleetgraph/fleetgraph/internal/testutil"
)

// docExample returns components.examples.<name>.value of the OpenAPI document.
func docExample(t *testing.T, name string) json.RawMessage {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testutil.SharedDir(t), "modelarts-openapi-v2.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			Examples map[string]struct {
				Value json.RawMessage `json:"value"`
			} `json:"examples"`
		} `json:"components"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	v := doc.Components.Examples[name].Value
	if v == nil {
		t.Fatalf("example %s not in the document", name)
	}
	return v
}

// TestPoolStatusResourcesShapes: a pool's status.resources buckets come as
// arrays (published examples) or single objects (SDK struct).
func TestPoolStatusResourcesShapes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		json      string
		available int
		flavors   int
	}{
		{"array", `{"available":[{"flavor":"a","count":2},{"flavor":"b","count":3}]}`, 5, 2},
		{"object", `{"available":{"flavor":"a","count":2,"maxCount":2,"azs":[{"az":"z","count":2}]}}`, 2, 1},
		{"null", `{"available":null}`, 0, 0},
		{"absent", `{}`, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var r modelarts.PoolStatusResources
			if err := json.Unmarshal([]byte(tc.json), &r); err != nil {
				t.Fatal(err)
			}
			if r.Available.Total() != tc.available || len(r.Available) != tc.flavors {
				t.Errorf("available = %+v", r.Available)
			}
		})
	}
	var r modelarts.PoolStatusResources
	if err := json.Unmarshal([]byte(`{"available":"3"}`), &r); err == nil {
		t.Error("a string bucket decoded")
	}
}

// TestDecodePublishedExamples decodes the document's verbatim examples into
// the DTOs.
func TestDecodePublishedExamples(t *testing.T) {
	t.Parallel()
	var pool modelarts.Pool
	if err := json.Unmarshal(docExample(t, "OtcPool"), &pool); err != nil {
		t.Fatal(err)
	}
	if pool.DisplayName() != "auto-pool-os" || pool.Spec.Resources[0].Count != 2 ||
		pool.Status.Resources.Available.Total() != 2 || pool.Status.Resources.Available[0].AZs[0].AZ != "az-7c" ||
		pool.Metadata.CreatedAt().IsZero() {
		t.Errorf("OtcPool decoded as %+v", pool)
	}

	var np modelarts.NodePool
	if err := json.Unmarshal(docExample(t, "SynNodePool"), &np); err != nil {
		t.Fatal(err)
	}
	if np.Spec.Resources.Flavor != "modelarts.vm.2u4g.dcc" || np.Status.Resources.Available == nil || np.Status.Resources.Available.Count != 1 {
		t.Errorf("SynNodePool decoded as %+v", np)
	}

	var nodes struct {
		Items []modelarts.Node `json:"items"`
	}
	if err := json.Unmarshal(docExample(t, "SeedNodeListWithLabels"), &nodes); err != nil {
		t.Fatal(err)
	}
	n := nodes.Items[0]
	if n.Metadata.Name != "node-dly-4" || n.Status.Resources[modelarts.ResourceCPU] != "1930m" || n.NodePoolName() != "nodepool-1" ||
		n.Spec.HostNetwork == nil || len(n.Spec.HostNetwork.SecurityGroups) != 1 || n.Status.AvailableResources != nil {
		t.Errorf("seed node decoded as %+v", n)
	}
}
