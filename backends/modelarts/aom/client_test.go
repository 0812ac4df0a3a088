package aom_test

import (
	"errors"
	"io"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/backends/modelarts"
	"github.com/fleetgraph/fleetgraph/backends/modelarts/aom"
	"github.com/fleetgraph/fleetgraph/backends/modelarts/modelartssim"
	"github.com/fleetgraph/fleetgraph/backends/simctl"
	"github.com/fleetgraph/fleetgraph/internal/testutil"
)

// basePath is where the simulator is mounted: an absolute-URL mistake in the
// client misses it and fails loudly.
const basePath = "/gw/aom"

// now is the test's reference, on a minute boundary. The simulator and
// the clients keep real time (AK/SK signatures are checked against it);
// windows end at or before now.
var now = time.Now().UTC().Truncate(time.Minute)

type env struct {
	sim      *modelartssim.Server
	rec      *testutil.Recorder
	endpoint string
}

func setup(t *testing.T) *env {
	t.Helper()
	sim := modelartssim.New(modelartssim.Options{Seed: 5})
	rec := &testutil.Recorder{Next: sim.Handler()}
	mux := http.NewServeMux()
	mux.Handle(basePath+"/", http.StripPrefix(basePath, rec))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &env{sim: sim, rec: rec, endpoint: srv.URL + basePath}
}

// clients returns the ModelArts client of cfg's auth mode and its AOM
// client, both on the simulator.
func (e *env) clients(t *testing.T, cfg modelarts.Config, obs backends.Observer) (*modelarts.Client, *aom.Client) {
	t.Helper()
	cfg.Name, cfg.Endpoint, cfg.ProjectID = "ma-test", e.endpoint, e.sim.ProjectID()
	ma, err := modelarts.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ac, err := aom.New(aom.Config{Name: "ma-test", Endpoint: e.endpoint, ProjectID: e.sim.ProjectID(), Auth: ma, Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	return ma, ac
}

type recorder struct {
	mu             sync.Mutex
	nulls, dropped map[string]int
}

func newRecorder() *recorder { return &recorder{nulls: map[string]int{}, dropped: map[string]int{}} }

func (r *recorder) NullItems(backend, kind string, n int) {
	r.mu.Lock()
	r.nulls[backend+"/"+kind] += n
	r.mu.Unlock()
}

func (r *recorder) DroppedSamples(backend, kind string, n int) {
	r.mu.Lock()
	r.dropped[backend+"/"+kind] += n
	r.mu.Unlock()
}

// gpuNodes are the reporting GPU nodes of the first (GPU) pool: IP to cards.
func gpuNodes(f modelartssim.Fleet) map[string]float64 {
	out := map[string]float64{}
	for _, n := range f.Nodes[f.Pools[0].Metadata.Name] {
		if c := n.Status.Resources[modelarts.ResourceNvidiaGPU]; c != "" && (n.Status.Phase == modelarts.NodeAvailable || n.Status.Phase == modelarts.NodeAbnormal) {
			var cards float64
			for _, ch := range c {
				cards = cards*10 + float64(ch-'0')
			}
			out[n.Status.PrivateIP] = cards
		}
	}
	return out
}

// TestGPUUtilizationMatchesThePoolMonitor: the default GPU query answers one
// series per reporting GPU node, and at every minute their card-weighted
// mean is the pool monitor's gpuUtil (period 60, average).
func TestGPUUtilizationMatchesThePoolMonitor(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for _, mode := range []struct {
		name string
		cfg  modelarts.Config
	}{
		{"token", modelarts.Config{Token: e.sim.IssueToken()}},
		{"aksk", modelarts.Config{AccessKey: modelartssim.DefaultAccessKey, SecretKey: modelartssim.DefaultSecretKey}},
		{"iam", modelarts.Config{IAM: &modelarts.IAMConfig{Endpoint: e.endpoint, Username: modelartssim.DefaultUsername,
			Password: modelartssim.DefaultPassword, Domain: modelartssim.DefaultDomain, Project: modelartssim.ProjectName}}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			ma, ac := e.clients(t, mode.cfg, nil)
			fleet := e.sim.Fleet()
			nodes := gpuNodes(fleet)
			q, ok := aom.DefaultQuery(aom.GPUUtilization)
			if !ok || q.Unit != aom.UnitPercent {
				t.Fatalf("DefaultQuery: %+v %v", q, ok)
			}
			// Ask for every node of the pool; the CPU-only ones have no GPU series.
			var ips []string
			for _, n := range fleet.Nodes[fleet.Pools[0].Metadata.Name] {
				ips = append(ips, n.Status.PrivateIP)
			}
			start, end := now.Add(-30*time.Minute), now.Add(-time.Minute)
			res, err := ac.QueryRange(t.Context(), q.Expand(aom.DefaultNodeLabel, ips), start, end, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Series) != len(nodes) || len(nodes) < 2 {
				t.Fatalf("%d series, want one per reporting GPU node (%d)", len(res.Series), len(nodes))
			}
			byMinute := map[int64][2]float64{} // weighted sum, weight
			for _, s := range res.Series {
				ip := s.Metric[aom.DefaultNodeLabel]
				cards, ok := nodes[ip]
				if !ok || len(s.Metric) != 1 || len(s.Points) != 30 {
					t.Fatalf("series %v with %d points, want a GPU node's 30", s.Metric, len(s.Points))
				}
				for _, p := range s.Points {
					if p.Value < 0 || p.Value > 100 || p.Time.Before(start) || p.Time.After(end) {
						t.Fatalf("point %+v", p)
					}
					acc := byMinute[p.Time.Unix()]
					byMinute[p.Time.Unix()] = [2]float64{acc[0] + cards*p.Value, acc[1] + cards}
				}
			}
			mon, err := ma.ShowPoolMonitor(t.Context(), fleet.Pools[0].Metadata.Name,
				modelarts.MonitorOptions{Start: start, End: end.Add(time.Minute), Statistics: modelarts.StatAverage})
			if err != nil {
				t.Fatal(err)
			}
			pts := mon.Metric(modelarts.MetricGPUUtil).Points
			if len(pts) != 30 {
				t.Fatalf("%d monitor points, want 30", len(pts))
			}
			for _, p := range pts {
				v, ok := p.Value(modelarts.StatAverage)
				acc := byMinute[p.Time().Unix()]
				if !ok || acc[1] == 0 || math.Abs(v-acc[0]/acc[1]) > 0.001 {
					t.Fatalf("at %v the pool monitor says %v, the nodes' card-weighted mean is %v", p.Time(), v, acc[0]/acc[1])
				}
			}
		})
	}
	if got := e.sim.Control().Count(modelartssim.RouteAOMQueryRange); got != 3 {
		t.Fatalf("simulator counted %d query_range calls, want 3", got)
	}
}

// TestDefaultQueriesAgainstTheSimulator: every default query is one the
// simulator understands, answers in its unit, and the request is what the
// decisions say (GET, integral seconds).
func TestDefaultQueriesAgainstTheSimulator(t *testing.T) {
	t.Parallel()
	e := setup(t)
	_, ac := e.clients(t, modelarts.Config{Token: e.sim.IssueToken()}, nil)
	fleet := e.sim.Fleet()
	var ips []string
	for _, p := range fleet.Pools {
		for _, n := range fleet.Nodes[p.Metadata.Name] {
			ips = append(ips, n.Status.PrivateIP)
		}
	}
	if !slices.IsSortedFunc(aom.DefaultQueries, func(a, b aom.Query) int { return strings.Compare(a.Type, b.Type) }) {
		t.Fatal("DefaultQueries must be sorted by Type")
	}
	for _, q := range aom.DefaultQueries {
		res, err := ac.QueryRange(t.Context(), q.Expand(aom.DefaultNodeLabel, ips), now.Add(-10*time.Minute), now, 15*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", q.Type, err)
		}
		if len(res.Series) == 0 {
			t.Fatalf("%s: no series", q.Type)
		}
		most := 0.0
		for _, s := range res.Series {
			if len(s.Points) != 41 {
				t.Fatalf("%s: %d points, want 41 (10 min every 15 s)", q.Type, len(s.Points))
			}
			for _, p := range s.Points {
				if p.Value < 0 || q.Unit == aom.UnitPercent && p.Value > 100 {
					t.Fatalf("%s: %v is no %s", q.Type, p.Value, q.Unit)
				}
				most = max(most, p.Value)
			}
		}
		// An idle GPU may use no memory at a given minute (the simulator's
		// wave dips to 0 on a lightly used card); the fleet's largest value,
		// in bytes, is MiB-sized: the query's scale applied.
		if q.Unit == aom.UnitBytes && most < 1<<20 {
			t.Fatalf("%s: at most %v: no bytes", q.Type, most)
		}
	}
	ex := e.rec.Exchanges()
	v, _ := url.ParseQuery(ex[0].RawQuery)
	if ex[0].Method != http.MethodGet || ex[0].Path != "/v1/"+e.sim.ProjectID()+"/aom/api/v1/query_range" ||
		v.Get("start") != strconv.FormatInt(now.Unix()-600, 10) || v.Get("end") != strconv.FormatInt(now.Unix(), 10) || v.Get("step") != "15" {
		t.Fatalf("sent %s %s?%s", ex[0].Method, ex[0].Path, ex[0].RawQuery)
	}
}

func TestQueryRangeRefusesBeforeCalling(t *testing.T) {
	t.Parallel()
	e := setup(t)
	_, ac := e.clients(t, modelarts.Config{Token: e.sim.IssueToken()}, nil)
	for name, args := range map[string]struct {
		q          string
		start, end time.Time
		step       time.Duration
	}{
		"empty query":       {" ", now.Add(-time.Hour), now, time.Minute},
		"no start":          {"up", time.Time{}, now, time.Minute},
		"end before start":  {"up", now, now.Add(-time.Second), time.Minute},
		"sub-second step":   {"up", now.Add(-time.Hour), now, time.Millisecond},
		"11 001 points":     {"up", now.Add(-11000 * time.Second), now, time.Second},
		"a year by minutes": {"up", now.Add(-365 * 24 * time.Hour), now, time.Minute},
	} {
		if _, err := ac.QueryRange(t.Context(), args.q, args.start, args.end, args.step); !errors.Is(err, backends.ErrBadRequest) {
			t.Errorf("%s: %v, want a bad request", name, err)
		}
	}
	if _, err := ac.QueryRange(t.Context(), "up", now.Add(-10999*time.Second), now, time.Second); err != nil {
		t.Errorf("11 000 points: %v", err)
	}
	if n := e.sim.Control().Count(modelartssim.RouteAOMQueryRange); n != 1 {
		t.Fatalf("%d calls, want only the valid one", n)
	}
}

func TestQueryRangeErrors(t *testing.T) {
	t.Parallel()
	e := setup(t)
	_, ac := e.clients(t, modelarts.Config{Token: e.sim.IssueToken()}, nil)
	ctx := t.Context()
	_, err := ac.QueryRange(ctx, `rate(up[5m])`, now.Add(-time.Hour), now, time.Minute)
	if ae, ok := errors.AsType[*backends.APIError](err); !ok || !errors.Is(err, backends.ErrBadRequest) || ae.Code != "bad_data" || !strings.Contains(ae.Message, "parse error") || ae.Route != aom.RouteQueryRange || ae.RequestID == "" {
		t.Fatalf("unsupported query: %v, want 400 bad_data with the request id", err)
	}
	// An unknown metric is no error: no series.
	if res, err := ac.QueryRange(ctx, `avg by (node_ip) (ma_node_gpu_util{node_ip=~".*"})`, now.Add(-time.Hour), now, time.Minute); err != nil || len(res.Series) != 0 {
		t.Fatalf("unknown metric: %+v, %v", res, err)
	}
	for _, tc := range []struct {
		faults   simctl.Faults
		sentinel error
		code     string
	}{
		{simctl.Faults{Down: true}, backends.ErrUnavailable, "unavailable"},
		{simctl.Faults{ErrorRate: 1, ErrorStatus: 429}, backends.ErrRateLimited, "APIG.0308"},
		{simctl.Faults{ErrorRate: 1, ErrorStatus: 422}, backends.ErrBadRequest, "execution"},
		{simctl.Faults{ErrorRate: 1, ErrorStatus: 401}, backends.ErrUnauthorized, "APIGW.0301"},
	} {
		if err := e.sim.Control().SetFaults(tc.faults); err != nil {
			t.Fatal(err)
		}
		_, err := ac.QueryRange(ctx, "up", now.Add(-time.Hour), now, time.Minute)
		if ae, ok := errors.AsType[*backends.APIError](err); !ok || !errors.Is(err, tc.sentinel) || ae.Code != tc.code {
			t.Errorf("faults %+v: %v, want %s", tc.faults, err, tc.code)
		}
	}
	e.sim.Control().ClearFaults()
	// Another project's token: refused.
	other := modelartssim.New(modelartssim.Options{ProjectID: "ffff"})
	_, bad := e.clients(t, modelarts.Config{Token: other.IssueToken()}, nil)
	if _, err := bad.QueryRange(ctx, "up", now.Add(-time.Hour), now, time.Minute); !errors.Is(err, backends.ErrUnauthorized) {
		t.Fatalf("foreign token: %v", err)
	}
}

// TestIAMTokenRenewedOnce: a 401 on an IAM token drops it, a new one is
// fetched and the call repeated once, as the ModelArts client does.
func TestIAMTokenRenewedOnce(t *testing.T) {
	t.Parallel()
	e := setup(t)
	_, ac := e.clients(t, modelarts.Config{IAM: &modelarts.IAMConfig{Endpoint: e.endpoint, Username: modelartssim.DefaultUsername,
		Password: modelartssim.DefaultPassword, Domain: modelartssim.DefaultDomain, Project: modelartssim.ProjectName}}, nil)
	ctx := t.Context()
	if _, err := ac.QueryRange(ctx, "up", now.Add(-time.Hour), now, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.Control().SetFaults(simctl.Faults{ErrorRate: 1, ErrorStatus: 401, Routes: []string{modelartssim.RouteAOMQueryRange}}); err != nil {
		t.Fatal(err)
	}
	_, err := ac.QueryRange(ctx, "up", now.Add(-time.Hour), now, time.Minute)
	if !errors.Is(err, backends.ErrUnauthorized) {
		t.Fatalf("%v, want the second 401", err)
	}
	stats := e.sim.Control().Stats()
	if stats[modelartssim.RouteIAMTokens] != 2 || stats[modelartssim.RouteAOMQueryRange] != 3 {
		t.Fatalf("stats %v: want 2 IAM tokens and 3 queries (one renewal, no more)", stats)
	}
}

func TestQueryRangeTolerantDecoding(t *testing.T) {
	t.Parallel()
	var body string
	status := http.StatusOK
	srv := httptest.NewServer(http.StripPrefix("/prefix", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Auth-Token") != "t" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	})))
	t.Cleanup(srv.Close)
	rec := newRecorder()
	ma, err := modelarts.New(modelarts.Config{Name: "ma-fake", Endpoint: "http://unused", ProjectID: "p", Token: "t"})
	if err != nil {
		t.Fatal(err)
	}
	ac, err := aom.New(aom.Config{Name: "ma-fake", Endpoint: srv.URL + "/prefix", ProjectID: "p", Auth: ma, Observer: rec})
	if err != nil {
		t.Fatal(err)
	}
	query := func() (*aom.Result, error) {
		return ac.QueryRange(t.Context(), "up", now.Add(-time.Hour), now, time.Minute)
	}

	body = `{"status":"success","future":{},"warnings":["partial"],"data":{"resultType":"matrix","x":1,"result":[null,
		{"metric":{"node_ip":"10.0.0.1","n":2,"o":{},"z":null},"values":[[1748779200,"1.5"],[1748779260.5,"NaN"],[1748779320,"+Inf"],[1748779380,"-Inf"],[1748779440,2],["1748779500","3"],[null,"4"],[1748779560],null,[1748779620,"x"]],"histograms":[]},
		{"values":[]}]}}`
	res, err := query()
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Series) != 2 || !slices.Equal(res.Warnings, []string{"partial"}) {
		t.Fatalf("result %+v", res)
	}
	s := res.Series[0]
	if !maps.Equal(s.Metric, map[string]string{"node_ip": "10.0.0.1", "n": "2"}) || res.Series[1].Metric == nil {
		t.Fatalf("labels %v / %v", s.Metric, res.Series[1].Metric)
	}
	want := []aom.Point{{time.Unix(1748779200, 0).UTC(), 1.5}, {time.Unix(1748779440, 0).UTC(), 2}, {time.Unix(1748779500, 0).UTC(), 3}}
	if !slices.Equal(s.Points, want) {
		t.Fatalf("points %v, want %v", s.Points, want)
	}
	rec.mu.Lock()
	nulls, dropped := rec.nulls["ma-fake/query_range"], rec.dropped["ma-fake/query_range"]
	rec.mu.Unlock()
	// Null list items: the series, the point, the time in [null, "4"];
	// dropped: NaN, +Inf, -Inf, ["4"] left of [null, "4"], a point
	// without value, "x".
	if nulls != 3 || dropped != 6 {
		t.Fatalf("nulls %d, dropped %d; want 3 and 6", nulls, dropped)
	}

	body = `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1748779200,"7"]}]}}`
	if res, err := query(); err != nil || len(res.Series) != 1 || len(res.Series[0].Points) != 1 || res.Series[0].Points[0].Value != 7 {
		t.Fatalf("vector: %+v, %v", res, err)
	}
	for _, bad := range []string{
		`{"status":"success","data":{"resultType":"scalar","result":[1748779200,"1"]}}`,
		`{"status":"error","errorType":"execution","error":"boom"}`,
		`[]`,
	} {
		body = bad
		if _, err := query(); !errors.Is(err, backends.ErrUpstream) {
			t.Errorf("%s: %v, want an upstream error", bad, err)
		}
	}
	status, body = http.StatusServiceUnavailable, `{"status":"error","errorType":"unavailable","error":"down"}`
	if _, err := query(); !errors.Is(err, backends.ErrUnavailable) {
		t.Fatalf("503: %v", err)
	}
	status, body = http.StatusOK, `{"status":"success"}`
	if res, err := query(); err != nil || len(res.Series) != 0 {
		t.Fatalf("no data: %+v, %v", res, err)
	}
}

func TestExpand(t *testing.T) {
	t.Parallel()
	q, _ := aom.DefaultQuery(aom.CPUMemoryUsageBytes)
	got := q.Expand("node_ip", []string{"192.168.0.11", "192.168.0.10", "192.168.0.11"})
	want := `sum by (node_ip) (ma_container_memory_used_megabytes{node_ip=~"192\\.168\\.0\\.10|192\\.168\\.0\\.11"}) * 1048576`
	if got != want {
		t.Fatalf("Expand:\n got %s\nwant %s", got, want)
	}
	odd := aom.Query{PromQL: `up{$node_label=~"$nodes"}`}.Expand("node", []string{`a"b\c`})
	if odd != `up{node=~"a\"b\\\\c"}` {
		t.Fatalf("escaping: %s", odd)
	}
	if _, ok := aom.DefaultQuery("TOTAL_GPU"); ok {
		t.Fatal("a type without a default query")
	}
	for _, c := range []aom.Config{
		{},
		{Name: "x", Endpoint: "aom.example", ProjectID: "p"},
		{Name: "x", Endpoint: "https://aom.example", ProjectID: "p"},
		{Name: "x", Endpoint: "https://aom.example?x=1", ProjectID: "p", Auth: &modelarts.Client{}},
		{Name: "x", Endpoint: "https://aom.example", Auth: &modelarts.Client{}},
	} {
		if _, err := aom.New(c); err == nil {
			t.Errorf("New(%+v) accepted", c)
		}
	}
}

// TestLabelValues: the discovery the defaults' assumptions rest on. The
// simulator knows every metric name the default queries use, and the
// default node label's values are the reporting nodes' addresses.
func TestLabelValues(t *testing.T) {
	t.Parallel()
	e := setup(t)
	_, ac := e.clients(t, modelarts.Config{AccessKey: modelartssim.DefaultAccessKey, SecretKey: modelartssim.DefaultSecretKey}, nil)
	names, err := ac.LabelValues(t.Context(), aom.MetricNameLabel)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range aom.DefaultQueries {
		i := strings.Index(q.PromQL, "ma_container_")
		name := q.PromQL[i : i+strings.IndexByte(q.PromQL[i:], '{')]
		if !slices.Contains(names, name) {
			t.Errorf("%s uses %s, which the simulator does not have (%v)", q.Type, name, names)
		}
	}
	ips, err := ac.LabelValues(t.Context(), aom.DefaultNodeLabel)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	f := e.sim.Fleet()
	for _, p := range f.Pools {
		for _, n := range f.Nodes[p.Metadata.Name] {
			if n.Status.Phase == modelarts.NodeAvailable || n.Status.Phase == modelarts.NodeAbnormal {
				want = append(want, n.Status.PrivateIP)
			}
		}
	}
	slices.Sort(want)
	if !slices.Equal(ips, want) {
		t.Fatalf("node_ip values %v, want %v", ips, want)
	}
	if got, err := ac.LabelValues(t.Context(), "no_such_label"); err != nil || got == nil || len(got) != 0 {
		t.Fatalf("unknown label: %v, %v", got, err)
	}
	if _, err := ac.LabelValues(t.Context(), "a/b"); !errors.Is(err, backends.ErrBadRequest) {
		t.Fatalf("bad name: %v", err)
	}
	ex := e.rec.Exchanges()
	if ex[0].Path != "/v1/"+e.sim.ProjectID()+"/aom/api/v1/label/__name__/values" || e.sim.Control().Count(modelartssim.RouteAOMLabelVals) != 3 {
		t.Fatalf("sent %s; %d counted", ex[0].Path, e.sim.Control().Count(modelartssim.RouteAOMLabelVals))
	}
}

// TestSeriesAreTimeConsistent: windows that overlap agree on the overlap,
// and another simulator with the same seed tells the same story.
func TestSeriesAreTimeConsistent(t *testing.T) {
	t.Parallel()
	e, other := setup(t), setup(t)
	_, a := e.clients(t, modelarts.Config{Token: e.sim.IssueToken()}, nil)
	_, b := other.clients(t, modelarts.Config{Token: other.sim.IssueToken()}, nil)
	q, _ := aom.DefaultQuery(aom.CPUUtilization)
	promql := q.Expand(aom.DefaultNodeLabel, []string{"192.168.0.10", "192.168.0.11", "192.168.0.12"})
	long, err := a.QueryRange(t.Context(), promql, now.Add(-2*time.Hour), now, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	short, err := b.QueryRange(t.Context(), promql, now.Add(-30*time.Minute), now.Add(-10*time.Minute), 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(long.Series) == 0 || len(long.Series) != len(short.Series) {
		t.Fatalf("%d and %d series", len(long.Series), len(short.Series))
	}
	at := map[string]float64{}
	for _, s := range long.Series {
		for _, p := range s.Points {
			at[s.Metric[aom.DefaultNodeLabel]+"@"+p.Time.String()] = p.Value
		}
	}
	for _, s := range short.Series {
		if len(s.Points) != 5 {
			t.Fatalf("%d points, want 5", len(s.Points))
		}
		for _, p := range s.Points {
			if v, ok := at[s.Metric[aom.DefaultNodeLabel]+"@"+p.Time.String()]; !ok || v != p.Value {
				t.Fatalf("%v at %v: %v, the longer window says %v (%v)", s.Metric, p.Time, p.Value, v, ok)
			}
		}
	}
}
