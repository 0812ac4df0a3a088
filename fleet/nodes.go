package fleet

import (
	"context"
	"strings"
	"time"

	"github.com/fleetgraph/fleetgraph/graph/model"
	"github.com/fleetgraph/fleetgraph/internal/ids"
)

// NodeQuery filters nodes.
type NodeQuery struct {
	Provider     *model.Provider
	Cluster      *ids.ID
	NodePool     *ids.ID
	Statuses     []model.NodeStatus
	GPUType      string
	NameContains string
}

func (q NodeQuery) match(n *model.Node) bool {
	if len(q.Statuses) > 0 && !contains(q.Statuses, n.Status) {
		return false
	}
	if q.GPUType != "" && (n.GpuType == nil || *n.GpuType != q.GPUType) {
		return false
	}
	return q.NameContains == "" || strings.Contains(strings.ToLower(n.Name), strings.ToLower(q.NameContains))
}

// Nodes lists the nodes matching q over every backend: one node listing per
// cluster (Run:ai: all pages; ModelArts: per resource pool), or the
// listing of the node pool q names.
func (s *Service) Nodes(ctx context.Context, q NodeQuery) Partial[*model.Node] {
	var thunks []Thunk[[]*model.Node]
	var out Partial[*model.Node]
	switch {
	case q.NodePool != nil:
		id := *q.NodePool
		src := s.source(id)
		if src == nil || (q.Cluster != nil && (q.Cluster.Backend != id.Backend || q.Cluster.Cluster() != id.Cluster())) {
			return out
		}
		thunks = append(thunks, src.NodePoolNodes(ctx, id))
	case q.Cluster != nil:
		src := s.source(*q.Cluster)
		if src == nil {
			return out
		}
		thunks = append(thunks, src.ClusterNodes(ctx, q.Cluster.Backend, q.Cluster.Cluster()))
	default:
		clusters := s.Clusters(ctx, q.Provider)
		out.Errors = clusters.Errors
		for _, c := range clusters.Items {
			thunks = append(thunks, s.reg.byName[c.Backend].ClusterNodes(ctx, c.Backend, c.VendorID))
		}
	}
	for _, th := range thunks {
		items, err := th()
		if err != nil {
			out.Errors = append(out.Errors, err)
			continue
		}
		for _, n := range items {
			if (q.Provider == nil || *q.Provider == n.Provider) && q.match(n) {
				out.Items = append(out.Items, n)
			}
		}
	}
	return out
}

// Node returns the node id names; nil, nil when it does not exist.
func (s *Service) Node(ctx context.Context, id ids.ID) (*model.Node, error) {
	src := s.source(id)
	if src == nil {
		return nil, nil
	}
	list, err := src.ClusterNodes(ctx, id.Backend, id.Cluster())()
	if isNotFound(err) {
		return nil, nil // the cluster itself is gone
	}
	if err != nil {
		return nil, err
	}
	for _, n := range list {
		if n.Name == id.Last() { // every layout ends a node ID with its name
			return n, nil
		}
	}
	return nil, nil
}

// MetricsRequest is one metrics field: its own types (Want), and the types of
// every sibling metrics field with the same range and samples (All, which
// holds Want), fetched together in one call. The resolvers validate it.
type MetricsRequest struct {
	Want, All  MetricTypes
	Start, End time.Time
	Samples    int
	// GroupBy (a ClusterMetricsGroupBy value) and NodePool (a node-pool
	// name) split or narrow Cluster.metrics; "" elsewhere. Sibling fields
	// share a call only when both are the same.
	GroupBy, NodePool string
}

// Key is the loader key of the call that answers r for a target (a node
// or a node pool) of backend.
func (r MetricsRequest) Key(backend, target, pool string) MetricsKey {
	start, end := alignRange(r.Start, r.End, r.Samples)
	return MetricsKey{
		Backend: backend, Target: target, Pool: pool,
		Start: start.UnixNano(), End: end.UnixNano(), Samples: r.Samples,
		Types: r.All.With(r.Want), Group: r.GroupBy,
	}
}

// alignRange moves a range down to a multiple of its sample step (at least
// 10 s, at most 5 min), keeping its length, so that a dashboard's sliding
// "last hour" asks upstream, and the cache, the same question until the next
// step: the newest point is at most one step old, which is the resolution
// the caller asked for anyway.
func alignRange(start, end time.Time, samples int) (time.Time, time.Time) {
	step := end.Sub(start) / time.Duration(max(samples, 1))
	step = min(max(step.Truncate(time.Second), 10*time.Second), 5*time.Minute)
	aligned := end.Truncate(step)
	if !aligned.After(start) {
		return start, end // a range shorter than its step stays as asked
	}
	return start.Add(aligned.Sub(end)), aligned
}

// Pick returns the series of the wanted types, and a partial-success error
// when the vendor left any of them out.
func (r MetricsRequest) Pick(res MetricsResult) ([]*model.MetricSeries, error) {
	out := []*model.MetricSeries{}
	for _, s := range res.Series {
		if r.Want.Has(s.Type) {
			out = append(out, s)
		}
	}
	if res.Partial == nil {
		return out, nil
	}
	var missing []string
	for _, t := range res.Partial.Missing {
		if r.Want.Has(t) {
			missing = append(missing, t)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	p := *res.Partial
	p.Missing = missing
	return out, &BackendError{Backend: p.Backend, Provider: p.Provider, Err: &p}
}

// NodeMetrics returns a node's metric series (an empty list from a vendor
// without a metrics API). On a 207 the series that came back are returned
// together with an error naming the missing types.
func (s *Service) NodeMetrics(ctx context.Context, n *model.Node, r MetricsRequest) ([]*model.MetricSeries, error) {
	src := s.reg.byName[n.Backend]
	if src == nil {
		return []*model.MetricSeries{}, nil
	}
	return src.NodeMetrics(ctx, n, r)
}

// NodePoolMetrics returns a node pool's metric series.
func (s *Service) NodePoolMetrics(ctx context.Context, p *model.NodePool, r MetricsRequest) ([]*model.MetricSeries, error) {
	src := s.reg.byName[p.Backend]
	if src == nil {
		return []*model.MetricSeries{}, nil
	}
	return src.NodePoolMetrics(ctx, p, r)
}

// AllocatedGPUs returns the GPUs allocated on each node, each source as its
// API tells it (ModelArts from capacity minus available, Run:ai from one
// telemetry call per backend).
func (s *Service) AllocatedGPUs(ctx context.Context, nodes []*model.Node) (map[*model.Node]int, []error) {
	bySource := map[Source][]*model.Node{}
	for _, n := range nodes {
		if src := s.reg.byName[n.Backend]; src != nil {
			bySource[src] = append(bySource[src], n)
		}
	}
	var waits []func() (map[*model.Node]int, []error)
	for _, src := range s.reg.sources {
		if mine := bySource[src]; len(mine) > 0 {
			waits = append(waits, src.AllocatedGPUs(ctx, mine))
		}
	}
	out := make(map[*model.Node]int, len(nodes))
	var errs []error
	for _, wait := range waits {
		m, e := wait()
		errs = append(errs, e...)
		for n, v := range m {
			out[n] = v
		}
	}
	return out, errs
}

// TelemetryQuery is the nodeTelemetry field's arguments in vendor terms.
type TelemetryQuery struct {
	Type         string
	Cluster      *ids.ID
	NodePoolName string
	GroupBy      []string // ClusterId, Nodepool, Node
}

// Telemetry asks every source with a telemetry API (or the one of
// q.Cluster) for node telemetry.
func (s *Service) Telemetry(ctx context.Context, q TelemetryQuery) Partial[*model.TelemetryValue] {
	var waits []func() Partial[*model.TelemetryValue]
	for _, src := range s.reg.sources {
		ts, ok := src.(TelemetrySource)
		if !ok {
			continue
		}
		names := src.Backends()
		if q.Cluster != nil {
			if s.source(*q.Cluster) != src {
				continue
			}
			names = []string{q.Cluster.Backend}
		}
		waits = append(waits, ts.Telemetry(ctx, names, q))
	}
	var out Partial[*model.TelemetryValue]
	for _, wait := range waits {
		p := wait()
		out.Items = append(out.Items, p.Items...)
		out.Errors = append(out.Errors, p.Errors...)
	}
	return out
}
