// Package runai is the Run:ai adapter of the fleet service: it lists
// clusters, node pools and nodes of the Run:ai backends (one paged
// node-pool listing per control plane, the deprecated per-cluster API where
// configured; nodes per cluster on 2.22, one tenant-wide listing per
// control plane from 2.23, the version configured or probed: version.go),
// answers metrics and telemetry, validates and sends node-pool writes, and
// owns the Run:ai ID layout and cache kinds. It is the only package besides
// app that imports the Run:ai client.
package runai

import (
	"context"
	"time"

	"github.com/fleetgraph/fleetgraph/backends"
	api "github.com/fleetgraph/fleetgraph/backends/runai"
	"github.com/fleetgraph/fleetgraph/fleet"
	"github.com/fleetgraph/fleetgraph/graph/model"
	"github.com/fleetgraph/fleetgraph/internal/ids"
)

// Source is the Run:ai fleet.Source. Build it with New; it is read-only once
// serving.
type Source struct {
	clients fleet.Clients[*api.Client]
	// legacy names the backends whose control planes only have the
	// deprecated /v1/k8s/clusters/{clusterId}/node-pools API.
	legacy map[string]bool

	clusters  *fleet.Kind[string, []*model.Cluster]
	pools     *fleet.Kind[string, []*model.NodePool]
	nodes     *fleet.Kind[fleet.ClusterKey, []*model.Node]
	nodeMet   *fleet.Kind[fleet.MetricsKey, fleet.MetricsResult]
	poolMet   *fleet.Kind[fleet.MetricsKey, fleet.MetricsResult]
	allocated *fleet.Kind[string, byNode]
	after222  // API versions, the tenant-wide node listing (tenant.go)

	// free is FREE_GPUS by node (free.go).
	free *fleet.Kind[string, byNode]

	// clusterMet is Cluster.metrics (clustermetrics.go).
	clusterMet *fleet.Kind[fleet.MetricsKey, fleet.MetricsResult]
}

var (
	_ fleet.Source          = (*Source)(nil)
	_ fleet.TelemetrySource = (*Source)(nil)
)

// New returns the source over the Run:ai clients, in configuration order.
func New(clients ...*api.Client) *Source {
	s := &Source{clients: clients, legacy: map[string]bool{}}
	self := func(b string) string { return b }
	none := func(string) string { return "" }
	// The kind names are cache key prefixes: keep them stable.
	s.clusters = &fleet.Kind[string, []*model.Cluster]{Name: "clusters", Backend: self, Key: none,
		TTL: fleet.Fixed[string](func(p fleet.CachePolicy) time.Duration { return p.Clusters }), Fetch: s.fetchClusters}
	s.pools = &fleet.Kind[string, []*model.NodePool]{Name: "rpools", Backend: self, Key: none,
		TTL: fleet.Fixed[string](func(p fleet.CachePolicy) time.Duration { return p.NodePools }), Fetch: s.fetchPools}
	s.nodes = &fleet.Kind[fleet.ClusterKey, []*model.Node]{Name: "rnodes", Backend: fleet.ClusterKey.BackendOf, Key: fleet.ClusterKey.KeyOf,
		TTL: fleet.Fixed[fleet.ClusterKey](func(p fleet.CachePolicy) time.Duration { return p.Nodes }), Fetch: s.fetchNodes}
	s.nodeMet = &fleet.Kind[fleet.MetricsKey, fleet.MetricsResult]{Name: "nmetrics", Backend: fleet.MetricsKey.BackendOf, Key: fleet.MetricsKey.KeyOf,
		TTL: fleet.MetricsTTL, Fetch: s.fetchNodeMetrics, OneCall: true}
	s.poolMet = &fleet.Kind[fleet.MetricsKey, fleet.MetricsResult]{Name: "pmetrics", Backend: fleet.MetricsKey.BackendOf, Key: fleet.MetricsKey.KeyOf,
		TTL: fleet.MetricsTTL, Fetch: s.fetchPoolMetrics, OneCall: true}
	s.allocated = &fleet.Kind[string, byNode]{Name: "alloc", Backend: self, Key: none,
		TTL: fleet.Fixed[string](func(p fleet.CachePolicy) time.Duration { return p.Nodes }), Fetch: s.fetchAllocated}
	s.free = newFreeKind(s)
	s.initAfter222()
	s.clusterMet = newClusterMetricsKind(s)
	return s
}

// SetLegacyNodePools marks backends that use the deprecated node-pool API
// (older control planes). Call it before serving.
func (s *Source) SetLegacyNodePools(names ...string) {
	for _, n := range names {
		s.legacy[n] = true
	}
}

// Provider implements fleet.Source.
func (s *Source) Provider() model.Provider { return model.ProviderRunai }

// Backends implements fleet.Source.
func (s *Source) Backends() []string { return s.clients.Names() }

// Credential implements fleet.Source.
func (s *Source) Credential(c backends.Credentials) string { return c.RunAIBearer }

func (s *Source) client(backend string) *api.Client { return s.clients.Get(backend) }

// Clusters implements fleet.Source.
func (s *Source) Clusters(ctx context.Context, backend string) fleet.Thunk[[]*model.Cluster] {
	return fleet.Load(ctx, s.clusters, backend)
}

// ClusterNodePools implements fleet.Source: the backend's one listing.
func (s *Source) ClusterNodePools(ctx context.Context, backend, _ string) fleet.Thunk[[]*model.NodePool] {
	return fleet.Load(ctx, s.pools, backend)
}

// NodePools implements fleet.Source: one listing per backend carries each
// pool's cluster, so no cluster listing is needed (one dependent round trip
// less).
func (s *Source) NodePools(ctx context.Context, names []string, _ *ids.ID) ([]fleet.Thunk[[]*model.NodePool], []error) {
	loads := make([]fleet.Thunk[[]*model.NodePool], len(names))
	for i, b := range names {
		loads[i] = fleet.Load(ctx, s.pools, b)
	}
	return loads, nil
}

// NodePool implements fleet.Source.
func (s *Source) NodePool(ctx context.Context, id ids.ID) (*model.NodePool, error) {
	pid := poolIDOf(id)
	list, err := fleet.Load(ctx, s.pools, pid.Backend)()
	if err != nil {
		return nil, err
	}
	for _, p := range list {
		if p.ClusterVendorID == pid.Cluster && p.VendorID == pid.PoolID {
			return p, nil
		}
	}
	return nil, nil
}

// NodePoolID implements fleet.Source.
func (s *Source) NodePoolID(p *model.NodePool) ids.ID {
	return PoolID{Backend: p.Backend, Cluster: p.ClusterVendorID, PoolID: p.VendorID, Name: p.Name}.Envelope()
}

// ClusterNodes implements fleet.Source: per cluster on 2.22, cut from the
// tenant-wide listing from 2.23 (clusterNodes).
func (s *Source) ClusterNodes(ctx context.Context, backend, cluster string) fleet.Thunk[[]*model.Node] {
	return s.clusterNodes(ctx, backend, cluster)
}

// NodePoolNodes implements fleet.Source: Run:ai lists nodes per cluster, so
// a pool's nodes are its cluster's, filtered by pool name.
func (s *Source) NodePoolNodes(ctx context.Context, id ids.ID) fleet.Thunk[[]*model.Node] {
	pid := poolIDOf(id)
	th := s.ClusterNodes(ctx, pid.Backend, pid.Cluster)
	return func() ([]*model.Node, error) {
		all, err := th()
		if err != nil {
			return nil, err
		}
		var mine []*model.Node
		for _, n := range all {
			if n.NodePoolName == pid.Name {
				mine = append(mine, n)
			}
		}
		return mine, nil
	}
}

// NodeMetrics implements fleet.Source.
func (s *Source) NodeMetrics(ctx context.Context, n *model.Node, r fleet.MetricsRequest) ([]*model.MetricSeries, error) {
	if n.VendorID == "" {
		// A Run:ai node without an id (the Node schema does not require
		// one) cannot be addressed by GET /api/v1/nodes/{nodeId}/metrics.
		return []*model.MetricSeries{}, nil
	}
	r, err := s.servedRequest(ctx, n.Backend, nodeLevel, r) // the types of n's API version
	if err != nil {
		return nil, err
	}
	res, err := fleet.Load(ctx, s.nodeMet, r.Key(n.Backend, n.VendorID, ""))()
	if err != nil {
		return nil, err
	}
	return r.Pick(res)
}

// NodePoolMetrics implements fleet.Source.
func (s *Source) NodePoolMetrics(ctx context.Context, p *model.NodePool, r fleet.MetricsRequest) ([]*model.MetricSeries, error) {
	r, err := s.servedRequest(ctx, p.Backend, poolLevel, r) // the types of p's API version
	if err != nil {
		return nil, err
	}
	res, err := fleet.Load(ctx, s.poolMet, r.Key(p.Backend, p.ClusterVendorID, p.Name))()
	if err != nil {
		return nil, err
	}
	return r.Pick(res)
}

// AllocatedGPUs implements fleet.Source: one telemetry call per backend
// answers for every node of the tenant.
func (s *Source) AllocatedGPUs(ctx context.Context, nodes []*model.Node) func() (map[*model.Node]int, []error) {
	return byNodeOf(ctx, s.allocated, nodes, func(v float64) int { return int(v + 0.5) })
}

// Telemetry implements fleet.TelemetrySource.
func (s *Source) Telemetry(ctx context.Context, names []string, q fleet.TelemetryQuery) func() fleet.Partial[*model.TelemetryValue] {
	type call struct {
		backend string
		done    chan struct{}
		resp    *api.TelemetryResponse
		err     error
	}
	var calls []*call
	for _, name := range names {
		c := s.client(name)
		if c == nil {
			continue
		}
		opts := api.TelemetryOptions{Type: q.Type, NodePoolName: q.NodePoolName, GroupBy: q.GroupBy}
		if q.Cluster != nil {
			opts.ClusterID = clusterIDOf(*q.Cluster).Cluster
		}
		cl := &call{backend: name, done: make(chan struct{})}
		calls = append(calls, cl)
		go func() {
			defer close(cl.done)
			defer fleet.RecoverInto(ctx, "telemetry "+cl.backend, &cl.err)
			cl.resp, cl.err = c.NodeTelemetry(ctx, opts)
		}()
	}
	return func() fleet.Partial[*model.TelemetryValue] {
		var out fleet.Partial[*model.TelemetryValue]
		for _, cl := range calls {
			<-cl.done
			if cl.err != nil {
				out.Errors = append(out.Errors, fleet.Wrap(backends.RunAI, cl.backend, cl.err))
				continue
			}
			out.Items = append(out.Items, runaiTelemetry(cl.backend, q.Type, cl.resp)...)
		}
		return out
	}
}

// Invalidates implements fleet.Source: a write to any pool changes the
// backend's pool listing and the cluster's nodes (their pool): the
// cluster's listing on 2.22, the tenant-wide one from 2.23. Both are named
// whatever the version (it is not known here, and a key that is not cached
// costs nothing).
func (s *Source) Invalidates(cluster, _ string) []string {
	return []string{"rpools:", "rnodes:" + cluster, "rtnodes:"}
}
