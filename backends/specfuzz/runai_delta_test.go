package specfuzz_test

import (
	"context"
	"errors"
	"testing"

	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/backends/modelarts"
	"github.com/fleetgraph/fleetgraph/backends/runai"
)

// The Run:ai decoders of the operations after 2.22 (runai-openapi-delta.json):
// the tenant-wide node listing and count, and cluster metrics.
func init() {
	delete(uncovered, "runai-openapi-delta.json get_tenant_nodes")
	delete(uncovered, "runai-openapi-delta.json count_tenant_nodes")
	delete(uncovered, "runai-openapi-delta.json get_cluster_metrics")
	cases["get_tenant_nodes"] = fuzzCase{func(ctx context.Context, ra *runai.Client, _ *modelarts.Client) (any, error) {
		return ra.ListTenantNodes(ctx, nil)
	}, func(t *testing.T, sent, got any) {
		// A tenant-listed node is addressed by cluster and name: one
		// without either is skipped.
		checkItems(t, member(sent, "nodes"), got.([]runai.Node), func(n runai.Node) []any {
			return []any{"name", n.Name, "status", n.Status, "nodePool", n.NodePool, "clusterUuid", n.ClusterUUID}
		}, "name", "clusterUuid")
	}}
	cases["count_tenant_nodes"] = fuzzCase{func(ctx context.Context, ra *runai.Client, _ *modelarts.Client) (any, error) {
		return ra.CountTenantNodes(ctx, nil)
	}, func(t *testing.T, sent, got any) { checkCount(t, sent, got.(int64)) }}
	cases["get_cluster_metrics"] = fuzzCase{func(ctx context.Context, ra *runai.Client, _ *modelarts.Client) (any, error) {
		resp, err := ra.ClusterMetrics(ctx, "c", runai.ClusterMetricsOptions{
			MetricsOptions: runai.MetricsOptions{Types: []string{"TOTAL_GPU"}, Start: start, End: end},
			GroupBy:        runai.GroupByNodepool,
		})
		if _, ok := errors.AsType[*backends.PartialError](err); ok {
			err = nil // a 207's data is valid
		}
		return resp, err
	}, checkClusterMetrics}
}

// checkClusterMetrics checks the series as checkMetrics does, and that
// every non-null group sent comes back with its key and value.
func checkClusterMetrics(t *testing.T, sent, got any) {
	t.Helper()
	resp := got.(*runai.ClusterMetricsResponse)
	plain := &runai.MetricsResponse{}
	for _, m := range resp.Measurements {
		plain.Measurements = append(plain.Measurements, m.Measurement)
	}
	checkMetrics(t, sent, plain)
	var want []any
	for _, m := range list(member(sent, "measurements")) {
		if m != nil {
			want = append(want, m)
		}
	}
	for i, m := range want {
		checkFilled(t, "groups", member(m, "groups"), resp.Measurements[i].Groups)
	}
}
