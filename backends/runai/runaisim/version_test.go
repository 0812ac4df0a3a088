package runaisim_test

import (
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fleetgraph/fleetgraph/backends/runai"
	"github.com/fleetgraph/fleetgraph/backends/runai/runaisim"
	"github.com/fleetgraph/fleetgraph/backends/simctl"
	"github.com/fleetgraph/fleetgraph/internal/testutil"
)

// getDelta calls path like get, but validates the exchange against the
// after-2.22 document (runai-openapi-delta.json, 2.24's operations)
// instead of 2.22's, as far as c says.
func (h *harness) getDelta(t *testing.T, path string, c check) (int, []byte) {
	t.Helper()
	status, body := h.get(t, path, checkNothing)
	if c == checkNothing {
		return status, body
	}
	exs := h.rec.Exchanges()
	ex := exs[len(exs)-1]
	switch c {
	case checkResponse:
		ex.SkipRequest = true
	case checkRequest:
		ex.Status = 0
	}
	if err := testutil.LoadSpec(t, "runai-openapi-delta.json").Validate(ex); err != nil {
		t.Errorf("GET %s breaks the delta document: %v\nbody: %s", path, err, excerpt(body))
	}
	return status, body
}

func (h *harness) getDeltaJSON(t *testing.T, path string, want int, v any) {
	t.Helper()
	status, body := h.getDelta(t, path, checkAll)
	if status != want {
		t.Fatalf("GET %s: status %d, want %d: %s", path, status, want, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, body)
	}
}

func TestVersion222HasNoTenantNodes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, runaisim.Options{})
	for _, path := range []string{"/api/v1/nodes", "/api/v1/nodes/count", "/api/v1/nodes?limit=5"} {
		// The document of 2.22 has no such operation: nothing to validate.
		status, body := h.get(t, path, checkNothing)
		if e := decodeError(t, body); status != 404 || e.Code != 404 || e.Message != "Resource not found." {
			t.Fatalf("2.22 GET %s: %d %s, want the 404 of an unknown route", path, status, body)
		}
	}
	// No bearer: an unknown route is unknown before authentication.
	if status, _ := h.do(t, http.MethodGet, "/api/v1/nodes/count", "", "", checkNothing); status != 404 {
		t.Fatalf("2.22 without a bearer: %d, want 404", status)
	}
	if got := h.sim.Control().Count("GET /api/v1/nodes/count"); got != 2 {
		t.Fatalf("count route counted %d times, want 2 (a probe shows in /_sim/stats)", got)
	}
	// clusterUuid is no filter field before 2.23.
	cl := h.sim.Fleet().Clusters[0].UUID
	if status, _ := h.get(t, "/api/v1/clusters/"+cl+"/nodes?filterBy=clusterUuid=="+cl, checkNothing); status != 400 {
		t.Fatalf("2.22 filterBy clusterUuid: %d, want 400", status)
	}
}

func TestTenantNodes(t *testing.T) {
	t.Parallel()
	for _, version := range []string{runaisim.Version223, runaisim.Version224} {
		t.Run(version, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, runaisim.Options{Version: version, Clusters: 3, PoolsPerCluster: 2, NodesPerPool: 3})
			fleet := h.sim.Fleet()
			if v := *fleet.Clusters[0].Version; !strings.HasPrefix(v, version+".") {
				t.Fatalf("cluster version %q, want the %s release", v, version)
			}
			all := names(fleet.Nodes)
			cl := fleet.Clusters[1].UUID
			var inCluster []string
			for _, n := range fleet.Nodes {
				if n.ClusterUUID == cl {
					inCluster = append(inCluster, n.Name)
				}
			}
			byCluster := slices.Clone(fleet.Nodes)
			slices.SortStableFunc(byCluster, func(a, b runai.Node) int { return -strings.Compare(a.ClusterUUID, b.ClusterUUID) })

			tests := []struct {
				query string
				want  []string
			}{
				{"", all},
				{"limit=500", all},
				{"offset=4&limit=5", all[4:9]},
				{"offset=100", nil},
				{"filterBy=clusterUuid==" + cl, inCluster},
				{"filterBy=clusterUuid!=" + cl + ",clusterUuid==" + cl, nil},
				{"sortBy=clusterUuid&sortOrder=desc", names(byCluster)},
				{"search=" + strings.ToUpper(all[7]), all[7:8]},
			}
			for _, tt := range tests {
				var got nodesBody
				h.getDeltaJSON(t, "/api/v1/nodes?"+tt.query, 200, &got)
				if !slices.Equal(names(got.Nodes), tt.want) {
					t.Errorf("?%s: %v, want %v", tt.query, names(got.Nodes), tt.want)
				}
				for _, n := range got.Nodes {
					if n.ClusterUUID == "" {
						t.Errorf("?%s: node %s without clusterUuid", tt.query, n.Name)
					}
				}
				var count struct{ Count int }
				if !strings.Contains(tt.query, "offset") && !strings.Contains(tt.query, "sortBy") && !strings.Contains(tt.query, "limit") {
					h.getDeltaJSON(t, "/api/v1/nodes/count?"+tt.query, 200, &count)
					if count.Count != len(tt.want) {
						t.Errorf("count ?%s: %d, want %d", tt.query, count.Count, len(tt.want))
					}
				}
			}
			// The default page is 50; the per-cluster listing filters by clusterUuid too.
			var got nodesBody
			h.getDeltaJSON(t, "/api/v1/clusters/"+cl+"/nodes?filterBy=clusterUuid=="+cl, 200, &got)
			if !slices.Equal(names(got.Nodes), inCluster) {
				t.Errorf("per-cluster listing filtered by its own cluster: %v, want %v", names(got.Nodes), inCluster)
			}

			// The vendor's 400 bodies. get_tenant_nodes declares no 400
			// (count_tenant_nodes does): checked as far as the request goes.
			for _, bad := range []struct{ path, msg string }{
				{"/api/v1/nodes?limit=501", "Bad request - limit must be an integer within 1..500"},
				{"/api/v1/nodes?limit=0", "Bad request - limit must be an integer within 1..500"},
				{"/api/v1/nodes?offset=-1", "Bad request - offset must be an integer within 0..2147483647"},
				{"/api/v1/nodes?filterBy=color==red", `Bad request - invalid filterBy "color==red"`},
				{"/api/v1/nodes?sortBy=color", `Bad request - invalid sortBy "color"`},
				{"/api/v1/nodes?sortOrder=up", "Bad request - sortOrder must be one of asc, desc"},
				{"/api/v1/nodes/count?filterBy=name==a,", "Bad request - filterBy has an empty item"},
			} {
				status, body := h.getDelta(t, bad.path, checkNothing)
				if e := decodeError(t, body); status != 400 || e.Code != 400 || e.Message != bad.msg {
					t.Errorf("GET %s: %d %+v, want 400 %q", bad.path, status, e, bad.msg)
				}
			}
			status, body := h.getDelta(t, "/api/v1/nodes/count?filterBy=color==red", checkResponse)
			if status != 400 {
				t.Errorf("count with a bad filter: %d %s", status, body)
			}
			// Authentication as on every route.
			if status, _ := h.do(t, http.MethodGet, "/api/v1/nodes", "", "", checkNothing); status != 401 {
				t.Errorf("no bearer: %d, want 401", status)
			}
		})
	}
}

func TestTenantNodesFaultsAndCounters(t *testing.T) {
	t.Parallel()
	h := newHarness(t, runaisim.Options{Version: runaisim.Version223})
	ctl := h.sim.Control()
	h.getDelta(t, "/api/v1/nodes", checkAll)
	h.getDelta(t, "/api/v1/nodes?offset=50", checkAll)
	h.getDelta(t, "/api/v1/nodes/count", checkAll)
	if a, b := ctl.Count("GET /api/v1/nodes"), ctl.Count("GET /api/v1/nodes/count"); a != 2 || b != 1 {
		t.Fatalf("counted %d listings and %d counts, want 2 and 1", a, b)
	}
	if err := ctl.SetFaults(simctl.Faults{ErrorRate: 1, ErrorStatus: 503, Routes: []string{"GET /api/v1/nodes"}}); err != nil {
		t.Fatal(err)
	}
	status, body := h.getDelta(t, "/api/v1/nodes", checkAll)
	if e := decodeError(t, body); status != 503 || e.Message != "Please try again in few minutes." {
		t.Fatalf("fault: %d %+v", status, e)
	}
	if status, _ := h.getDelta(t, "/api/v1/nodes/count", checkAll); status != 200 {
		t.Fatalf("a route outside the fault: %d", status)
	}
}

// groupedBody is GroupedMetricsResponse.
type groupedBody struct {
	Measurements []struct {
		Type   string            `json:"type"`
		Labels map[string]string `json:"labels"`
		Values []struct {
			Value     string `json:"value"`
			Timestamp string `json:"timestamp"`
		} `json:"values"`
		Groups []struct{ Key, Value string } `json:"groups"`
	} `json:"measurements"`
}

// series returns the values of the measurement of typ (and group, when
// not empty) as floats; nil when it has none.
func (b groupedBody) series(t *testing.T, typ, group string) []float64 {
	t.Helper()
	for _, m := range b.Measurements {
		g := ""
		if len(m.Groups) > 0 {
			g = m.Groups[0].Value
		}
		if m.Type != typ || g != group || m.Labels != nil {
			continue
		}
		if m.Values == nil {
			return nil
		}
		out := make([]float64, len(m.Values))
		for i, v := range m.Values {
			f, err := strconv.ParseFloat(v.Value, 64)
			if err != nil {
				t.Fatalf("%s: value %q", typ, v.Value)
			}
			out[i] = f
		}
		return out
	}
	t.Fatalf("no %s measurement (group %q)", typ, group)
	return nil
}

func clusterMetricsPath(cluster string, types []string, extra string) string {
	q := url.Values{}
	q.Set("metricType", strings.Join(types, ","))
	q.Set("start", t0.Format(time.RFC3339Nano))
	q.Set("end", t1.Format(time.RFC3339Nano))
	q.Set("numberOfSamples", "7")
	p := "/api/v1/clusters/" + cluster + "/metrics?" + q.Encode()
	if extra != "" {
		p += "&" + extra
	}
	return p
}

func poolMetricsPath(cluster, pool string, types []string) string {
	return strings.Replace(clusterMetricsPath(cluster, types, ""), "/metrics?", "/nodepools/"+pool+"/metrics?", 1)
}

func TestClusterMetricsAgreeWithPools(t *testing.T) {
	t.Parallel()
	h := newHarness(t, runaisim.Options{Version: runaisim.Version224, Seed: 3})
	fleet := h.sim.Fleet()
	cl := fleet.Clusters[0].UUID
	var pools []string
	for _, p := range fleet.NodePools {
		if p.ClusterID == cl {
			pools = append(pools, p.Name)
		}
	}
	additive := []string{"TOTAL_GPU_NODES", "TOTAL_GPU", "ALLOCATED_GPU", "UNALLOCATED_GPU", "GPU_QUOTA", "WORKLOADS_COUNT"}
	types := append(slices.Clone(additive), "GPU_UTILIZATION", "AVG_WORKLOAD_WAIT_TIME")

	var total groupedBody
	h.getDeltaJSON(t, clusterMetricsPath(cl, types, ""), 200, &total)
	var grouped groupedBody
	// The CPU-only pool has no GPU utilisation: values null, 207.
	h.getDeltaJSON(t, clusterMetricsPath(cl, types, "groupBy=Nodepool"), 207, &grouped)
	if len(grouped.Measurements) != len(types)*len(pools) {
		t.Fatalf("%d grouped measurements, want %d types × %d pools", len(grouped.Measurements), len(types), len(pools))
	}
	for _, m := range grouped.Measurements {
		if len(m.Groups) != 1 || m.Groups[0].Key != "Nodepool" || !slices.Contains(pools, m.Groups[0].Value) {
			t.Fatalf("%s: groups %+v", m.Type, m.Groups)
		}
	}
	for _, pool := range pools {
		var pm groupedBody
		status, body := h.getDelta(t, poolMetricsPath(cl, pool, types), checkAll)
		if status != 200 && status != 207 {
			t.Fatalf("pool metrics: %d %s", status, body)
		}
		if err := json.Unmarshal(body, &pm); err != nil {
			t.Fatal(err)
		}
		for _, typ := range types {
			if got, want := grouped.series(t, typ, pool), pm.series(t, typ, ""); !slices.Equal(got, want) {
				t.Errorf("%s of pool %s: grouped %v, node-pool metrics %v", typ, pool, got, want)
			}
		}
		var filtered groupedBody
		status, body = h.getDelta(t, clusterMetricsPath(cl, types, "nodepoolName="+pool), checkAll)
		if err := json.Unmarshal(body, &filtered); err != nil || (status != 200 && status != 207) {
			t.Fatalf("nodepoolName=%s: %d %s", pool, status, body)
		}
		for _, typ := range types {
			if got, want := filtered.series(t, typ, ""), grouped.series(t, typ, pool); !slices.Equal(got, want) {
				t.Errorf("%s filtered to %s: %v, grouped %v", typ, pool, got, want)
			}
		}
	}
	for _, typ := range additive {
		want := make([]float64, 7)
		for _, pool := range pools {
			for i, v := range grouped.series(t, typ, pool) {
				want[i] += v
			}
		}
		if got := total.series(t, typ, ""); !slices.Equal(got, want) {
			t.Errorf("%s: cluster %v, sum of the pools %v", typ, got, want)
		}
	}
	// Utilisation is weighted by GPUs: within the pools' range.
	for i, v := range total.series(t, "GPU_UTILIZATION", "") {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, pool := range pools {
			if s := grouped.series(t, "GPU_UTILIZATION", pool); s != nil {
				lo, hi = min(lo, s[i]), max(hi, s[i])
			}
		}
		if v < lo-0.01 || v > hi+0.01 {
			t.Errorf("GPU_UTILIZATION[%d] %v outside the pools' [%v, %v]", i, v, lo, hi)
		}
	}

	// groupBy: Nodepool only is modelled (422 for the rest), and the enum is checked.
	status, body := h.getDelta(t, clusterMetricsPath(cl, types, "groupBy=Project"), checkAll)
	if e := decodeError(t, body); status != 422 || e.Code != 422 || !strings.HasPrefix(e.Message, "Validation failed - ") {
		t.Errorf("groupBy=Project: %d %s", status, body)
	}
	if status, _ := h.getDelta(t, clusterMetricsPath(cl, types, "groupBy=Pool"), checkResponse); status != 400 {
		t.Errorf("groupBy=Pool: %d, want 400", status)
	}
	if status, _ := h.getDelta(t, clusterMetricsPath("00000000-0000-4000-8000-000000000000", types, ""), checkAll); status != 404 {
		t.Errorf("unknown cluster: %d, want 404", status)
	}
	// A pool no cluster has: nothing to aggregate.
	var none groupedBody
	h.getDeltaJSON(t, clusterMetricsPath(cl, []string{"TOTAL_GPU", "GPU_UTILIZATION"}, "nodepoolName=nope"), 207, &none)
	if s := none.series(t, "TOTAL_GPU", ""); s[0] != 0 || none.series(t, "GPU_UTILIZATION", "") != nil {
		t.Errorf("nodepoolName=nope: %+v", none)
	}
}

func TestClusterMetricsOn222(t *testing.T) {
	t.Parallel()
	h := newHarness(t, runaisim.Options{})
	cl := h.sim.Fleet().Clusters[0].UUID
	// 2.22 has the route without groupBy and nodepoolName, and is assumed
	// to ignore them: the cluster's totals, as MetricsResponse.
	var plain, ignored groupedBody
	h.getDeltaJSON(t, clusterMetricsPath(cl, []string{"TOTAL_GPU"}, ""), 200, &plain)
	h.getDeltaJSON(t, clusterMetricsPath(cl, []string{"TOTAL_GPU"}, "groupBy=Project&nodepoolName=default"), 200, &ignored)
	if len(plain.Measurements) != 1 || len(ignored.Measurements) != 1 || ignored.Measurements[0].Groups != nil ||
		!slices.Equal(plain.series(t, "TOTAL_GPU", ""), ignored.series(t, "TOTAL_GPU", "")) {
		t.Fatalf("2.22 with groupBy: %+v, want the totals %+v", ignored, plain)
	}
	if status, body := h.getDelta(t, clusterMetricsPath(cl, []string{"WORKLOADS_COUNT"}, ""), checkResponse); status != 400 {
		t.Fatalf("WORKLOADS_COUNT on 2.22: %d %s, want 400", status, body)
	}
}

func TestNVLinkTotalsByVersion(t *testing.T) {
	t.Parallel()
	tx, rx := "GPU_NVLINK_TRANSMITTED_BANDWIDTH_PER_GPU", "GPU_NVLINK_RECEIVED_BANDWIDTH_PER_GPU"
	for _, tt := range []struct {
		version, total, perGPU string
		refused                []string
	}{
		{runaisim.Version222, "", "", []string{"NVLINK_BANDWIDTH_TOTAL", "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL"}},
		{runaisim.Version223, "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL", "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL_PER_GPU", []string{"NVLINK_BANDWIDTH_TOTAL"}},
		{runaisim.Version224, "NVLINK_BANDWIDTH_TOTAL", "NVLINK_BANDWIDTH_TOTAL_PER_GPU", []string{"DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL_PER_GPU"}},
	} {
		t.Run(tt.version, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, runaisim.Options{Version: tt.version})
			fleet := h.sim.Fleet()
			for _, typ := range tt.refused {
				if status, _ := h.get(t, metricsPath(fleet.Nodes[0].ID, []string{typ}, t0, t1, "3"), checkNothing); status != 400 {
					t.Errorf("%s on %s: %d, want 400", typ, tt.version, status)
				}
			}
			if tt.total == "" {
				return
			}
			n := nodeWhere(t, fleet, isH100)
			var got metricsBody
			c := checkAll
			if tt.version == runaisim.Version223 {
				c = checkResponse // the delta document has 2.24's names
			}
			status, body := h.getDelta(t, metricsPath(n.ID, []string{tt.total, tt.perGPU, tx, rx}, t0, t1, "5"), c)
			if err := json.Unmarshal(body, &got); err != nil || status != 200 {
				t.Fatalf("%d %s", status, body)
			}
			perGPU := map[string]map[string][]float64{} // type -> gpu -> values
			for _, m := range got.Measurements {
				if perGPU[m.Type] == nil {
					perGPU[m.Type] = map[string][]float64{}
				}
				for _, v := range m.Values {
					f, _ := strconv.ParseFloat(v.Value, 64)
					perGPU[m.Type][m.Labels["gpu"]] = append(perGPU[m.Type][m.Labels["gpu"]], f)
				}
			}
			if len(perGPU[tt.perGPU]) != 8 || len(perGPU[tt.total]) != 1 {
				t.Fatalf("series: %d per GPU, %d totals; want 8 and 1", len(perGPU[tt.perGPU]), len(perGPU[tt.total]))
			}
			for i := range 5 {
				var sum float64
				for gpu, vs := range perGPU[tt.perGPU] {
					want := perGPU[tx][gpu][i] + perGPU[rx][gpu][i]
					if math.Abs(vs[i]-want) > 2 { // each value rounded to a whole byte/s
						t.Errorf("GPU %s sample %d: total %v, tx+rx %v", gpu, i, vs[i], want)
					}
					sum += vs[i]
				}
				if got := perGPU[tt.total][""][i]; math.Abs(got-sum) > 8 {
					t.Errorf("sample %d: node total %v, sum over GPUs %v", i, got, sum)
				}
			}
			// A CPU-only node has no NVLink: values null, 207.
			cpu := nodeWhere(t, fleet, func(n runai.Node) bool { return n.GPUInfo == nil })
			status, body = h.getDelta(t, metricsPath(cpu.ID, []string{tt.total}, t0, t1, "3"), c)
			if status != 207 || !strings.Contains(string(body), `"values":null`) {
				t.Errorf("CPU node: %d %s, want 207 with values null", status, body)
			}
		})
	}
}

func TestParseVersion(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"": "2.22", "2.22": "2.22", "2.23": "2.23", "2.24": "2.24"} {
		if got, err := runaisim.ParseVersion(in); err != nil || got != want {
			t.Errorf("ParseVersion(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"2.25", "v2.23", "latest"} {
		if _, err := runaisim.ParseVersion(in); err == nil {
			t.Errorf("ParseVersion(%q) accepted", in)
		}
	}
}
