package modelarts

import (
	"encoding/json"
	"testing"

	api "github.com/fleetgraph/fleetgraph/backends/modelarts"
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
	c := func(n int) *api.PoolResourceFlavorCount { return &api.PoolResourceFlavorCount{Count: n} }
	tests := []struct {
		in   api.NodePoolStatusResources
		want model.NodePoolPhase
	}{
		{api.NodePoolStatusResources{Available: c(3)}, model.NodePoolPhaseReady},
		{api.NodePoolStatusResources{Available: c(3), Creating: c(1)}, model.NodePoolPhaseCreating},
		{api.NodePoolStatusResources{Available: c(3), Deleting: c(1), Creating: c(1)}, model.NodePoolPhaseDeleting},
		{api.NodePoolStatusResources{Abnormal: c(2)}, model.NodePoolPhaseAbnormal},
		{api.NodePoolStatusResources{Abnormal: c(1), Available: c(1)}, model.NodePoolPhaseReady},
		{api.NodePoolStatusResources{}, model.NodePoolPhaseEmpty},
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
	var n api.Node
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
	if err != nil || id.Backend != "ma" || nodeIDOf(id) != (NodeID{Backend: "ma", Pool: "pool-a-0123456789abcdef0123456789abcdef", Node: "node-dly-4"}) {
		t.Fatalf("id %+v, %v", id, err)
	}
}
