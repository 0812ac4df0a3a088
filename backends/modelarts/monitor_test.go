package modelarts_test

import (
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/backends/modelarts"
	"github.com/fleetgraph/fleetgraph/backends/modelarts/modelartssim"
	"github.com/fleetgraph/fleetgraph/backends/simctl"
	"github.com/fleetgraph/fleetgraph/internal/testutil"
)

// monitorSetup is setup with every monitoring exchange checked against
// modelarts-openapi-monitor.json when the test ends (the other routes
// against the v2 document, as setup does).
func monitorSetup(t *testing.T) *env {
	t.Helper()
	e := setup(t, modelartssim.Options{Seed: 3}, true)
	v2 := testutil.LoadSpec(t, "modelarts-openapi-v2.json")
	mon := testutil.LoadSpec(t, "modelarts-openapi-monitor.json")
	t.Cleanup(func() {
		for _, ex := range e.rec.Exchanges() {
			if ex.Path == "/v3/auth/tokens" || strings.HasPrefix(ex.Path, "/_sim/") || strings.Contains(ex.Path, "/aom/") {
				continue
			}
			if e.adjust != nil {
				e.adjust(&ex)
			}
			spec := v2
			if strings.HasSuffix(ex.Path, "/monitor") || strings.HasSuffix(ex.Path, "/metrics/runtime/pools") {
				spec = mon
			}
			if err := spec.Validate(ex); err != nil {
				t.Errorf("OpenAPI: %v", err)
			}
		}
	})
	return e
}

// sampleRecorder counts both kinds of Observer events.
type sampleRecorder struct {
	mu             sync.Mutex
	nulls, dropped map[string]int
}

func newSampleRecorder() *sampleRecorder {
	return &sampleRecorder{nulls: map[string]int{}, dropped: map[string]int{}}
}

func (r *sampleRecorder) NullItems(backend, kind string, n int) {
	r.mu.Lock()
	r.nulls[backend+"/"+kind] += n
	r.mu.Unlock()
}

func (r *sampleRecorder) DroppedSamples(backend, kind string, n int) {
	r.mu.Lock()
	r.dropped[backend+"/"+kind] += n
	r.mu.Unlock()
}

func (r *sampleRecorder) counts() (nulls, dropped map[string]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.nulls), maps.Clone(r.dropped)
}

func TestShowPoolMonitorAgainstSimulator(t *testing.T) {
	t.Parallel()
	e := monitorSetup(t)
	c := e.client(t, modelarts.Config{Token: e.sim.IssueToken()})
	fleet := e.sim.Fleet()
	gpuPool, ascendPool := fleet.Pools[0].Metadata.Name, fleet.Pools[1].Metadata.Name
	now := e.clock.Now()
	opts := modelarts.MonitorOptions{Start: now.Add(-2 * time.Hour), End: now, Statistics: modelarts.StatAverage, Period: 5 * time.Minute}

	mon, err := c.ShowPoolMonitor(t.Context(), gpuPool, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(mon.Metrics) != 9 {
		t.Fatalf("%d metrics, want the 9 of the SDK", len(mon.Metrics))
	}
	gpu := mon.Metric(modelarts.MetricGPUUtil)
	if gpu == nil || len(gpu.Points) != 24 || gpu.Namespace != "PAAS.AGGR" || len(gpu.Dimensions) != 1 || gpu.Dimensions[0].Name != "clusterId" {
		t.Fatalf("gpuUtil: %+v, want 24 points (2 h at 300 s) in PAAS.AGGR with clusterId", gpu)
	}
	for i, p := range gpu.Points {
		v, ok := p.Value(modelarts.StatAverage)
		if !ok || v < 0 || v > 100 || p.Unit != modelarts.UnitPercent || p.Timestamp%300000 != 0 || p.Time().Before(opts.Start) || !p.Time().Before(now) {
			t.Fatalf("gpuUtil point %d: %+v (%v, %v), want a percentage at a period boundary within the window", i, p, v, ok)
		}
	}
	for _, name := range []string{modelarts.MetricNPUUtil, modelarts.MetricNPUMemUsage} {
		for _, p := range mon.Metric(name).Points {
			if _, ok := p.Value(modelarts.StatAverage); ok || p.Values[0].Statistic != modelarts.StatAverage {
				t.Fatalf("%s on a GPU pool: %+v, want no data (the vendor's -1)", name, p)
			}
		}
	}
	if p := mon.Metric(modelarts.MetricDiskCapacity).Points[0]; p.Unit != modelarts.UnitMegabytes {
		t.Fatalf("diskCapacity unit %q", p.Unit)
	}

	// An Ascend pool: NPU data, no GPU data.
	mon, err = c.ShowPoolMonitor(t.Context(), ascendPool, modelarts.MonitorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p := mon.Metric(modelarts.MetricGPUUtil).Points[0]; len(p.Values) != 1 || p.Values[0].Value != nil {
		t.Fatalf("gpuUtil on an Ascend pool: %+v, want no data", p)
	}
	npu := mon.Metric(modelarts.MetricNPUUtil)
	if len(npu.Points) != 60 {
		t.Fatalf("default window: %d points, want 60 (the last hour at 60 s)", len(npu.Points))
	}
	if _, ok := npu.Points[0].Value(modelarts.StatMaximum); !ok || npu.Points[0].Unit != "" {
		t.Fatalf("npuUtil: %+v, want a maximum (the default) with the example's empty unit", npu.Points[0])
	}

	// The same window asked again, later: the same numbers.
	again, err := c.ShowPoolMonitor(t.Context(), gpuPool, opts)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Hour)
	later, err := c.ShowPoolMonitor(t.Context(), gpuPool, opts)
	if err != nil {
		t.Fatal(err)
	}
	a, b := again.Metric(modelarts.MetricCPUUsage).Points, later.Metric(modelarts.MetricCPUUsage).Points
	for i := range a {
		va, _ := a[i].Value(modelarts.StatAverage)
		vb, _ := b[i].Value(modelarts.StatAverage)
		if a[i].Timestamp != b[i].Timestamp || va != vb {
			t.Fatalf("point %d: %v=%v, then %v=%v: a window must not change with the clock", i, a[i].Timestamp, va, b[i].Timestamp, vb)
		}
	}
	if got := e.sim.Control().Count(modelartssim.RoutePoolMonitor); got != 4 {
		t.Fatalf("simulator counted %d monitor calls, want 4", got)
	}
}

func TestShowPoolMonitorQuery(t *testing.T) {
	t.Parallel()
	end := time.Date(2025, 6, 1, 11, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		opts modelarts.MonitorOptions
		want url.Values // nil: refused before any call
	}{
		{"defaults", modelarts.MonitorOptions{}, url.Values{"time_range": {"-1.-1.60"}, "statistics": {"maximum"}, "period": {"60"}}},
		{"window", modelarts.MonitorOptions{Start: end.Add(-90 * time.Minute), End: end, Statistics: modelarts.StatSum, Period: 15 * time.Minute},
			url.Values{"time_range": {"-1." + strconv.FormatInt(end.UnixMilli(), 10) + ".90"}, "statistics": {"sum"}, "period": {"900"}}},
		{"minutes rounded up", modelarts.MonitorOptions{Start: end.Add(-90*time.Minute - time.Second), End: end},
			url.Values{"time_range": {"-1." + strconv.FormatInt(end.UnixMilli(), 10) + ".91"}, "statistics": {"maximum"}, "period": {"60"}}},
		{"end only", modelarts.MonitorOptions{End: end, Statistics: modelarts.StatSampleCount, Period: time.Hour},
			url.Values{"time_range": {"-1." + strconv.FormatInt(end.UnixMilli(), 10) + ".60"}, "statistics": {"sampleCount"}, "period": {"3600"}}},
		{"24 h at 60 s is 1440 points", modelarts.MonitorOptions{Start: end.Add(-24 * time.Hour), End: end},
			url.Values{"time_range": {"-1." + strconv.FormatInt(end.UnixMilli(), 10) + ".1440"}, "statistics": {"maximum"}, "period": {"60"}}},
		{"60 days at 3600 s", modelarts.MonitorOptions{Start: end.Add(-60 * 24 * time.Hour), End: end, Period: time.Hour},
			url.Values{"time_range": {"-1." + strconv.FormatInt(end.UnixMilli(), 10) + ".86400"}, "statistics": {"maximum"}, "period": {"3600"}}},
		{"1441 points", modelarts.MonitorOptions{Start: end.Add(-24*time.Hour - time.Minute), End: end}, nil},
		{"5 days and a minute at 300 s", modelarts.MonitorOptions{Start: end.Add(-5*24*time.Hour - time.Minute), End: end, Period: 5 * time.Minute}, nil},
		{"period not allowed", modelarts.MonitorOptions{Period: 2 * time.Minute}, nil},
		{"statistics not allowed", modelarts.MonitorOptions{Statistics: "p99"}, nil},
		{"start without end", modelarts.MonitorOptions{Start: end}, nil},
		{"start after end", modelarts.MonitorOptions{Start: end, End: end.Add(-time.Minute)}, nil},
	}
	e := monitorSetup(t)
	c := e.client(t, modelarts.Config{Token: e.sim.IssueToken()})
	pool := e.sim.Fleet().Pools[0].Metadata.Name
	for _, tc := range cases {
		before := len(e.rec.Exchanges())
		_, err := c.ShowPoolMonitor(t.Context(), pool, tc.opts)
		ex := e.rec.Exchanges()[before:]
		if tc.want == nil {
			if !errors.Is(err, backends.ErrBadRequest) || len(ex) != 0 {
				t.Errorf("%s: %v after %d calls, want a bad request before any call", tc.name, err, len(ex))
			}
			continue
		}
		if err != nil || len(ex) != 1 {
			t.Errorf("%s: %v after %d calls", tc.name, err, len(ex))
			continue
		}
		if got, _ := url.ParseQuery(ex[0].RawQuery); !maps.EqualFunc(got, tc.want, func(a, b []string) bool { return strings.Join(a, ",") == strings.Join(b, ",") }) {
			t.Errorf("%s: sent %v, want %v", tc.name, got, tc.want)
		}
	}
	if _, err := c.ShowPoolMonitor(t.Context(), "", modelarts.MonitorOptions{}); !errors.Is(err, backends.ErrBadRequest) {
		t.Errorf("empty pool: %v", err)
	}
}

// TestSimulatorMonitorErrors: the simulator refuses what the vendor refuses,
// with its error body (400 ModelArts.0101 is the documents' inference).
func TestSimulatorMonitorErrors(t *testing.T) {
	t.Parallel()
	e := monitorSetup(t)
	e.adjust = func(ex *testutil.Exchange) { ex.SkipRequest = true } // the requests are wrong on purpose
	token := e.sim.IssueToken()
	pool := e.sim.Fleet().Pools[0].Metadata.Name
	base := e.endpoint + "/v2/" + e.sim.ProjectID()
	cases := []struct {
		path, query string
		status      int
		code, msg   string
	}{
		{"/pools/" + pool + "/monitor", "period=120", 400, "ModelArts.0101", "period"},
		{"/pools/" + pool + "/monitor", "time_range=-1.-1.1441", 400, "ModelArts.0101", "1440"},
		{"/pools/" + pool + "/monitor", "time_range=-1.-1.7201&period=300", 400, "ModelArts.0101", "1440"},
		{"/pools/" + pool + "/monitor", "time_range=-1.-1.0", 400, "ModelArts.0101", "greater than 0"},
		{"/pools/" + pool + "/monitor", "time_range=yesterday", 400, "ModelArts.0101", "format"},
		{"/pools/" + pool + "/monitor", "statistics=p99", 400, "ModelArts.0101", "statistics"},
		{"/pools/lite-pool-9-00000000000000000000000000000000/monitor", "", 404, "ModelArts.50015001", "not found"},
	}
	for _, tc := range cases {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, base+tc.path+"?"+tc.query, nil)
		req.Header.Set("X-Auth-Token", token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.Contains(string(body), `"error_code":"`+tc.code+`"`) || !strings.Contains(string(body), tc.msg) {
			t.Errorf("%s?%s: %d %.300s, want %d %s mentioning %q", tc.path, tc.query, resp.StatusCode, body, tc.status, tc.code, tc.msg)
		}
	}
}

func TestMonitorFaultsAndErrors(t *testing.T) {
	t.Parallel()
	e := monitorSetup(t)
	e.adjust = func(ex *testutil.Exchange) {
		if ex.Status == http.StatusServiceUnavailable {
			ex.Status = 0 // simctl's "down" is not in the document
		}
	}
	c := e.client(t, modelarts.Config{Token: e.sim.IssueToken()})
	pool := e.sim.Fleet().Pools[0].Metadata.Name
	if err := e.sim.Control().SetFaults(simctl.Faults{Down: true, Routes: []string{modelartssim.RoutePoolMonitor, modelartssim.RouteRuntimePools}}); err != nil {
		t.Fatal(err)
	}
	_, err := c.ShowPoolMonitor(t.Context(), pool, modelarts.MonitorOptions{})
	if ae, ok := errors.AsType[*backends.APIError](err); !ok || !errors.Is(err, backends.ErrUnavailable) || ae.Code != "ModelArts.6101" || ae.Route != modelarts.RoutePoolMonitor {
		t.Fatalf("down: %v, want 503 ModelArts.6101 on the monitor route", err)
	}
	if _, err := c.ShowPoolRuntimeMetrics(t.Context()); !errors.Is(err, backends.ErrUnavailable) {
		t.Fatalf("down: %v", err)
	}
	e.sim.Control().ClearFaults()
	_, err = c.ShowPoolMonitor(t.Context(), "lite-pool-9-00000000000000000000000000000000", modelarts.MonitorOptions{})
	if ae, ok := errors.AsType[*backends.APIError](err); !ok || !errors.Is(err, backends.ErrNotFound) || ae.Code != "ModelArts.50015001" {
		t.Fatalf("unknown pool: %v", err)
	}
	stats := e.sim.Control().Stats()
	if stats[modelartssim.RoutePoolMonitor] != 2 || stats[modelartssim.RouteRuntimePools] != 1 {
		t.Fatalf("stats %v, want 2 monitor and 1 runtime call", stats)
	}
}

func TestShowPoolRuntimeMetricsAgainstSimulator(t *testing.T) {
	t.Parallel()
	e := monitorSetup(t)
	c := e.client(t, modelarts.Config{AccessKey: modelartssim.DefaultAccessKey, SecretKey: modelartssim.DefaultSecretKey})
	l, err := c.ShowPoolRuntimeMetrics(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	fleet := e.sim.Fleet()
	if l.Kind != "PoolMetricsList" || len(l.Items) != len(fleet.Pools) {
		t.Fatalf("%s with %d items, want PoolMetricsList with %d", l.Kind, len(l.Items), len(fleet.Pools))
	}
	for _, p := range fleet.Pools {
		it := l.For(&p)
		if it == nil || it.Capacity == nil || it.Allocated == nil || it.Available == nil {
			t.Fatalf("pool %s: item %+v", p.Metadata.Name, it)
		}
		cards := 0
		for _, n := range fleet.Nodes[p.Metadata.Name] {
			for k, v := range n.Status.Resources {
				if k != modelarts.ResourceCPU && k != modelarts.ResourceMemory {
					x, _ := strconv.Atoi(v)
					cards += x
				}
			}
		}
		if got := it.Capacity.Value[modelarts.RuntimeCards]; got != strconv.Itoa(cards) {
			t.Errorf("pool %s: tnt004 capacity %q, want the %d cards of its nodes", p.Metadata.Name, got, cards)
		}
		if it.Allocated.At().IsZero() || it.Allocated.Window != "1m" || !strings.HasSuffix(it.Capacity.Value[modelarts.RuntimeCPU], "m") {
			t.Errorf("pool %s: %+v %+v", p.Metadata.Name, it.Allocated, it.Capacity)
		}
	}
	// Matching by display name when the vendor names items so.
	byLabel := modelarts.PoolRuntimeMetricsList{Items: []modelarts.PoolRuntimeMetrics{{Name: "x", Labels: modelarts.StringMap{modelarts.LabelPoolName: "lite-pool-1"}}}}
	if it := byLabel.For(&fleet.Pools[0]); it == nil || it.Name != "x" {
		t.Fatalf("For by label: %+v", it)
	}
	byDisplay := modelarts.PoolRuntimeMetricsList{Items: []modelarts.PoolRuntimeMetrics{{Name: "lite-pool-2"}}}
	if it := byDisplay.For(&fleet.Pools[0]); it != nil {
		t.Fatalf("For matched another pool's display name: %+v", it)
	}
}

func TestMonitorTolerantDecoding(t *testing.T) {
	t.Parallel()
	rec := newSampleRecorder()
	var body string
	srv := fakeServer(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) })
	c, err := modelarts.New(modelarts.Config{Name: "ma-fake", Endpoint: srv + "/prefix", ProjectID: "p", Token: "t", Observer: rec})
	if err != nil {
		t.Fatal(err)
	}
	// The OTC example's shapes, plus what the letter of the document allows
	// and vendors send: unknown members, null items, -1, a string value,
	// "NaN", a timestamp as a string, none at all, a float one.
	body = `{"future":1,"metrics":[null,{"metric":{"dimensions":[null,{"name":"clusterId","value":"c","x":1}],"metricName":"gpuUtil","namespace":"PAAS.AGGR","y":[]},
		"dataPoints":[{"timestamp":1655193600000,"unit":"Percent","statistics":[{"statistic":"maximum","value":-1}]},
		{"timestamp":"1655193660000","unit":"Percent","statistics":[{"statistic":"maximum","value":"7.5"},null,{"statistic":"minimum","value":null}]},
		{"timestamp":1.65519372e12,"statistics":[{"statistic":"maximum","value":"NaN"}]},
		{"unit":"Percent","statistics":[{"statistic":"maximum","value":3}]},
		{"timestamp":1655193780000.5,"statistics":[]},
		null]},{"metric":null},{},{"metric":[{"metricName":"cpuUsage"}]}]}`
	mon, err := c.ShowPoolMonitor(t.Context(), "pool", modelarts.MonitorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(mon.Metrics) != 4 || mon.Metrics[0].Name != "gpuUtil" || len(mon.Metrics[0].Dimensions) != 1 || mon.Metrics[3].Name != "cpuUsage" {
		t.Fatalf("metrics %+v", mon.Metrics)
	}
	pts := mon.Metrics[0].Points
	if len(pts) != 3 || pts[0].Timestamp != 1655193600000 || pts[0].Values[0].Value != nil ||
		pts[1].Timestamp != 1655193660000 || *pts[1].Values[0].Value != 7.5 || len(pts[1].Values) != 2 || pts[1].Values[1].Value != nil ||
		pts[2].Timestamp != 1655193720000 || pts[2].Values[0].Value != nil {
		t.Fatalf("points %+v", pts)
	}
	nulls, dropped := rec.counts()
	// NaN, a point without a timestamp, one with a fractional timestamp.
	if nulls["ma-fake/monitor"] != 4 || dropped["ma-fake/monitor"] != 3 {
		t.Fatalf("nulls %v, dropped %v; want 4 null items and 3 dropped samples", nulls, dropped)
	}

	// ShowPoolRuntimeMetrics: the OTC example's numbers next to quantity
	// strings, an unknown key kept, a nameless item skipped and counted.
	body = `{"apiVersion":"v2","kind":"PoolMetricsList","items":[{"table":{"allocated":{"value":{"cpu":5,"memory":"15548Mi","tnt004":"1073m","nvidia.com/gpu":"1"},"timestamp":"2022-03-30T07:09:10Z","window":"1m"},
		"capacity":{"value":{"cpu":16,"memory":"64Gi","tnt004":2},"maxValue":{"cpu":"16"},"future":{}}},"metadata":{"name":"hougang-rse-pool","labels":{"os.modelarts/name":"h","n":1}}},
		{"table":{}},{"metadata":{"name":""}},null,{"metadata":{"name":"bare"}}]}`
	l, err := c.ShowPoolRuntimeMetrics(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Items) != 2 || l.Items[0].Name != "hougang-rse-pool" || l.Items[1].Name != "bare" || l.Items[1].Capacity != nil {
		t.Fatalf("items %+v", l.Items)
	}
	it := l.Items[0]
	if it.Allocated.Value["cpu"] != "5" || it.Allocated.Value["tnt004"] != "1073m" || it.Allocated.Value["nvidia.com/gpu"] != "1" ||
		it.Capacity.Value["tnt004"] != "2" || it.Capacity.MaxValue["cpu"] != "16" || it.Labels["n"] != "1" ||
		!it.Allocated.At().Equal(time.Date(2022, 3, 30, 7, 9, 10, 0, time.UTC)) {
		t.Fatalf("item %+v / %+v / %+v", it, it.Allocated, it.Capacity)
	}
	// Counted under the route's kind like every null item ("pools", the
	// last literal segment).
	if nulls, _ := rec.counts(); nulls["ma-fake/pools"] != 3 {
		t.Fatalf("nulls %v, want 3 runtime items skipped (two nameless, one null)", nulls)
	}
}

// fakeServer serves h under /prefix and returns its URL.
func fakeServer(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(http.StripPrefix("/prefix", h))
	t.Cleanup(srv.Close)
	return srv.URL
}
