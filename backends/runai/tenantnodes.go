package runai

import (
	"context"
	"net/http"
	"net/url"

	"github.com/fleetgraph/fleetgraph/backends"
)

// The tenant-wide node listing, new in 2.23 (upstreams-2.md d.1): every node
// of every cluster in one listing, each carrying its clusterUuid. It replaces
// one ListNodes call per cluster; on a 2.22 control plane both routes answer
// 404 (backends.ErrNotFound), see ProbeAPIVersion.
const (
	routeTenantNodes      = "/api/v1/nodes"
	routeTenantNodesCount = "/api/v1/nodes/count"
)

// ClusterFilter is the filterBy item that narrows a 2.23 node listing or
// count to one cluster: clusterUuid==uuid.
func ClusterFilter(uuid string) string { return "clusterUuid==" + uuid }

// ListTenantNodes returns every node of the tenant matching opts (nil for
// all), following offset/limit pages to the end as ListNodes does (the body
// has no cursor or total either). From 2.23, filterBy and sortBy also take
// the field clusterUuid (ClusterFilter).
//
// A node is addressed by cluster and name here: one listed without a
// clusterUuid (the schema requires it) belongs to no cluster and is skipped
// and counted with the null items, like one without a name.
func (c *Client) ListTenantNodes(ctx context.Context, opts *NodeListOptions) ([]Node, error) {
	q := url.Values{}
	if opts != nil {
		setList(q, "filterBy", opts.FilterBy)
		setString(q, "sortBy", opts.SortBy)
		setString(q, "sortOrder", opts.SortOrder)
		setString(q, "search", opts.Search)
	}
	req := request{method: http.MethodGet, route: routeTenantNodes, query: q}
	nodes, err := listAll[Node](ctx, c, req, "nodes")
	if err != nil {
		return nil, err
	}
	kept := nodes[:0]
	for _, n := range nodes {
		if n.ClusterUUID != "" {
			kept = append(kept, n)
		}
	}
	if skipped := len(nodes) - len(kept); skipped > 0 {
		c.observer.NullItems(c.name, backends.RouteKind(routeTenantNodes), skipped)
	}
	return kept, nil
}

// CountTenantNodes returns how many nodes of the tenant match filterBy (see
// NodeListOptions.FilterBy; clusterUuid too).
func (c *Client) CountTenantNodes(ctx context.Context, filterBy []string) (int64, error) {
	q := url.Values{}
	setList(q, "filterBy", filterBy)
	return c.count(ctx, request{method: http.MethodGet, route: routeTenantNodesCount, query: q})
}
