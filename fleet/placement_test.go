package fleet

import (
	"slices"
	"strings"
	"testing"

	"github.com/fleetgraph/fleetgraph/graph/model"
)

// TestPoolPlacements: a pool's free accelerators are summed per model (two
// unknown types are two kinds), and a placement names the fewest nodes that
// hold the request, most free first.
func TestPoolPlacements(t *testing.T) {
	t.Parallel()
	node := func(name, pool, gpuType string) *model.Node {
		return &model.Node{Name: name, Backend: "b", ClusterVendorID: "c", NodePoolName: pool, Provider: model.ProviderRunai,
			Status: model.NodeStatusReady, GpuType: &gpuType, GpuCount: 8}
	}
	nodes := []*model.Node{
		node("a1", "p", "NVIDIA-A100-SXM4-80GB"), node("a2", "p", "NVIDIA-A100-SXM4-40GB"), node("a3", "p", "NVIDIA-A100-SXM4-80GB"),
		node("v1", "p", "Tesla-V100"),
		node("x1", "p", "Cambricon-MLU370"), node("x2", "p", "Other-Chip"),
	}
	free := map[*model.Node]int{nodes[0]: 2, nodes[1]: 5, nodes[2]: 3, nodes[3]: 8, nodes[4]: 3, nodes[5]: 3}
	accels := map[*model.Node]*model.Accelerator{}
	for _, n := range nodes {
		accels[n] = AcceleratorOf(n)
	}
	got := poolPlacements(PlacementRequest{Accelerators: 6}, nodes, accels, free)
	slices.SortStableFunc(got, comparePlacements)
	var desc []string
	for _, p := range got {
		var names []string
		for _, n := range p.Nodes {
			names = append(names, n.Name)
		}
		desc = append(desc, p.Model+":"+strings.Join(names, "+")+":"+string(rune('0'+p.LeftOver)))
	}
	// A100: 2+5+3 = 10 free, two nodes (5, 3) hold 6, 4 left over. V100: 8,
	// 2 left. The two unknown types (3 + 3) are not one kind: neither holds 6.
	want := []string{"V100:v1:2", "A100:a2+a3:4"}
	if !slices.Equal(desc, want) {
		t.Fatalf("placements %v, want %v", desc, want)
	}
}
