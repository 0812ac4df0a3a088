package runai

import (
	"context"
	"maps"
	"strings"

	"k8s.io/apimachinery/pkg/api/validate/content"

	"github.com/fleetgraph/fleetgraph/backends"
	api "github.com/fleetgraph/fleetgraph/backends/runai"
	"github.com/fleetgraph/fleetgraph/fleet"
	"github.com/fleetgraph/fleetgraph/graph/model"
)

var _ fleet.ClusterMetricsSource = (*Source)(nil)

// clusterMetricTypes are the ClusterMetricType values Run:ai serves: the
// MetricsType enum, whose names are the vocabulary's. Utilisations are
// percent 0..100 as Run:ai sends them (its UI's unit; the document gives
// none), counts are GPUs, nodes or workloads, AVG_WORKLOAD_WAIT_TIME
// seconds: no conversion. WORKLOADS_COUNT needs 2.23 (metrictypes.go).
var clusterMetricTypes = fleet.SortTypes([]string{
	"TOTAL_GPU_NODES", "GPU_UTILIZATION", "GPU_UTILIZATION_DISTRIBUTION", "GPU_MEMORY_UTILIZATION",
	"CPU_UTILIZATION", "CPU_MEMORY_UTILIZATION", "TOTAL_GPU", "GPU_QUOTA", "ALLOCATED_GPU", "UNALLOCATED_GPU",
	"AVG_WORKLOAD_WAIT_TIME", graphWorkloadsCount,
})

// clusterGroups maps ClusterMetricsGroupBy values to the vendor's groupBy
// and to the label that names a series' group in the graph.
var clusterGroups = map[string]struct{ vendor, label string }{
	string(model.ClusterMetricsGroupByNodePool):   {api.GroupByNodepool, "nodePool"},
	string(model.ClusterMetricsGroupByCategory):   {api.GroupByCategory, "category"},
	string(model.ClusterMetricsGroupByProject):    {api.GroupByProject, "project"},
	string(model.ClusterMetricsGroupByDepartment): {api.GroupByDepartment, "department"},
}

// newClusterMetricsKind declares the cluster metrics listing: one call per
// cluster, range, samples, grouping and node-pool filter with every type
// of the request's sibling fields, cached like node metrics (range aligned
// to its step, short TTL near now). The kind name is a cache key prefix:
// keep it stable.
func newClusterMetricsKind(s *Source) *fleet.Kind[fleet.MetricsKey, fleet.MetricsResult] {
	return &fleet.Kind[fleet.MetricsKey, fleet.MetricsResult]{Name: "cmetrics", Backend: fleet.MetricsKey.BackendOf, Key: fleet.MetricsKey.KeyOf,
		TTL: fleet.MetricsTTL, Fetch: s.fetchClusterMetrics, OneCall: true}
}

// ClusterMetricTypes implements fleet.ClusterMetricsSource.
func (s *Source) ClusterMetricTypes() fleet.MetricTypes { return clusterMetricTypes }

// ClusterMetrics implements fleet.ClusterMetricsSource: groupBy, nodePool
// and WORKLOADS_COUNT are checked against the backend's API version (2.23
// on) before any call.
func (s *Source) ClusterMetrics(ctx context.Context, c *model.Cluster, r fleet.MetricsRequest) ([]*model.MetricSeries, error) {
	if err := s.checkClusterOptions(ctx, c.Backend, r); err != nil {
		return nil, err
	}
	r, err := s.servedRequest(ctx, c.Backend, clusterLevel, r)
	if err != nil {
		return nil, err
	}
	res, err := fleet.Load(ctx, s.clusterMet, r.Key(c.Backend, c.VendorID, r.NodePool))()
	if err != nil {
		return nil, err
	}
	return r.Pick(res)
}

// checkClusterOptions refuses groupBy and nodePool where the control plane
// has neither (before 2.23, or its version not known yet), and a nodePool
// that is no Run:ai node-pool name.
func (s *Source) checkClusterOptions(ctx context.Context, backend string, r fleet.MetricsRequest) error {
	if r.GroupBy == "" && r.NodePool == "" {
		return nil
	}
	field := "groupBy"
	if r.GroupBy == "" {
		field = "nodePool"
	}
	if v := s.APIVersion(ctx, backend); !v.HasTenantNodes() || v.Assumed {
		what := "is not served by Run:ai API " + v.APIVersion
		if v.Assumed {
			what = "is not served: the Run:ai API version could not be probed yet (2.22 is assumed); set apiVersion"
		}
		return fleet.Wrap(backends.RunAI, backend, fleet.Invalid(field,
			"cluster metrics %s %s (backend %s): it needs 2.23 or later", field, what, backend))
	}
	if _, ok := clusterGroups[r.GroupBy]; r.GroupBy != "" && !ok {
		return fleet.Wrap(backends.RunAI, backend, fleet.Invalid("groupBy", "%s is no ClusterMetricsGroupBy value", fleet.Clip(r.GroupBy)))
	}
	if r.NodePool != "" {
		if err := fleet.KubeRule("nodePool", "a Run:ai node-pool name is a Kubernetes name:", r.NodePool, content.IsDNS1123Label); err != nil {
			return fleet.Wrap(backends.RunAI, backend, err)
		}
	}
	return nil
}

func (s *Source) fetchClusterMetrics(ctx context.Context, k fleet.MetricsKey) (fleet.MetricsResult, error) {
	c := s.client(k.Backend)
	if c == nil {
		return fleet.MetricsResult{}, fleet.UnknownBackend(k.Backend)
	}
	group := clusterGroups[k.Group]
	resp, err := c.ClusterMetrics(ctx, k.Target, api.ClusterMetricsOptions{MetricsOptions: metricsOptions(k),
		GroupBy: group.vendor, NodePoolName: k.Pool})
	var plain *api.MetricsResponse
	if resp != nil {
		// A group becomes a label of its series: {nodePool: gpu-pool-1}.
		plain = &api.MetricsResponse{Measurements: make([]api.Measurement, len(resp.Measurements))}
		for i, m := range resp.Measurements {
			plain.Measurements[i] = m.Measurement
			if len(m.Groups) == 0 {
				continue
			}
			labels := make(map[string]string, len(m.Labels)+len(m.Groups))
			maps.Copy(labels, m.Labels)
			for _, g := range m.Groups {
				labels[groupLabel(g.Key)] = g.Value
			}
			plain.Measurements[i].Labels = labels
		}
	}
	return metricsAnswer(k.Backend, plain, err)
}

// groupLabel is the graph label of a vendor group key: the key of
// clusterGroups' entry for it, or the key itself in lower camel case for
// one the enum does not have yet.
func groupLabel(key string) string {
	for _, g := range clusterGroups {
		if strings.EqualFold(g.vendor, key) {
			return g.label
		}
	}
	if key == "" {
		return "group"
	}
	return strings.ToLower(key[:1]) + key[1:]
}
