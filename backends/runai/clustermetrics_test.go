package runai_test

import (
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/backends/runai"
	"github.com/fleetgraph/fleetgraph/backends/runai/runaisim"
	"github.com/fleetgraph/fleetgraph/internal/testutil"
)

func TestClusterMetrics(t *testing.T) {
	t.Parallel()
	e := setupVersion(t, runaisim.Version224, nil)
	ctx := t.Context()
	fleet := e.sim.Fleet()
	cl := fleet.Clusters[0].UUID
	var pools []string
	for _, p := range fleet.NodePools {
		if p.ClusterID == cl {
			pools = append(pools, p.Name)
		}
	}
	opts := runai.ClusterMetricsOptions{MetricsOptions: runai.MetricsOptions{Types: []string{"TOTAL_GPU", runai.WorkloadsCount}, Start: start, End: end, Samples: 4}}

	total, err := e.client.ClusterMetrics(ctx, cl, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(total.Measurements) != 2 || total.Measurements[0].Type != "TOTAL_GPU" || len(total.Measurements[0].Values) != 4 || total.Measurements[0].Groups != nil {
		t.Fatalf("totals: %+v", total)
	}

	opts.GroupBy = runai.GroupByNodepool
	grouped, err := e.client.ClusterMetrics(ctx, cl, opts)
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	var seen []string
	for _, m := range grouped.Measurements {
		if len(m.Groups) != 1 || m.Groups[0].Key != runai.GroupByNodepool {
			t.Fatalf("grouped measurement %+v", m)
		}
		if m.Type == "TOTAL_GPU" {
			sum += m.Values[0].Value
			seen = append(seen, m.Groups[0].Value)
		}
	}
	if !slices.Equal(seen, pools) || sum != total.Measurements[0].Values[0].Value {
		t.Fatalf("groups %v (sum %v), want the pools %v (cluster total %v)", seen, sum, pools, total.Measurements[0].Values[0].Value)
	}

	// The CPU-only pool has no GPU utilisation: 207.
	opts.Types, opts.NodePoolName = []string{"GPU_UTILIZATION", "TOTAL_GPU"}, pools[len(pools)-1]
	resp, err := e.client.ClusterMetrics(ctx, cl, opts)
	var partial *backends.PartialError
	if !errors.As(err, &partial) || !slices.Equal(partial.Missing, []string{"GPU_UTILIZATION"}) || resp == nil || len(resp.Measurements) != 2 {
		t.Fatalf("CPU pool: %+v, %v; want a partial answer missing GPU_UTILIZATION", resp, err)
	}
	if partial.Route != "/api/v1/clusters/{clusterUuid}/metrics" {
		t.Fatalf("route %q", partial.Route)
	}

	// Grouping the simulator does not model: the vendor's 422.
	opts.GroupBy = runai.GroupByProject
	if _, err := e.client.ClusterMetrics(ctx, cl, opts); !errors.Is(err, backends.ErrBadRequest) {
		t.Fatalf("groupBy Project: %v, want ErrBadRequest (422)", err)
	}
	if _, err := e.client.ClusterMetrics(ctx, "00000000-0000-4000-8000-000000000000", runai.ClusterMetricsOptions{MetricsOptions: opts.MetricsOptions}); !errors.Is(err, backends.ErrNotFound) {
		t.Fatalf("unknown cluster: %v, want ErrNotFound", err)
	}
	// Checked before any call: no types, an empty cluster.
	calls := e.count("GET /api/v1/clusters/{clusterUuid}/metrics")
	if _, err := e.client.ClusterMetrics(ctx, cl, runai.ClusterMetricsOptions{MetricsOptions: runai.MetricsOptions{Start: start, End: end}}); !errors.Is(err, backends.ErrBadRequest) {
		t.Fatalf("no types: %v", err)
	}
	if _, err := e.client.ClusterMetrics(ctx, "", runai.ClusterMetricsOptions{MetricsOptions: opts.MetricsOptions}); !errors.Is(err, backends.ErrBadRequest) {
		t.Fatalf("empty cluster: %v", err)
	}
	if got := e.count("GET /api/v1/clusters/{clusterUuid}/metrics"); got != calls {
		t.Fatalf("%d calls for refused options", got-calls)
	}
}

func TestClusterMetricsOn222(t *testing.T) {
	t.Parallel()
	e := setupVersion(t, runaisim.Version222, nil)
	cl := e.sim.Fleet().Clusters[0].UUID
	// 2.22 is assumed to ignore groupBy: the totals, without groups.
	resp, err := e.client.ClusterMetrics(t.Context(), cl, runai.ClusterMetricsOptions{
		MetricsOptions: runai.MetricsOptions{Types: []string{"TOTAL_GPU"}, Start: start, End: end},
		GroupBy:        runai.GroupByNodepool,
	})
	if err != nil || len(resp.Measurements) != 1 || resp.Measurements[0].Groups != nil || len(resp.Measurements[0].Values) != 20 {
		t.Fatalf("ClusterMetrics on 2.22: %+v, %v", resp, err)
	}
	// WORKLOADS_COUNT came with 2.23.
	e.relax(func(ex testutil.Exchange) bool { return ex.Status == http.StatusBadRequest }, true, false)
	_, err = e.client.ClusterMetrics(t.Context(), cl, runai.ClusterMetricsOptions{MetricsOptions: runai.MetricsOptions{Types: []string{runai.WorkloadsCount}, Start: start, End: end}})
	if !errors.Is(err, backends.ErrBadRequest) {
		t.Fatalf("WORKLOADS_COUNT on 2.22: %v, want ErrBadRequest", err)
	}
}

func TestNVLinkTotalsThroughTheClient(t *testing.T) {
	t.Parallel()
	for _, v := range []runai.APIVersion{runai.V223, runai.V224} {
		t.Run(string(v), func(t *testing.T) {
			t.Parallel()
			e := setupVersion(t, string(v), nil)
			if v == runai.V223 {
				// The delta document has 2.24's names only.
				e.relax(func(ex testutil.Exchange) bool { return strings.Contains(ex.RawQuery, "DCGM_FI_DEV_") }, true, false)
			}
			total, perGPU, ok := v.NVLinkBandwidthTotalTypes()
			if !ok {
				t.Fatal("no NVLink totals")
			}
			var n runai.Node
			for _, node := range e.sim.Fleet().Nodes {
				if node.NvLinkDomainUID != nil && node.Status == runai.NodeReady {
					n = node
					break
				}
			}
			resp, err := e.client.NodeMetrics(t.Context(), n.ID, runai.MetricsOptions{Types: []string{total, perGPU}, Start: start, End: end, Samples: 3})
			if err != nil {
				t.Fatal(err)
			}
			var gpus []string
			for _, m := range resp.Measurements {
				if m.Type == perGPU {
					gpus = append(gpus, m.Labels["gpu"])
				}
			}
			if len(resp.Measurements) != 1+n.GPUInfo.GPUCount || len(gpus) != n.GPUInfo.GPUCount || resp.Measurements[0].Type != total {
				t.Fatalf("measurements %+v", resp.Measurements)
			}
		})
	}
}

func TestClusterMetricsTolerantDecoding(t *testing.T) {
	t.Parallel()
	c, rec := observedServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusMultiStatus)
		io.WriteString(w, `{"measurements":[null,
			{"type":"ALLOCATED_GPU","labels":"{'gpu': '3'}","groups":[null,{"key":"Nodepool","value":"a","rank":1}],"unit":"gpus",
			 "values":[{"value":"NaN","timestamp":"2025-01-01T00:00:00Z"},{"value":"2","timestamp":"2023-06-06 12:09:18.211"},{"value":"3","timestamp":"later"},null]},
			{"type":"TOTAL_GPU","values":null}],"window":"1m"}`)
	})
	resp, err := c.ClusterMetrics(callerCtx(t), "c", runai.ClusterMetricsOptions{MetricsOptions: runai.MetricsOptions{Types: []string{"ALLOCATED_GPU", "TOTAL_GPU"}, Start: start, End: end}, GroupBy: runai.GroupByNodepool})
	var partial *backends.PartialError
	if !errors.As(err, &partial) || !slices.Equal(partial.Missing, []string{"TOTAL_GPU"}) {
		t.Fatalf("err %v, want a partial answer missing TOTAL_GPU", err)
	}
	m := resp.Measurements[0]
	if len(resp.Measurements) != 2 || m.Labels["gpu"] != "3" || len(m.Values) != 1 || m.Values[0].Value != 2 ||
		len(m.Groups) != 1 || m.Groups[0] != (runai.MetricGroup{Key: "Nodepool", Value: "a"}) || resp.Measurements[1].Values != nil {
		t.Fatalf("response %+v", resp)
	}
	nulls, samples := rec.counts()
	if want := map[string]int{"runai-fake/metrics": 3}; !maps.Equal(nulls, want) || !maps.Equal(samples, map[string]int{"runai-fake/metrics": 2}) {
		t.Fatalf("null items %v, dropped samples %v; want %v and 2", nulls, samples, want)
	}
}

func TestClusterMetricsRequestShape(t *testing.T) {
	t.Parallel()
	c, last := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"measurements":[]}`)
	})
	opts := runai.ClusterMetricsOptions{
		MetricsOptions: runai.MetricsOptions{Types: []string{"TOTAL_GPU", runai.WorkloadsCount}, Start: start, End: end, Samples: 1000},
		GroupBy:        runai.GroupByNodepool, NodePoolName: "gpu pool",
	}
	if _, err := c.ClusterMetrics(callerCtx(t), "9f55255e-11ed-47c7-acef-fc4054768dbc", opts); err != nil {
		t.Fatal(err)
	}
	r := last()
	ex := testutil.Exchange{Method: r.Method, Path: strings.TrimPrefix(r.URL.Path, prefix), RawQuery: r.URL.RawQuery, Header: r.Header}
	if err := testutil.LoadSpec(t, "runai-openapi-delta.json").Validate(ex); err != nil {
		t.Fatal(err)
	}
	q := r.URL.Query()
	if !strings.Contains(r.URL.RawQuery, "metricType=TOTAL_GPU,WORKLOADS_COUNT") || q.Get("groupBy") != "Nodepool" || q.Get("nodepoolName") != "gpu pool" || q.Get("numberOfSamples") != "1000" {
		t.Fatalf("query %q", r.URL.RawQuery)
	}
}

// TestKnownTypesAreTheDocuments: the client's lists are the enums of
// 2.22's document and of the delta (2.24); 2.23 is 2.24 with the DCGM
// names (upstreams-2.md d.3).
func TestKnownTypesAreTheDocuments(t *testing.T) {
	t.Parallel()
	enum := func(file, schema string) []string {
		data, err := os.ReadFile(filepath.Join(testutil.SharedDir(t), file))
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Components struct {
				Schemas map[string]struct {
					Enum []string `json:"enum"`
				} `json:"schemas"`
			} `json:"components"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatal(err)
		}
		out := doc.Components.Schemas[schema].Enum
		if len(out) == 0 {
			t.Fatalf("%s: no enum %s", file, schema)
		}
		return out
	}
	node224 := enum("runai-openapi-delta.json", "NodeMetricType")
	node223 := slices.Clone(node224)
	node223[len(node223)-2], node223[len(node223)-1] = runai.DCGMNVLinkBandwidthTotal, runai.DCGMNVLinkBandwidthTotalPerGPU
	for _, tt := range []struct {
		v          runai.APIVersion
		node, pool []string
	}{
		{runai.V222, enum("runai-openapi-2.22.json", "NodeMetricType"), enum("runai-openapi-2.22.json", "MetricsType")},
		{runai.V223, node223, enum("runai-openapi-delta.json", "MetricsType")},
		{runai.V224, node224, enum("runai-openapi-delta.json", "MetricsType")},
	} {
		if got := tt.v.NodeMetricTypes(); !slices.Equal(got, tt.node) {
			t.Errorf("%s NodeMetricTypes %v, want %v", tt.v, got, tt.node)
		}
		if got := tt.v.MetricsTypes(); !slices.Equal(got, tt.pool) {
			t.Errorf("%s MetricsTypes %v, want %v", tt.v, got, tt.pool)
		}
	}
	if _, err := runai.ParseAPIVersion("2.25"); err == nil {
		t.Error("ParseAPIVersion accepted 2.25")
	}
	if v, err := runai.ParseAPIVersion("2.23"); err != nil || v != runai.V223 || !v.HasClusterMetricsGrouping() || runai.V222.HasClusterMetricsGrouping() {
		t.Errorf("ParseAPIVersion(2.23) = %q, %v", v, err)
	}
}
