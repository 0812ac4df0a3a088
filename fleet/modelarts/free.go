package modelarts

import (
	"context"
	"slices"

	"github.com/fleetgraph/fleetgraph/fleet"
	"github.com/fleetgraph/fleetgraph/graph/model"
)

var _ fleet.FreeSource = (*Source)(nil)

// FreeAccelerators implements fleet.FreeSource from the node listing
// itself, no call: the accelerators in status.availableResources. A node
// without availableResources (the vendor's example has none, though the SDK
// calls it required), or whose availableResources leave out the
// accelerator its resources list, is left out (null): ModelArts did not say.
func (s *Source) FreeAccelerators(_ context.Context, nodes []*model.Node) func() (map[*model.Node]int, []error) {
	return func() (map[*model.Node]int, []error) {
		out := make(map[*model.Node]int, len(nodes))
		for _, n := range nodes {
			if v, ok := freeOf(n); ok {
				out[n] = v
			}
		}
		return out, nil
	}
}

func freeOf(n *model.Node) (int, bool) {
	if n.Available == nil {
		return 0, false
	}
	sum, said := 0, false
	for _, q := range n.Available.All {
		if slices.Contains(accelerators, q.Name) {
			sum += int(q.Value)
			said = true
		}
	}
	if !said && n.GpuCount > 0 {
		return 0, false
	}
	return sum, true
}
