package fleet

import (
	"context"
	"errors"
	"strings"

	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/graph/model"
	"github.com/fleetgraph/fleetgraph/internal/ids"
)

// Service answers the graph's questions over every configured backend. It is
// stateless: all per-request state lives in the Loaders carried by ctx.
type Service struct {
	reg      *Registry
	cache    *Cache
	readOnly bool
	live     LiveOptions
	hub      *Hub
}

// ServiceOptions configure a Service.
type ServiceOptions struct {
	// Cache is the shared cache, invalidated after writes (nil: none).
	Cache *Cache
	// ReadOnly refuses every mutation with ErrReadOnly.
	ReadOnly bool
	// Live bounds subscription polling.
	Live LiveOptions
}

// NewService returns a service over reg.
func NewService(reg *Registry, o ServiceOptions) *Service {
	return &Service{reg: reg, cache: o.Cache, readOnly: o.ReadOnly, live: o.Live.withDefaults(), hub: NewHub()}
}

// Hub returns the subscription hub (for tests and metrics).
func (s *Service) Hub() *Hub { return s.hub }

// Registry returns the configured backends.
func (s *Service) Registry() *Registry { return s.reg }

// Partial is what a fan-out over several backends returns: the data of every
// backend that answered, and one error per backend that did not.
type Partial[T any] struct {
	Items  []T
	Errors []error
}

func (p *Partial[T]) add(items []T, err error) {
	if err != nil {
		p.Errors = append(p.Errors, err)
		return
	}
	p.Items = append(p.Items, items...)
}

func wantProvider(filter *model.Provider, p model.Provider) bool {
	return filter == nil || *filter == p
}

// Clusters lists the clusters of every backend of provider (nil: all).
func (s *Service) Clusters(ctx context.Context, provider *model.Provider) Partial[*model.Cluster] {
	var thunks []Thunk[[]*model.Cluster]
	for _, src := range s.reg.sources {
		if wantProvider(provider, src.Provider()) {
			for _, b := range src.Backends() {
				thunks = append(thunks, src.Clusters(ctx, b))
			}
		}
	}
	var out Partial[*model.Cluster]
	for _, th := range thunks {
		out.add(th())
	}
	return out
}

// clusterByVendorID finds a cluster of backend; nil when it does not exist.
func (s *Service) clusterByVendorID(ctx context.Context, backend, vendorID string) (*model.Cluster, error) {
	src := s.reg.byName[backend]
	if src == nil {
		return nil, UnknownBackend(backend)
	}
	list, err := src.Clusters(ctx, backend)()
	if err != nil {
		return nil, err
	}
	for _, c := range list {
		if c.VendorID == vendorID {
			return c, nil
		}
	}
	return nil, nil
}

// Cluster returns the cluster id names; nil, nil when it does not exist.
func (s *Service) Cluster(ctx context.Context, id ids.ID) (*model.Cluster, error) {
	if s.source(id) == nil {
		return nil, nil
	}
	return s.clusterByVendorID(ctx, id.Backend, id.Cluster())
}

// ClusterOf returns the cluster a node or node pool belongs to. A cluster
// the vendor's listing leaves out (Run:ai omits clusters requested for
// deletion unless asked; a pool can outlive a listing by a moment) is built
// from the vendor id the pool or node carries: the field is non-null, and
// one missing cluster must not null every pool of a nodePools answer. When
// the listing itself fails, the same cluster comes back with the error, for
// the caller to report beside it (partial data).
func (s *Service) ClusterOf(ctx context.Context, backend, clusterVendorID string) (*model.Cluster, error) {
	c, err := s.clusterByVendorID(ctx, backend, clusterVendorID)
	if src := s.reg.byName[backend]; c == nil && src != nil {
		c = unlistedCluster(src.Provider(), backend, clusterVendorID)
	}
	return c, err
}

// unlistedCluster is what the gateway knows of a cluster its vendor does not
// list: its identity. State is Unknown (Run:ai's own word for a state it
// cannot tell), raw is {}: nothing was received.
func unlistedCluster(p model.Provider, backend, vendorID string) *model.Cluster {
	state := "Unknown"
	return &model.Cluster{
		ID:       ids.Encode(ids.KindCluster, string(p), backend, vendorID),
		Name:     vendorID,
		Provider: p,
		Backend:  backend,
		VendorID: vendorID,
		State:    &state,
		Raw:      model.RawJSON("{}"),
	}
}

// source returns the source of the backend an ID names when it is a
// configured backend of the ID's provider; nil otherwise: an ID of a
// backend that is no longer configured names nothing (not found).
func (s *Service) source(id ids.ID) Source {
	src := s.reg.byName[id.Backend]
	if src == nil || string(src.Provider()) != id.Provider {
		return nil
	}
	return src
}

// ClusterIDOf is the identity of a listed cluster.
func ClusterIDOf(c *model.Cluster) ids.ID {
	return ids.ID{Kind: ids.KindCluster, Provider: string(c.Provider), Backend: c.Backend, Parts: []string{c.VendorID}}
}

// NodePoolIDOf is the identity of a listed node pool, rebuilt from its
// fields by its source.
func (s *Service) NodePoolIDOf(p *model.NodePool) ids.ID {
	if src := s.reg.byName[p.Backend]; src != nil {
		return src.NodePoolID(p)
	}
	return ids.ID{Kind: ids.KindNodePool, Provider: string(p.Provider), Backend: p.Backend, Parts: []string{p.ClusterVendorID, p.VendorID}}
}

// NodePoolsOfCluster lists the node pools of one cluster.
func (s *Service) NodePoolsOfCluster(ctx context.Context, c *model.Cluster) ([]*model.NodePool, error) {
	src := s.reg.byName[c.Backend]
	if src == nil {
		return nil, UnknownBackend(c.Backend)
	}
	all, err := src.ClusterNodePools(ctx, c.Backend, c.VendorID)()
	if err != nil {
		return nil, err
	}
	var out []*model.NodePool
	for _, p := range all {
		if p.ClusterVendorID == c.VendorID {
			out = append(out, p)
		}
	}
	return out, nil
}

// NodePoolQuery filters node pools.
type NodePoolQuery struct {
	Provider     *model.Provider
	Cluster      *ids.ID
	Phases       []model.NodePoolPhase
	NameContains string
}

func (q NodePoolQuery) match(p *model.NodePool) bool {
	if len(q.Phases) > 0 && !contains(q.Phases, p.Phase) {
		return false
	}
	return q.NameContains == "" || strings.Contains(strings.ToLower(p.Name), strings.ToLower(q.NameContains))
}

// NodePools lists node pools over every backend, each source with as few
// listings as its API allows (Run:ai: one paged listing per backend, which
// carries each pool's cluster; ModelArts: one per resource pool).
func (s *Service) NodePools(ctx context.Context, q NodePoolQuery) Partial[*model.NodePool] {
	var out Partial[*model.NodePool]
	var loads []Thunk[[]*model.NodePool]
	if q.Cluster != nil {
		src := s.source(*q.Cluster)
		if src == nil || !wantProvider(q.Provider, src.Provider()) {
			return out
		}
		loads, out.Errors = src.NodePools(ctx, []string{q.Cluster.Backend}, q.Cluster)
	} else {
		for _, src := range s.reg.sources {
			if !wantProvider(q.Provider, src.Provider()) {
				continue
			}
			l, errs := src.NodePools(ctx, src.Backends(), nil)
			loads = append(loads, l...)
			out.Errors = append(out.Errors, errs...)
		}
	}
	for _, load := range loads {
		items, err := load()
		if isNotFound(err) && q.Cluster != nil {
			continue // the named cluster does not exist: no pools
		}
		if err != nil {
			out.Errors = append(out.Errors, err)
			continue
		}
		for _, p := range items {
			if (q.Cluster == nil || p.ClusterVendorID == q.Cluster.Cluster()) && q.match(p) {
				out.Items = append(out.Items, p)
			}
		}
	}
	return out
}

// NodePool returns the node pool id names; nil, nil when it does not exist.
func (s *Service) NodePool(ctx context.Context, id ids.ID) (*model.NodePool, error) {
	src := s.source(id)
	if src == nil {
		return nil, nil
	}
	return src.NodePool(ctx, id)
}

// NodePoolOf returns the pool a node belongs to; nil when the vendor names none.
func (s *Service) NodePoolOf(ctx context.Context, n *model.Node) (*model.NodePool, error) {
	if n.NodePoolName == "" {
		return nil, nil
	}
	src := s.reg.byName[n.Backend]
	if src == nil {
		return nil, UnknownBackend(n.Backend)
	}
	list, err := src.ClusterNodePools(ctx, n.Backend, n.ClusterVendorID)()
	if err != nil {
		return nil, err
	}
	for _, p := range list {
		if p.ClusterVendorID == n.ClusterVendorID && p.Name == n.NodePoolName {
			return p, nil
		}
	}
	return nil, nil
}

func one[T any](v *T) []*T {
	if v == nil {
		return nil
	}
	return []*T{v}
}

func contains[T comparable](list []T, v T) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func isNotFound(err error) bool {
	return err != nil && errors.Is(err, backends.ErrNotFound)
}
