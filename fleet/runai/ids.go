package runai

import (
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/api/validate/content"

	"github.com/fleetgraph/fleetgraph/internal/ids"
)

// Provider is this adapter's name in the GraphQL Provider enum and in IDs.
const Provider = "RUNAI"

// The Run:ai identifier rules, applied to every decoded part. A part goes
// into a vendor path (path-escaped, but "." and ".." survive escaping and a
// server resolves them), so an ID whose parts break the vendor's own rules
// names nothing and is refused before any call.
var (
	// RFC 4122 text form: the OpenAPI documents' `format: uuid`
	// (Run:ai's examples use upper and lower case).
	uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

	clusterUUID = ids.Part{What: "Run:ai cluster UUID", Check: func(s string) string {
		if !uuidRE.MatchString(s) {
			return "must be a UUID such as 71f69d83-ba66-4822-adf5-55ce55efd210"
		}
		return ""
	}}
	// Node-pool ids are decimal integers: the deprecated API types them as
	// integers, the current one gives "17" as its example.
	poolIDPart = ids.Part{What: "Run:ai node-pool id", Check: func(s string) string {
		if len(s) > 19 || len(content.IsDecimalInteger(s)) > 0 || strings.HasPrefix(s, "-") {
			return "must be a non-negative decimal integer such as 17"
		}
		return ""
	}}
	// Run:ai pool names are Kubernetes object names (DNS-1123 subdomains);
	// the stricter label rule applies only when a pool is created.
	poolName = ids.Part{What: "Run:ai node-pool name", Check: ids.K8sName}
	// Nodes are Kubernetes nodes: DNS-1123 subdomains.
	nodeName = ids.Part{What: "node name", Check: ids.K8sName}
)

// Layout is the Run:ai ID layout:
//
//	cluster [clusterUUID]; node pool [clusterUUID, poolID, poolName]; node [clusterUUID, nodeName]
var Layout = ids.Layout{Provider: Provider, Code: "r", Parts: map[ids.Kind][]ids.Part{
	ids.KindCluster:  {clusterUUID},
	ids.KindNodePool: {clusterUUID, poolIDPart, poolName},
	ids.KindNode:     {clusterUUID, nodeName},
}}

func init() { ids.Register(Layout) }

// ClusterID names a Run:ai cluster.
type ClusterID struct{ Backend, Cluster string }

// PoolID names a Run:ai node pool: its cluster, its numeric id (the API's
// path parameter) and its name (what nodes and metrics name it by).
type PoolID struct{ Backend, Cluster, PoolID, Name string }

// NodeID names a Run:ai node by cluster and node name.
type NodeID struct{ Backend, Cluster, Node string }

// Encode returns the opaque ID.
func (id ClusterID) Encode() string {
	return ids.Encode(ids.KindCluster, Provider, id.Backend, id.Cluster)
}

// Encode returns the opaque ID.
func (id PoolID) Encode() string {
	return ids.Encode(ids.KindNodePool, Provider, id.Backend, id.Cluster, id.PoolID, id.Name)
}

// Encode returns the opaque ID.
func (id NodeID) Encode() string {
	return ids.Encode(ids.KindNode, Provider, id.Backend, id.Cluster, id.Node)
}

// Envelope returns the generic form, for the service.
func (id PoolID) Envelope() ids.ID {
	return ids.ID{Kind: ids.KindNodePool, Provider: Provider, Backend: id.Backend, Parts: []string{id.Cluster, id.PoolID, id.Name}}
}

// The decoders below read an envelope ids.Decode accepted (so it has this
// layout's shape): the one place that knows the parts' positions.

func clusterIDOf(id ids.ID) ClusterID { return ClusterID{Backend: id.Backend, Cluster: id.Parts[0]} }

func poolIDOf(id ids.ID) PoolID {
	return PoolID{Backend: id.Backend, Cluster: id.Parts[0], PoolID: id.Parts[1], Name: id.Parts[2]}
}

func nodeIDOf(id ids.ID) NodeID {
	return NodeID{Backend: id.Backend, Cluster: id.Parts[0], Node: id.Parts[1]}
}
