package resolvers

import (
	"context"

	"github.com/fleetgraph/fleetgraph/fleet"
	"github.com/fleetgraph/fleetgraph/graph"
	"github.com/fleetgraph/fleetgraph/graph/model"
	"github.com/fleetgraph/fleetgraph/internal/ids"
)

// NodePools is the resolver for the nodePools field.
func (r *clusterResolver) NodePools(ctx context.Context, obj *model.Cluster) ([]*model.NodePool, error) {
	pools, err := r.Fleet.NodePoolsOfCluster(ctx, obj)
	if pools == nil && err == nil {
		pools = []*model.NodePool{}
	}
	return pools, err
}

// Nodes is the resolver for the nodes field.
func (r *clusterResolver) Nodes(ctx context.Context, obj *model.Cluster, filter *model.NodeFilter, first *int, after *string) (*model.NodeConnection, error) {
	q, err := nodeQuery(filter)
	if err != nil {
		return nil, err
	}
	id, _ := ids.Decode(obj.ID, ids.KindCluster)
	if q.Cluster != nil && q.Cluster.Backend+q.Cluster.Parts[0] != id.Backend+id.Parts[0] {
		return emptyNodeConnection(), nil
	}
	q.Cluster = &id
	return nodeConnection(ctx, r.Fleet.Nodes(ctx, q), first, after)
}

// Backends is the resolver for the backends field.
func (r *queryResolver) Backends(ctx context.Context) ([]*model.Backend, error) {
	return r.Fleet.Registry().Backends(), nil
}

// Clusters is the resolver for the clusters field.
func (r *queryResolver) Clusters(ctx context.Context, provider *model.Provider) ([]*model.Cluster, error) {
	res := r.Fleet.Clusters(ctx, provider)
	addErrors(ctx, res.Errors)
	if res.Items == nil {
		res.Items = []*model.Cluster{}
	}
	return res.Items, nil
}

// Cluster is the resolver for the cluster field.
func (r *queryResolver) Cluster(ctx context.Context, id string) (*model.Cluster, error) {
	cid, err := decodeID("id", id, ids.KindCluster)
	if err != nil {
		return nil, err
	}
	return r.Fleet.Cluster(ctx, cid)
}

// NodePools is the resolver for the nodePools field.
func (r *queryResolver) NodePools(ctx context.Context, filter *model.NodePoolFilter, first *int, after *string) (*model.NodePoolConnection, error) {
	q := fleet.NodePoolQuery{}
	if filter != nil {
		q.Provider, q.Phases = filter.Provider, filter.Phase
		if filter.NameContains != nil {
			q.NameContains = *filter.NameContains
		}
		if filter.ClusterID != nil {
			id, err := decodeID("filter.clusterId", *filter.ClusterID, ids.KindCluster)
			if err != nil {
				return nil, err
			}
			q.Cluster = &id
		}
	}
	window, err := pageWindow(first, after)
	if err != nil {
		return nil, err
	}
	res := r.Fleet.NodePools(ctx, q)
	addErrors(ctx, res.Errors)
	conn := &model.NodePoolConnection{TotalCount: len(res.Items), Edges: []*model.NodePoolEdge{}}
	from, to := window.bounds(len(res.Items))
	for i := from; i < to; i++ {
		conn.Edges = append(conn.Edges, &model.NodePoolEdge{Cursor: ids.Cursor(i), Node: res.Items[i]})
	}
	conn.PageInfo = window.pageInfo(from, to, len(res.Items))
	return conn, nil
}

// NodePool is the resolver for the nodePool field.
func (r *queryResolver) NodePool(ctx context.Context, id string) (*model.NodePool, error) {
	pid, err := decodeID("id", id, ids.KindNodePool)
	if err != nil {
		return nil, err
	}
	return r.Fleet.NodePool(ctx, pid)
}

// Nodes is the resolver for the nodes field.
func (r *queryResolver) Nodes(ctx context.Context, filter *model.NodeFilter, first *int, after *string) (*model.NodeConnection, error) {
	q, err := nodeQuery(filter)
	if err != nil {
		return nil, err
	}
	return nodeConnection(ctx, r.Fleet.Nodes(ctx, q), first, after)
}

// Node is the resolver for the node field.
func (r *queryResolver) Node(ctx context.Context, id string) (*model.Node, error) {
	nid, err := decodeID("id", id, ids.KindNode)
	if err != nil {
		return nil, err
	}
	return r.Fleet.Node(ctx, nid)
}

// FleetSummary is the resolver for the fleetSummary field.
func (r *queryResolver) FleetSummary(ctx context.Context, filter *model.NodeFilter) (*model.FleetSummary, error) {
	q, err := nodeQuery(filter)
	if err != nil {
		return nil, err
	}
	res := r.Fleet.Nodes(ctx, q)
	addErrors(ctx, res.Errors)
	var allocated map[*model.Node]int
	if wantsAllocated(ctx) {
		var errs []error
		allocated, errs = r.Fleet.AllocatedGPUs(ctx, res.Items)
		addErrors(ctx, errs)
	}
	return summarize(res.Items, allocated), nil
}

// NodeTelemetry is the resolver for the nodeTelemetry field.
func (r *queryResolver) NodeTelemetry(ctx context.Context, typeArg model.NodeTelemetryType, clusterID *string, nodePoolName *string, groupBy []model.TelemetryGroupBy) ([]*model.TelemetryValue, error) {
	q := fleet.TelemetryQuery{Type: string(typeArg)}
	if clusterID != nil {
		id, err := decodeID("clusterId", *clusterID, ids.KindCluster)
		if err != nil {
			return nil, err
		}
		q.Cluster = &id
	}
	if nodePoolName != nil {
		q.NodePoolName = *nodePoolName
	}
	if len(groupBy) > 2 {
		return nil, inputErrorf("groupBy", "takes at most 2 fields, got %d", len(groupBy))
	}
	for _, g := range groupBy {
		q.GroupBy = append(q.GroupBy, telemetryGroupBy[g])
	}
	res := r.Fleet.Telemetry(ctx, q)
	addErrors(ctx, res.Errors)
	if res.Items == nil {
		res.Items = []*model.TelemetryValue{}
	}
	return res.Items, nil
}

var telemetryGroupBy = map[model.TelemetryGroupBy]string{
	model.TelemetryGroupByClusterID: "ClusterId",
	model.TelemetryGroupByNodepool:  "Nodepool",
	model.TelemetryGroupByNode:      "Node",
}

// Cluster returns graph.ClusterResolver implementation.
func (r *Resolver) Cluster() graph.ClusterResolver { return &clusterResolver{r} }

// Query returns graph.QueryResolver implementation.
func (r *Resolver) Query() graph.QueryResolver { return &queryResolver{r} }

type clusterResolver struct{ *Resolver }
type queryResolver struct{ *Resolver }
