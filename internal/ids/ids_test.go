package ids

import (
	"errors"
	"strings"
	"testing"
)

// A layout of this test's own: the package knows no vendor (the adapters'
// layouts are tested beside them, fleet/runai and fleet/modelarts).
func init() {
	Register(Layout{Provider: "TESTA", Code: "a", Parts: map[Kind][]Part{
		KindCluster:  {{What: "cluster", Check: K8sName}},
		KindNodePool: {{What: "cluster", Check: K8sName}, {What: "pool id", Check: nil}, {What: "pool name", Check: K8sName}},
		KindNode:     {{What: "cluster", Check: K8sName}, {What: "node name", Check: K8sName}},
	}})
	Register(Layout{Provider: "TESTB", Code: "b", Parts: map[Kind][]Part{
		KindCluster:  {{What: "pool"}},
		KindNodePool: {{What: "pool"}, {What: "node pool"}},
		KindNode:     {{What: "pool"}, {What: "node"}},
	}})
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kind  Kind
		p     string
		parts []string
	}{
		{KindCluster, "TESTA", []string{"c1"}},
		{KindNodePool, "TESTA", []string{"c1", "5", "v100"}},
		{KindNode, "TESTA", []string{"c1", "worker-node-1"}},
		{KindCluster, "TESTB", []string{"lite-pool-1"}},
		{KindNodePool, "TESTB", []string{"lite-pool-1", "nodepool-1"}},
		{KindNode, "TESTB", []string{"lite-pool-1", "os-node-created-zlncn"}},
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
		if id.String() != s || id.Cluster() != tt.parts[0] || id.Last() != tt.parts[len(tt.parts)-1] {
			t.Fatalf("String/Cluster/Last of %+v", id)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	t.Parallel()
	good := Encode(KindNode, "TESTA", "be", "c", "n")
	tests := map[string]struct {
		in   string
		want Kind
	}{
		"empty":            {"", KindNode},
		"no prefix":        {"abc", KindNode},
		"bad base64":       {"fg1***", KindNode},
		"wrong kind":       {good, KindCluster},
		"too few parts":    {Encode(KindNodePool, "TESTA", "be", "c"), KindNodePool},
		"empty part":       {Encode(KindNode, "TESTB", "be", "", "n"), KindNode},
		"empty backend":    {Encode(KindCluster, "TESTB", "", "p"), KindCluster},
		"unknown provider": {prefix + "Y1x4MWZ4XHgxZmJl", KindCluster},
		"part rule":        {Encode(KindNode, "TESTA", "be", "c", ".."), KindNode},
	}
	for name, tt := range tests {
		if _, err := Decode(tt.in, tt.want); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Decode(%q) = %v, want ErrMalformed", name, tt.in, err)
		}
	}
	_, err := Decode(Encode(KindNode, "TESTA", "be", "c", ".."), KindNode)
	if err == nil || !strings.Contains(err.Error(), "node name") {
		t.Errorf("a broken rule names the part: %v", err)
	}
}

func TestRegisterRefusesDuplicates(t *testing.T) {
	t.Parallel()
	for name, l := range map[string]Layout{
		"code":     {Provider: "TESTC", Code: "a", Parts: map[Kind][]Part{KindCluster: {{What: "x"}}}},
		"provider": {Provider: "TESTA", Code: "z", Parts: map[Kind][]Part{KindCluster: {{What: "x"}}}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("a duplicate %s registered", name)
				}
			}()
			Register(l)
		}()
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
