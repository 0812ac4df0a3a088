package fleet

import (
	"context"
	"strings"
	"time"

	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/backends/runai"
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
// Run:ai cluster (all pages), one per ModelArts resource pool, or one per
// ModelArts node pool when q names a node pool.
func (s *Service) Nodes(ctx context.Context, q NodeQuery) Partial[*model.Node] {
	l := loadersFor(ctx)
	var thunks []func() ([]*model.Node, error)
	var out Partial[*model.Node]
	switch {
	case q.NodePool != nil:
		id := *q.NodePool
		if !s.known(id) || (q.Cluster != nil && (q.Cluster.Backend != id.Backend || q.Cluster.Parts[0] != id.Parts[0])) {
			return out
		}
		if id.Provider == backends.ModelArts {
			thunks = append(thunks, l.maNodePoolNodes.Load(ctx, nodePoolKey{id.Backend, id.Parts[0], id.Parts[1]}))
		} else {
			poolName := id.Parts[2]
			th := l.runaiNodes.Load(ctx, clusterKey{id.Backend, id.Parts[0]})
			thunks = append(thunks, func() ([]*model.Node, error) {
				all, err := th()
				if err != nil {
					return nil, err
				}
				var mine []*model.Node
				for _, n := range all {
					if n.NodePoolName == poolName {
						mine = append(mine, n)
					}
				}
				return mine, nil
			})
		}
	case q.Cluster != nil:
		if !s.known(*q.Cluster) {
			return out
		}
		thunks = append(thunks, s.clusterNodes(ctx, q.Cluster.Provider, q.Cluster.Backend, q.Cluster.Parts[0]))
	default:
		clusters := s.Clusters(ctx, q.Provider)
		out.Errors = clusters.Errors
		for _, c := range clusters.Items {
			p := backends.RunAI
			if c.Provider == model.ProviderModelarts {
				p = backends.ModelArts
			}
			thunks = append(thunks, s.clusterNodes(ctx, p, c.Backend, c.VendorID))
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

func (s *Service) clusterNodes(ctx context.Context, p backends.Provider, backend, cluster string) func() ([]*model.Node, error) {
	l := loadersFor(ctx)
	if p == backends.ModelArts {
		return l.maPoolNodes.Load(ctx, clusterKey{backend, cluster})
	}
	return l.runaiNodes.Load(ctx, clusterKey{backend, cluster})
}

// Node returns the node id names; nil, nil when it does not exist.
func (s *Service) Node(ctx context.Context, id ids.ID) (*model.Node, error) {
	if !s.known(id) {
		return nil, nil
	}
	list, err := s.clusterNodes(ctx, id.Provider, id.Backend, id.Parts[0])()
	if isNotFound(err) {
		return nil, nil // the cluster itself is gone
	}
	if err != nil {
		return nil, err
	}
	for _, n := range list {
		if n.Name == id.Parts[1] {
			return n, nil
		}
	}
	return nil, nil
}

// MetricsRequest is one metrics field: its own types (Want), and the types of
// every sibling metrics field with the same range and samples (All), fetched
// together in one call.
type MetricsRequest struct {
	Want, All  []string
	Start, End time.Time
	Samples    int
}

func (r MetricsRequest) key(backend, target, pool string) metricsKey {
	all := append(append([]string(nil), r.All...), r.Want...)
	start, end := alignRange(r.Start, r.End, r.Samples)
	return metricsKey{
		Backend: backend, Target: target, Pool: pool,
		Start: start.UnixNano(), End: end.UnixNano(), Samples: r.Samples,
		Types: sortedTypes(all),
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

// pick returns the series of the wanted types, and a partial-success error
// when the vendor left any of them out.
func (r MetricsRequest) pick(res metricsResult) ([]*model.MetricSeries, error) {
	want := map[string]bool{}
	for _, t := range r.Want {
		want[t] = true
	}
	out := []*model.MetricSeries{}
	for _, s := range res.Series {
		if want[s.Type] {
			out = append(out, s)
		}
	}
	if res.Partial == nil {
		return out, nil
	}
	var missing []string
	for _, t := range res.Partial.Missing {
		if want[t] {
			missing = append(missing, t)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	p := *res.Partial
	p.Missing = missing
	return out, &BackendError{Backend: p.Backend, Provider: backends.RunAI, Err: &p}
}

// NodeMetrics returns a node's metric series. ModelArts has no metrics API:
// an empty list. On a 207 the series that came back are returned together
// with an error naming the missing types.
func (s *Service) NodeMetrics(ctx context.Context, n *model.Node, r MetricsRequest) ([]*model.MetricSeries, error) {
	if n.Provider != model.ProviderRunai || n.VendorID == "" {
		// A Run:ai node without an id (the Node schema does not require
		// one) cannot be addressed by GET /api/v1/nodes/{nodeId}/metrics.
		return []*model.MetricSeries{}, nil
	}
	res, err := loadersFor(ctx).nodeMetrics.Load(ctx, r.key(n.Backend, n.VendorID, ""))()
	if err != nil {
		return nil, err
	}
	return r.pick(res)
}

// NodePoolMetrics returns a node pool's metric series (Run:ai only; ModelArts:
// an empty list).
func (s *Service) NodePoolMetrics(ctx context.Context, p *model.NodePool, r MetricsRequest) ([]*model.MetricSeries, error) {
	if p.Provider != model.ProviderRunai {
		return []*model.MetricSeries{}, nil
	}
	res, err := loadersFor(ctx).poolMetrics.Load(ctx, r.key(p.Backend, p.ClusterVendorID, p.Name))()
	if err != nil {
		return nil, err
	}
	return r.pick(res)
}

// AllocatedGPUs returns the GPUs allocated on each node: ModelArts from
// capacity minus available, Run:ai from one telemetry call per backend.
func (s *Service) AllocatedGPUs(ctx context.Context, nodes []*model.Node) (map[*model.Node]int, []error) {
	l := loadersFor(ctx)
	thunks := map[string]func() (map[string]int, error){}
	for _, n := range nodes {
		if n.Provider == model.ProviderRunai && thunks[n.Backend] == nil {
			thunks[n.Backend] = l.allocated.Load(ctx, n.Backend)
		}
	}
	tables := map[string]map[string]int{}
	var errs []error
	for b, th := range thunks {
		t, err := th()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		tables[b] = t
	}
	out := make(map[*model.Node]int, len(nodes))
	for _, n := range nodes {
		if n.Provider == model.ProviderModelarts {
			if n.Available != nil && n.Available.Gpus != nil {
				out[n] = max(0, n.GpuCount-*n.Available.Gpus)
			}
			continue
		}
		if t := tables[n.Backend]; t != nil {
			v, ok := t[n.ClusterVendorID+"/"+n.Name]
			if !ok {
				v = t[n.ClusterVendorID+"/"+n.VendorID]
			}
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

// Telemetry asks every Run:ai backend (or the one of q.Cluster) for node
// telemetry. ModelArts has no telemetry API.
func (s *Service) Telemetry(ctx context.Context, q TelemetryQuery) Partial[*model.TelemetryValue] {
	var out Partial[*model.TelemetryValue]
	type call struct {
		backend string
		done    chan struct{}
		resp    *runai.TelemetryResponse
		err     error
	}
	var calls []*call
	for _, c := range s.reg.runai {
		opts := runai.TelemetryOptions{Type: q.Type, NodePoolName: q.NodePoolName, GroupBy: q.GroupBy}
		if q.Cluster != nil {
			if q.Cluster.Provider != backends.RunAI || q.Cluster.Backend != c.Name() {
				continue
			}
			opts.ClusterID = q.Cluster.Parts[0]
		}
		cl := &call{backend: c.Name(), done: make(chan struct{})}
		calls = append(calls, cl)
		go func() {
			defer close(cl.done)
			defer recoverInto(ctx, "telemetry "+cl.backend, &cl.err)
			cl.resp, cl.err = c.NodeTelemetry(ctx, opts)
		}()
	}
	for _, cl := range calls {
		<-cl.done
		if cl.err != nil {
			out.Errors = append(out.Errors, wrap(backends.RunAI, cl.backend, cl.err))
			continue
		}
		out.Items = append(out.Items, runaiTelemetry(cl.backend, q.Type, cl.resp)...)
	}
	return out
}
