package runai

import (
	"testing"

	api "github.com/fleetgraph/fleetgraph/backends/runai"
	"github.com/fleetgraph/fleetgraph/graph/model"
)

func TestRunAINode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status string
		want   model.NodeStatus
		gpu    *api.GPUInfo
		count  int
	}{
		{"Ready", model.NodeStatusReady, &api.GPUInfo{GPUType: "Tesla-V100", GPUCount: 4}, 4},
		{"NotReady", model.NodeStatusNotReady, nil, 0},
		{"Unknown", model.NodeStatusUnknown, nil, 0},
		{"MissingPrerequisites", model.NodeStatusUnknown, nil, 0},
	}
	for _, tt := range tests {
		n := &api.Node{ID: "uuid-1", Name: "w1", ClusterUUID: "c1", NodePool: "default", Status: tt.status, GPUInfo: tt.gpu}
		got := runaiNode("ra", "c1", n)
		if got.Status != tt.want || got.GpuCount != tt.count || *got.Capacity.Gpus != tt.count {
			t.Errorf("%s: status %s gpus %d", tt.status, got.Status, got.GpuCount)
		}
		if (tt.gpu == nil) != (got.GpuType == nil) {
			t.Errorf("%s: gpuType %v", tt.status, got.GpuType)
		}
		if got.VendorID != "uuid-1" || got.NodePoolName != "default" || got.Available != nil {
			t.Errorf("%s: refs %+v", tt.status, got)
		}
	}
}

func TestRunAISeriesOrder(t *testing.T) {
	t.Parallel()
	ms := []api.Measurement{
		{Type: "GPU_UTILIZATION_PER_GPU", Labels: map[string]string{"gpu": "10"}, Values: []api.Sample{{Value: 1}}},
		{Type: "GPU_UTILIZATION_PER_GPU", Labels: map[string]string{"gpu": "2"}, Values: []api.Sample{{Value: 2}}},
		{Type: "CPU_UTILIZATION", Values: []api.Sample{{Value: 3}}},
		{Type: "GPU_UTILIZATION", Values: nil}, // not served: no series
	}
	got := runaiSeries(ms)
	if len(got) != 3 {
		t.Fatalf("%d series, want 3", len(got))
	}
	if got[0].Type != "CPU_UTILIZATION" || got[1].Labels[0].Value != "2" || got[2].Labels[0].Value != "10" {
		t.Fatalf("order: %s %v %v", got[0].Type, got[1].Labels[0], got[2].Labels[0])
	}
}

func TestRunAIPoolPhases(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		vendor string
		phase  model.NodePoolPhase
	}{
		{"Ready", model.NodePoolPhaseReady}, {"Deleting", model.NodePoolPhaseDeleting},
		{"Draining", model.NodePoolPhaseUnknown}, {"", model.NodePoolPhaseUnknown},
	} {
		p := runaiNodePool("r", &api.NodePool{ID: "5", Name: "v100", ClusterID: "c", Phase: tt.vendor})
		l := runaiLegacyNodePool("r", "c", &api.LegacyNodePool{ID: 5, Name: "v100", Status: tt.vendor})
		for _, got := range []*model.NodePool{p, l} {
			if got.Phase != tt.phase || (tt.vendor == "") != (got.VendorPhase == nil) || (got.VendorPhase != nil && *got.VendorPhase != tt.vendor) {
				t.Errorf("%q: phase %s vendorPhase %v", tt.vendor, got.Phase, got.VendorPhase)
			}
		}
	}
}
