package fleet

import (
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/graph/model"
	"github.com/fleetgraph/fleetgraph/internal/jsonx"
)

// MetricsResult.AppendJSON writes jsonx.Marshal's bytes (the cache stores
// them and decodes them with jsonx), and steps aside for what Marshal
// refuses or writes by rules of its own.
func TestMetricsResultAppendJSON(t *testing.T) {
	t.Parallel()
	// A field added to these types would be left out of the cache by
	// AppendJSON: it must be written there too.
	for typ, fields := range map[reflect.Type]int{
		reflect.TypeFor[MetricsResult](): 2, reflect.TypeFor[model.MetricSeries](): 3,
		reflect.TypeFor[model.MetricPoint](): 2, reflect.TypeFor[model.Label](): 2,
	} {
		if typ.NumField() != fields {
			t.Fatalf("%v has %d fields, AppendJSON writes %d: teach it the new ones", typ, typ.NumField(), fields)
		}
	}
	at := time.Date(2026, 11, 25, 10, 3, 0, 0, time.UTC)
	points := func(vs ...float64) []*model.MetricPoint {
		out := make([]*model.MetricPoint, len(vs))
		for i, v := range vs {
			out[i] = &model.MetricPoint{Timestamp: at.Add(time.Duration(i) * 1234567 * time.Nanosecond), Value: v}
		}
		return out
	}
	for _, r := range []MetricsResult{
		{},
		{Series: []*model.MetricSeries{}},
		{Series: []*model.MetricSeries{nil, {Type: "CPU_UTILIZATION"}}},
		{Series: []*model.MetricSeries{{Type: "CPU_UTILIZATION", Points: points(37.25, 0, math.Copysign(0, -1), 1e-7, 1e21, 123456789.125, -4.5e-300)}}},
		{Series: []*model.MetricSeries{{Type: "GPU_UTILIZATION_PER_GPU", Labels: []*model.Label{{Key: "gpu", Value: "3"}, nil, {Key: "a<b&\"c\"", Value: "é\n"}},
			Points: append(points(1), nil)}}},
		{Series: []*model.MetricSeries{{Type: "X", Labels: []*model.Label{}, Points: []*model.MetricPoint{}}},
			Partial: &backends.PartialError{Backend: "runai-a", Provider: backends.RunAI, Route: "/api/v1/nodes/{nodeId}/metrics", Missing: []string{"GPU_UTILIZATION"}}},
	} {
		want, err := jsonx.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := r.AppendJSON(nil)
		if !ok || string(got) != string(want) {
			t.Errorf("AppendJSON (ok %v):\n got %s\nwant %s", ok, got, want)
		}
	}
	for name, p := range map[string]model.MetricPoint{
		"NaN": {Timestamp: at, Value: math.NaN()}, "+Inf": {Timestamp: at, Value: math.Inf(1)},
		"not UTC": {Timestamp: at.In(time.FixedZone("x", 3600)), Value: 1}, "year 10000": {Timestamp: at.AddDate(8000, 0, 0), Value: 1},
	} {
		r := MetricsResult{Series: []*model.MetricSeries{{Type: "X", Points: []*model.MetricPoint{&p}}}}
		if _, ok := r.AppendJSON(nil); ok {
			t.Errorf("%s: AppendJSON wrote it, want Marshal's", name)
		}
	}
}

// One node's cached metrics value (two series of 20 points), encoded by
// jsonx.Marshal and by AppendJSON.
func BenchmarkMetricsResultEncode(b *testing.B) {
	at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	var r MetricsResult
	for _, typ := range []string{"CPU_MEMORY_UTILIZATION", "CPU_UTILIZATION"} {
		s := &model.MetricSeries{Type: typ, Labels: []*model.Label{}}
		for i := range 20 {
			s.Points = append(s.Points, &model.MetricPoint{Timestamp: at.Add(time.Duration(i) * 3 * time.Minute), Value: 37.25 + float64(i)})
		}
		r.Series = append(r.Series, s)
	}
	b.Run("jsonx", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = jsonx.Marshal(r)
		}
	})
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = r.AppendJSON(nil)
		}
	})
}
