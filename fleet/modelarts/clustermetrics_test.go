package modelarts

import (
	"errors"
	"testing"
	"time"

	api "github.com/fleetgraph/fleetgraph/backends/modelarts"
	"github.com/fleetgraph/fleetgraph/fleet"
)

func TestMonitorPeriod(t *testing.T) {
	t.Parallel()
	const day = 24 * time.Hour
	tests := []struct {
		window  time.Duration
		samples int
		want    time.Duration // 0: refused
	}{
		{time.Hour, 60, time.Minute},               // 60 points, exact
		{time.Hour, 20, 5 * time.Minute},           // 12 points (ratio 1.7) beats 60 (ratio 3)
		{time.Hour, 12, 5 * time.Minute},           // exact
		{time.Hour, 1000, time.Minute},             // as fine as it gets
		{time.Hour, 0, time.Minute},                // 0: the finest allowed
		{10 * time.Minute, 20, time.Minute},        // 10 points; coarser periods give fewer
		{day, 20, time.Hour},                       // 24 points
		{day, 100, 15 * time.Minute},               // 96 points
		{day, 1000, time.Minute},                   // 1 440 points: exactly the rule
		{day + time.Minute, 1000, 5 * time.Minute}, // 1 441 minutes at 60 s would break it
		{day + time.Minute, 0, 5 * time.Minute},    // the finest allowed
		{7 * day, 1000, 15 * time.Minute},          // 672 points (300 s: 2 016, over the rule)
		{15 * day, 0, 15 * time.Minute},            // 1 440 at 900 s
		{60 * day, 20, time.Hour},                  // 1 440 at 3600 s
		{60 * day, 0, time.Hour},
		{60*day + time.Minute, 20, 0}, // no period keeps 1 440 points
		{90 * day, 0, 0},
	}
	for _, tt := range tests {
		got, err := monitorPeriod(tt.window, tt.samples)
		if tt.want == 0 {
			var in *fleet.InputError
			if !errors.As(err, &in) || in.Field != "start" {
				t.Errorf("monitorPeriod(%v, %d) = %v, %v; want an input error", tt.window, tt.samples, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("monitorPeriod(%v, %d) = %v, %v; want %v", tt.window, tt.samples, got, err, tt.want)
		}
		if minutes := int64((tt.window + time.Minute - 1) / time.Minute); err == nil && minutes*60 > api.MaxMonitorPoints*int64(got/time.Second) {
			t.Errorf("monitorPeriod(%v, %d) = %v breaks the 1 440-points rule", tt.window, tt.samples, got)
		}
	}
}

func TestAlignToPeriod(t *testing.T) {
	t.Parallel()
	at := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
	start, end := alignToPeriod(at("2026-11-25T10:02:10Z"), at("2026-11-25T11:02:10Z"), 5*time.Minute)
	if !start.Equal(at("2026-11-25T10:00:00Z")) || !end.Equal(at("2026-11-25T11:00:00Z")) {
		t.Fatalf("aligned to %v..%v", start, end)
	}
	// A sliding window within the same period asks the same question.
	s2, e2 := alignToPeriod(at("2026-11-25T10:04:59Z"), at("2026-11-25T11:04:59Z"), 5*time.Minute)
	if !s2.Equal(start) || !e2.Equal(end) {
		t.Fatalf("slid window aligned to %v..%v, want %v..%v", s2, e2, start, end)
	}
	// A window shorter than its period stays as asked.
	s3, e3 := alignToPeriod(at("2026-11-25T10:01:00Z"), at("2026-11-25T10:03:00Z"), 5*time.Minute)
	if !s3.Equal(at("2026-11-25T10:01:00Z")) || !e3.Equal(at("2026-11-25T10:03:00Z")) {
		t.Fatalf("short window became %v..%v", s3, e3)
	}
}

func TestMonitorSeries(t *testing.T) {
	t.Parallel()
	at := func(min int) int64 { return time.Date(2026, 11, 25, 10, min, 0, 0, time.UTC).UnixMilli() }
	val := func(v float64) []api.MonitorValue { return []api.MonitorValue{{Statistic: api.StatAverage, Value: &v}} }
	noData := []api.MonitorValue{{Statistic: api.StatAverage}} // the client's reading of -1
	m := &api.PoolMonitor{Metrics: []api.MonitorMetric{
		{Name: api.MetricGPUUtil, Points: []api.MonitorPoint{
			{Timestamp: at(0), Unit: api.UnitPercent, Values: val(42.5)},
			{Timestamp: at(1), Unit: api.UnitPercent, Values: noData},
			{Timestamp: at(2), Unit: api.UnitPercent, Values: []api.MonitorValue{{Statistic: api.StatMaximum, Value: new(float64)}}}, // not the average
			{Timestamp: at(3), Unit: "Megabytes", Values: val(7)},                                                                    // a percentage in bytes: unreadable
		}},
		{Name: api.MetricDiskCapacity, Points: []api.MonitorPoint{
			{Timestamp: at(0), Unit: api.UnitMegabytes, Values: val(1024)},
			{Timestamp: at(1), Unit: "", Values: val(1.5)}, // no unit: the metric's Megabytes
			{Timestamp: at(2), Unit: "Percent", Values: val(3)},
		}},
		{Name: api.MetricNPUUtil, Points: []api.MonitorPoint{
			{Timestamp: at(0), Unit: "", Values: val(12)},  // the example's empty unit: percent
			{Timestamp: at(30), Unit: "", Values: val(13)}, // outside the window
		}},
	}}
	res := monitorSeries("ma", m, time.UnixMilli(at(0)), time.UnixMilli(at(10)))
	got := map[string][]float64{}
	for _, s := range res.Series {
		for _, p := range s.Points {
			got[s.Type] = append(got[s.Type], p.Value)
		}
		if _, ok := got[s.Type]; !ok {
			got[s.Type] = []float64{}
		}
	}
	want := map[string][]float64{
		"GPU_UTILIZATION":     {42.5},
		"DISK_CAPACITY_BYTES": {1024 << 20, 1.5 * (1 << 20)},
		"NPU_UTILIZATION":     {12},
	}
	for typ, w := range want {
		if len(got[typ]) != len(w) {
			t.Fatalf("%s: %v, want %v", typ, got[typ], w)
		}
		for i := range w {
			if got[typ][i] != w[i] {
				t.Fatalf("%s: %v, want %v", typ, got[typ], w)
			}
		}
	}
	// The other six served types were not in the answer: a partial answer
	// naming them, as a Run:ai 207 does.
	if res.Partial == nil || len(res.Partial.Missing) != len(monitorTypes)-3 {
		t.Fatalf("partial %+v, want the 6 types the answer lacks", res.Partial)
	}
	if len(res.Series) != 3 {
		t.Fatalf("%d series, want 3", len(res.Series))
	}
}
