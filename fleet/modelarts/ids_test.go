package modelarts

import (
	"errors"
	"testing"

	"github.com/fleetgraph/fleetgraph/internal/ids"
)

const maPool = "lite-pool-1-0123456789abcdef0123456789abcdef"

// TestDecodeAppliesVendorRules: a part that breaks the vendor's identifier
// rule ("." and ".." survive path escaping) does not decode.
func TestDecodeAppliesVendorRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		kind  ids.Kind
		parts []string
		ok    bool
	}{
		{"ModelArts pool", ids.KindCluster, []string{maPool}, true},
		{"ModelArts node pool", ids.KindNodePool, []string{maPool, "nodePool-1"}, true},
		{"ModelArts default node pool", ids.KindNodePool, []string{maPool, "pool-default"}, true},
		{"ModelArts node", ids.KindNode, []string{maPool, "192.168.0.5"}, true},
		{"ModelArts pool '..'", ids.KindCluster, []string{".."}, false},
		{"ModelArts pool too short", ids.KindCluster, []string{"no-such-pool"}, false},
		{"ModelArts node pool '..'", ids.KindNodePool, []string{maPool, ".."}, false},
		{"ModelArts node pool with NUL", ids.KindNodePool, []string{maPool, "np\x00"}, false},
		{"ModelArts node '..'", ids.KindNode, []string{maPool, ".."}, false},
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
