package runai

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"
)

// Node statuses (the node's calculated status).
const (
	NodeReady    = "Ready"
	NodeNotReady = "NotReady"
	NodeUnknown  = "Unknown"
)

// Node is the Node schema of GET /api/v1/clusters/{clusterUuid}/nodes.
type Node struct {
	// ID is the node UUID, the key of GET /api/v1/nodes/{nodeId}/metrics.
	// The schema does not require it.
	ID          string `json:"id,omitempty"`
	Name        string `json:"name"`
	ClusterUUID string `json:"clusterUuid"`
	// NodePool is the node pool's name (not its id).
	NodePool   string          `json:"nodePool"`
	Status     string          `json:"status"`
	Conditions []NodeCondition `json:"conditions,omitempty"`
	Taints     []NodeTaint     `json:"taints,omitempty"`
	// GPUInfo is nil on CPU-only nodes.
	GPUInfo         *GPUInfo  `json:"gpuInfo"`
	NvLinkDomainUID *string   `json:"nvLinkDomainUid"`
	NvLinkCliqueID  *string   `json:"nvLinkCliqueId"`
	CreatedAt       time.Time `json:"createdAt"`
	UpdatedAt       time.Time `json:"updatedAt"`

	// Raw is the vendor object exactly as received. The client fills it.
	Raw json.RawMessage `json:"-"`
}

// GPUInfo describes a node's GPUs.
type GPUInfo struct {
	GPUType  string `json:"gpuType"`
	GPUCount int    `json:"gpuCount"`
}

// NodeCondition is NodeStatusConditionDetails: why a node is not ready.
type NodeCondition struct {
	Type    string `json:"type"`
	Reason  string `json:"reason"`
	Message string `json:"message,omitempty"`
}

// NodeTaint is a Kubernetes taint; Effect is NoSchedule, PreferNoSchedule
// or NoExecute.
type NodeTaint struct {
	Key    string `json:"key"`
	Value  string `json:"value,omitempty"`
	Effect string `json:"effect"`
}

func (n *Node) setRaw(raw json.RawMessage) { n.Raw = raw }

// NodeListOptions are the query parameters of ListNodes. FilterBy items read
// "field operator value" (name!=worker-1, gpuType=@H100); fields are name,
// status, nodePool, gpuType, nvLinkDomainUid, nvLinkCliqueId, and from 2.23
// clusterUuid (ClusterFilter); operators
// ==, !=, <=, >=, =@ (contains), !@, =^ (starts with), =$ (ends with). The
// API joins items with commas, so a value cannot contain one.
type NodeListOptions struct {
	FilterBy  []string
	SortBy    string // name, status, nodePool, gpuType, nvLinkDomainUid, nvLinkCliqueId; clusterUuid from 2.23
	SortOrder string // asc (default) or desc
	Search    string // free-text search
}

const (
	routeNodes      = "/api/v1/clusters/{clusterUuid}/nodes"
	routeNodesCount = "/api/v1/clusters/{clusterUuid}/nodes/count"
)

// ListNodes returns every node of a cluster matching opts (nil for all),
// following offset/limit pages to the end.
func (c *Client) ListNodes(ctx context.Context, clusterUUID string, opts *NodeListOptions) ([]Node, error) {
	q := url.Values{}
	if opts != nil {
		setList(q, "filterBy", opts.FilterBy)
		setString(q, "sortBy", opts.SortBy)
		setString(q, "sortOrder", opts.SortOrder)
		setString(q, "search", opts.Search)
	}
	req := request{method: http.MethodGet, route: routeNodes, args: []string{clusterUUID}, query: q}
	return listAll[Node](ctx, c, req, "nodes")
}

// CountNodes returns how many nodes of a cluster match filterBy (see
// NodeListOptions.FilterBy).
func (c *Client) CountNodes(ctx context.Context, clusterUUID string, filterBy []string) (int64, error) {
	q := url.Values{}
	setList(q, "filterBy", filterBy)
	return c.count(ctx, request{method: http.MethodGet, route: routeNodesCount, args: []string{clusterUUID}, query: q})
}
