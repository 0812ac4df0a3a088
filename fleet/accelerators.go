package fleet

import (
	"context"

	"github.com/fleetgraph/fleetgraph/graph/model"
	"github.com/fleetgraph/fleetgraph/internal/accel"
)

// FreeSource is a Source that can tell how many accelerators are free on its
// nodes (Node.freeAccelerators, placements).
type FreeSource interface {
	Source
	// FreeAccelerators starts what tells the free accelerators of nodes (all
	// of this source, all READY). A node left out of the map is one the
	// vendor cannot say for: it stays null, never a guess.
	FreeAccelerators(ctx context.Context, nodes []*model.Node) func() (map[*model.Node]int, []error)
}

// AcceleratorOf is the node's accelerators in the catalogue
// (internal/accel): its gpuType mapped onto vendor + model, the raw string
// kept; nil for a node without accelerators.
func AcceleratorOf(n *model.Node) *model.Accelerator {
	if n.GpuType == nil || *n.GpuType == "" {
		return nil
	}
	info := accel.Default().Lookup(*n.GpuType)
	return &model.Accelerator{Vendor: info.Vendor, Model: info.Model, MemoryBytes: info.MemoryBytes, Count: n.GpuCount, Raw: *n.GpuType}
}

// FreeAccelerators returns the accelerators free on each node: a node that
// is not READY has none (no call is made for it); a READY node as its
// source tells it (Run:ai: one FREE_GPUS telemetry call per backend;
// ModelArts: availableResources, no call), at most its gpuCount. A node is
// absent from the map where its vendor cannot say.
func (s *Service) FreeAccelerators(ctx context.Context, nodes []*model.Node) (map[*model.Node]int, []error) {
	out := make(map[*model.Node]int, len(nodes))
	bySource := map[FreeSource][]*model.Node{}
	for _, n := range nodes {
		if n.Status != model.NodeStatusReady {
			out[n] = 0
			continue
		}
		if src, ok := s.reg.byName[n.Backend].(FreeSource); ok {
			bySource[src] = append(bySource[src], n)
		}
	}
	var waits []func() (map[*model.Node]int, []error)
	for _, src := range s.reg.sources { // configuration order: start every call before waiting
		if fs, ok := src.(FreeSource); ok && len(bySource[fs]) > 0 {
			waits = append(waits, fs.FreeAccelerators(ctx, bySource[fs]))
		}
	}
	var errs []error
	for _, wait := range waits {
		m, e := wait()
		errs = append(errs, e...)
		for n, v := range m {
			out[n] = max(0, min(v, n.GpuCount))
		}
	}
	return out, errs
}
