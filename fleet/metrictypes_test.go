package fleet

import (
	"slices"
	"testing"
)

func TestMetricTypes(t *testing.T) {
	t.Parallel()
	a := SortTypes([]string{"GPU_UTILIZATION", "CPU_UTILIZATION", "GPU_UTILIZATION"})
	if got := a.List(); !slices.Equal(got, []string{"CPU_UTILIZATION", "GPU_UTILIZATION"}) {
		t.Fatalf("List = %v", got)
	}
	// The key form is what cache keys held before: sorted, distinct, comma-joined.
	if a.String() != "CPU_UTILIZATION,GPU_UTILIZATION" {
		t.Fatalf("String = %q", a.String())
	}
	b := SortTypes([]string{"CPU_MEMORY_UTILIZATION", "CPU_UTILIZATION"})
	u := a.With(b)
	if u != SortTypes([]string{"CPU_MEMORY_UTILIZATION", "CPU_UTILIZATION", "GPU_UTILIZATION"}) || u != b.With(a) {
		t.Fatalf("With = %v", u.List())
	}
	if !u.Has("CPU_MEMORY_UTILIZATION") || u.Has("GPU") || (MetricTypes{}).Has("") {
		t.Fatal("Has")
	}
	if !(MetricTypes{}).Empty() || SortTypes([]string(nil)) != (MetricTypes{}) || (MetricTypes{}).List() != nil || a.With(MetricTypes{}) != a {
		t.Fatal("empty set")
	}
}

// With's merge is the union built the long way, for every pair of subsets
// of a few types (prefixes of one another included).
func TestMetricTypesWithIsTheUnion(t *testing.T) {
	t.Parallel()
	all := []string{"A", "AB", "B", "CPU_MEMORY_UTILIZATION", "CPU_UTILIZATION", "GPU"}
	subset := func(mask int) []string {
		var out []string
		for i, typ := range all {
			if mask&(1<<i) != 0 {
				out = append(out, typ)
			}
		}
		return out
	}
	for m := range 1 << len(all) {
		for n := range 1 << len(all) {
			a, b := SortTypes(subset(m)), SortTypes(subset(n))
			want := SortTypes(append(subset(m), subset(n)...))
			if got := a.With(b); got != want {
				t.Fatalf("%v With %v = %q, want %q", a.List(), b.List(), got, want)
			}
			for _, typ := range all {
				if a.Has(typ) != slices.Contains(subset(m), typ) {
					t.Fatalf("%v Has %q = %v", a.List(), typ, a.Has(typ))
				}
			}
		}
	}
}
