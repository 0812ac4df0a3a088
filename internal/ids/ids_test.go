package ids

import (
	"errors"
	"testing"

	"github.com/fleetgraph/fleetgraph/backends"
)

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kind  Kind
		p     backends.Provider
		parts []string
	}{
		{KindCluster, backends.RunAI, []string{"71f69d83-ba66-4822-adf5-55ce55efd210"}},
		{KindNodePool, backends.RunAI, []string{"71f69d83-ba66-4822-adf5-55ce55efd210", "5", "v100"}},
		{KindNode, backends.RunAI, []string{"71f69d83-ba66-4822-adf5-55ce55efd210", "worker-node-1"}},
		{KindCluster, backends.ModelArts, []string{"lite-pool-1-0123456789abcdef0123456789abcdef"}},
		{KindNodePool, backends.ModelArts, []string{"lite-pool-1-0123456789abcdef0123456789abcdef", "nodepool-1"}},
		{KindNode, backends.ModelArts, []string{"lite-pool-1-0123456789abcdef0123456789abcdef", "os-node-created-zlncn"}},
	}
	for _, tt := range tests {
		s := Encode(tt.kind, tt.p, "be-1", tt.parts...)
		if again := Encode(tt.kind, tt.p, "be-1", tt.parts...); again != s {
			t.Fatalf("unstable ID: %s vs %s", s, again)
		}
		id, err := Decode(s, tt.kind)
		if err != nil {
			t.Fatalf("Decode(%s): %v", s, err)
		}
		if id.Kind != tt.kind || id.Provider != tt.p || id.Backend != "be-1" || len(id.Parts) != len(tt.parts) {
			t.Fatalf("round trip of %v gave %+v", tt, id)
		}
		for i := range tt.parts {
			if id.Parts[i] != tt.parts[i] {
				t.Fatalf("part %d: %q, want %q", i, id.Parts[i], tt.parts[i])
			}
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	t.Parallel()
	good := Encode(KindNode, backends.RunAI, "be", "c", "n")
	tests := map[string]struct {
		in   string
		want Kind
	}{
		"empty":            {"", KindNode},
		"no prefix":        {"abc", KindNode},
		"bad base64":       {"fg1***", KindNode},
		"wrong kind":       {good, KindCluster},
		"too few parts":    {Encode(KindNodePool, backends.RunAI, "be", "c"), KindNodePool},
		"empty part":       {Encode(KindNode, backends.ModelArts, "be", "", "n"), KindNode},
		"empty backend":    {Encode(KindCluster, backends.ModelArts, "", "p"), KindCluster},
		"unknown provider": {prefix + "Y1x4MWZ4XHgxZmJl", KindCluster},
	}
	for name, tt := range tests {
		if _, err := Decode(tt.in, tt.want); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Decode(%q) = %v, want ErrMalformed", name, tt.in, err)
		}
	}
}

func TestCursor(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 499, 100000} {
		got, err := DecodeCursor(Cursor(n))
		if err != nil || got != n {
			t.Fatalf("cursor %d: %d, %v", n, got, err)
		}
	}
	for _, bad := range []string{"", "xyz", Cursor(1) + "!", "bzotMQ"} {
		if _, err := DecodeCursor(bad); !errors.Is(err, ErrBadCursor) {
			t.Errorf("DecodeCursor(%q) = %v, want ErrBadCursor", bad, err)
		}
	}
}
