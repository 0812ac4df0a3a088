package resolvers

import (
	"context"
	"time"

	"github.com/fleetgraph/fleetgraph/graph"
	"github.com/fleetgraph/fleetgraph/graph/model"
)

// NodePool is the resolver for the nodePool field.
func (r *nodeResolver) NodePool(ctx context.Context, obj *model.Node) (*model.NodePool, error) {
	return r.Fleet.NodePoolOf(ctx, obj)
}

// Cluster is the resolver for the cluster field.
func (r *nodeResolver) Cluster(ctx context.Context, obj *model.Node) (*model.Cluster, error) {
	return r.Fleet.ClusterOf(ctx, obj.Backend, obj.ClusterVendorID)
}

// Metrics is the resolver for the metrics field.
func (r *nodeResolver) Metrics(ctx context.Context, obj *model.Node, types []model.NodeMetricType, start time.Time, end time.Time, samples *int) ([]*model.MetricSeries, error) {
	req, err := metricsRequest(ctx, types, start, end, samples)
	if err != nil {
		return nil, err
	}
	return r.Fleet.NodeMetrics(ctx, obj, req)
}

// Node returns graph.NodeResolver implementation.
func (r *Resolver) Node() graph.NodeResolver { return &nodeResolver{r} }

type nodeResolver struct{ *Resolver }
