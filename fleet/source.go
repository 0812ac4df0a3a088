package fleet

import (
	"context"

	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/graph/model"
	"github.com/fleetgraph/fleetgraph/internal/ids"
)

// Thunk is a pending load: call it to wait for the value.
type Thunk[V any] func() (V, error)

// Source is one vendor's adapter over its configured backends (fleet/runai,
// fleet/modelarts). It owns everything vendor-specific: listings and their
// loaders (cache kinds), mapping onto graph models, write validation and
// writes, the cache keys a write invalidates, and its ID layout. The
// Service loops over sources and never asks which vendor one is; the
// composition root (app) builds them.
//
// Loads go through the request's loaders (Load with the adapter's Kinds),
// so a method that returns a Thunk has already queued its batch: start
// every load before waiting for any.
type Source interface {
	// Provider is the vendor's value in the GraphQL Provider enum; it is
	// also the Provider of the adapter's ids.Layout.
	Provider() model.Provider
	// Backends names the adapter's backends in configuration order.
	Backends() []string
	// Credential picks the adapter's credential of a pass-through caller
	// (it scopes cache entries).
	Credential(backends.Credentials) string

	// Clusters lists the clusters of backend.
	Clusters(ctx context.Context, backend string) Thunk[[]*model.Cluster]
	// ClusterNodePools lists (at least) the node pools of one cluster.
	ClusterNodePools(ctx context.Context, backend, cluster string) Thunk[[]*model.NodePool]
	// NodePools starts the listings that hold the node pools of the given
	// backends, or of cluster (one of this source's) when not nil; errs are
	// failures met while starting them (a cluster listing).
	NodePools(ctx context.Context, backends []string, cluster *ids.ID) (loads []Thunk[[]*model.NodePool], errs []error)
	// NodePool returns the pool id names; nil, nil when it does not exist.
	NodePool(ctx context.Context, id ids.ID) (*model.NodePool, error)
	// ClusterNodes lists the nodes of one cluster.
	ClusterNodes(ctx context.Context, backend, cluster string) Thunk[[]*model.Node]
	// NodePoolNodes lists the nodes of one node pool.
	NodePoolNodes(ctx context.Context, id ids.ID) Thunk[[]*model.Node]
	// NodePoolID is the identity of a listed pool (rebuilt from its
	// fields, not decoded from its ID: see resolvers).
	NodePoolID(p *model.NodePool) ids.ID

	// NodeMetrics and NodePoolMetrics answer a metrics field; a vendor
	// without a metrics API answers an empty list.
	NodeMetrics(ctx context.Context, n *model.Node, r MetricsRequest) ([]*model.MetricSeries, error)
	NodePoolMetrics(ctx context.Context, p *model.NodePool, r MetricsRequest) ([]*model.MetricSeries, error)
	// AllocatedGPUs starts what tells the GPUs allocated on nodes (all of
	// this source).
	AllocatedGPUs(ctx context.Context, nodes []*model.Node) func() (map[*model.Node]int, []error)

	// CheckCreate and CheckFields apply the vendor's write rules before any
	// call; they return *InputError.
	CheckCreate(in model.CreateNodePoolInput) error
	CheckFields(in WriteFields) error
	// CreateNodePool, UpdateNodePool and DeleteNodePool write; the Service
	// has checked the input, the backend and read-only mode, and audits.
	CreateNodePool(ctx context.Context, cluster ids.ID, in model.CreateNodePoolInput) (*model.NodePool, error)
	UpdateNodePool(ctx context.Context, id ids.ID, in WriteFields, replace bool) (*model.NodePool, error)
	DeleteNodePool(ctx context.Context, id ids.ID) (model.NodePoolPhase, error)
	// Invalidates names the cache entries ("kind:key") a write to node
	// pool nodePool of cluster changes.
	Invalidates(cluster, nodePool string) []string
}

// TelemetrySource is a Source with a node-telemetry API.
type TelemetrySource interface {
	Source
	// Telemetry starts the telemetry calls of the given backends (cluster,
	// when not nil, is one of theirs).
	Telemetry(ctx context.Context, backends []string, q TelemetryQuery) func() Partial[*model.TelemetryValue]
}
