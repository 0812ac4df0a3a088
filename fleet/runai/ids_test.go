package runai

import (
	"errors"
	"strings"
	"testing"

	"github.com/fleetgraph/fleetgraph/internal/ids"
)

const uuid = "71f69d83-ba66-4822-adf5-55ce55efd210"

// TestDecodeAppliesVendorRules: a part that breaks the vendor's identifier
// rule ("." and ".." survive path escaping) does not decode.
func TestDecodeAppliesVendorRules(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 300)
	tests := []struct {
		name  string
		kind  ids.Kind
		parts []string
		ok    bool
	}{
		{"Run:ai cluster", ids.KindCluster, []string{uuid}, true},
		{"Run:ai cluster, upper case", ids.KindCluster, []string{"A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"}, true},
		{"Run:ai pool", ids.KindNodePool, []string{uuid, "17", "default"}, true},
		{"Run:ai pool id 0", ids.KindNodePool, []string{uuid, "0", "v100"}, true},
		{"Run:ai node", ids.KindNode, []string{uuid, "c1-default-node-01"}, true},
		{"Run:ai node with dots", ids.KindNode, []string{uuid, "ip-10-0-0-1.ec2.internal"}, true},
		{"Run:ai cluster '..'", ids.KindCluster, []string{".."}, false},
		{"Run:ai cluster not a UUID", ids.KindCluster, []string{"c"}, false},
		{"Run:ai cluster UUID with a slash", ids.KindCluster, []string{uuid + "/x"}, false},
		{"Run:ai pool id '..'", ids.KindNodePool, []string{uuid, "..", "v100"}, false},
		{"Run:ai pool id '.'", ids.KindNodePool, []string{uuid, ".", "v100"}, false},
		{"Run:ai pool id negative", ids.KindNodePool, []string{uuid, "-1", "v100"}, false},
		{"Run:ai pool id huge", ids.KindNodePool, []string{uuid, strings.Repeat("9", 40), "v100"}, false},
		{"Run:ai pool id with a query", ids.KindNodePool, []string{uuid, "5?x=1", "v100"}, false},
		{"Run:ai pool name '..'", ids.KindNodePool, []string{uuid, "5", ".."}, false},
		{"Run:ai pool name with a slash", ids.KindNodePool, []string{uuid, "5", "a/../b"}, false},
		{"Run:ai pool name with CRLF", ids.KindNodePool, []string{uuid, "5", "a\r\nb"}, false},
		{"Run:ai node '.'", ids.KindNode, []string{uuid, "."}, false},
		{"Run:ai node too long", ids.KindNode, []string{uuid, long}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ids.Decode(ids.Encode(tt.kind, Provider, "be", tt.parts...), tt.kind)
			switch {
			case tt.ok && err != nil:
				t.Fatalf("refused: %v", err)
			case !tt.ok && !errors.Is(err, ids.ErrMalformed):
				t.Fatalf("Decode = %v, want ErrMalformed", err)
			case !tt.ok && len(err.Error()) > 600:
				t.Fatalf("message of %d bytes: %.100s", len(err.Error()), err)
			}
		})
	}
}
