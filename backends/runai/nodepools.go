package runai

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/fleetgraph/fleetgraph/backends"
)

// Node-pool phases (NodepoolPhase).
const (
	PoolCreating      = "Creating"
	PoolUpdating      = "Updating"
	PoolDeleting      = "Deleting"
	PoolEmpty         = "Empty"
	PoolUnschedulable = "Unschedulable"
	PoolReady         = "Ready"
	PoolDeleted       = "Deleted"
)

// NodePool is the Nodepool schema of GET /api/v1/node-pools.
type NodePool struct {
	// ID is a numeric string ("5"), unique in the tenant.
	ID          string `json:"id"`
	Name        string `json:"name"`
	ClusterID   string `json:"clusterId"`
	ClusterName string `json:"clusterName"`
	TenantID    int32  `json:"tenantId"`
	// LabelKey and LabelValue are the node label selecting the pool's nodes.
	LabelKey   string `json:"labelKey"`
	LabelValue string `json:"labelValue"`
	// OverProvisioningRatio is deprecated (1..5); see GPUResourceOptimization.
	OverProvisioningRatio *int               `json:"overProvisioningRatio"`
	PlacementStrategy     *PlacementStrategy `json:"placementStrategy,omitempty"`
	// GPUNetworkAccelerationDetection is Use, DontUse or Auto (the default).
	GPUNetworkAccelerationDetection *string                  `json:"gpuNetworkAccelerationDetection"`
	GPUNetworkAccelerationLabelKey  string                   `json:"gpuNetworkAccelerationLabelKey,omitempty"`
	GPUResourceOptimization         *GPUResourceOptimization `json:"gpuResourceOptimization"`
	Phase                           string                   `json:"phase,omitempty"`
	PhaseMessage                    string                   `json:"phaseMessage,omitempty"`
	Status                          *NodePoolStatus          `json:"status,omitempty"`
	// IsDefault marks the cluster's default pool, holding every node no other
	// pool selects.
	IsDefault bool       `json:"isDefault"`
	CreatedBy string     `json:"createdBy"`
	CreatedAt time.Time  `json:"createdAt"`
	UpdatedBy string     `json:"updatedBy"`
	UpdatedAt time.Time  `json:"updatedAt"`
	DeletedBy string     `json:"deletedBy,omitempty"`
	DeletedAt *time.Time `json:"deletedAt"`

	// Raw is the vendor object exactly as received. The client fills it.
	Raw json.RawMessage `json:"-"`
}

// PlacementStrategy is the scheduling strategy per resource: "spread" or
// "binpack" (nil: not set).
type PlacementStrategy struct {
	CPU *string `json:"cpu"`
	GPU *string `json:"gpu"`
}

// GPUResourceOptimization holds GPU memory swap and node-level scheduler
// settings. Sizes are Kubernetes quantities ("100G").
type GPUResourceOptimization struct {
	SwapEnabled                        *bool   `json:"swapEnabled"`
	CPUSwapMemorySize                  *string `json:"cpuSwapMemorySize,omitempty"`
	ReservedGPUMemoryForSwapOperations *string `json:"reservedGpuMemoryForSwapOperations,omitempty"`
	NodeLevelSchedulerEnabled          *bool   `json:"nodeLevelSchedulerEnabled"`
}

// NodePoolStatus is what the cluster last synced for the pool.
type NodePoolStatus struct {
	LabelKey                        *string                  `json:"labelKey,omitempty"`
	LabelValue                      *string                  `json:"labelValue,omitempty"`
	OverProvisioningRatio           *int                     `json:"overProvisioningRatio,omitempty"`
	PlacementStrategy               *PlacementStrategy       `json:"placementStrategy,omitempty"`
	GPUNetworkAccelerationLabelKey  string                   `json:"gpuNetworkAccelerationLabelKey,omitempty"`
	GPUNetworkAccelerationDetection *string                  `json:"gpuNetworkAccelerationDetection,omitempty"`
	GPUResourceOptimization         *GPUResourceOptimization `json:"gpuResourceOptimization,omitempty"`
	GPUNetworkAccelerationDetected  bool                     `json:"gpuNetworkAccelerationDetected"`
	// Nodes are the names of the pool's nodes.
	Nodes []string `json:"nodes,omitempty"`
}

func (p *NodePool) setRaw(raw json.RawMessage) { p.Raw = raw }

// NodePoolListOptions are the query parameters of ListNodePools. FilterBy
// items read "field operator value" like NodeListOptions.FilterBy; fields are
// name, clusterId, phase, createdAt, updatedAt, gpuNetworkAccelerationDetection,
// gpuNetworkAccelerationDetected, gpuNetworkAccelerationLabelKey, swapEnabled,
// nodeLevelSchedulerEnabled (dates in ISO 8601, with ==, !=, <=, >= only).
type NodePoolListOptions struct {
	FilterBy  []string
	SortBy    string // any FilterBy field
	SortOrder string // asc (default) or desc
}

const (
	routeNodePools     = "/api/v1/node-pools"
	routeNodePoolCount = "/api/v1/node-pools/count"
	routeNodePool      = "/api/v1/node-pools/{nodepoolId}"
)

// ListNodePools returns every node pool of the tenant matching opts (nil for
// all), following offset/limit pages to the end.
func (c *Client) ListNodePools(ctx context.Context, opts *NodePoolListOptions) ([]NodePool, error) {
	q := url.Values{}
	if opts != nil {
		setList(q, "filterBy", opts.FilterBy)
		setString(q, "sortBy", opts.SortBy)
		setString(q, "sortOrder", opts.SortOrder)
	}
	req := request{method: http.MethodGet, route: routeNodePools, query: q}
	return listAll[NodePool](ctx, c, req, "nodepools")
}

// GetNodePool returns one node pool by id.
func (c *Client) GetNodePool(ctx context.Context, id string) (*NodePool, error) {
	req := request{method: http.MethodGet, route: routeNodePool, args: []string{id}}
	var raw json.RawMessage
	if _, err := c.do(ctx, req, &raw); err != nil {
		return nil, err
	}
	return decodeOne[NodePool](c, req, raw)
}

// CountNodePools returns how many node pools match filterBy (see
// NodePoolListOptions.FilterBy).
func (c *Client) CountNodePools(ctx context.Context, filterBy []string) (int64, error) {
	q := url.Values{}
	setList(q, "filterBy", filterBy)
	return c.count(ctx, request{method: http.MethodGet, route: routeNodePoolCount, query: q})
}

// NodePoolCreateFields is the NodepoolCreateFields body of CreateNodePool.
// Name, LabelKey, LabelValue (each at least one character) and ClusterID (a
// cluster UUID) are required; a nil optional is left out and the API applies
// its default (ratio 1, detection Auto, swap and node-level scheduler off).
type NodePoolCreateFields struct {
	Name                            string                   `json:"name"`
	LabelKey                        string                   `json:"labelKey"`
	LabelValue                      string                   `json:"labelValue"`
	ClusterID                       string                   `json:"clusterId"`
	OverProvisioningRatio           *int                     `json:"overProvisioningRatio,omitempty"`
	PlacementStrategy               *PlacementStrategy       `json:"placementStrategy,omitempty"`
	GPUNetworkAccelerationLabelKey  *string                  `json:"gpuNetworkAccelerationLabelKey,omitempty"`
	GPUNetworkAccelerationDetection *string                  `json:"gpuNetworkAccelerationDetection,omitempty"`
	GPUResourceOptimization         *GPUResourceOptimization `json:"gpuResourceOptimization,omitempty"`
}

// NodePoolUpdateFields is the NodepoolUpdateFields body of UpdateNodePool
// (PUT) and PatchNodePool (PATCH). Only non-nil fields are sent, so a PATCH
// changes exactly those. PlacementStrategy and GPUResourceOptimization are
// single fields: a PATCH that sets one replaces the whole object.
type NodePoolUpdateFields struct {
	LabelKey                        *string                  `json:"labelKey,omitempty"`
	LabelValue                      *string                  `json:"labelValue,omitempty"`
	OverProvisioningRatio           *int                     `json:"overProvisioningRatio,omitempty"`
	PlacementStrategy               *PlacementStrategy       `json:"placementStrategy,omitempty"`
	GPUNetworkAccelerationLabelKey  *string                  `json:"gpuNetworkAccelerationLabelKey,omitempty"`
	GPUNetworkAccelerationDetection *string                  `json:"gpuNetworkAccelerationDetection,omitempty"`
	GPUResourceOptimization         *GPUResourceOptimization `json:"gpuResourceOptimization,omitempty"`
}

// Writes are sent once. A timeout, a reset connection or a 5xx after the
// request left leaves the outcome unknown (the API may have applied it), so
// the client never re-sends one: callers read the pool back (ListNodePools
// by name, GetNodePool) before deciding to try again. The only second send
// is the re-authentication on 401, which the API answers before applying
// anything. net/http does not replay these either: it replays only GET,
// HEAD, OPTIONS and TRACE, or requests carrying an Idempotency-Key.

// CreateNodePool creates a node pool (POST /api/v1/node-pools, 201). The
// pool comes back in phase Creating; it turns Ready or Empty once the
// cluster has synced it.
func (c *Client) CreateNodePool(ctx context.Context, f NodePoolCreateFields) (*NodePool, error) {
	return c.writeNodePool(ctx, request{method: http.MethodPost, route: routeNodePools}, f)
}

// UpdateNodePool replaces a node pool's settings (PUT, 200): the API resets
// the fields f leaves out to their defaults. The pool comes back in phase
// Updating.
func (c *Client) UpdateNodePool(ctx context.Context, id string, f NodePoolUpdateFields) (*NodePool, error) {
	return c.writeNodePool(ctx, request{method: http.MethodPut, route: routeNodePool, args: []string{id}}, f)
}

// PatchNodePool changes only the fields f sets (PATCH, 200). The pool comes
// back in phase Updating.
func (c *Client) PatchNodePool(ctx context.Context, id string, f NodePoolUpdateFields) (*NodePool, error) {
	return c.writeNodePool(ctx, request{method: http.MethodPatch, route: routeNodePool, args: []string{id}}, f)
}

// DeleteNodePool asks for a node pool's deletion and returns the status:
// 202 (accepted; the pool stays listed in phase Deleting until the cluster
// has removed it) or 204 (deleted).
func (c *Client) DeleteNodePool(ctx context.Context, id string) (status int, err error) {
	req := request{method: http.MethodDelete, route: routeNodePool, args: []string{id}}
	if status, err = c.do(ctx, req, nil); err != nil {
		return 0, err
	}
	return status, nil
}

// writeNodePool sends body as JSON and decodes the Nodepool answer.
func (c *Client) writeNodePool(ctx context.Context, req request, body any) (*NodePool, error) {
	var err error
	if req.body, err = c.encode(req, body); err != nil {
		return nil, err
	}
	var raw json.RawMessage
	if _, err := c.do(ctx, req, &raw); err != nil {
		return nil, err
	}
	return decodeOne[NodePool](c, req, raw)
}

// encode marshals a request body.
func (c *Client) encode(req request, body any) ([]byte, error) {
	data, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %s %s: encode request: %w", backends.RunAI, c.name, req.method, req.route, err)
	}
	return data, nil
}
