package modelarts

import (
	"context"
	"encoding/json"
	"net/http"
)

// Route templates of the node-pool calls.
const (
	RouteNodePools = "/v2/{project_id}/pools/{pool_name}/nodepools"
	RouteNodePool  = "/v2/{project_id}/pools/{pool_name}/nodepools/{nodepool_name}"
)

// NodePool is a node pool of a pool (SDK NodePool). It has no phase: its
// state is the per-state counts in Status.Resources.
type NodePool struct {
	APIVersion string         `json:"apiVersion"`
	Kind       string         `json:"kind"`
	Metadata   Metadata       `json:"metadata"`
	Spec       NodePoolSpec   `json:"spec"`
	Status     NodePoolStatus `json:"status,omitzero"`
	// Raw is the item exactly as received; set by the client.
	Raw json.RawMessage `json:"-"`
}

func (n *NodePool) setRaw(r json.RawMessage) { n.Raw = r }

// NodePoolSpec is the requested shape of a node pool.
type NodePoolSpec struct {
	// Resources is a single object for node pools (an array for pools).
	Resources PoolResource `json:"resources"`
}

// PoolResource is the flavor, counts and node configuration of a node pool.
type PoolResource struct {
	Flavor       string                `json:"flavor"`
	Count        int                   `json:"count"`    // guaranteed nodes; scaling = PATCH this
	MaxCount     int                   `json:"maxCount"` // elastic; equals Count in physical pools
	AZs          []AZCount             `json:"azs,omitempty"`
	NodePool     string                `json:"nodePool,omitempty"`
	Taints       []Taint               `json:"taints,omitempty"`
	Labels       StringMap             `json:"labels,omitempty"`
	Tags         []UserTag             `json:"tags,omitempty"`
	Network      *NodeNetwork          `json:"network,omitempty"`
	ExtendParams *ResourceExtendParams `json:"extendParams,omitempty"`
	CreatingStep *CreatingStep         `json:"creatingStep,omitempty"`
	RootVolume   *Volume               `json:"rootVolume,omitempty"`
	DataVolumes  []Volume              `json:"dataVolumes,omitempty"`
	OS           *OS                   `json:"os,omitempty"`
}

// NodePoolStatus is the observed state of a node pool.
type NodePoolStatus struct {
	Resources NodePoolStatusResources `json:"resources,omitzero"`
}

// NodePoolStatusResources counts a node pool's nodes per state; a nil bucket
// means none in that state.
type NodePoolStatusResources struct {
	Creating  *PoolResourceFlavorCount `json:"creating,omitempty"`
	Available *PoolResourceFlavorCount `json:"available,omitempty"`
	Abnormal  *PoolResourceFlavorCount `json:"abnormal,omitempty"`
	Deleting  *PoolResourceFlavorCount `json:"deleting,omitempty"`
}

// ListNodePools returns the node pools of a pool (the API does not page).
func (c *Client) ListNodePools(ctx context.Context, pool string) ([]NodePool, error) {
	if err := c.requireArg("pool", pool); err != nil {
		return nil, err
	}
	data, err := c.get(ctx, RouteNodePools, nil, pool)
	if err != nil {
		return nil, err
	}
	var l list
	if err := json.Unmarshal(data, &l); err != nil {
		return nil, c.decodeError(http.MethodGet, RouteNodePools, err)
	}
	nps, err := decodeItems[NodePool](c, RouteNodePools, l.Items)
	if err != nil {
		return nil, c.decodeError(http.MethodGet, RouteNodePools, err)
	}
	return nps, nil
}

// GetNodePool returns one node pool of a pool.
func (c *Client) GetNodePool(ctx context.Context, pool, nodePool string) (*NodePool, error) {
	if err := c.requireArg("pool", pool); err != nil {
		return nil, err
	}
	if err := c.requireArg("node pool", nodePool); err != nil {
		return nil, err
	}
	data, err := c.get(ctx, RouteNodePool, nil, pool, nodePool)
	if err != nil {
		return nil, err
	}
	np, err := decodeOne[NodePool](data)
	if err != nil {
		return nil, c.decodeError(http.MethodGet, RouteNodePool, err)
	}
	return np, nil
}
