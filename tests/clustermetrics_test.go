package tests

import (
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/alicebob/miniredis/v2"
)

const (
	raClusterMetrics = "GET /api/v1/clusters/{clusterUuid}/metrics"
	maPoolMonitor    = "GET /v2/{project_id}/pools/{pool_name}/monitor"
)

type clusterSeries struct {
	Type   string
	Points []struct {
		Timestamp string
		Value     float64
	}
}

// monitorTap stands in front of the ModelArts simulator's pool monitor: it
// records each answer's metrics (name -> the values as sent) and, when nan
// is set, turns the second point of cpuUsage into the string "NaN".
type monitorTap struct {
	nan bool
	mu  sync.Mutex
	// sent holds, per pool, per metric, the values and units of the last answer.
	sent map[string]map[string][]monitorSent
}

type monitorSent struct {
	Unit  string
	Value any
}

func (m *monitorTap) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/monitor") {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		var body struct {
			Metrics []struct {
				Metric     map[string]any `json:"metric"`
				DataPoints []struct {
					Timestamp  int64            `json:"timestamp"`
					Unit       string           `json:"unit"`
					Statistics []map[string]any `json:"statistics"`
				} `json:"dataPoints"`
			} `json:"metrics"`
		}
		out := rec.Body.Bytes()
		if rec.Code == http.StatusOK && json.Unmarshal(out, &body) == nil {
			pool := strings.Split(strings.TrimSuffix(r.URL.Path, "/monitor"), "/")
			sent := map[string][]monitorSent{}
			for _, mm := range body.Metrics {
				name, _ := mm.Metric["metricName"].(string)
				for i, dp := range mm.DataPoints {
					if m.nan && name == "cpuUsage" && i == 1 {
						dp.Statistics[0]["value"] = "NaN"
					}
					sent[name] = append(sent[name], monitorSent{Unit: dp.Unit, Value: dp.Statistics[0]["value"]})
				}
			}
			m.mu.Lock()
			if m.sent == nil {
				m.sent = map[string]map[string][]monitorSent{}
			}
			m.sent[pool[len(pool)-1]] = sent
			m.mu.Unlock()
			out, _ = json.Marshal(body)
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(rec.Code)
		_, _ = w.Write(out)
	})
}

type clusterWithMetrics struct {
	ID, Name, Provider, VendorID string
	Util, Mem, Gmem              []clusterSeries
}

// TestClusterMetricsOverBothVendors: a dashboard query over every cluster
// answers Run:ai clusters from cluster metrics and ModelArts resource pools
// from the pool monitor, one call per cluster or pool whatever the number
// of metrics fields (aliases, a fragment), and nothing on a warm repeat.
// The vendor's -1 ("no data") and NaN are left out of the points.
func TestClusterMetricsOverBothVendors(t *testing.T) {
	t.Parallel()
	mr := miniredis.RunT(t)
	tap := &monitorTap{nan: true}
	e := newEnv(t, envOptions{runai: gpuOnly, configure: withRedis(mr.Addr(), nil), wrapModelArts: tap.wrap})
	const q = `query($s: DateTime!, $e: DateTime!) { clusters { id name provider vendorId
		util: metrics(types: [GPU_UTILIZATION, CPU_UTILIZATION], start: $s, end: $e, samples: 60) { type points { timestamp value } }
		mem: metrics(types: [CPU_MEMORY_UTILIZATION], start: $s, end: $e, samples: 60) { type points { timestamp value } }
		...more } }
	fragment more on Cluster { gmem: metrics(types: [GPU_MEMORY_UTILIZATION, GPU_UTILIZATION], start: $s, end: $e, samples: 60) { type points { timestamp value } } }`
	vars := map[string]any{"s": "2026-11-25T10:00:00Z", "e": "2026-11-25T11:00:00Z"}
	e.resetCounters()
	var data struct{ Clusters []clusterWithMetrics }
	cold := e.query(t, q, vars)
	cold.mustData(t, &data)

	var runai, modelarts int
	for _, c := range data.Clusters {
		switch c.Provider {
		case "RUNAI":
			runai++
		case "MODELARTS":
			modelarts++
		}
	}
	if runai < 2 || modelarts < 2 {
		t.Fatalf("%d Run:ai clusters and %d ModelArts pools: the fleet should have two of each", runai, modelarts)
	}
	if got := e.ra.Control().Count(raClusterMetrics); got != int64(runai) {
		t.Fatalf("%s called %d times for %d clusters, want one per cluster", raClusterMetrics, got, runai)
	}
	if got := e.ma.Control().Count(maPoolMonitor); got != int64(modelarts) {
		t.Fatalf("%s called %d times for %d pools, want one per pool", maPoolMonitor, got, modelarts)
	}
	if got := e.ra.Control().Count(raPoolMetrics) + e.ra.Control().Count(raNodeMetrics); got != 0 {
		t.Fatalf("node or node-pool metrics called %d times for cluster metrics", got)
	}

	for _, c := range data.Clusters {
		types := func(list []clusterSeries) string {
			var s []string
			for _, x := range list {
				s = append(s, x.Type)
			}
			return strings.Join(s, ",")
		}
		if got := types(c.Util); got != "CPU_UTILIZATION,GPU_UTILIZATION" {
			t.Fatalf("%s %s util series %q", c.Provider, c.Name, got)
		}
		if types(c.Mem) != "CPU_MEMORY_UTILIZATION" || types(c.Gmem) != "GPU_MEMORY_UTILIZATION,GPU_UTILIZATION" {
			t.Fatalf("%s %s: mem %q, gmem %q", c.Provider, c.Name, types(c.Mem), types(c.Gmem))
		}
		for _, s := range append(append(c.Util, c.Mem...), c.Gmem...) {
			for _, p := range s.Points {
				if p.Value < 0 || p.Value > 100 || math.IsNaN(p.Value) {
					t.Fatalf("%s %s %s: value %v outside percent 0..100", c.Provider, c.Name, s.Type, p.Value)
				}
			}
		}
		cpu, gpu := c.Util[0], c.Util[1]
		switch c.Provider {
		case "RUNAI":
			if len(cpu.Points) != 60 || len(gpu.Points) != 60 {
				t.Fatalf("Run:ai %s: %d CPU and %d GPU points, want 60 (samples)", c.Name, len(cpu.Points), len(gpu.Points))
			}
		case "MODELARTS":
			// One hour at 60 samples: a period of 60 s, 60 points; the
			// second cpuUsage point was NaN.
			if len(cpu.Points) != 59 {
				t.Fatalf("ModelArts %s: %d CPU points, want 59 (60 at a 60 s period, one NaN dropped)", c.Name, len(cpu.Points))
			}
			if cpu.Points[0].Timestamp != "2026-11-25T10:00:00Z" || cpu.Points[1].Timestamp != "2026-11-25T10:02:00Z" {
				t.Fatalf("ModelArts %s: CPU points start %s, %s", c.Name, cpu.Points[0].Timestamp, cpu.Points[1].Timestamp)
			}
			// The simulator's Ascend pools have no GPU: every gpuUtil
			// point is -1, no data, and none is a point.
			minusOnes := 0
			for _, v := range tap.sentValues(c.VendorID, "gpuUtil") {
				if v == -1 {
					minusOnes++
				}
			}
			if minusOnes == 60 && len(gpu.Points) != 0 {
				t.Fatalf("ModelArts %s: gpuUtil was -1 throughout, yet %d GPU points", c.Name, len(gpu.Points))
			}
			if minusOnes == 0 && len(gpu.Points) != 60 {
				t.Fatalf("ModelArts %s: %d GPU points, want 60", c.Name, len(gpu.Points))
			}
		}
	}
	if tap.count(-1) == 0 {
		t.Fatal("the simulated ModelArts fleet sent no -1 point: the no-data case is not exercised")
	}

	e.resetCounters()
	warm := e.query(t, q, vars)
	warm.mustData(t, &data)
	if n := e.upstreamCalls(); n != 0 {
		t.Fatalf("warm repeat made %d upstream calls (Run:ai %v, ModelArts %v), want 0", n, e.ra.Control().Stats(), e.ma.Control().Stats())
	}
	if string(warm.Data) != string(cold.Data) {
		t.Fatal("warm answer differs from the cold one")
	}
}

func (m *monitorTap) metric(pool, metric string) []monitorSent {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sent[pool][metric]
}

func (m *monitorTap) sentValues(pool, metric string) []float64 {
	var out []float64
	for _, s := range m.metric(pool, metric) {
		if v, ok := s.Value.(float64); ok {
			out = append(out, v)
		}
	}
	return out
}

func (m *monitorTap) count(v float64) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, metrics := range m.sent {
		for _, list := range metrics {
			for _, s := range list {
				if f, ok := s.Value.(float64); ok && f == v {
					n++
				}
			}
		}
	}
	return n
}

// TestClusterMetricsUnitsAndUnsupportedTypes: ModelArts disk capacities
// (Megabytes) come out in bytes (MiB × 2^20); a type a provider does not
// serve is an error on that field naming the type, with no upstream call
// for it, while the other fields of the same cluster answer.
func TestClusterMetricsUnitsAndUnsupportedTypes(t *testing.T) {
	t.Parallel()
	tap := &monitorTap{}
	var mu sync.Mutex
	var raQueries []string
	spy := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/api/v1/clusters/") && strings.HasSuffix(r.URL.Path, "/metrics") {
				mu.Lock()
				raQueries = append(raQueries, r.URL.Query().Get("metricType"))
				mu.Unlock()
			}
			next.ServeHTTP(w, r)
		})
	}
	e := newEnv(t, envOptions{runai: gpuOnly, wrapRunAI: spy, wrapModelArts: tap.wrap})
	const q = `{ clusters { provider name vendorId
		disk: metrics(types: [DISK_CAPACITY_BYTES, DISK_AVAILABLE_BYTES], start: "2026-11-25T10:00:00Z", end: "2026-11-25T11:00:00Z", samples: 12) { type points { timestamp value } }
		npu: metrics(types: [NPU_UTILIZATION], start: "2026-11-25T10:00:00Z", end: "2026-11-25T11:00:00Z", samples: 12) { type points { value } }
		gpu: metrics(types: [GPU_UTILIZATION], start: "2026-11-25T10:00:00Z", end: "2026-11-25T11:00:00Z", samples: 12) { type points { value } }
		quota: metrics(types: [GPU_QUOTA], start: "2026-11-25T10:00:00Z", end: "2026-11-25T11:00:00Z", samples: 12) { type points { value } } } }`
	e.resetCounters()
	r := e.query(t, q, nil)
	var data struct {
		Clusters []struct {
			Provider, Name, VendorID string
			Disk, Npu, Gpu, Quota    []clusterSeries
		}
	}
	if err := jsonUnmarshal(r.Data, &data); err != nil || len(data.Clusters) == 0 {
		t.Fatalf("data %s: %v", r.Data, err)
	}
	runai, modelarts := 0, 0
	for _, c := range data.Clusters {
		switch c.Provider {
		case "RUNAI":
			runai++
			if len(c.Disk) != 0 || len(c.Npu) != 0 {
				t.Fatalf("Run:ai %s answered ModelArts-only types: disk %+v npu %+v", c.Name, c.Disk, c.Npu)
			}
			if len(c.Gpu) != 1 || len(c.Gpu[0].Points) != 12 || len(c.Quota) != 1 {
				t.Fatalf("Run:ai %s: gpu %+v quota %+v", c.Name, c.Gpu, c.Quota)
			}
		case "MODELARTS":
			modelarts++
			if len(c.Quota) != 0 {
				t.Fatalf("ModelArts %s answered the Run:ai-only GPU_QUOTA: %+v", c.Name, c.Quota)
			}
			if len(c.Disk) != 2 || c.Disk[0].Type != "DISK_AVAILABLE_BYTES" || c.Disk[1].Type != "DISK_CAPACITY_BYTES" {
				t.Fatalf("ModelArts %s disk series %+v", c.Name, c.Disk)
			}
			// One hour at 12 samples: a period of 300 s, 12 points.
			capacity := c.Disk[1].Points
			sent := tap.metric(c.VendorID, "diskCapacity")
			if len(capacity) != 12 || len(sent) != 12 {
				t.Fatalf("ModelArts %s: %d capacity points from %d sent, want 12 (period 300 s)", c.Name, len(capacity), len(sent))
			}
			for i, p := range capacity {
				mb, _ := sent[i].Value.(float64)
				if sent[i].Unit != "Megabytes" || mb <= 0 || p.Value != mb*(1<<20) {
					t.Fatalf("ModelArts %s point %d: %v bytes from %v %s, want MiB × 2^20", c.Name, i, p.Value, sent[i].Value, sent[i].Unit)
				}
			}
			if len(c.Npu) != 1 || len(c.Gpu) != 1 {
				t.Fatalf("ModelArts %s: npu %+v gpu %+v", c.Name, c.Npu, c.Gpu)
			}
		}
	}

	// Errors: Run:ai's disk and npu fields, ModelArts' quota field, each
	// naming its types.
	want := map[string]int{"disk": runai, "npu": runai, "quota": modelarts}
	for _, er := range r.Errors {
		alias, _ := er.Path[len(er.Path)-1].(string)
		want[alias]--
		if er.Extensions["code"] != "BAD_USER_INPUT" || er.Extensions["field"] != "types" {
			t.Fatalf("error %+v: want BAD_USER_INPUT on types", er)
		}
		named := map[string][]string{"disk": {"DISK_CAPACITY_BYTES", "DISK_AVAILABLE_BYTES"}, "npu": {"NPU_UTILIZATION"}, "quota": {"GPU_QUOTA"}}[alias]
		for _, typ := range named {
			if !strings.Contains(er.Message, typ) {
				t.Fatalf("error %q does not name %s", er.Message, typ)
			}
		}
	}
	for alias, n := range want {
		if n != 0 {
			t.Fatalf("errors %+v: %d more or fewer than one per cluster on %s", r.Errors, n, alias)
		}
	}

	// One call per cluster or pool; Run:ai's carries only what it serves.
	if got := e.ra.Control().Count(raClusterMetrics); got != int64(runai) {
		t.Fatalf("%s called %d times, want %d", raClusterMetrics, got, runai)
	}
	if got := e.ma.Control().Count(maPoolMonitor); got != int64(modelarts) {
		t.Fatalf("%s called %d times, want %d", maPoolMonitor, got, modelarts)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, mt := range raQueries {
		if mt != "GPU_QUOTA,GPU_UTILIZATION" {
			t.Fatalf("Run:ai cluster metrics asked metricType=%s, want GPU_QUOTA,GPU_UTILIZATION", mt)
		}
	}
}

// TestClusterMetricsOnlyRefusedTypesCostNoCall: a query whose only metrics
// field names types the provider does not serve makes no metrics call; a
// ModelArts window longer than the pool monitor covers (60 days) is refused
// before any call.
func TestClusterMetricsOnlyRefusedTypesCostNoCall(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.resetCounters()
	r := e.query(t, `{ clusters(provider: RUNAI) { name metrics(types: [NPU_UTILIZATION], start: "2026-11-25T10:00:00Z", end: "2026-11-25T11:00:00Z") { type } } }`, nil)
	if len(r.Errors) == 0 || !strings.Contains(r.Errors[0].Message, "NPU_UTILIZATION") {
		t.Fatalf("errors %+v: want one naming NPU_UTILIZATION", r.Errors)
	}
	if got := e.ra.Control().Count(raClusterMetrics); got != 0 {
		t.Fatalf("%s called %d times for a refused type", raClusterMetrics, got)
	}
	r = e.query(t, `{ clusters(provider: MODELARTS) { name metrics(types: [CPU_UTILIZATION], start: "2026-09-01T00:00:00Z", end: "2026-11-25T00:00:00Z") { type } } }`, nil)
	if len(r.Errors) == 0 || r.Errors[0].Extensions["code"] != "BAD_USER_INPUT" || !strings.Contains(r.Errors[0].Message, strconv.Itoa(60)+" days") {
		t.Fatalf("errors %+v: want BAD_USER_INPUT on a window over 60 days", r.Errors)
	}
	if got := e.ma.Control().Count(maPoolMonitor); got != 0 {
		t.Fatalf("%s called %d times for a refused window", maPoolMonitor, got)
	}
}
