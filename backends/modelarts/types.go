package modelarts

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/fleetgraph/fleetgraph/backends"
)

// Shared DTO parts of pools, node pools and nodes. JSON names are the
// official Go SDK's (upstreams.md B.6). Objects the gateway does not read are
// left out; every top-level DTO keeps the item exactly as received in Raw.

// Metadata is the Kubernetes-style metadata of a pool, node pool or node.
// Node pools carry only Name (and Annotations on create/patch).
type Metadata struct {
	// Name is the object's ID: a pool's generated ID (its {pool_name}), a node
	// pool's name, a node's name.
	Name string `json:"name"`
	// CreationTimestamp is RFC 3339 text as sent (e.g. 2024-01-29T09:28:26Z);
	// kept as a string so an odd value cannot fail a whole list. See CreatedAt.
	CreationTimestamp string    `json:"creationTimestamp,omitempty"`
	Labels            StringMap `json:"labels,omitempty"`
	Annotations       StringMap `json:"annotations,omitempty"`
}

// StringMap is a map of string values (labels, annotations, resource
// quantities) that decodes whatever the vendor puts in it: the documents
// name some keys and leave the others open, and an open key may carry a
// number ("cpu": 16 next to "memory": "64Gi", upstreams-2.md a.3) or
// something else. A number or boolean is kept as its JSON text; an object,
// an array or null is left out, so that one odd member cannot fail a whole
// list.
type StringMap map[string]string

// UnmarshalJSON accepts an object with any member values, or null.
func (m *StringMap) UnmarshalJSON(data []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	if raw == nil {
		*m = nil
		return nil
	}
	out := make(StringMap, len(raw))
	for k, v := range raw {
		v = bytes.TrimSpace(v)
		switch {
		case len(v) == 0:
		case v[0] == '"':
			var s string
			if json.Unmarshal(v, &s) == nil {
				out[k] = s
			}
		case v[0] == '{' || v[0] == '[' || string(v) == "null":
		default: // a number, true or false
			out[k] = string(v)
		}
	}
	*m = out
	return nil
}

// CreatedAt parses CreationTimestamp; the zero time when absent or malformed.
func (m Metadata) CreatedAt() time.Time {
	t, err := time.Parse(time.RFC3339Nano, m.CreationTimestamp)
	if err != nil {
		return time.Time{}
	}
	return t
}

// AZCount is a number of instances in one availability zone.
type AZCount struct {
	AZ    string `json:"az"`
	Count int    `json:"count"`
}

// PoolResourceFlavorCount is the number of instances of one flavor in one
// state (a status.resources bucket).
type PoolResourceFlavorCount struct {
	Flavor   string    `json:"flavor"`
	Count    int       `json:"count"`
	MaxCount int       `json:"maxCount"`
	AZs      []AZCount `json:"azs,omitempty"`
	NodePool string    `json:"nodePool,omitempty"`
}

// FlavorCounts is one state bucket of a pool's status.resources. The SDK
// types it as a single object, the published docs and their examples as an
// array (upstreams.md C.2 #7): both decode; it always encodes as an array.
type FlavorCounts []PoolResourceFlavorCount

// UnmarshalJSON accepts an array, a single object or null.
func (f *FlavorCounts) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	switch {
	case bytes.Equal(data, []byte("null")):
		*f = nil
		return nil
	case len(data) > 0 && data[0] == '[':
		var list []PoolResourceFlavorCount
		if err := json.Unmarshal(data, &list); err != nil {
			return err
		}
		*f = list
		return nil
	case len(data) > 0 && data[0] == '{':
		var one PoolResourceFlavorCount
		if err := json.Unmarshal(data, &one); err != nil {
			return err
		}
		*f = FlavorCounts{one}
		return nil
	}
	return fmt.Errorf("modelarts: status.resources bucket is neither an object nor an array: %.40s", data)
}

// Total is the sum of Count over the flavors.
func (f FlavorCounts) Total() int {
	n := 0
	for _, c := range f {
		n += c.Count
	}
	return n
}

// Taint is a Kubernetes taint.
type Taint struct {
	Key    string `json:"key"`
	Value  string `json:"value,omitempty"`
	Effect string `json:"effect"` // NoSchedule, PreferNoSchedule, NoExecute
}

// UserTag is a resource (TMS) tag.
type UserTag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// OS is an OS image.
type OS struct {
	Name      string `json:"name,omitempty"`
	ImageID   string `json:"imageId,omitempty"`
	ImageType string `json:"imageType,omitempty"` // "private" or empty (preset image)
	AutoMatch string `json:"autoMatch,omitempty"`
}

// NodeNetwork is the VPC placement of nodes.
type NodeNetwork struct {
	VPC            string   `json:"vpc,omitempty"`
	Subnet         string   `json:"subnet,omitempty"`
	SecurityGroups []string `json:"securityGroups,omitempty"`
}

// Volume is a disk: a node's root or data volume, or a node pool's.
type Volume struct {
	VolumeType   string              `json:"volumeType"`
	Size         string              `json:"size"` // GiB, as a string
	Count        int                 `json:"count,omitempty"`
	ExtendParams *VolumeExtendParams `json:"extendParams,omitempty"`
}

// VolumeExtendParams names the volume group of a data volume.
type VolumeExtendParams struct {
	VolumeGroup string `json:"volumeGroup,omitempty"`
}

// ResourceExtendParams is the custom node configuration of a node pool or
// node.
type ResourceExtendParams struct {
	DockerBaseSize             string `json:"dockerBaseSize,omitempty"`
	PostInstall                string `json:"postInstall,omitempty"` // base64
	Runtime                    string `json:"runtime,omitempty"`     // docker, containerd
	LabelPolicyOnExistingNodes string `json:"labelPolicyOnExistingNodes,omitempty"`
	TaintPolicyOnExistingNodes string `json:"taintPolicyOnExistingNodes,omitempty"`
	TagPolicyOnExistingNodes   string `json:"tagPolicyOnExistingNodes,omitempty"`
	// XParameterPlaneSubnet: the SDK spells it with an upper-case X,
	// terraform reads xParameterPlaneSubnet; encoding/json decodes both.
	XParameterPlaneSubnet string `json:"XParameterPlaneSubnet,omitempty"`
	NodePoolName          string `json:"nodePoolName,omitempty"`
}

// CreatingStep is the batch-creation setting of a node pool.
type CreatingStep struct {
	Step int    `json:"step,omitempty"`
	Type string `json:"type,omitempty"` // hyperinstance, rack
}

// rawSetter is implemented by the top-level DTOs, which keep the bytes they
// were decoded from.
type rawSetter interface{ setRaw(json.RawMessage) }

// decodeItems decodes each raw item into a T and keeps the raw bytes.
// An item without metadata.name has no identity: nothing could address it
// (every path names it), and it would be a phantom like a null item. It is
// skipped, and counted with the null items.
func decodeItems[T any, PT interface {
	*T
	rawSetter
	name() string
}](c *Client, route string, items []json.RawMessage) ([]T, error) {
	out := make([]T, 0, len(items))
	nameless := 0
	for i, raw := range items {
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("item %d: %w", i, err)
		}
		if PT(&v).name() == "" {
			nameless++
			continue
		}
		PT(&v).setRaw(raw)
		out = append(out, v)
	}
	if nameless > 0 {
		c.observer.NullItems(c.cfg.Name, backends.RouteKind(route), nameless)
	}
	return out, nil
}

func (p *Pool) name() string     { return p.Metadata.Name }
func (n *NodePool) name() string { return n.Metadata.Name }
func (n *Node) name() string     { return n.Metadata.Name }

// decodeOne decodes one object and keeps its bytes.
func decodeOne[T any, PT interface {
	*T
	rawSetter
}](data []byte) (*T, error) {
	v := new(T)
	if err := json.Unmarshal(data, v); err != nil {
		return nil, err
	}
	PT(v).setRaw(json.RawMessage(bytes.TrimSpace(data)))
	return v, nil
}

// list is the envelope of every list answer.
type list struct {
	Items    []json.RawMessage `json:"items"`
	Metadata struct {
		Continue           string `json:"continue"`
		RemainingItemCount *int64 `json:"remainingItemCount"`
	} `json:"metadata"`
}
