package runai

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"
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
