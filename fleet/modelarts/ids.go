package modelarts

import (
	"regexp"

	"github.com/fleetgraph/fleetgraph/internal/ids"
)

// Provider is this adapter's name in the GraphQL Provider enum and in IDs.
const Provider = "MODELARTS"

// The ModelArts identifier rules, applied to every decoded part. A part goes
// into a vendor path (path-escaped, but "." and ".." survive escaping and a
// server resolves them), so an ID whose parts break the vendor's own rules
// names nothing and is refused before any call.
var (
	// ModelArts pool_name (the pool's metadata.name): 36-63 characters
	// (SDK ShowPoolRequest / ListPoolNodes page).
	poolRE = regexp.MustCompile(`^[a-z][a-z0-9-]*[a-z0-9]$`)
	// ModelArts nodepool_name: 2-63 characters. Looser than the create rule
	// (lower case, 2-50, no "-default"): system-made default pools end in
	// "-default" and the SDK's own example is "nodePool-1".
	nodePoolRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]*[A-Za-z0-9]$`)

	poolNamePart = ids.Part{What: "ModelArts resource-pool name", Check: func(s string) string {
		if len(s) < 36 || len(s) > 63 || !poolRE.MatchString(s) {
			return "must be 36-63 characters of a-z, 0-9 and '-', start with a letter and end with a letter or digit"
		}
		return ""
	}}
	nodePoolNamePart = ids.Part{What: "ModelArts node-pool name", Check: func(s string) string {
		if len(s) < 2 || len(s) > 63 || !nodePoolRE.MatchString(s) {
			return "must be 2-63 characters of letters, digits and '-', start with a letter and end with a letter or digit"
		}
		return ""
	}}
	// Nodes are Kubernetes nodes: DNS-1123 subdomains.
	nodeName = ids.Part{What: "node name", Check: ids.K8sName}
)

// Layout is the ModelArts ID layout (a resource pool is the cluster):
//
//	cluster [pool]; node pool [pool, nodePool]; node [pool, nodeName]
var Layout = ids.Layout{Provider: Provider, Code: "m", Parts: map[ids.Kind][]ids.Part{
	ids.KindCluster:  {poolNamePart},
	ids.KindNodePool: {poolNamePart, nodePoolNamePart},
	ids.KindNode:     {poolNamePart, nodeName},
}}

func init() { ids.Register(Layout) }

// ClusterID names a ModelArts resource pool.
type ClusterID struct{ Backend, Pool string }

// NodePoolID names a node pool of a resource pool.
type NodePoolID struct{ Backend, Pool, NodePool string }

// NodeID names a node of a resource pool.
type NodeID struct{ Backend, Pool, Node string }

// Encode returns the opaque ID.
func (id ClusterID) Encode() string {
	return ids.Encode(ids.KindCluster, Provider, id.Backend, id.Pool)
}

// Encode returns the opaque ID.
func (id NodePoolID) Encode() string {
	return ids.Encode(ids.KindNodePool, Provider, id.Backend, id.Pool, id.NodePool)
}

// Encode returns the opaque ID.
func (id NodeID) Encode() string {
	return ids.Encode(ids.KindNode, Provider, id.Backend, id.Pool, id.Node)
}

// Envelope returns the generic form, for the service.
func (id NodePoolID) Envelope() ids.ID {
	return ids.ID{Kind: ids.KindNodePool, Provider: Provider, Backend: id.Backend, Parts: []string{id.Pool, id.NodePool}}
}

// The decoders below read an envelope ids.Decode accepted (so it has this
// layout's shape): the one place that knows the parts' positions.

func clusterIDOf(id ids.ID) ClusterID { return ClusterID{Backend: id.Backend, Pool: id.Parts[0]} }
func nodePoolIDOf(id ids.ID) NodePoolID {
	return NodePoolID{Backend: id.Backend, Pool: id.Parts[0], NodePool: id.Parts[1]}
}
func nodeIDOf(id ids.ID) NodeID {
	return NodeID{Backend: id.Backend, Pool: id.Parts[0], Node: id.Parts[1]}
}
