package runai

import (
	"context"

	api "github.com/fleetgraph/fleetgraph/backends/runai"
	"github.com/fleetgraph/fleetgraph/fleet"
	"github.com/fleetgraph/fleetgraph/graph/model"
)

var _ fleet.ClusterMetricsSource = (*Source)(nil)

// clusterMetricTypes are the ClusterMetricType values Run:ai serves: 2.22's
// MetricsType enum, whose names are the vocabulary's. Utilisations are
// percent 0..100 as Run:ai sends them (its UI's unit; the document gives
// none), counts are GPUs or nodes, AVG_WORKLOAD_WAIT_TIME seconds: no
// conversion. WORKLOADS_COUNT (2.23 on) is not in the vocabulary yet.
var clusterMetricTypes = fleet.SortTypes([]string{
	"TOTAL_GPU_NODES", "GPU_UTILIZATION", "GPU_UTILIZATION_DISTRIBUTION", "GPU_MEMORY_UTILIZATION",
	"CPU_UTILIZATION", "CPU_MEMORY_UTILIZATION", "TOTAL_GPU", "GPU_QUOTA", "ALLOCATED_GPU", "UNALLOCATED_GPU",
	"AVG_WORKLOAD_WAIT_TIME",
})

// newClusterMetricsKind declares the cluster metrics listing: one call per
// cluster, range and samples with every type of the request's sibling
// fields, cached like node metrics (range aligned to its step, short TTL
// near now). The kind name is a cache key prefix: keep it stable.
func newClusterMetricsKind(s *Source) *fleet.Kind[fleet.MetricsKey, fleet.MetricsResult] {
	return &fleet.Kind[fleet.MetricsKey, fleet.MetricsResult]{Name: "cmetrics", Backend: fleet.MetricsKey.BackendOf, Key: fleet.MetricsKey.KeyOf,
		TTL: fleet.MetricsTTL, Fetch: s.fetchClusterMetrics}
}

// ClusterMetricTypes implements fleet.ClusterMetricsSource.
func (s *Source) ClusterMetricTypes() fleet.MetricTypes { return clusterMetricTypes }

// ClusterMetrics implements fleet.ClusterMetricsSource.
func (s *Source) ClusterMetrics(ctx context.Context, c *model.Cluster, r fleet.MetricsRequest) ([]*model.MetricSeries, error) {
	res, err := fleet.Load(ctx, s.clusterMet, r.Key(c.Backend, c.VendorID, ""))()
	if err != nil {
		return nil, err
	}
	return r.Pick(res)
}

func (s *Source) fetchClusterMetrics(ctx context.Context, k fleet.MetricsKey) (fleet.MetricsResult, error) {
	c := s.client(k.Backend)
	if c == nil {
		return fleet.MetricsResult{}, fleet.UnknownBackend(k.Backend)
	}
	resp, err := c.ClusterMetrics(ctx, k.Target, api.ClusterMetricsOptions{MetricsOptions: metricsOptions(k)})
	var plain *api.MetricsResponse
	if resp != nil {
		// No groupBy: every measurement is a cluster total.
		plain = &api.MetricsResponse{Measurements: make([]api.Measurement, len(resp.Measurements))}
		for i, m := range resp.Measurements {
			plain.Measurements[i] = m.Measurement
		}
	}
	return metricsAnswer(k.Backend, plain, err)
}
