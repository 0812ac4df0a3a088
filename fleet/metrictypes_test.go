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
