package runai_test

import (
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/backends/runai"
	"github.com/fleetgraph/fleetgraph/backends/runai/runaisim"
)

var (
	start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	end   = start.Add(time.Hour)
)

func findNode(t *testing.T, f runaisim.Fleet, keep func(runai.Node) bool) runai.Node {
	t.Helper()
	i := slices.IndexFunc(f.Nodes, keep)
	if i < 0 {
		t.Fatal("no such node in the fleet")
	}
	return f.Nodes[i]
}

func TestNodeMetrics(t *testing.T) {
	t.Parallel()
	e := setup(t, runaisim.Options{}, nil)
	n := findNode(t, e.sim.Fleet(), func(n runai.Node) bool { return n.GPUInfo != nil && n.Status == runai.NodeReady })
	resp, err := e.client.NodeMetrics(t.Context(), n.ID, runai.MetricsOptions{
		Types: []string{"GPU_UTILIZATION", "CPU_UTILIZATION", "GPU_UTILIZATION_PER_GPU"},
		Start: start, End: end, Samples: 7,
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := 2 + n.GPUInfo.GPUCount; len(resp.Measurements) != want {
		t.Fatalf("%d measurements, want %d", len(resp.Measurements), want)
	}
	for _, m := range resp.Measurements {
		if len(m.Values) != 7 || !m.Values[0].Timestamp.Equal(start) || !m.Values[6].Timestamp.Equal(end) {
			t.Fatalf("%s: %d values from %v to %v", m.Type, len(m.Values), m.Values[0].Timestamp, m.Values[len(m.Values)-1].Timestamp)
		}
		for _, v := range m.Values {
			if v.Value < 0 || v.Value > 100 {
				t.Fatalf("%s = %v, not a percentage", m.Type, v.Value)
			}
		}
		if (m.Type == "GPU_UTILIZATION_PER_GPU") != (m.Labels["gpu"] != "") {
			t.Fatalf("%s labels %v", m.Type, m.Labels)
		}
	}

	ex := e.rec.Exchanges()
	raw := ex[len(ex)-1].RawQuery
	if !strings.Contains(raw, "metricType=GPU_UTILIZATION,CPU_UTILIZATION,GPU_UTILIZATION_PER_GPU") {
		t.Fatalf("raw query %q does not carry metricType as one comma-separated parameter", raw)
	}
	q, _ := url.ParseQuery(raw)
	if q.Get("start") != "2026-01-01T00:00:00.000Z" || q.Get("end") != "2026-01-01T01:00:00.000Z" || q.Get("numberOfSamples") != "7" {
		t.Fatalf("query %v", q)
	}
}

func TestNodeMetricsPartial(t *testing.T) {
	t.Parallel()
	e := setup(t, runaisim.Options{}, nil)
	cpu := findNode(t, e.sim.Fleet(), func(n runai.Node) bool { return n.GPUInfo == nil })
	resp, err := e.client.NodeMetrics(t.Context(), cpu.ID, runai.MetricsOptions{
		Types: []string{"GPU_UTILIZATION", "CPU_UTILIZATION", "GPU_MEMORY_USAGE_BYTES_PER_GPU"},
		Start: start, End: end,
	})
	var partial *backends.PartialError
	if !errors.As(err, &partial) || resp == nil {
		t.Fatalf("resp %v, err %v; want both a response and a PartialError", resp, err)
	}
	if want := []string{"GPU_UTILIZATION", "GPU_MEMORY_USAGE_BYTES_PER_GPU"}; !slices.Equal(partial.Missing, want) {
		t.Fatalf("missing %v, want %v", partial.Missing, want)
	}
	if partial.Backend != "runai-test" || partial.Route != "/api/v1/nodes/{nodeId}/metrics" {
		t.Fatalf("partial error %+v", partial)
	}
	for _, m := range resp.Measurements {
		if gpu := strings.HasPrefix(m.Type, "GPU_"); gpu != (m.Values == nil) {
			t.Fatalf("%s: values %v", m.Type, m.Values)
		}
		if m.Type == "CPU_UTILIZATION" && len(m.Values) != 20 {
			t.Fatalf("CPU_UTILIZATION has %d values, want the default 20", len(m.Values))
		}
	}
	ex := e.rec.Exchanges()
	if q := ex[len(ex)-1].RawQuery; strings.Contains(q, "numberOfSamples") {
		t.Fatalf("Samples 0 must leave numberOfSamples out: %q", q)
	}
}

func TestNodePoolMetrics(t *testing.T) {
	t.Parallel()
	e := setup(t, runaisim.Options{}, nil)
	f := e.sim.Fleet()
	cl := f.Clusters[0].UUID
	opts := runai.MetricsOptions{Types: []string{"TOTAL_GPU", "GPU_UTILIZATION"}, Start: start, End: end, Samples: 3}

	resp, err := e.client.NodePoolMetrics(t.Context(), cl, "default", opts)
	if err != nil || len(resp.Measurements) != 2 || len(resp.Measurements[0].Values) != 3 {
		t.Fatalf("default pool: %+v, %v", resp, err)
	}
	if total := resp.Measurements[0].Values[0].Value; total <= 0 {
		t.Fatalf("TOTAL_GPU %v", total)
	}

	resp, err = e.client.NodePoolMetrics(t.Context(), cl, "cpu", opts)
	var partial *backends.PartialError
	if !errors.As(err, &partial) || !slices.Equal(partial.Missing, []string{"GPU_UTILIZATION"}) || resp.Measurements[0].Values[0].Value != 0 {
		t.Fatalf("CPU pool: %+v, %v; want GPU_UTILIZATION missing and TOTAL_GPU 0", resp, err)
	}

	_, err = e.client.NodePoolMetrics(t.Context(), cl, "nope", opts)
	if !errors.Is(err, backends.ErrNotFound) {
		t.Fatalf("unknown pool: %v", err)
	}
}

func TestMetricsOptionsChecked(t *testing.T) {
	t.Parallel()
	e := setup(t, runaisim.Options{}, nil)
	e.validate = false // the last call sends an unknown metric type on purpose
	id := e.sim.Fleet().Nodes[0].ID
	tests := []struct {
		name string
		opts runai.MetricsOptions
	}{
		{"no types", runai.MetricsOptions{Start: start, End: end}},
		{"no start", runai.MetricsOptions{Types: []string{"CPU_UTILIZATION"}, End: end}},
		{"start after end", runai.MetricsOptions{Types: []string{"CPU_UTILIZATION"}, Start: end, End: start}},
		{"too many samples", runai.MetricsOptions{Types: []string{"CPU_UTILIZATION"}, Start: start, End: end, Samples: 1001}},
	}
	for _, tt := range tests {
		if _, err := e.client.NodeMetrics(t.Context(), id, tt.opts); !errors.Is(err, backends.ErrBadRequest) {
			t.Errorf("%s: err %v, want ErrBadRequest", tt.name, err)
		}
	}
	if got := e.sim.Control().Total(); got != 0 {
		t.Fatalf("%d upstream calls for invalid options", got)
	}
	_, err := e.client.NodeMetrics(t.Context(), id, runai.MetricsOptions{Types: []string{"FLOPS"}, Start: start, End: end})
	if !errors.Is(err, backends.ErrBadRequest) {
		t.Fatalf("unknown type: %v, want the API's 400", err)
	}
}

func TestNodeTelemetry(t *testing.T) {
	t.Parallel()
	clk := newClock()
	e := setup(t, runaisim.Options{Now: clk.Now}, nil)
	runai.SetClock(e.client, clk.Now)
	f := e.sim.Fleet()
	var gpus float64
	for _, n := range f.Nodes {
		if n.GPUInfo != nil {
			gpus += float64(n.GPUInfo.GPUCount)
		}
	}

	resp, err := e.client.NodeTelemetry(t.Context(), runai.TelemetryOptions{Type: "TOTAL_GPUS"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Type != "TOTAL_GPUS" || !resp.Timestamp.Equal(clk.Now()) || len(resp.Values) != 1 || resp.Values[0].Value != gpus {
		t.Fatalf("got %+v, want one value %v at %v", resp, gpus, clk.Now())
	}

	resp, err = e.client.NodeTelemetry(t.Context(), runai.TelemetryOptions{
		Type: "TOTAL_GPUS", ClusterID: f.Clusters[1].UUID, GroupBy: []string{"ClusterId", "Nodepool"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range resp.Values {
		if len(v.Groups) != 2 || v.Groups[0] != (runai.TelemetryGroup{Key: "ClusterId", Value: f.Clusters[1].UUID, Name: "cluster-2"}) || v.Groups[1].Key != "Nodepool" {
			t.Fatalf("groups %+v", v.Groups)
		}
	}
	ex := e.rec.Exchanges()
	if raw := ex[len(ex)-1].RawQuery; !strings.Contains(raw, "groupBy=ClusterId,Nodepool") {
		t.Fatalf("raw query %q does not carry groupBy as one comma-separated parameter", raw)
	}

	if _, err := e.client.NodeTelemetry(t.Context(), runai.TelemetryOptions{}); !errors.Is(err, backends.ErrBadRequest) {
		t.Fatalf("no type: %v, want ErrBadRequest", err)
	}
}
