package runai_test

import (
	"context"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/backends/runai"
)

// Answers that stay within the vendor's contract (the OpenAPI document
// forbids neither extra properties, nor null items, nor these strings) but
// that the simulator never sends.

// recorder is a backends.Observer that keeps the counts.
type recorder struct {
	mu      sync.Mutex
	nulls   map[string]int // backend/kind
	samples map[string]int
}

func (r *recorder) NullItems(backend, kind string, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.nulls[backend+"/"+kind] += n
}

func (r *recorder) DroppedSamples(backend, kind string, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.samples[backend+"/"+kind] += n
}

func (r *recorder) counts() (nulls, samples map[string]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.nulls), maps.Clone(r.samples)
}

// observedServer is fakeServer with an Observer on the client.
func observedServer(t *testing.T, h http.HandlerFunc) (*runai.Client, *recorder) {
	t.Helper()
	srv := httptest.NewServer(http.StripPrefix(prefix, h))
	t.Cleanup(srv.Close)
	rec := &recorder{nulls: map[string]int{}, samples: map[string]int{}}
	c, err := runai.New(runai.Config{Name: "runai-fake", BaseURL: srv.URL + prefix, PassThrough: true, HTTPClient: srv.Client(), PageSize: 2, Observer: rec})
	if err != nil {
		t.Fatal(err)
	}
	return c, rec
}

func callerCtx(t *testing.T) context.Context {
	return backends.WithCredentials(t.Context(), backends.Credentials{RunAIBearer: "caller-token"})
}

const pagedNode = `{"id":"n%d","name":"n%d","clusterUuid":"c","nodePool":"p","status":"Ready","createdAt":"2025-01-01T00:00:00Z","updatedAt":"2025-01-01T00:00:00Z"}`

func nodeJSON(i int) string {
	return strings.ReplaceAll(pagedNode, "%d", strconv.Itoa(i))
}

func TestListingsIgnoreUnknownKeys(t *testing.T) {
	t.Parallel()
	// Page size 2 (fakeServer): three nodes take two pages.
	c, _ := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/nodes"):
			items := []string{nodeJSON(1), nodeJSON(2)}
			next := `"/api/v1/clusters/c/nodes?offset=2"`
			if r.URL.Query().Get("offset") == "2" {
				items, next = []string{nodeJSON(3)}, "null"
			}
			io.WriteString(w, `{"nodes":[`+strings.Join(items, ",")+`],"next":`+next+`,"total":3,"links":{"self":"x"},"unknownList":[1,"a",{}]}`)
		case strings.HasSuffix(r.URL.Path, "/node-pools"):
			io.WriteString(w, `{"total":1,"nodepools":[{"id":"1","name":"p","clusterId":"c","futureField":{"a":[1]}}],"next":null}`)
		case strings.HasSuffix(r.URL.Path, "/count"):
			io.WriteString(w, `{"count":3,"approximate":false}`)
		default:
			io.WriteString(w, `{"measurements":[{"type":"GPU_UTILIZATION","values":[{"value":"1","timestamp":"2025-01-01T00:00:00Z","quality":"good"}],"unit":"%"}],"window":"1m"}`)
		}
	})
	ctx := callerCtx(t)
	nodes, err := c.ListNodes(ctx, "c", nil)
	if err != nil || len(nodes) != 3 || nodes[2].ID != "n3" {
		t.Fatalf("ListNodes: %d nodes, %v; want 3", len(nodes), err)
	}
	pools, err := c.ListNodePools(ctx, nil)
	if err != nil || len(pools) != 1 || pools[0].Name != "p" {
		t.Fatalf("ListNodePools: %+v, %v", pools, err)
	}
	if n, err := c.CountNodes(ctx, "c", nil); err != nil || n != 3 {
		t.Fatalf("CountNodes: %d, %v", n, err)
	}
	m, err := c.NodeMetrics(ctx, "n1", runai.MetricsOptions{Types: []string{"GPU_UTILIZATION"}, Start: start, End: end})
	if err != nil || len(m.Measurements) != 1 || len(m.Measurements[0].Values) != 1 {
		t.Fatalf("NodeMetrics: %+v, %v", m, err)
	}
}

func TestNonFiniteSamplesAreDropped(t *testing.T) {
	t.Parallel()
	c, rec := observedServer(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/telemetry") {
			io.WriteString(w, `{"type":"TOTAL_GPUS","timestamp":"2025-01-01T00:00:00Z","values":[{"value":"NaN","groups":[{"key":"Nodepool","value":"a"}]},{"value":"8","groups":[{"key":"Nodepool","value":"b"}]},{"value":"+Inf"}]}`)
			return
		}
		io.WriteString(w, `{"measurements":[{"type":"GPU_UTILIZATION","values":[
			{"value":"NaN","timestamp":"2025-01-01T00:00:00Z"},
			{"value":"42.5","timestamp":"2025-01-01T00:01:00Z"},
			{"value":"+Inf","timestamp":"2025-01-01T00:02:00Z"},
			{"value":"-Inf","timestamp":"2025-01-01T00:03:00Z"},
			{"value":"n/a","timestamp":"2025-01-01T00:04:00Z"},
			{"value":null,"timestamp":"2025-01-01T00:05:00Z"},
			{"value":"1e400","timestamp":"2025-01-01T00:06:00Z"},
			{"value":"7","timestamp":"2025-01-01T00:07:00Z"}]},
			{"type":"CPU_UTILIZATION","values":[{"value":"nan","timestamp":"2025-01-01T00:00:00Z"}]}]}`)
	})
	ctx := callerCtx(t)
	resp, err := c.NodeMetrics(ctx, "n1", runai.MetricsOptions{Types: []string{"GPU_UTILIZATION", "CPU_UTILIZATION"}, Start: start, End: end})
	if err != nil {
		t.Fatalf("NodeMetrics: %v", err)
	}
	gpu := resp.Measurements[0].Values
	if len(gpu) != 2 || gpu[0].Value != 42.5 || gpu[1].Value != 7 {
		t.Fatalf("GPU_UTILIZATION samples %+v, want the two finite ones (42.5, 7)", gpu)
	}
	// Every sample dropped: still a series (with no points), not a missing one.
	if cpu := resp.Measurements[1].Values; cpu == nil || len(cpu) != 0 {
		t.Fatalf("CPU_UTILIZATION samples %+v, want an empty, non-nil series", cpu)
	}
	tel, err := c.NodeTelemetry(ctx, runai.TelemetryOptions{Type: "TOTAL_GPUS"})
	if err != nil || len(tel.Values) != 1 || tel.Values[0].Value != 8 || tel.Values[0].Groups[0].Value != "b" {
		t.Fatalf("NodeTelemetry: %+v, %v; want only group b = 8", tel, err)
	}
	nulls, samples := rec.counts()
	if want := map[string]int{"runai-fake/metrics": 7, "runai-fake/telemetry": 2}; !maps.Equal(samples, want) || len(nulls) != 0 {
		t.Fatalf("dropped samples %v, null items %v; want %v and none", samples, nulls, want)
	}
}

func TestNullItemsAreSkipped(t *testing.T) {
	t.Parallel()
	c, rec := observedServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Query().Get("offset") == "2" && strings.HasSuffix(r.URL.Path, "/node-pools"):
			// Null items hold places: the second page starts at 2.
			io.WriteString(w, `{"nodepools":[{"id":"2","name":"q","clusterId":"c"}]}`)
		case r.URL.Query().Get("offset") != "" && r.URL.Query().Get("offset") != "0":
			io.WriteString(w, `{"nodes":[],"nodepools":[]}`)
		case strings.HasSuffix(r.URL.Path, "/nodes"):
			io.WriteString(w, `{"nodes":[null,`+strings.Replace(nodeJSON(1), `"status"`, `"conditions":[null,{"type":"Ready","reason":"x"}],"taints":[null],"status"`, 1)+`]}`)
		case strings.HasSuffix(r.URL.Path, "/node-pools"):
			io.WriteString(w, `{"nodepools":[{"id":"1","name":"p","clusterId":"c","status":{"nodes":[null,"n1"]}},null]}`)
		case strings.HasSuffix(r.URL.Path, "/clusters"):
			io.WriteString(w, `[null,{"uuid":"c","name":"c1","createdAt":"2025-01-01T00:00:00Z"},null]`)
		case strings.HasSuffix(r.URL.Path, "/telemetry"):
			io.WriteString(w, `{"type":"TOTAL_GPUS","values":[null,{"value":"3","groups":[null]}]}`)
		default:
			io.WriteString(w, `{"measurements":[null,{"type":"GPU_UTILIZATION","values":[null,{"value":"5","timestamp":"2025-01-01T00:00:00Z"},null]}]}`)
		}
	})
	ctx := callerCtx(t)
	nodes, err := c.ListNodes(ctx, "c", nil)
	if err != nil || len(nodes) != 1 || nodes[0].Name != "n1" || len(nodes[0].Conditions) != 1 || len(nodes[0].Taints) != 0 {
		t.Fatalf("ListNodes: %+v, %v; want one node with one condition and no taint", nodes, err)
	}
	pools, err := c.ListNodePools(ctx, nil)
	if err != nil || len(pools) != 2 || len(pools[0].Status.Nodes) != 1 || pools[0].Status.Nodes[0] != "n1" || pools[1].Name != "q" {
		t.Fatalf("ListNodePools: %+v, %v", pools, err)
	}
	clusters, err := c.ListClusters(ctx)
	if err != nil || len(clusters) != 1 || clusters[0].UUID != "c" {
		t.Fatalf("ListClusters: %+v, %v", clusters, err)
	}
	m, err := c.NodeMetrics(ctx, "n1", runai.MetricsOptions{Types: []string{"GPU_UTILIZATION"}, Start: start, End: end})
	if err != nil || len(m.Measurements) != 1 || len(m.Measurements[0].Values) != 1 || m.Measurements[0].Values[0].Value != 5 {
		t.Fatalf("NodeMetrics: %+v, %v", m, err)
	}
	tel, err := c.NodeTelemetry(ctx, runai.TelemetryOptions{Type: "TOTAL_GPUS"})
	if err != nil || len(tel.Values) != 1 || tel.Values[0].Value != 3 || len(tel.Values[0].Groups) != 0 {
		t.Fatalf("NodeTelemetry: %+v, %v", tel, err)
	}
	nulls, samples := rec.counts()
	want := map[string]int{"runai-fake/nodes": 3, "runai-fake/node-pools": 2, "runai-fake/clusters": 2, "runai-fake/metrics": 3, "runai-fake/telemetry": 2}
	if !maps.Equal(nulls, want) || len(samples) != 0 {
		t.Fatalf("null items %v, dropped samples %v; want %v and none", nulls, samples, want)
	}
}

func TestRequestIDOfAnIngress(t *testing.T) {
	t.Parallel()
	c, _ := observedServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-Id", "ingress-7f3a")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"code":404,"message":"Resource id not found."}`)
	})
	_, err := c.GetNodePool(callerCtx(t), "5")
	if ae, ok := errors.AsType[*backends.APIError](err); !ok || ae.RequestID != "ingress-7f3a" {
		t.Fatalf("err %v, want RequestID ingress-7f3a", err)
	}
}

func TestItemsWithoutIdentityAreSkipped(t *testing.T) {
	t.Parallel()
	c, rec := observedServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Query().Get("offset") != "" && r.URL.Query().Get("offset") != "0":
			io.WriteString(w, `{}`)
		case strings.HasSuffix(r.URL.Path, "/nodes"):
			io.WriteString(w, `{"nodes":[{"id":"x","name":"","status":"Ready"},`+nodeJSON(1)+`]}`)
		case strings.HasSuffix(r.URL.Path, "/node-pools"):
			io.WriteString(w, `{"nodepools":[{"id":"","name":"p"},{"id":"2","name":""},{"id":"3","name":"q"}]}`)
		default:
			io.WriteString(w, `[{"uuid":"","name":"c0"},{"uuid":"c","name":"c1"}]`)
		}
	})
	ctx := callerCtx(t)
	nodes, err := c.ListNodes(ctx, "c", nil)
	if err != nil || len(nodes) != 1 || nodes[0].Name != "n1" {
		t.Fatalf("ListNodes: %+v, %v", nodes, err)
	}
	pools, err := c.ListNodePools(ctx, nil)
	if err != nil || len(pools) != 1 || pools[0].ID != "3" {
		t.Fatalf("ListNodePools: %+v, %v", pools, err)
	}
	clusters, err := c.ListClusters(ctx)
	if err != nil || len(clusters) != 1 || clusters[0].UUID != "c" {
		t.Fatalf("ListClusters: %+v, %v", clusters, err)
	}
	nulls, _ := rec.counts()
	if want := map[string]int{"runai-fake/nodes": 1, "runai-fake/node-pools": 2, "runai-fake/clusters": 1}; !maps.Equal(nulls, want) {
		t.Fatalf("skipped items %v, want %v", nulls, want)
	}
}

func TestEmptyPathParameterMakesNoCall(t *testing.T) {
	t.Parallel()
	calls := 0
	var mu sync.Mutex
	c, _ := observedServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		io.WriteString(w, `{"nodepools":[]}`)
	})
	ctx := callerCtx(t)
	if _, err := c.GetNodePool(ctx, ""); !errors.Is(err, backends.ErrBadRequest) {
		t.Fatalf("GetNodePool(\"\"): %v, want ErrBadRequest", err)
	}
	if _, err := c.NodeMetrics(ctx, "", runai.MetricsOptions{Types: []string{"GPU_UTILIZATION"}, Start: start, End: end}); !errors.Is(err, backends.ErrBadRequest) {
		t.Fatalf("NodeMetrics(\"\"): %v, want ErrBadRequest", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != 0 {
		t.Fatalf("%d calls, want none (GET /api/v1/node-pools/ is the listing)", calls)
	}
}

func TestTimestampsOfTheVendorExamples(t *testing.T) {
	t.Parallel()
	c, _ := observedServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Query().Get("offset") != "" && r.URL.Query().Get("offset") != "0":
			io.WriteString(w, `{}`)
		case strings.HasSuffix(r.URL.Path, "/nodes"):
			io.WriteString(w, `{"nodes":[{"id":"a","name":"a","status":"Ready","createdAt":"2023-06-06 12:09:18.211","updatedAt":"yesterday"},`+nodeJSON(2)+`]}`)
		default:
			io.WriteString(w, `[{"uuid":"c","name":"c1","createdAt":"2023-06-06 12:09:18","lastLiveness":"soon","deletedAt":null}]`)
		}
	})
	ctx := callerCtx(t)
	want := time.Date(2023, 6, 6, 12, 9, 18, 211e6, time.UTC)
	nodes, err := c.ListNodes(ctx, "c", nil)
	if err != nil || len(nodes) != 2 || !nodes[0].CreatedAt.Equal(want) || !nodes[0].UpdatedAt.IsZero() || nodes[1].CreatedAt.IsZero() {
		t.Fatalf("ListNodes: %+v, %v", nodes, err)
	}
	clusters, err := c.ListClusters(ctx)
	if err != nil || len(clusters) != 1 || !clusters[0].CreatedAt.Equal(want.Truncate(time.Second)) || clusters[0].LastLiveness != nil || clusters[0].DeletedAt != nil {
		t.Fatalf("ListClusters: %+v, %v", clusters, err)
	}
}
