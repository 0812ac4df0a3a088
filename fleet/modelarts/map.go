package modelarts

import (
	"math"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"

	api "github.com/fleetgraph/fleetgraph/backends/modelarts"
	"github.com/fleetgraph/fleetgraph/graph/model"
)

func modelartsCluster(backend string, p *api.Pool) *model.Cluster {
	out := &model.Cluster{
		ID:       ClusterID{Backend: backend, Pool: p.Metadata.Name}.Encode(),
		Name:     p.Metadata.Name,
		Provider: model.ProviderModelarts,
		Backend:  backend,
		VendorID: p.Metadata.Name,
		Raw:      model.RawJSON(p.Raw),
	}
	if display := p.Metadata.Labels[api.LabelPoolName]; display != "" {
		out.Name = display
	}
	if p.Status.Phase != "" {
		s := p.Status.Phase
		out.State = &s
	}
	if t := p.Metadata.CreatedAt(); !t.IsZero() {
		out.CreatedAt = &t
	}
	return out
}

// modelartsPhase derives a phase from the node counts per state: ModelArts
// node pools have no phase of their own.
func modelartsPhase(r api.NodePoolStatusResources) model.NodePoolPhase {
	n := func(c *api.PoolResourceFlavorCount) int {
		if c == nil {
			return 0
		}
		return c.Count
	}
	switch {
	case n(r.Deleting) > 0:
		return model.NodePoolPhaseDeleting
	case n(r.Creating) > 0:
		return model.NodePoolPhaseCreating
	case n(r.Abnormal) > 0 && n(r.Available) == 0:
		return model.NodePoolPhaseAbnormal
	case n(r.Available) == 0:
		return model.NodePoolPhaseEmpty
	}
	return model.NodePoolPhaseReady
}

func modelartsNodePool(backend, pool string, np *api.NodePool) *model.NodePool {
	out := &model.NodePool{
		ID:                NodePoolID{Backend: backend, Pool: pool, NodePool: np.Metadata.Name}.Encode(),
		Name:              np.Metadata.Name,
		Provider:          model.ProviderModelarts,
		Backend:           backend,
		Phase:             modelartsPhase(np.Status.Resources),
		ReportedNodeCount: np.Spec.Resources.Count,
		Raw:               model.RawJSON(np.Raw),
		ClusterVendorID:   pool,
		VendorID:          np.Metadata.Name,
	}
	if f := np.Spec.Resources.Flavor; f != "" {
		out.Flavor = &f
	}
	if t := np.Metadata.CreatedAt(); !t.IsZero() {
		out.CreatedAt = &t
	}
	return out
}

var modelartsNodeStatuses = map[string]model.NodeStatus{
	api.NodeAvailable: model.NodeStatusReady,
	api.NodeCreating:  model.NodeStatusCreating,
	api.NodeDeleting:  model.NodeStatusDeleting,
	api.NodeAbnormal:  model.NodeStatusAbnormal,
	api.NodeChecking:  model.NodeStatusChecking,
}

// accelerators are the resource names that count as GPUs (NPUs included).
var accelerators = []string{api.ResourceNvidiaGPU, api.ResourceAscendSnt9, api.ResourceAscendSnt3}

// modelartsNode maps a ModelArts node. nodePool is the pool it was listed
// under, if any; otherwise its labels name it.
func modelartsNode(backend, pool, nodePool string, n *api.Node) *model.Node {
	status, ok := modelartsNodeStatuses[n.Status.Phase]
	if !ok {
		status = model.NodeStatusUnknown
	}
	if np := n.Metadata.Labels[api.LabelNodePoolName]; np != "" {
		nodePool = np
	}
	out := &model.Node{
		ID:              NodeID{Backend: backend, Pool: pool, Node: n.Metadata.Name}.Encode(),
		Name:            n.Metadata.Name,
		Provider:        model.ProviderModelarts,
		Backend:         backend,
		Status:          status,
		VendorStatus:    n.Status.Phase,
		Capacity:        resources(n.Status.Resources),
		Raw:             model.RawJSON(n.Raw),
		ClusterVendorID: pool,
		NodePoolName:    nodePool,
		VendorID:        n.Metadata.Name,
	}
	if n.Status.AvailableResources != nil {
		out.Available = resources(n.Status.AvailableResources)
	}
	if out.Capacity.Gpus != nil {
		out.GpuCount = *out.Capacity.Gpus
	}
	for _, acc := range accelerators {
		if _, ok := n.Status.Resources[acc]; ok {
			t := acc
			if n.Spec.Flavor != "" {
				t = n.Spec.Flavor
			}
			out.GpuType = &t
			break
		}
	}
	if v := n.Status.PrivateIP; v != "" {
		out.IP = &v
	}
	if v := n.Status.AZ; v != "" {
		out.Zone = &v
	}
	if v := n.Spec.Flavor; v != "" {
		out.Flavor = &v
	}
	if t := n.Metadata.CreatedAt(); !t.IsZero() {
		out.CreatedAt = &t
	}
	return out
}

// resources parses vendor quantities ("1930m", "1912Mi", "8") into base
// units. A value that does not parse is dropped (a wrong number is worse
// than none); the raw field still shows it as sent.
func resources(in map[string]string) *model.Resources {
	out := &model.Resources{All: []*model.ResourceQuantity{}}
	names := make([]string, 0, len(in))
	for k := range in {
		names = append(names, k)
	}
	sort.Strings(names)
	gpus, sawGPU := 0, false
	for _, name := range names {
		raw := in[name]
		q, err := resource.ParseQuantity(strings.TrimSpace(raw))
		if err != nil {
			continue
		}
		v := q.AsApproximateFloat64()
		if math.IsInf(v, 0) || math.IsNaN(v) {
			continue // "1e400" parses, but no Float can carry it
		}
		out.All = append(out.All, &model.ResourceQuantity{Name: name, Value: v, Quantity: raw})
		switch name {
		case api.ResourceCPU:
			out.CPUCores = &v
		case api.ResourceMemory:
			out.MemoryBytes = &v
		default:
			for _, acc := range accelerators {
				if name == acc {
					gpus += int(q.Value())
					sawGPU = true
				}
			}
		}
	}
	if sawGPU {
		out.Gpus = &gpus
	} else {
		zero := 0
		out.Gpus = &zero
	}
	return out
}
