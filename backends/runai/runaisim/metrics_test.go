package runaisim_test

import (
	"bytes"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fleetgraph/fleetgraph/backends/runai"
	"github.com/fleetgraph/fleetgraph/backends/runai/runaisim"
)

type metricsBody struct {
	Measurements []struct {
		Type   string            `json:"type"`
		Labels map[string]string `json:"labels"`
		Values []struct {
			Value     string `json:"value"`
			Timestamp string `json:"timestamp"`
		} `json:"values"`
	} `json:"measurements"`
}

var (
	t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t1 = t0.Add(time.Hour)
)

func metricsPath(nodeID string, types []string, start, end time.Time, samples string) string {
	q := url.Values{}
	q.Set("metricType", strings.Join(types, ","))
	q.Set("start", start.Format(time.RFC3339Nano))
	q.Set("end", end.Format(time.RFC3339Nano))
	if samples != "" {
		q.Set("numberOfSamples", samples)
	}
	return "/api/v1/nodes/" + nodeID + "/metrics?" + q.Encode()
}

// nodesOf returns the first node matching keep.
func nodeWhere(t *testing.T, f runaisim.Fleet, keep func(runai.Node) bool) runai.Node {
	t.Helper()
	i := slices.IndexFunc(f.Nodes, keep)
	if i < 0 {
		t.Fatal("no such node in the fleet")
	}
	return f.Nodes[i]
}

func isH100(n runai.Node) bool {
	return n.Status == runai.NodeReady && n.GPUInfo != nil && n.GPUInfo.GPUCount == 8
}

func TestNodeMetricsEveryType(t *testing.T) {
	t.Parallel()
	h := newHarness(t, runaisim.Options{})
	n := nodeWhere(t, h.sim.Fleet(), isH100)
	types := []string{
		"GPU_UTILIZATION_PER_GPU", "GPU_UTILIZATION", "GPU_MEMORY_UTILIZATION_PER_GPU", "GPU_MEMORY_UTILIZATION",
		"GPU_MEMORY_USAGE_BYTES_PER_GPU", "GPU_MEMORY_USAGE_BYTES", "GPU_ALLOCATION_PER_GPU",
		"GPU_MEMORY_ALLOCATION_BYTES_PER_GPU", "GPU_IDLE_TIME_SECONDS_PER_GPU", "CPU_USAGE_CORES", "CPU_UTILIZATION",
		"CPU_MEMORY_USAGE_BYTES", "CPU_MEMORY_UTILIZATION", "GPU_OOMKILL_BURST_COUNT_PER_GPU",
		"GPU_OOMKILL_IDLE_COUNT_PER_GPU", "GPU_OOMKILL_SWAP_OUT_OF_RAM_COUNT_PER_GPU",
		"GPU_GRAPHICS_ENGINE_ACTIVITY_PER_GPU", "GPU_SM_ACTIVITY_PER_GPU", "GPU_SM_OCCUPANCY_PER_GPU",
		"GPU_TENSOR_ACTIVITY_PER_GPU", "GPU_FP64_ENGINE_ACTIVITY_PER_GPU", "GPU_FP32_ENGINE_ACTIVITY_PER_GPU",
		"GPU_FP16_ENGINE_ACTIVITY_PER_GPU", "GPU_MEMORY_BANDWIDTH_UTILIZATION_PER_GPU",
		"GPU_NVLINK_TRANSMITTED_BANDWIDTH_PER_GPU", "GPU_NVLINK_RECEIVED_BANDWIDTH_PER_GPU",
		"GPU_PCIE_TRANSMITTED_BANDWIDTH_PER_GPU", "GPU_PCIE_RECEIVED_BANDWIDTH_PER_GPU",
	}
	var got metricsBody
	h.getJSON(t, metricsPath(n.ID, types, t0, t1, "13"), 200, &got)

	perType := map[string]int{}
	for _, m := range got.Measurements {
		perType[m.Type]++
		if len(m.Values) != 13 {
			t.Fatalf("%s has %d values, want 13", m.Type, len(m.Values))
		}
		for _, v := range m.Values {
			f, err := strconv.ParseFloat(v.Value, 64)
			if err != nil {
				t.Fatalf("%s: value %q is not a number", m.Type, v.Value)
			}
			if hi := upperBound(m.Type); f < 0 || f > hi {
				t.Errorf("%s = %v, outside 0..%v", m.Type, f, hi)
			}
		}
		if strings.HasSuffix(m.Type, "_PER_GPU") {
			if m.Labels["gpu"] == "" {
				t.Errorf("%s without a gpu label", m.Type)
			}
		} else if m.Labels != nil {
			t.Errorf("%s has labels %v", m.Type, m.Labels)
		}
	}
	for _, typ := range types {
		want := 1
		if strings.HasSuffix(typ, "_PER_GPU") {
			want = 8
		}
		if perType[typ] != want {
			t.Errorf("%s: %d measurements, want %d", typ, perType[typ], want)
		}
	}
}

// upperBound is the largest sensible value of a metric type on an H100 node.
func upperBound(typ string) float64 {
	switch {
	case strings.Contains(typ, "BANDWIDTH_PER_GPU"):
		return 900e9
	case strings.Contains(typ, "BYTES"):
		return 2048 << 30
	case strings.HasSuffix(typ, "CORES"):
		return 112
	case strings.Contains(typ, "IDLE_TIME_SECONDS"):
		return 3600
	case strings.Contains(typ, "OOMKILL"):
		return 10
	case strings.HasPrefix(typ, "GPU_ALLOCATION"):
		return 1
	}
	return 100 // utilisations and activities are percentages
}

func TestNodeMetricsSamplesAndDeterminism(t *testing.T) {
	t.Parallel()
	h := newHarness(t, runaisim.Options{Seed: 42})
	n := nodeWhere(t, h.sim.Fleet(), isH100)
	types := []string{"GPU_UTILIZATION", "CPU_UTILIZATION"}

	tests := []struct {
		name       string
		samples    string
		start, end time.Time
		wantTimes  []time.Time
	}{
		{"default is 20", "", t0, t0.Add(19 * time.Minute), minutes(t0, 20)},
		{"zero gives the end", "0", t0, t1, []time.Time{t1}},
		{"one gives the end", "1", t0, t1, []time.Time{t1}},
		{"evenly spaced, both ends", "5", t0, t1, []time.Time{t0, t0.Add(15 * time.Minute), t0.Add(30 * time.Minute), t0.Add(45 * time.Minute), t1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got metricsBody
			h.getJSON(t, metricsPath(n.ID, types, tt.start, tt.end, tt.samples), 200, &got)
			for _, m := range got.Measurements {
				var times []time.Time
				for _, v := range m.Values {
					ts, err := time.Parse(time.RFC3339, v.Timestamp)
					if err != nil {
						t.Fatalf("timestamp %q is not RFC 3339", v.Timestamp)
					}
					times = append(times, ts)
				}
				if !slices.EqualFunc(times, tt.wantTimes, time.Time.Equal) {
					t.Fatalf("%s at %v, want %v", m.Type, times, tt.wantTimes)
				}
			}
		})
	}

	t.Run("same instant, same value, any range", func(t *testing.T) {
		// [t0, t1] in 5 samples and [t0+30m, t0+90m] in 3 share t0+30m and t1.
		var a, b metricsBody
		h.getJSON(t, metricsPath(n.ID, types, t0, t1, "5"), 200, &a)
		h.getJSON(t, metricsPath(n.ID, types, t0.Add(30*time.Minute), t0.Add(90*time.Minute), "3"), 200, &b)
		for i := range a.Measurements {
			if a.Measurements[i].Values[2] != b.Measurements[i].Values[0] || a.Measurements[i].Values[4] != b.Measurements[i].Values[1] {
				t.Fatalf("%s differs between ranges: %v vs %v", a.Measurements[i].Type, a.Measurements[i].Values, b.Measurements[i].Values)
			}
		}
		_, first := h.get(t, metricsPath(n.ID, types, t0, t1, "50"), checkAll)
		_, again := h.get(t, metricsPath(n.ID, types, t0, t1, "50"), checkAll)
		if !bytes.Equal(first, again) {
			t.Fatal("the same request got two different answers")
		}
	})
}

func minutes(start time.Time, n int) []time.Time {
	out := make([]time.Time, n)
	for i := range out {
		out[i] = start.Add(time.Duration(i) * time.Minute)
	}
	return out
}

func TestNodeMetricsPartial(t *testing.T) {
	t.Parallel()
	h := newHarness(t, runaisim.Options{})
	f := h.sim.Fleet()
	cpu := nodeWhere(t, f, func(n runai.Node) bool { return n.GPUInfo == nil })
	down := nodeWhere(t, f, func(n runai.Node) bool { return n.Status == runai.NodeNotReady && n.GPUInfo != nil })
	tests := []struct {
		name     string
		node     runai.Node
		types    []string
		status   int
		nullType []string
	}{
		{"GPU metrics of a CPU node", cpu, []string{"GPU_UTILIZATION", "GPU_UTILIZATION_PER_GPU", "CPU_UTILIZATION"}, 207, []string{"GPU_UTILIZATION", "GPU_UTILIZATION_PER_GPU"}},
		{"CPU metrics of a CPU node", cpu, []string{"CPU_UTILIZATION", "CPU_MEMORY_USAGE_BYTES"}, 200, nil},
		{"a NotReady GPU node still answers", down, []string{"GPU_UTILIZATION", "CPU_UTILIZATION"}, 200, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got metricsBody
			h.getJSON(t, metricsPath(tt.node.ID, tt.types, t0, t1, "4"), tt.status, &got)
			var nulls []string
			for _, m := range got.Measurements {
				if m.Values == nil {
					nulls = append(nulls, m.Type)
				}
			}
			if !slices.Equal(nulls, tt.nullType) {
				t.Fatalf("types with values null: %v, want %v", nulls, tt.nullType)
			}
		})
	}
}

func TestMetricsErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t, runaisim.Options{})
	f := h.sim.Fleet()
	node, cl := f.Nodes[0].ID, f.Clusters[0].UUID
	pool := "/api/v1/clusters/" + cl + "/nodepools/default/metrics?"
	start, end := t0.Format(time.RFC3339), t1.Format(time.RFC3339)
	tests := []struct {
		name, path string
		status     int
		check      check
	}{
		{"unknown node", metricsPath("00000000-0000-4000-8000-000000000000", []string{"CPU_UTILIZATION"}, t0, t1, ""), 404, checkAll},
		{"unknown type", metricsPath(node, []string{"CPU_UTILIZATION", "FLOPS"}, t0, t1, ""), 400, checkResponse},
		{"start after end", metricsPath(node, []string{"CPU_UTILIZATION"}, t1, t0, ""), 400, checkAll},
		{"start equals end", metricsPath(node, []string{"CPU_UTILIZATION"}, t0, t0, ""), 400, checkAll},
		{"too many samples", metricsPath(node, []string{"CPU_UTILIZATION"}, t0, t1, "1001"), 400, checkResponse},
		{"negative samples", metricsPath(node, []string{"CPU_UTILIZATION"}, t0, t1, "-1"), 400, checkResponse},
		{"no start", "/api/v1/nodes/" + node + "/metrics?metricType=CPU_UTILIZATION&end=" + end, 400, checkResponse},
		{"no type", "/api/v1/nodes/" + node + "/metrics?start=" + start + "&end=" + end, 400, checkResponse},
		{"pool: unknown pool", "/api/v1/clusters/" + cl + "/nodepools/nope/metrics?metricType=TOTAL_GPU&start=" + start + "&end=" + end, 404, checkAll},
		{"pool: unknown cluster", "/api/v1/clusters/00000000-0000-4000-8000-000000000000/nodepools/default/metrics?metricType=TOTAL_GPU&start=" + start + "&end=" + end, 404, checkAll},
		{"pool: a node metric type", pool + "metricType=CPU_USAGE_CORES&start=" + start + "&end=" + end, 400, checkResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := h.get(t, tt.path, tt.check)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %s", status, tt.status, body)
			}
			if e := decodeError(t, body); e.Code != tt.status || e.Message == "" {
				t.Fatalf("error body %+v", e)
			}
		})
	}
}

func TestNodePoolMetrics(t *testing.T) {
	t.Parallel()
	h := newHarness(t, runaisim.Options{Seed: 9})
	f := h.sim.Fleet()
	types := []string{"TOTAL_GPU_NODES", "TOTAL_GPU", "ALLOCATED_GPU", "UNALLOCATED_GPU", "GPU_QUOTA",
		"GPU_UTILIZATION", "GPU_MEMORY_UTILIZATION", "GPU_UTILIZATION_DISTRIBUTION",
		"CPU_UTILIZATION", "CPU_MEMORY_UTILIZATION", "AVG_WORKLOAD_WAIT_TIME"}
	for _, p := range f.NodePools {
		t.Run(p.ClusterName+"/"+p.Name, func(t *testing.T) {
			gpus, gpuNodes, readyGPUs := 0, 0, 0
			for _, n := range f.Nodes {
				if n.ClusterUUID == p.ClusterID && n.NodePool == p.Name && n.GPUInfo != nil {
					gpus += n.GPUInfo.GPUCount
					gpuNodes++
					if n.Status == runai.NodeReady {
						readyGPUs += n.GPUInfo.GPUCount
					}
				}
			}
			want := 200
			if readyGPUs == 0 {
				want = 207 // GPU averages over no GPU are null
			}
			q := url.Values{"metricType": {strings.Join(types, ",")}, "start": {t0.Format(time.RFC3339)}, "end": {t1.Format(time.RFC3339)}, "numberOfSamples": {"3"}}
			var got metricsBody
			h.getJSON(t, fmt.Sprintf("/api/v1/clusters/%s/nodepools/%s/metrics?%s", p.ClusterID, p.Name, q.Encode()), want, &got)
			at := map[string][]float64{}
			for _, m := range got.Measurements {
				for _, v := range m.Values {
					f, _ := strconv.ParseFloat(v.Value, 64)
					at[m.Type] = append(at[m.Type], f)
				}
			}
			for i := range 3 {
				if at["TOTAL_GPU"][i] != float64(gpus) || at["TOTAL_GPU_NODES"][i] != float64(gpuNodes) {
					t.Fatalf("totals %v GPUs on %v nodes, want %d on %d", at["TOTAL_GPU"][i], at["TOTAL_GPU_NODES"][i], gpus, gpuNodes)
				}
				if at["ALLOCATED_GPU"][i]+at["UNALLOCATED_GPU"][i] != float64(gpus) {
					t.Fatalf("allocated %v + unallocated %v != %d", at["ALLOCATED_GPU"][i], at["UNALLOCATED_GPU"][i], gpus)
				}
			}
		})
	}
}
