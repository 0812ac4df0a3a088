package modelarts

import "testing"

// A quantity that parses but overflows a float ("1e400", found by
// tests/specfuzz_test.go) is dropped like one that does not parse: a Float
// cannot carry it, and it made the whole capacity INTERNAL.
func TestResourcesDropNonFiniteQuantities(t *testing.T) {
	t.Parallel()
	r := resources(map[string]string{"cpu": "8", "memory": "1e400", "nvidia.com/gpu": "2"})
	if r.MemoryBytes != nil || r.CPUCores == nil || *r.CPUCores != 8 || len(r.All) != 2 {
		t.Fatalf("resources = %+v, want cpu and gpu only", r)
	}
}
