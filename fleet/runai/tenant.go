package runai

import (
	"context"
	"time"

	api "github.com/fleetgraph/fleetgraph/backends/runai"
	"github.com/fleetgraph/fleetgraph/fleet"
	"github.com/fleetgraph/fleetgraph/graph/model"
)

// after222 is what the adapter adds for control planes newer than 2.22
// (upstreams-2.md d): each backend's API version, and the tenant-wide node
// listing of 2.23 on.
type after222 struct {
	versions map[string]*versionOf
	// tenantNodes is GET /api/v1/nodes: one listing per control plane
	// (instead of one per cluster, rnodes), keyed by backend and split by
	// clusterUuid. Its cache kind is "rtnodes".
	tenantNodes *fleet.Kind[string, TenantNodes]
}

// TenantNodes is a tenant-wide node listing split by cluster: the nodes of
// each clusterUuid, in the vendor's order. A node is identified by its
// cluster and name, as on 2.22 (NodeID).
type TenantNodes map[string][]*model.Node

func (s *Source) initAfter222() {
	s.versions = make(map[string]*versionOf, len(s.clients))
	for _, c := range s.clients {
		s.versions[c.Name()] = &versionOf{now: time.Now}
	}
	s.tenantNodes = &fleet.Kind[string, TenantNodes]{Name: "rtnodes",
		Backend: func(b string) string { return b }, Key: func(string) string { return "" },
		TTL:   fleet.Fixed[string](func(p fleet.CachePolicy) time.Duration { return p.Nodes }),
		Fetch: s.fetchTenantNodes}
}

// clusterNodes lists one cluster's nodes the way backend's API version
// lists them best: on 2.23 and later a cluster's nodes are cut from the
// one tenant-wide listing (every cluster of a query shares it), on 2.22
// each cluster has a listing of its own.
func (s *Source) clusterNodes(ctx context.Context, backend, cluster string) fleet.Thunk[[]*model.Node] {
	if !s.APIVersion(ctx, backend).HasTenantNodes() {
		return fleet.Load(ctx, s.nodes, fleet.ClusterKey{Backend: backend, Cluster: cluster})
	}
	th := fleet.Load(ctx, s.tenantNodes, backend)
	return func() ([]*model.Node, error) {
		all, err := th()
		if err != nil {
			return nil, err
		}
		if mine := all[cluster]; mine != nil {
			return mine, nil
		}
		// A cluster without nodes (or none of this tenant's): an empty
		// list, where the per-cluster listing answered [] or 404.
		return []*model.Node{}, nil
	}
}

// fetchTenantNodes lists every node of the tenant (all pages) and splits the
// list by clusterUuid. A node listed twice (pages that shifted while they
// were read) is kept once, at its first place.
func (s *Source) fetchTenantNodes(ctx context.Context, backend string) (TenantNodes, error) {
	c := s.client(backend)
	if c == nil {
		return nil, fleet.UnknownBackend(backend)
	}
	list, err := c.ListTenantNodes(ctx, nil)
	if err != nil {
		return nil, wrap(backend, err)
	}
	return splitTenantNodes(backend, list), nil
}

func splitTenantNodes(backend string, list []api.Node) TenantNodes {
	type nodeKey struct{ cluster, name string }
	seen := make(map[nodeKey]bool, len(list))
	out := TenantNodes{}
	for i := range list {
		n := &list[i]
		k := nodeKey{n.ClusterUUID, n.Name}
		if seen[k] {
			continue
		}
		seen[k] = true
		out[n.ClusterUUID] = append(out[n.ClusterUUID], runaiNode(backend, n.ClusterUUID, n))
	}
	return out
}
