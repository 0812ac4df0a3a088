package fleet

import (
	"sort"

	"github.com/fleetgraph/fleetgraph/graph/model"
)

// Summarize totals nodes overall, by provider, by GPU type and by
// accelerator (catalogue vendor + model: a V100 is one group on either
// vendor; nodes without accelerators are in no accelerator group).
// allocated may be nil (not asked for).
func Summarize(nodes []*model.Node, allocated map[*model.Node]int) *model.FleetSummary {
	sum := &model.FleetSummary{ByProvider: []*model.FleetSummaryGroup{}, ByGpuType: []*model.FleetSummaryGroup{}}
	byProvider := map[string]*model.FleetSummaryGroup{}
	byType := map[string]*model.FleetSummaryGroup{}
	byAccel := map[string]*model.FleetSummaryGroup{} // by "vendor model"
	accelOf := map[string]*model.Accelerator{}
	group := func(m map[string]*model.FleetSummaryGroup, key string) *model.FleetSummaryGroup {
		g, ok := m[key]
		if !ok {
			g = &model.FleetSummaryGroup{Key: key}
			m[key] = g
		}
		return g
	}
	total := &model.FleetSummaryGroup{}
	for _, n := range nodes {
		gpuType := "none"
		if n.GpuType != nil {
			gpuType = *n.GpuType
		}
		ready := n.Status == model.NodeStatusReady
		groups := []*model.FleetSummaryGroup{total, group(byProvider, string(n.Provider)), group(byType, gpuType)}
		if a := AcceleratorOf(n); a != nil {
			key := a.Vendor + " " + a.Model
			accelOf[key] = a
			groups = append(groups, group(byAccel, key))
		}
		for _, g := range groups {
			g.Nodes++
			g.Gpus += n.GpuCount
			g.AllocatedGpus += allocated[n]
			if ready {
				g.ReadyNodes++
				g.ReadyGpus += n.GpuCount
			}
		}
	}
	sum.Nodes, sum.ReadyNodes, sum.Gpus, sum.ReadyGpus, sum.AllocatedGpus = total.Nodes, total.ReadyNodes, total.Gpus, total.ReadyGpus, total.AllocatedGpus
	sum.ByProvider = sortedGroups(byProvider)
	sum.ByGpuType = sortedGroups(byType)
	sum.ByAccelerator = make([]*model.AcceleratorGroup, 0, len(byAccel))
	for _, g := range sortedGroups(byAccel) {
		a := accelOf[g.Key]
		sum.ByAccelerator = append(sum.ByAccelerator, &model.AcceleratorGroup{Vendor: a.Vendor, Model: a.Model,
			Nodes: g.Nodes, ReadyNodes: g.ReadyNodes, Gpus: g.Gpus, ReadyGpus: g.ReadyGpus, AllocatedGpus: g.AllocatedGpus})
	}
	return sum
}

func sortedGroups(m map[string]*model.FleetSummaryGroup) []*model.FleetSummaryGroup {
	out := make([]*model.FleetSummaryGroup, 0, len(m))
	for _, g := range m {
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}
