package ids

import (
	"fmt"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/api/validate/content"

	"github.com/fleetgraph/fleetgraph/backends"
)

// The vendors' identifier rules, applied to every decoded part. A part goes
// into a vendor path (path-escaped, but "." and ".." survive escaping and a
// server resolves them), so an ID whose parts break the vendor's own rules
// names nothing and is refused before any call.
var (
	// RFC 4122 text form: the OpenAPI documents' `format: uuid`
	// (Run:ai's examples use upper and lower case).
	uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	// ModelArts pool_name (the pool's metadata.name): 36-63 characters
	// (SDK ShowPoolRequest / ListPoolNodes page).
	maPoolRE = regexp.MustCompile(`^[a-z][a-z0-9-]*[a-z0-9]$`)
	// ModelArts nodepool_name: 2-63 characters. Looser than the create rule
	// (lower case, 2-50, no "-default"): system-made default pools end in
	// "-default" and the SDK's own example is "nodePool-1".
	maNodePoolRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]*[A-Za-z0-9]$`)
)

// rule checks one part; it returns "" when the part is valid, else what a
// valid part looks like.
type rule struct {
	what  string
	check func(string) string
}

func k8s(f func(string) []string) func(string) string {
	return func(s string) string {
		if errs := f(s); len(errs) > 0 {
			return strings.Join(errs, "; ")
		}
		return ""
	}
}

var (
	runaiClusterUUID = rule{"Run:ai cluster UUID", func(s string) string {
		if !uuidRE.MatchString(s) {
			return "must be a UUID such as 71f69d83-ba66-4822-adf5-55ce55efd210"
		}
		return ""
	}}
	// Node-pool ids are decimal integers: the deprecated API types them as
	// integers, the current one gives "17" as its example.
	runaiPoolID = rule{"Run:ai node-pool id", func(s string) string {
		if len(s) > 19 || len(content.IsDecimalInteger(s)) > 0 || strings.HasPrefix(s, "-") {
			return "must be a non-negative decimal integer such as 17"
		}
		return ""
	}}
	// Run:ai pool names are Kubernetes object names (DNS-1123 subdomains);
	// the stricter label rule applies only when a pool is created.
	runaiPoolName = rule{"Run:ai node-pool name", k8s(content.IsDNS1123Subdomain)}
	// Nodes are Kubernetes nodes on both vendors: DNS-1123 subdomains.
	nodeName   = rule{"node name", k8s(content.IsDNS1123Subdomain)}
	maPoolName = rule{"ModelArts resource-pool name", func(s string) string {
		if len(s) < 36 || len(s) > 63 || !maPoolRE.MatchString(s) {
			return "must be 36-63 characters of a-z, 0-9 and '-', start with a letter and end with a letter or digit"
		}
		return ""
	}}
	maNodePoolName = rule{"ModelArts node-pool name", func(s string) string {
		if len(s) < 2 || len(s) > 63 || !maNodePoolRE.MatchString(s) {
			return "must be 2-63 characters of letters, digits and '-', start with a letter and end with a letter or digit"
		}
		return ""
	}}
)

// rules lists the rule of each vendor part, per kind and provider, in the
// order of ID.Parts.
func rules(k Kind, p backends.Provider) []rule {
	if p == backends.RunAI {
		switch k {
		case KindCluster:
			return []rule{runaiClusterUUID}
		case KindNodePool:
			return []rule{runaiClusterUUID, runaiPoolID, runaiPoolName}
		case KindNode:
			return []rule{runaiClusterUUID, nodeName}
		}
		return nil
	}
	switch k {
	case KindCluster:
		return []rule{maPoolName}
	case KindNodePool:
		return []rule{maPoolName, maNodePoolName}
	case KindNode:
		return []rule{maPoolName, nodeName}
	}
	return nil
}

// checkParts applies the vendor's identifier rules to id's parts.
func checkParts(id ID) error {
	rs := rules(id.Kind, id.Provider)
	for i, part := range id.Parts {
		if i >= len(rs) {
			break
		}
		if msg := rs[i].check(part); msg != "" {
			return fmt.Errorf("%w: the %s %q %s", ErrMalformed, rs[i].what, truncate(part), msg)
		}
	}
	return nil
}
