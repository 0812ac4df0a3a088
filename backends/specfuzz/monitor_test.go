package specfuzz_test

import (
	"context"
	"math"
	"testing"

	"github.com/fleetgraph/fleetgraph/backends/modelarts"
	"github.com/fleetgraph/fleetgraph/backends/runai"
)

// The ModelArts pool-monitoring decoders (modelarts-openapi-monitor.json),
// added to cases before any test runs. ShowPoolStatistics stays uncovered:
// no client decodes it.
func init() {
	delete(uncovered, "modelarts-openapi-monitor.json ShowPoolMonitor")
	delete(uncovered, "modelarts-openapi-monitor.json ShowPoolRuntimeMetrics")
	cases["ShowPoolMonitor"] = fuzzCase{func(ctx context.Context, _ *runai.Client, ma *modelarts.Client) (any, error) {
		return ma.ShowPoolMonitor(ctx, "p", modelarts.MonitorOptions{Start: start, End: end, Statistics: modelarts.StatAverage})
	}, checkPoolMonitor}
	cases["ShowPoolRuntimeMetrics"] = fuzzCase{func(ctx context.Context, _ *runai.Client, ma *modelarts.Client) (any, error) {
		return ma.ShowPoolRuntimeMetrics(ctx)
	}, checkRuntimeMetrics}
}

// checkPoolMonitor: every non-null metric comes back in order with its
// name, namespace and dimensions; every non-null point with a timestamp
// (the document's int64) comes back with it, its unit and its values,
// -1 as no data.
func checkPoolMonitor(t *testing.T, sent, got any) {
	mon := got.(*modelarts.PoolMonitor)
	var metrics []any
	for _, m := range list(member(sent, "metrics")) {
		if m != nil {
			metrics = append(metrics, m)
		}
	}
	if len(mon.Metrics) != len(metrics) {
		t.Fatalf("%d metrics, want the %d non-null sent", len(mon.Metrics), len(metrics))
	}
	for i, m := range metrics {
		gm := mon.Metrics[i]
		checkFields(t, m, "metric.metricName", gm.Name, "metric.namespace", gm.Namespace)
		checkFilled(t, "dimensions", member(m, "metric.dimensions"), gm.Dimensions)
		var points []any
		for _, p := range list(member(m, "dataPoints")) {
			if _, ok := member(p, "timestamp").(float64); ok {
				points = append(points, p)
			}
		}
		if len(gm.Points) != len(points) {
			t.Fatalf("metric %d: %d points, want the %d sent with a timestamp", i, len(gm.Points), len(points))
		}
		for j, p := range points {
			gp := gm.Points[j]
			if ts := member(p, "timestamp").(float64); float64(gp.Timestamp) != ts {
				t.Errorf("metric %d point %d: timestamp %d, sent %v", i, j, gp.Timestamp, ts)
			}
			checkFields(t, p, "unit", gp.Unit)
			var stats []any
			for _, s := range list(member(p, "statistics")) {
				if s != nil {
					stats = append(stats, s)
				}
			}
			if len(gp.Values) != len(stats) {
				t.Fatalf("metric %d point %d: %d values, want the %d non-null sent", i, j, len(gp.Values), len(stats))
			}
			for k, s := range stats {
				gv := gp.Values[k]
				checkFields(t, s, "statistic", gv.Statistic)
				v, sentValue := member(s, "value").(float64)
				switch {
				case !sentValue || v == -1:
					if gv.Value != nil {
						t.Errorf("metric %d point %d: value %v where none (or -1) was sent", i, j, *gv.Value)
					}
				case gv.Value == nil || *gv.Value != v || math.IsNaN(*gv.Value):
					t.Errorf("metric %d point %d: value %v, sent %v", i, j, gv.Value, v)
				}
			}
		}
	}
}

// checkRuntimeMetrics: the items are the non-null ones with a
// metadata.name, in order, each table part carrying what was sent.
func checkRuntimeMetrics(t *testing.T, sent, got any) {
	l := got.(*modelarts.PoolRuntimeMetricsList)
	checkFields(t, sent, "apiVersion", l.APIVersion, "kind", l.Kind)
	var want []any
	for _, it := range list(member(sent, "items")) {
		if name, _ := member(it, "metadata.name").(string); name != "" {
			want = append(want, it)
		}
	}
	if len(l.Items) != len(want) {
		t.Fatalf("%d items, want the %d sent with a metadata.name", len(l.Items), len(want))
	}
	for i, it := range want {
		g := l.Items[i]
		checkFields(t, it, "metadata.name", g.Name)
		checkFilled(t, "labels", member(it, "metadata.labels"), g.Labels)
		for part, dto := range map[string]any{"allocated": g.Allocated, "capacity": g.Capacity, "available": g.Available, "workload": g.Workload} {
			sentPart := member(it, "table."+part)
			if _, isObject := sentPart.(map[string]any); isObject != (dto != nil && !isNilPtr(dto)) {
				t.Errorf("item %d: table.%s sent %v, decoded %v", i, part, sentPart, dto)
				continue
			}
			checkFilled(t, part, sentPart, dto)
		}
	}
}

func isNilPtr(v any) bool {
	switch p := v.(type) {
	case *modelarts.RuntimeAllocated:
		return p == nil
	case *modelarts.RuntimeCapacity:
		return p == nil
	case *modelarts.RuntimeWorkload:
		return p == nil
	}
	return false
}
