// Package modelarts is the Huawei ModelArts adapter of the fleet service: a
// resource pool is a cluster; it lists pools, node pools (one listing per
// resource pool) and nodes (per resource pool, which its node pools share), validates
// and sends node-pool writes, and owns the ModelArts ID layout and cache
// kinds. It is the only package besides app that imports the ModelArts
// client. ModelArts has no metrics API in v2: node and node-pool metrics
// come from AOM when the backend has an aom: block (metrics.go).
package modelarts

import (
	"context"
	"errors"
	"time"

	"github.com/fleetgraph/fleetgraph/backends"
	api "github.com/fleetgraph/fleetgraph/backends/modelarts"
	"github.com/fleetgraph/fleetgraph/fleet"
	"github.com/fleetgraph/fleetgraph/graph/model"
	"github.com/fleetgraph/fleetgraph/internal/ids"
)

// Source is the ModelArts fleet.Source. Build it with New.
type Source struct {
	clients fleet.Clients[*api.Client]

	clusters      *fleet.Kind[string, []*model.Cluster]
	pools         *fleet.Kind[fleet.ClusterKey, []*model.NodePool]
	poolNodes     *fleet.Kind[fleet.ClusterKey, []*model.Node]
	nodePoolNodes *fleet.Kind[nodePoolKey, []*model.Node]

	aom    map[string]*aomBackend // by backend; SetAOM
	series *fleet.Kind[seriesKey, poolSeries]

	// monitor is Cluster.metrics, ShowPoolMonitor (clustermetrics.go).
	monitor *fleet.Kind[monitorKey, fleet.MetricsResult]
}

var _ fleet.Source = (*Source)(nil)

type nodePoolKey struct{ Backend, Pool, NodePool string }

// New returns the source over the ModelArts clients, in configuration order.
func New(clients ...*api.Client) *Source {
	s := &Source{clients: clients}
	// The kind names are cache key prefixes: keep them stable.
	s.clusters = &fleet.Kind[string, []*model.Cluster]{Name: "clusters",
		Backend: func(b string) string { return b }, Key: func(string) string { return "" },
		TTL: fleet.Fixed[string](func(p fleet.CachePolicy) time.Duration { return p.Clusters }), Fetch: s.fetchClusters}
	s.pools = &fleet.Kind[fleet.ClusterKey, []*model.NodePool]{Name: "mpools", Backend: fleet.ClusterKey.BackendOf, Key: fleet.ClusterKey.KeyOf,
		TTL: fleet.Fixed[fleet.ClusterKey](func(p fleet.CachePolicy) time.Duration { return p.NodePools }), Fetch: s.fetchNodePools}
	s.poolNodes = &fleet.Kind[fleet.ClusterKey, []*model.Node]{Name: "mnodes", Backend: fleet.ClusterKey.BackendOf, Key: fleet.ClusterKey.KeyOf,
		TTL: fleet.Fixed[fleet.ClusterKey](func(p fleet.CachePolicy) time.Duration { return p.Nodes }), Fetch: s.fetchPoolNodes}
	s.nodePoolNodes = &fleet.Kind[nodePoolKey, []*model.Node]{Name: "mnpnodes",
		Backend: func(k nodePoolKey) string { return k.Backend }, Key: func(k nodePoolKey) string { return k.Pool + "/" + k.NodePool },
		TTL: fleet.Fixed[nodePoolKey](func(p fleet.CachePolicy) time.Duration { return p.Nodes }), Fetch: s.fetchNodePoolNodes}
	s.series = s.newSeriesKind()
	s.monitor = newMonitorKind(s)
	return s
}

// Provider implements fleet.Source.
func (s *Source) Provider() model.Provider { return model.ProviderModelarts }

// Backends implements fleet.Source.
func (s *Source) Backends() []string { return s.clients.Names() }

// Credential implements fleet.Source.
func (s *Source) Credential(c backends.Credentials) string { return c.ModelArtsAuthToken }

func (s *Source) client(backend string) *api.Client { return s.clients.Get(backend) }

// Clusters implements fleet.Source.
func (s *Source) Clusters(ctx context.Context, backend string) fleet.Thunk[[]*model.Cluster] {
	return fleet.Load(ctx, s.clusters, backend)
}

// ClusterNodePools implements fleet.Source.
func (s *Source) ClusterNodePools(ctx context.Context, backend, pool string) fleet.Thunk[[]*model.NodePool] {
	return fleet.Load(ctx, s.pools, fleet.ClusterKey{Backend: backend, Cluster: pool})
}

// NodePools implements fleet.Source: node pools are listed per resource
// pool, so without a cluster the resource pools are listed first.
func (s *Source) NodePools(ctx context.Context, names []string, cluster *ids.ID) ([]fleet.Thunk[[]*model.NodePool], []error) {
	if cluster != nil {
		c := clusterIDOf(*cluster)
		return []fleet.Thunk[[]*model.NodePool]{s.ClusterNodePools(ctx, c.Backend, c.Pool)}, nil
	}
	listings := make([]fleet.Thunk[[]*model.Cluster], len(names))
	for i, b := range names {
		listings[i] = s.Clusters(ctx, b)
	}
	var loads []fleet.Thunk[[]*model.NodePool]
	var errs []error
	for _, list := range listings {
		clusters, err := list()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, c := range clusters {
			loads = append(loads, s.ClusterNodePools(ctx, c.Backend, c.VendorID))
		}
	}
	return loads, errs
}

// NodePool implements fleet.Source.
func (s *Source) NodePool(ctx context.Context, eid ids.ID) (*model.NodePool, error) {
	id := nodePoolIDOf(eid)
	list, err := s.ClusterNodePools(ctx, id.Backend, id.Pool)()
	if err != nil && isNotFound(err) {
		return nil, nil // the resource pool itself is gone
	}
	if err != nil {
		return nil, err
	}
	for _, p := range list {
		if p.ClusterVendorID == id.Pool && p.VendorID == id.NodePool {
			return p, nil
		}
	}
	return nil, nil
}

// NodePoolID implements fleet.Source.
func (s *Source) NodePoolID(p *model.NodePool) ids.ID {
	return NodePoolID{Backend: p.Backend, Pool: p.ClusterVendorID, NodePool: p.VendorID}.Envelope()
}

// ClusterNodes implements fleet.Source.
func (s *Source) ClusterNodes(ctx context.Context, backend, pool string) fleet.Thunk[[]*model.Node] {
	return fleet.Load(ctx, s.poolNodes, fleet.ClusterKey{Backend: backend, Cluster: pool})
}

// NodePoolNodes implements fleet.Source. A node pool's nodes are its
// resource pool's node listing filtered on the node-pool name label, so
// that the node pools of one resource pool, Cluster.nodes and the AOM
// metrics (whose node set is the resource pool's) share one listing: a
// dashboard over every node pool lists nodes once per resource pool, not
// once per node pool. When a node of the listing has no
// os.modelarts.node/nodepoolname label the node pool cannot be told from
// it, and the node pool's own listing (ListNodePoolNodes) answers.
func (s *Source) NodePoolNodes(ctx context.Context, eid ids.ID) fleet.Thunk[[]*model.Node] {
	id := nodePoolIDOf(eid)
	pool := s.ClusterNodes(ctx, id.Backend, id.Pool)
	return func() ([]*model.Node, error) {
		nodes, err := pool()
		if err != nil {
			return nil, err
		}
		out := []*model.Node{}
		for _, n := range nodes {
			if n.NodePoolName == "" {
				return fleet.Load(ctx, s.nodePoolNodes, nodePoolKey{id.Backend, id.Pool, id.NodePool})()
			}
			if n.NodePoolName == id.NodePool {
				out = append(out, n)
			}
		}
		return out, nil
	}
}

// AllocatedGPUs implements fleet.Source: capacity minus available, no call.
func (s *Source) AllocatedGPUs(_ context.Context, nodes []*model.Node) func() (map[*model.Node]int, []error) {
	return func() (map[*model.Node]int, []error) {
		out := make(map[*model.Node]int, len(nodes))
		for _, n := range nodes {
			if n.Available != nil && n.Available.Gpus != nil {
				out[n] = max(0, n.GpuCount-*n.Available.Gpus)
			}
		}
		return out, nil
	}
}

// Invalidates implements fleet.Source: the resource pool's node-pool and
// node listings, and the node pool's node listing.
func (s *Source) Invalidates(pool, nodePool string) []string {
	return []string{"mpools:" + pool, "mnodes:" + pool, "mnpnodes:" + pool + "/" + nodePool}
}

func isNotFound(err error) bool { return err != nil && errors.Is(err, backends.ErrNotFound) }

func wrap(backend string, err error) error { return fleet.Wrap(backends.ModelArts, backend, err) }

func (s *Source) fetchClusters(ctx context.Context, backend string) ([]*model.Cluster, error) {
	c := s.client(backend)
	if c == nil {
		return nil, fleet.UnknownBackend(backend)
	}
	list, err := c.ListPools(ctx)
	if err != nil {
		return nil, wrap(backend, err)
	}
	out := make([]*model.Cluster, len(list))
	for i := range list {
		out[i] = modelartsCluster(backend, &list[i])
	}
	return out, nil
}

func (s *Source) fetchNodePools(ctx context.Context, k fleet.ClusterKey) ([]*model.NodePool, error) {
	c := s.client(k.Backend)
	if c == nil {
		return nil, fleet.UnknownBackend(k.Backend)
	}
	list, err := c.ListNodePools(ctx, k.Cluster)
	if err != nil {
		return nil, wrap(k.Backend, err)
	}
	out := make([]*model.NodePool, len(list))
	for i := range list {
		out[i] = modelartsNodePool(k.Backend, k.Cluster, &list[i])
	}
	return out, nil
}

func (s *Source) fetchPoolNodes(ctx context.Context, k fleet.ClusterKey) ([]*model.Node, error) {
	c := s.client(k.Backend)
	if c == nil {
		return nil, fleet.UnknownBackend(k.Backend)
	}
	list, err := c.ListPoolNodes(ctx, k.Cluster)
	if err != nil {
		return nil, wrap(k.Backend, err)
	}
	out := make([]*model.Node, len(list))
	for i := range list {
		out[i] = modelartsNode(k.Backend, k.Cluster, "", &list[i])
	}
	return out, nil
}

func (s *Source) fetchNodePoolNodes(ctx context.Context, k nodePoolKey) ([]*model.Node, error) {
	c := s.client(k.Backend)
	if c == nil {
		return nil, fleet.UnknownBackend(k.Backend)
	}
	list, err := c.ListNodePoolNodes(ctx, k.Pool, k.NodePool)
	if err != nil {
		return nil, wrap(k.Backend, err)
	}
	out := make([]*model.Node, len(list))
	for i := range list {
		out[i] = modelartsNode(k.Backend, k.Pool, k.NodePool, &list[i])
	}
	return out, nil
}
