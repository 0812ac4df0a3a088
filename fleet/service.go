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
	l := loadersFor(ctx)
	var thunks []func() ([]*model.Cluster, error)
	for _, b := range s.reg.Backends() {
		if wantProvider(provider, b.Provider) {
			thunks = append(thunks, l.clusters.Load(ctx, b.Name))
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
	list, err := loadersFor(ctx).clusters.Load(ctx, backend)()
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
	if !s.known(id) {
		return nil, nil
	}
	return s.clusterByVendorID(ctx, id.Backend, id.Parts[0])
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
	if c == nil {
		c = unlistedCluster(s.reg.byName[backend], backend, clusterVendorID)
	}
	return c, err
}

// unlistedCluster is what the gateway knows of a cluster its vendor does not
// list: its identity. State is Unknown (Run:ai's own word for a state it
// cannot tell), raw is {}: nothing was received.
func unlistedCluster(p backends.Provider, backend, vendorID string) *model.Cluster {
	provider := model.ProviderRunai
	if p == backends.ModelArts {
		provider = model.ProviderModelarts
	}
	state := "Unknown"
	return &model.Cluster{
		ID:       ids.Encode(ids.KindCluster, p, backend, vendorID),
		Name:     vendorID,
		Provider: provider,
		Backend:  backend,
		VendorID: vendorID,
		State:    &state,
		Raw:      model.RawJSON("{}"),
	}
}

// known says whether the ID names a configured backend of its provider. An ID
// of a backend that is no longer configured names nothing: not found.
func (s *Service) known(id ids.ID) bool {
	p, ok := s.reg.byName[id.Backend]
	return ok && p == id.Provider
}

// NodePoolsOfCluster lists the node pools of one cluster.
func (s *Service) NodePoolsOfCluster(ctx context.Context, c *model.Cluster) ([]*model.NodePool, error) {
	l := loadersFor(ctx)
	if c.Provider == model.ProviderModelarts {
		return l.maNodePools.Load(ctx, clusterKey{c.Backend, c.VendorID})()
	}
	all, err := l.runaiPools.Load(ctx, c.Backend)()
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

// NodePools lists node pools over every backend: one paged listing per Run:ai
// backend (it carries each pool's cluster, so no cluster listing is needed:
// one dependent round trip less), one listing per ModelArts resource pool.
func (s *Service) NodePools(ctx context.Context, q NodePoolQuery) Partial[*model.NodePool] {
	l := loadersFor(ctx)
	var out Partial[*model.NodePool]
	var sources []func() ([]*model.NodePool, error)
	if q.Cluster != nil && !s.known(*q.Cluster) {
		return out
	}
	for _, c := range s.reg.runai {
		if !wantProvider(q.Provider, model.ProviderRunai) || (q.Cluster != nil && q.Cluster.Backend != c.Name()) {
			continue
		}
		sources = append(sources, l.runaiPools.Load(ctx, c.Name()))
	}
	if wantProvider(q.Provider, model.ProviderModelarts) {
		switch {
		case q.Cluster == nil:
			ma := model.ProviderModelarts
			clusters := s.Clusters(ctx, &ma)
			out.Errors = clusters.Errors
			for _, c := range clusters.Items {
				sources = append(sources, l.maNodePools.Load(ctx, clusterKey{c.Backend, c.VendorID}))
			}
		case q.Cluster.Provider == backends.ModelArts:
			sources = append(sources, l.maNodePools.Load(ctx, clusterKey{q.Cluster.Backend, q.Cluster.Parts[0]}))
		}
	}
	for _, load := range sources {
		items, err := load()
		if isNotFound(err) && q.Cluster != nil {
			continue // the named resource pool does not exist: no pools
		}
		if err != nil {
			out.Errors = append(out.Errors, err)
			continue
		}
		for _, p := range items {
			if (q.Cluster == nil || p.ClusterVendorID == q.Cluster.Parts[0]) && q.match(p) {
				out.Items = append(out.Items, p)
			}
		}
	}
	return out
}

// NodePool returns the node pool id names; nil, nil when it does not exist.
func (s *Service) NodePool(ctx context.Context, id ids.ID) (*model.NodePool, error) {
	if !s.known(id) {
		return nil, nil
	}
	l := loadersFor(ctx)
	var list []*model.NodePool
	var err error
	if id.Provider == backends.ModelArts {
		list, err = l.maNodePools.Load(ctx, clusterKey{id.Backend, id.Parts[0]})()
		if err != nil && isNotFound(err) {
			return nil, nil // the resource pool itself is gone
		}
	} else {
		list, err = l.runaiPools.Load(ctx, id.Backend)()
	}
	if err != nil {
		return nil, err
	}
	want := id.Parts[len(id.Parts)-1] // ModelArts node-pool name; Run:ai pool name
	if id.Provider == backends.RunAI {
		want = id.Parts[1] // Run:ai pool id
	}
	for _, p := range list {
		if p.ClusterVendorID == id.Parts[0] && p.VendorID == want {
			return p, nil
		}
	}
	return nil, nil
}

// NodePoolOf returns the pool a node belongs to; nil when the vendor names none.
func (s *Service) NodePoolOf(ctx context.Context, n *model.Node) (*model.NodePool, error) {
	if n.NodePoolName == "" {
		return nil, nil
	}
	l := loadersFor(ctx)
	var list []*model.NodePool
	var err error
	if n.Provider == model.ProviderModelarts {
		list, err = l.maNodePools.Load(ctx, clusterKey{n.Backend, n.ClusterVendorID})()
	} else {
		list, err = l.runaiPools.Load(ctx, n.Backend)()
	}
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
