package runai

import (
	"sort"
	"strconv"
	"strings"
	"time"

	api "github.com/fleetgraph/fleetgraph/backends/runai"
	"github.com/fleetgraph/fleetgraph/graph/model"
)

func runaiCluster(backend string, c *api.Cluster) *model.Cluster {
	out := &model.Cluster{
		ID:       ClusterID{Backend: backend, Cluster: c.UUID}.Encode(),
		Name:     c.Name,
		Provider: model.ProviderRunai,
		Backend:  backend,
		VendorID: c.UUID,
		Version:  c.Version,
		Raw:      model.RawJSON(c.Raw),
	}
	if !c.CreatedAt.IsZero() {
		t := c.CreatedAt
		out.CreatedAt = &t
	}
	if c.Status != nil && c.Status.State != "" {
		s := c.Status.State
		out.State = &s
	}
	return out
}

var runaiPoolPhases = map[string]model.NodePoolPhase{
	"Creating":      model.NodePoolPhaseCreating,
	"Updating":      model.NodePoolPhaseUpdating,
	"Deleting":      model.NodePoolPhaseDeleting,
	"Empty":         model.NodePoolPhaseEmpty,
	"Unschedulable": model.NodePoolPhaseUnschedulable,
	"Ready":         model.NodePoolPhaseReady,
	"Deleted":       model.NodePoolPhaseDeleted,
}

// runaiPoolPhase maps a vendor phase; one this gateway does not know (a
// newer Run:ai) is UNKNOWN, never an error: vendorPhase keeps the string.
func runaiPoolPhase(vendor string) model.NodePoolPhase {
	if phase, ok := runaiPoolPhases[vendor]; ok {
		return phase
	}
	return model.NodePoolPhaseUnknown
}

// vendorString is nil for "" (the vendor sent none).
func vendorString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func runaiNodePool(backend string, p *api.NodePool) *model.NodePool {
	out := &model.NodePool{
		ID:              PoolID{Backend: backend, Cluster: p.ClusterID, PoolID: p.ID, Name: p.Name}.Encode(),
		Name:            p.Name,
		Provider:        model.ProviderRunai,
		Backend:         backend,
		Phase:           runaiPoolPhase(p.Phase),
		VendorPhase:     vendorString(p.Phase),
		IsDefault:       p.IsDefault,
		Raw:             model.RawJSON(p.Raw),
		ClusterVendorID: p.ClusterID,
		VendorID:        p.ID,
	}
	if p.PhaseMessage != "" {
		m := p.PhaseMessage
		out.PhaseMessage = &m
	}
	if p.LabelKey != "" {
		sel := p.LabelKey + "=" + p.LabelValue
		out.NodeSelector = &sel
	}
	if p.Status != nil {
		out.ReportedNodeCount = len(p.Status.Nodes)
	}
	if !p.CreatedAt.IsZero() {
		t := p.CreatedAt
		out.CreatedAt = &t
	}
	return out
}

// runaiLegacyNodePool maps a pool of the deprecated API (integer id, status
// instead of phase, node names as a JSON string).
func runaiLegacyNodePool(backend, cluster string, p *api.LegacyNodePool) *model.NodePool {
	if p.ClusterID != "" {
		cluster = p.ClusterID
	}
	id := strconv.Itoa(p.ID)
	out := &model.NodePool{
		ID:              PoolID{Backend: backend, Cluster: cluster, PoolID: id, Name: p.Name}.Encode(),
		Name:            p.Name,
		Provider:        model.ProviderRunai,
		Backend:         backend,
		Phase:           runaiPoolPhase(p.Status),
		VendorPhase:     vendorString(p.Status),
		IsDefault:       p.IsDefault,
		Raw:             model.RawJSON(p.Raw),
		ClusterVendorID: cluster,
		VendorID:        id,
	}
	if p.StatusMessage != "" {
		m := p.StatusMessage
		out.PhaseMessage = &m
	}
	if p.LabelKey != "" {
		sel := p.LabelKey + "=" + p.LabelValue
		out.NodeSelector = &sel
	}
	if names, err := p.NodeNames(); err == nil {
		out.ReportedNodeCount = len(names)
	}
	if !p.CreatedAt.IsZero() {
		t := p.CreatedAt
		out.CreatedAt = &t
	}
	return out
}

var runaiNodeStatuses = map[string]model.NodeStatus{
	"Ready":    model.NodeStatusReady,
	"NotReady": model.NodeStatusNotReady,
	"Unknown":  model.NodeStatusUnknown,
}

// runaiNode maps a Run:ai node. Run:ai reports GPUs only: capacity has no
// CPU or memory, and there is no "available".
func runaiNode(backend, cluster string, n *api.Node) *model.Node {
	status, ok := runaiNodeStatuses[n.Status]
	if !ok {
		status = model.NodeStatusUnknown
	}
	if n.ClusterUUID != "" {
		cluster = n.ClusterUUID
	}
	out := &model.Node{
		ID:              NodeID{Backend: backend, Cluster: cluster, Node: n.Name}.Encode(),
		Name:            n.Name,
		Provider:        model.ProviderRunai,
		Backend:         backend,
		Status:          status,
		VendorStatus:    n.Status,
		Capacity:        &model.Resources{All: []*model.ResourceQuantity{}},
		Raw:             model.RawJSON(n.Raw),
		ClusterVendorID: cluster,
		NodePoolName:    n.NodePool,
		VendorID:        n.ID,
	}
	if n.GPUInfo != nil {
		t := n.GPUInfo.GPUType
		out.GpuType = &t
		out.GpuCount = n.GPUInfo.GPUCount
		gpus := n.GPUInfo.GPUCount
		out.Capacity.Gpus = &gpus
		out.Capacity.All = append(out.Capacity.All, &model.ResourceQuantity{Name: "nvidia.com/gpu", Value: float64(gpus), Quantity: strconv.Itoa(gpus)})
	} else {
		zero := 0
		out.Capacity.Gpus = &zero
	}
	if !n.CreatedAt.IsZero() {
		t := n.CreatedAt
		out.CreatedAt = &t
	}
	return out
}

// runaiSeries maps measurements onto series, in a stable order (type, then
// labels) whatever order the vendor used. A measurement with null values
// (a type the vendor could not serve) gives no series.
func runaiSeries(ms []api.Measurement) []*model.MetricSeries {
	out := make([]*model.MetricSeries, 0, len(ms))
	for _, m := range ms {
		if m.Values == nil {
			continue
		}
		s := &model.MetricSeries{Type: m.Type, Labels: labels(m.Labels), Points: make([]*model.MetricPoint, len(m.Values))}
		// One allocation for the series' points, not one per point (a cold
		// dashboard maps ~40 per node).
		points := make([]model.MetricPoint, len(m.Values))
		for i, v := range m.Values {
			points[i] = model.MetricPoint{Timestamp: v.Timestamp, Value: v.Value}
			s.Points[i] = &points[i]
		}
		out = append(out, s)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Type != out[j].Type {
			return out[i].Type < out[j].Type
		}
		return labelKey(out[i].Labels) < labelKey(out[j].Labels)
	})
	return out
}

func labels(m map[string]string) []*model.Label {
	out := make([]*model.Label, 0, len(m))
	for k, v := range m {
		out = append(out, &model.Label{Key: k, Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// labelKey orders series numerically by GPU index where there is one
// ("gpu=2" before "gpu=10").
func labelKey(ls []*model.Label) string {
	var b strings.Builder
	for _, l := range ls {
		b.WriteString(l.Key)
		b.WriteByte('=')
		b.WriteString(strings.Repeat("0", max(0, 8-len(l.Value))))
		b.WriteString(l.Value)
		b.WriteByte(',')
	}
	return b.String()
}

func runaiTelemetry(backend, typ string, resp *api.TelemetryResponse) []*model.TelemetryValue {
	out := make([]*model.TelemetryValue, 0, len(resp.Values))
	var ts *time.Time
	if !resp.Timestamp.IsZero() {
		t := resp.Timestamp
		ts = &t
	}
	for _, v := range resp.Values {
		tv := &model.TelemetryValue{
			Provider: model.ProviderRunai, Backend: backend, Type: model.NodeTelemetryType(typ),
			Timestamp: ts, Value: v.Value, Groups: make([]*model.TelemetryGroup, len(v.Groups)),
		}
		for i, g := range v.Groups {
			tg := &model.TelemetryGroup{Key: g.Key, Value: g.Value}
			if g.Name != "" {
				name := g.Name
				tg.Name = &name
			}
			tv.Groups[i] = tg
		}
		out = append(out, tv)
	}
	return out
}
