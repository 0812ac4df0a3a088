package modelarts

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/fleetgraph/fleetgraph/backends"
)

// Route templates of the node lists.
const (
	RouteNodePoolNodes = "/v2/{project_id}/pools/{pool_name}/nodepools/{nodepool_name}/nodes"
	RoutePoolNodes     = "/v2/{project_id}/pools/{pool_name}/nodes"
)

// maxPages stops a server that keeps handing out new continue tokens.
const maxPages = 10000

// Node is a node of a pool (SDK Node).
type Node struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   Metadata   `json:"metadata"`
	Spec       NodeSpec   `json:"spec"`
	Status     NodeStatus `json:"status"`
	// Raw is the item exactly as received; set by the client.
	Raw json.RawMessage `json:"-"`
}

func (n *Node) setRaw(r json.RawMessage) { n.Raw = r }

// Well-known node labels.
const (
	LabelNodePool     = "os.modelarts.node/nodepool"     // node-pool ID (name-like in practice)
	LabelNodePoolName = "os.modelarts.node/nodepoolname" // node-pool name
	LabelNodeCluster  = "os.modelarts.node/cluster"
)

// NodePoolName is the node pool the node belongs to, from its labels.
func (n *Node) NodePoolName() string {
	if v := n.Metadata.Labels[LabelNodePoolName]; v != "" {
		return v
	}
	return n.Metadata.Labels[LabelNodePool]
}

// NodeSpec is the flavor and configuration of a node.
type NodeSpec struct {
	Flavor       string                `json:"flavor"`
	OS           *OS                   `json:"os,omitempty"`
	HostNetwork  *NodeNetwork          `json:"hostNetwork,omitempty"`
	RootVolume   *Volume               `json:"rootVolume,omitempty"`
	DataVolumes  []Volume              `json:"dataVolumes,omitempty"`
	ExtendParams *ResourceExtendParams `json:"extendParams,omitempty"`
}

// Node phases.
const (
	NodeAvailable = "Available"
	NodeCreating  = "Creating"
	NodeDeleting  = "Deleting"
	NodeAbnormal  = "Abnormal"
	NodeChecking  = "Checking"
)

// Resource names in NodeStatus.Resources and AvailableResources.
const (
	ResourceCPU        = "cpu"
	ResourceMemory     = "memory"
	ResourceNvidiaGPU  = "nvidia.com/gpu"
	ResourceAscendSnt3 = "huawei.com/ascend-snt3"
	ResourceAscendSnt9 = "huawei.com/ascend-snt9"
)

// NodeStatus is the observed state of a node. Resource values are
// Kubernetes quantity strings ("1930m", "1912Mi", "8"), keyed by resource
// name.
type NodeStatus struct {
	Phase     string `json:"phase"`
	AZ        string `json:"az,omitempty"`
	PrivateIP string `json:"privateIp,omitempty"`
	// Resources is the node's allocatable capacity.
	Resources StringMap `json:"resources"`
	// AvailableResources is what is left after running workloads; absent
	// from some published answers.
	AvailableResources StringMap `json:"availableResources,omitempty"`
}

// ListNodePoolNodes returns every node of a node pool, following
// metadata.continue to the last page.
func (c *Client) ListNodePoolNodes(ctx context.Context, pool, nodePool string) ([]Node, error) {
	if err := c.requireArg("pool", pool); err != nil {
		return nil, err
	}
	if err := c.requireArg("node pool", nodePool); err != nil {
		return nil, err
	}
	return c.listNodes(ctx, RouteNodePoolNodes, pool, nodePool)
}

// ListPoolNodes returns every node of a pool (all its node pools), following
// metadata.continue to the last page.
func (c *Client) ListPoolNodes(ctx context.Context, pool string) ([]Node, error) {
	if err := c.requireArg("pool", pool); err != nil {
		return nil, err
	}
	return c.listNodes(ctx, RoutePoolNodes, pool)
}

// listNodes pages with limit=PageLimit until metadata.continue is empty or a
// page is empty. Each page gets its own Timeout.
func (c *Client) listNodes(ctx context.Context, route string, args ...string) ([]Node, error) {
	var all []Node
	seen := map[string]bool{}
	cont := ""
	for range maxPages {
		q := url.Values{"limit": {strconv.Itoa(c.limit)}}
		if cont != "" {
			q.Set("continue", cont)
		}
		data, err := c.get(ctx, route, q, args...)
		if err != nil {
			return nil, err
		}
		var page list
		if err := json.Unmarshal(data, &page); err != nil {
			return nil, c.decodeError(http.MethodGet, route, err)
		}
		nodes, err := decodeItems[Node](c, route, page.Items)
		if err != nil {
			return nil, c.decodeError(http.MethodGet, route, err)
		}
		all = append(all, nodes...)
		cont = page.Metadata.Continue
		if cont == "" || len(page.Items) == 0 { // items as sent: skipped ones still make a page
			return all, nil
		}
		if seen[cont] {
			return nil, fmt.Errorf("%s %s: GET %s: continue token repeated, paging would not end: %w",
				backends.ModelArts, c.cfg.Name, route, backends.ErrUpstream)
		}
		seen[cont] = true
	}
	return nil, fmt.Errorf("%s %s: GET %s: more than %d pages: %w", backends.ModelArts, c.cfg.Name, route, maxPages, backends.ErrUpstream)
}
