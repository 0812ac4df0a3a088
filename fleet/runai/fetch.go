package runai

import (
	"context"
	"errors"

	"github.com/fleetgraph/fleetgraph/backends"
	api "github.com/fleetgraph/fleetgraph/backends/runai"
	"github.com/fleetgraph/fleetgraph/fleet"
	"github.com/fleetgraph/fleetgraph/graph/model"
)

// The fetches behind the Kinds: one upstream listing each, mapped.

func wrap(backend string, err error) error { return fleet.Wrap(backends.RunAI, backend, err) }

func (s *Source) fetchClusters(ctx context.Context, backend string) ([]*model.Cluster, error) {
	c := s.client(backend)
	if c == nil {
		return nil, fleet.UnknownBackend(backend)
	}
	list, err := c.ListClusters(ctx)
	if err != nil {
		return nil, wrap(backend, err)
	}
	out := make([]*model.Cluster, len(list))
	for i := range list {
		out[i] = runaiCluster(backend, &list[i])
	}
	return out, nil
}

func (s *Source) fetchPools(ctx context.Context, backend string) ([]*model.NodePool, error) {
	c := s.client(backend)
	if c == nil {
		return nil, fleet.UnknownBackend(backend)
	}
	if s.legacy[backend] {
		return fetchLegacyPools(ctx, c, backend)
	}
	list, err := c.ListNodePools(ctx, nil)
	if err != nil {
		return nil, wrap(backend, err)
	}
	out := make([]*model.NodePool, len(list))
	for i := range list {
		out[i] = runaiNodePool(backend, &list[i])
	}
	return out, nil
}

// fetchLegacyPools lists pools through the deprecated API, which is per
// cluster: one listing per cluster instead of one per backend.
func fetchLegacyPools(ctx context.Context, c *api.Client, backend string) ([]*model.NodePool, error) {
	clusters, err := c.ListClusters(ctx)
	if err != nil {
		return nil, wrap(backend, err)
	}
	var out []*model.NodePool
	for _, cl := range clusters {
		list, err := c.LegacyListNodePools(ctx, cl.UUID)
		if err != nil {
			return nil, wrap(backend, err)
		}
		for i := range list {
			out = append(out, runaiLegacyNodePool(backend, cl.UUID, &list[i]))
		}
	}
	return out, nil
}

func (s *Source) fetchNodes(ctx context.Context, k fleet.ClusterKey) ([]*model.Node, error) {
	c := s.client(k.Backend)
	if c == nil {
		return nil, fleet.UnknownBackend(k.Backend)
	}
	list, err := c.ListNodes(ctx, k.Cluster, nil)
	if err != nil {
		return nil, wrap(k.Backend, err)
	}
	out := make([]*model.Node, len(list))
	for i := range list {
		out[i] = runaiNode(k.Backend, k.Cluster, &list[i])
	}
	return out, nil
}

// metricsOptions is the vendor call of a key: the sorted type list as is.
func metricsOptions(k fleet.MetricsKey) api.MetricsOptions {
	start, end := k.Range()
	return api.MetricsOptions{Types: k.Types.List(), Start: start, End: end, Samples: k.Samples}
}

// metricsAnswer keeps the data of a 207 partial answer and reports what is
// missing beside it.
func metricsAnswer(backend string, resp *api.MetricsResponse, err error) (fleet.MetricsResult, error) {
	var partial *backends.PartialError
	if err != nil && !errors.As(err, &partial) {
		return fleet.MetricsResult{}, wrap(backend, err)
	}
	if resp == nil {
		return fleet.MetricsResult{Partial: partial}, nil
	}
	return fleet.MetricsResult{Series: runaiSeries(resp.Measurements), Partial: partial}, nil
}

func (s *Source) fetchNodeMetrics(ctx context.Context, k fleet.MetricsKey) (fleet.MetricsResult, error) {
	c := s.client(k.Backend)
	if c == nil {
		return fleet.MetricsResult{}, fleet.UnknownBackend(k.Backend)
	}
	resp, err := c.NodeMetrics(ctx, k.Target, s.nodeMetricsOptions(ctx, k)) // vendor names (metrictypes.go)
	return graphTypes(metricsAnswer(k.Backend, resp, err))
}

func (s *Source) fetchPoolMetrics(ctx context.Context, k fleet.MetricsKey) (fleet.MetricsResult, error) {
	c := s.client(k.Backend)
	if c == nil {
		return fleet.MetricsResult{}, fleet.UnknownBackend(k.Backend)
	}
	resp, err := c.NodePoolMetrics(ctx, k.Target, k.Pool, metricsOptions(k))
	return metricsAnswer(k.Backend, resp, err)
}

// fetchAllocated asks Run:ai telemetry for ALLOCATED_GPUS grouped by cluster
// and node: one call per backend answers for every node of the tenant.
func (s *Source) fetchAllocated(ctx context.Context, backend string) (byNode, error) {
	return s.fetchByNode(ctx, backend, "ALLOCATED_GPUS")
}
