package ids

import (
	"errors"
	"strings"
	"testing"

	"github.com/fleetgraph/fleetgraph/backends"
)

const (
	uuid   = "71f69d83-ba66-4822-adf5-55ce55efd210"
	maPool = "lite-pool-1-0123456789abcdef0123456789abcdef"
)

// TestDecodeAppliesVendorRules: a part that breaks the vendor's identifier
// rule ("." and ".." survive path escaping) does not decode.
func TestDecodeAppliesVendorRules(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 300)
	tests := []struct {
		name  string
		kind  Kind
		p     backends.Provider
		parts []string
		ok    bool
	}{
		{"Run:ai cluster", KindCluster, backends.RunAI, []string{uuid}, true},
		{"Run:ai cluster, upper case", KindCluster, backends.RunAI, []string{"A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"}, true},
		{"Run:ai pool", KindNodePool, backends.RunAI, []string{uuid, "17", "default"}, true},
		{"Run:ai pool id 0", KindNodePool, backends.RunAI, []string{uuid, "0", "v100"}, true},
		{"Run:ai node", KindNode, backends.RunAI, []string{uuid, "c1-default-node-01"}, true},
		{"Run:ai node with dots", KindNode, backends.RunAI, []string{uuid, "ip-10-0-0-1.ec2.internal"}, true},
		{"ModelArts pool", KindCluster, backends.ModelArts, []string{maPool}, true},
		{"ModelArts node pool", KindNodePool, backends.ModelArts, []string{maPool, "nodePool-1"}, true},
		{"ModelArts default node pool", KindNodePool, backends.ModelArts, []string{maPool, "pool-default"}, true},
		{"ModelArts node", KindNode, backends.ModelArts, []string{maPool, "192.168.0.5"}, true},

		{"Run:ai cluster '..'", KindCluster, backends.RunAI, []string{".."}, false},
		{"Run:ai cluster not a UUID", KindCluster, backends.RunAI, []string{"c"}, false},
		{"Run:ai cluster UUID with a slash", KindCluster, backends.RunAI, []string{uuid + "/x"}, false},
		{"Run:ai pool id '..'", KindNodePool, backends.RunAI, []string{uuid, "..", "v100"}, false},
		{"Run:ai pool id '.'", KindNodePool, backends.RunAI, []string{uuid, ".", "v100"}, false},
		{"Run:ai pool id negative", KindNodePool, backends.RunAI, []string{uuid, "-1", "v100"}, false},
		{"Run:ai pool id huge", KindNodePool, backends.RunAI, []string{uuid, strings.Repeat("9", 40), "v100"}, false},
		{"Run:ai pool id with a query", KindNodePool, backends.RunAI, []string{uuid, "5?x=1", "v100"}, false},
		{"Run:ai pool name '..'", KindNodePool, backends.RunAI, []string{uuid, "5", ".."}, false},
		{"Run:ai pool name with a slash", KindNodePool, backends.RunAI, []string{uuid, "5", "a/../b"}, false},
		{"Run:ai pool name with CRLF", KindNodePool, backends.RunAI, []string{uuid, "5", "a\r\nb"}, false},
		{"Run:ai node '.'", KindNode, backends.RunAI, []string{uuid, "."}, false},
		{"Run:ai node too long", KindNode, backends.RunAI, []string{uuid, long}, false},
		{"ModelArts pool '..'", KindCluster, backends.ModelArts, []string{".."}, false},
		{"ModelArts pool too short", KindCluster, backends.ModelArts, []string{"no-such-pool"}, false},
		{"ModelArts node pool '..'", KindNodePool, backends.ModelArts, []string{maPool, ".."}, false},
		{"ModelArts node pool with NUL", KindNodePool, backends.ModelArts, []string{maPool, "np\x00"}, false},
		{"ModelArts node '..'", KindNode, backends.ModelArts, []string{maPool, ".."}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Decode(Encode(tt.kind, tt.p, "be", tt.parts...), tt.kind)
			switch {
			case tt.ok && err != nil:
				t.Fatalf("refused: %v", err)
			case !tt.ok && !errors.Is(err, ErrMalformed):
				t.Fatalf("Decode = %v, want ErrMalformed", err)
			case !tt.ok && len(err.Error()) > 600:
				t.Fatalf("message of %d bytes: %.100s", len(err.Error()), err)
			}
		})
	}
}
