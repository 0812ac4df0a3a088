package fleet

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/fleetgraph/fleetgraph/backends/modelarts"
	"github.com/fleetgraph/fleetgraph/backends/runai"
	"github.com/fleetgraph/fleetgraph/graph/model"
	"github.com/fleetgraph/fleetgraph/internal/ids"
)

func TestResources(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		in       map[string]string
		cpu, mem float64
		gpus     int
		allLen   int
		noCPU    bool
	}{
		{"seed example", map[string]string{"cpu": "1930m", "memory": "1912Mi"}, 1.93, 1912 * 1024 * 1024, 0, 2, false},
		{"gpu node", map[string]string{"cpu": "191930m", "memory": "1516Gi", "nvidia.com/gpu": "8"}, 191.93, 1516 * (1 << 30), 8, 3, false},
		{"ascend", map[string]string{"cpu": "4", "memory": "1e9", "huawei.com/ascend-snt9": "8"}, 4, 1e9, 8, 3, false},
		{"decimal suffix", map[string]string{"cpu": "2", "memory": "2G"}, 2, 2e9, 0, 2, false},
		{"unparsable dropped", map[string]string{"cpu": "lots", "memory": "1Ki"}, 0, 1024, 0, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := resources(tt.in)
			if tt.noCPU {
				if r.CPUCores != nil {
					t.Fatalf("cpu = %v, want nil for an unparsable quantity", *r.CPUCores)
				}
			} else if r.CPUCores == nil || abs(*r.CPUCores-tt.cpu) > 1e-9 {
				t.Fatalf("cpu = %v, want %v", r.CPUCores, tt.cpu)
			}
			if r.MemoryBytes == nil || abs(*r.MemoryBytes-tt.mem) > 1e-3 {
				t.Fatalf("memory = %v, want %v", r.MemoryBytes, tt.mem)
			}
			if r.Gpus == nil || *r.Gpus != tt.gpus {
				t.Fatalf("gpus = %v, want %d", r.Gpus, tt.gpus)
			}
			if len(r.All) != tt.allLen {
				t.Fatalf("all has %d entries, want %d", len(r.All), tt.allLen)
			}
		})
	}
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

func TestModelArtsPhase(t *testing.T) {
	t.Parallel()
	c := func(n int) *modelarts.PoolResourceFlavorCount { return &modelarts.PoolResourceFlavorCount{Count: n} }
	tests := []struct {
		in   modelarts.NodePoolStatusResources
		want model.NodePoolPhase
	}{
		{modelarts.NodePoolStatusResources{Available: c(3)}, model.NodePoolPhaseReady},
		{modelarts.NodePoolStatusResources{Available: c(3), Creating: c(1)}, model.NodePoolPhaseCreating},
		{modelarts.NodePoolStatusResources{Available: c(3), Deleting: c(1), Creating: c(1)}, model.NodePoolPhaseDeleting},
		{modelarts.NodePoolStatusResources{Abnormal: c(2)}, model.NodePoolPhaseAbnormal},
		{modelarts.NodePoolStatusResources{Abnormal: c(1), Available: c(1)}, model.NodePoolPhaseReady},
		{modelarts.NodePoolStatusResources{}, model.NodePoolPhaseEmpty},
	}
	for i, tt := range tests {
		if got := modelartsPhase(tt.in); got != tt.want {
			t.Errorf("case %d: phase %s, want %s", i, got, tt.want)
		}
	}
}

func TestModelArtsNode(t *testing.T) {
	t.Parallel()
	raw := []byte(`{"kind":"Node","apiVersion":"v2","metadata":{"name":"node-dly-4","creationTimestamp":"2024-01-29T09:28:26Z","labels":{"os.modelarts.node/nodepoolname":"nodepool-1"}},"spec":{"flavor":"modelarts.vm.gpu.t4u8"},"status":{"phase":"Abnormal","az":"cn-north-7c","privateIp":"192.168.1.132","resources":{"cpu":"1930m","memory":"1912Mi","nvidia.com/gpu":"8"},"availableResources":{"cpu":"1","memory":"1Gi","nvidia.com/gpu":"3"}}}`)
	var n modelarts.Node
	if err := json.Unmarshal(raw, &n); err != nil {
		t.Fatal(err)
	}
	n.Raw = raw
	got := modelartsNode("ma", "pool-a-0123456789abcdef0123456789abcdef", "", &n)
	if got.Status != model.NodeStatusAbnormal || got.VendorStatus != "Abnormal" {
		t.Fatalf("status %s/%s", got.Status, got.VendorStatus)
	}
	if got.NodePoolName != "nodepool-1" || got.ClusterVendorID != "pool-a-0123456789abcdef0123456789abcdef" {
		t.Fatalf("pool %q cluster %q", got.NodePoolName, got.ClusterVendorID)
	}
	if got.GpuCount != 8 || got.GpuType == nil || *got.GpuType != "modelarts.vm.gpu.t4u8" {
		t.Fatalf("gpu %d %v", got.GpuCount, got.GpuType)
	}
	if got.Available == nil || *got.Available.Gpus != 3 {
		t.Fatalf("available %+v", got.Available)
	}
	if *got.IP != "192.168.1.132" || *got.Zone != "cn-north-7c" || got.CreatedAt == nil {
		t.Fatalf("ip/zone/created: %v %v %v", got.IP, got.Zone, got.CreatedAt)
	}
	if string(got.Raw) != string(raw) {
		t.Fatal("raw is not the vendor object as received")
	}
	id, err := ids.Decode(got.ID, ids.KindNode)
	if err != nil || id.Backend != "ma" || id.Parts[0] != "pool-a-0123456789abcdef0123456789abcdef" || id.Parts[1] != "node-dly-4" {
		t.Fatalf("id %+v, %v", id, err)
	}
}

func TestRunAINode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status string
		want   model.NodeStatus
		gpu    *runai.GPUInfo
		count  int
	}{
		{"Ready", model.NodeStatusReady, &runai.GPUInfo{GPUType: "Tesla-V100", GPUCount: 4}, 4},
		{"NotReady", model.NodeStatusNotReady, nil, 0},
		{"Unknown", model.NodeStatusUnknown, nil, 0},
		{"MissingPrerequisites", model.NodeStatusUnknown, nil, 0},
	}
	for _, tt := range tests {
		n := &runai.Node{ID: "uuid-1", Name: "w1", ClusterUUID: "c1", NodePool: "default", Status: tt.status, GPUInfo: tt.gpu}
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
	ms := []runai.Measurement{
		{Type: "GPU_UTILIZATION_PER_GPU", Labels: map[string]string{"gpu": "10"}, Values: []runai.Sample{{Value: 1}}},
		{Type: "GPU_UTILIZATION_PER_GPU", Labels: map[string]string{"gpu": "2"}, Values: []runai.Sample{{Value: 2}}},
		{Type: "CPU_UTILIZATION", Values: []runai.Sample{{Value: 3}}},
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

func TestAlignRange(t *testing.T) {
	t.Parallel()
	at := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
	tests := []struct {
		start, end string
		samples    int
		wantStart  string
		wantEnd    string
	}{
		// 1h / 20 samples = 3m step: 10:01:37 aligns to 10:00:00.
		{"2026-11-25T09:01:37Z", "2026-11-25T10:01:37Z", 20, "2026-11-25T09:00:00Z", "2026-11-25T10:00:00Z"},
		{"2026-11-25T09:02:59Z", "2026-11-25T10:02:59Z", 20, "2026-11-25T09:00:00Z", "2026-11-25T10:00:00Z"},
		// 5 min / 60 samples = 5s step, raised to 10s.
		{"2026-11-25T09:55:07Z", "2026-11-25T10:00:07Z", 60, "2026-11-25T09:55:00Z", "2026-11-25T10:00:00Z"},
		// 30 days / 20 samples: step capped at 5 min.
		{"2026-10-26T10:03:00Z", "2026-11-25T10:03:00Z", 20, "2026-10-26T10:00:00Z", "2026-11-25T10:00:00Z"},
		// shorter than its step: unchanged.
		{"2026-11-25T10:00:01Z", "2026-11-25T10:00:05Z", 1, "2026-11-25T10:00:01Z", "2026-11-25T10:00:05Z"},
	}
	for _, tt := range tests {
		s, e := alignRange(at(tt.start), at(tt.end), tt.samples)
		if !s.Equal(at(tt.wantStart)) || !e.Equal(at(tt.wantEnd)) {
			t.Errorf("alignRange(%s, %s, %d) = %s, %s; want %s, %s", tt.start, tt.end, tt.samples, s.Format(time.RFC3339), e.Format(time.RFC3339), tt.wantStart, tt.wantEnd)
		}
	}
}

// TestRunAIPoolPhases: a phase of a newer Run:ai is UNKNOWN with the vendor's
// string kept, on both node-pool APIs.
func TestRunAIPoolPhases(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		vendor string
		phase  model.NodePoolPhase
	}{
		{"Ready", model.NodePoolPhaseReady}, {"Deleting", model.NodePoolPhaseDeleting},
		{"Draining", model.NodePoolPhaseUnknown}, {"", model.NodePoolPhaseUnknown},
	} {
		p := runaiNodePool("r", &runai.NodePool{ID: "5", Name: "v100", ClusterID: "c", Phase: tt.vendor})
		l := runaiLegacyNodePool("r", "c", &runai.LegacyNodePool{ID: 5, Name: "v100", Status: tt.vendor})
		for _, got := range []*model.NodePool{p, l} {
			if got.Phase != tt.phase || (tt.vendor == "") != (got.VendorPhase == nil) || (got.VendorPhase != nil && *got.VendorPhase != tt.vendor) {
				t.Errorf("%q: phase %s vendorPhase %v", tt.vendor, got.Phase, got.VendorPhase)
			}
		}
	}
}
