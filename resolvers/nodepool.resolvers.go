package resolvers

import (
	"context"
	"time"

	"github.com/fleetgraph/fleetgraph/graph"
	"github.com/fleetgraph/fleetgraph/graph/model"
	"github.com/fleetgraph/fleetgraph/internal/ids"
)

// Cluster is the resolver for the cluster field.
func (r *nodePoolResolver) Cluster(ctx context.Context, obj *model.NodePool) (*model.Cluster, error) {
	return r.Fleet.ClusterOf(ctx, obj.Backend, obj.ClusterVendorID)
}

// Nodes is the resolver for the nodes field.
func (r *nodePoolResolver) Nodes(ctx context.Context, obj *model.NodePool, filter *model.NodeFilter, first *int, after *string) (*model.NodeConnection, error) {
	q, err := nodeQuery(filter)
	if err != nil {
		return nil, err
	}
	id, _ := ids.Decode(obj.ID, ids.KindNodePool)
	if q.NodePool != nil && q.NodePool.Backend+q.NodePool.Parts[1] != id.Backend+id.Parts[1] {
		return emptyNodeConnection(), nil
	}
	q.NodePool = &id
	return nodeConnection(ctx, r.Fleet.Nodes(ctx, q), first, after)
}

// Metrics is the resolver for the metrics field.
func (r *nodePoolResolver) Metrics(ctx context.Context, obj *model.NodePool, types []model.NodePoolMetricType, start time.Time, end time.Time, samples *int) ([]*model.MetricSeries, error) {
	req, err := metricsRequest(ctx, types, start, end, samples)
	if err != nil {
		return nil, err
	}
	return r.Fleet.NodePoolMetrics(ctx, obj, req)
}

// NodePool returns graph.NodePoolResolver implementation.
func (r *Resolver) NodePool() graph.NodePoolResolver { return &nodePoolResolver{r} }

type nodePoolResolver struct{ *Resolver }
