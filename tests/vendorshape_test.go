package tests

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetgraph/fleetgraph/backends/simctl"
)

// rewriteJSON is a vendor that answers like the simulator, except that the
// JSON body of every 200 on a path matching path goes through edit first:
// answers within the vendor's contract that the simulator never produces.
func rewriteJSON(next http.Handler, path string, edit func(r *http.Request, body any) any) http.Handler {
	re := regexp.MustCompile(path)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !re.MatchString(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		if rec.Code == http.StatusOK {
			var v any
			if err := json.Unmarshal(body, &v); err == nil {
				body, _ = json.Marshal(edit(r, v))
			}
		}
		for k, vs := range rec.Header() {
			w.Header()[k] = vs
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body)
	})
}

func chain(next http.Handler, wraps ...func(http.Handler) http.Handler) http.Handler {
	for _, w := range wraps {
		next = w(next)
	}
	return next
}

func items(v any, key string) []any {
	m, _ := v.(map[string]any)
	list, _ := m[key].([]any)
	return list
}

// TestPoolOfAnUnlistedCluster: Run:ai leaves clusters requested for
// deletion out of GET /api/v1/clusters unless asked, while their pools and
// nodes are still listed. The pool's non-null cluster is built from its
// clusterId instead of nulling the whole nodePools answer.
func TestPoolOfAnUnlistedCluster(t *testing.T) {
	t.Parallel()
	var hidden atomic.Value
	hidden.Store("")
	e := newEnv(t, envOptions{wrapRunAI: func(h http.Handler) http.Handler {
		return rewriteJSON(h, `^/api/v1/clusters$`, func(r *http.Request, v any) any {
			list, _ := v.([]any)
			if len(list) == 0 || r.URL.Query().Get("includeRequestedForDelete") == "true" {
				return v
			}
			hidden.Store(list[0].(map[string]any)["uuid"].(string))
			return list[1:] // a spec-shaped listing without the first cluster
		})
	}})
	_ = e.query(t, `{ clusters { id } }`, nil) // learn which cluster is hidden
	gone := hidden.Load().(string)
	if gone == "" {
		t.Fatal("no cluster hidden")
	}
	e.resetCounters()
	r := e.query(t, `{
		nodePools(first: 500) { totalCount edges { node { name provider cluster { id name vendorId state provider backend version raw } } } }
		nodes(first: 500) { totalCount edges { node { name cluster { vendorId state } } } } }`, nil)
	if len(r.Errors) != 0 {
		t.Fatalf("errors %+v", r.Errors)
	}
	var data struct {
		NodePools struct {
			TotalCount int
			Edges      []struct {
				Node struct {
					Name, Provider string
					Cluster        *struct {
						ID, Name, VendorID, Provider, Backend string
						State, Version                        *string
						Raw                                   json.RawMessage
					}
				}
			}
		}
		Nodes struct {
			TotalCount int
			Edges      []struct {
				Node struct {
					Name    string
					Cluster *struct {
						VendorID string
						State    *string
					}
				}
			}
		}
	}
	if err := json.Unmarshal(r.Data, &data); err != nil {
		t.Fatal(err)
	}
	want := len(e.ra.Fleet().NodePools)
	orphans := 0
	for _, edge := range data.NodePools.Edges {
		c := edge.Node.Cluster
		if c == nil {
			t.Fatalf("pool %s without a cluster: %s", edge.Node.Name, r.Data)
		}
		if c.VendorID == gone {
			orphans++
			if c.Name != gone || c.State == nil || *c.State != "Unknown" || c.Version != nil || string(c.Raw) != "{}" ||
				c.Provider != "RUNAI" || c.Backend != "runai-a" || c.ID == "" {
				t.Fatalf("cluster of an unlisted pool: %+v raw %s", c, c.Raw)
			}
		}
	}
	if orphans == 0 || data.NodePools.TotalCount < want {
		t.Fatalf("%d pools of the hidden cluster, %d pools, want >= %d: %s", orphans, data.NodePools.TotalCount, want, r.Data)
	}
	for _, edge := range data.Nodes.Edges {
		if edge.Node.Cluster == nil {
			t.Fatalf("node %s without a cluster", edge.Node.Name)
		}
	}
	// One cluster listing for the whole request, like any other.
	if n := e.ra.Control().Count("GET /api/v1/clusters"); n != 1 {
		t.Fatalf("%d cluster listings, want 1", n)
	}
	if h := e.do(t, "GET", "/healthz", nil); h.status != 200 {
		t.Fatalf("/healthz %d", h.status)
	}
}

// TestUnknownVendorEnums: a node status, a pool phase, a cluster state, a
// ModelArts node and pool phase, and a metric type of a newer vendor
// version map to UNKNOWN (or pass through as strings) with the vendor's
// string kept, never an error.
func TestUnknownVendorEnums(t *testing.T) {
	t.Parallel()
	first := func(list []any, f func(m map[string]any)) {
		if len(list) > 0 {
			if m, ok := list[0].(map[string]any); ok {
				f(m)
			}
		}
	}
	status := func(m map[string]any) map[string]any {
		s, _ := m["status"].(map[string]any)
		if s == nil {
			s = map[string]any{}
			m["status"] = s
		}
		return s
	}
	var extra atomic.Int64 // metrics answers with a type of a newer version
	e := newEnv(t, envOptions{
		wrapRunAI: func(h http.Handler) http.Handler {
			return chain(h,
				func(h http.Handler) http.Handler {
					return rewriteJSON(h, `^/api/v1/clusters$`, func(_ *http.Request, v any) any {
						l, _ := v.([]any)
						first(l, func(m map[string]any) { status(m)["state"] = "Hibernating" })
						return v
					})
				},
				func(h http.Handler) http.Handler {
					return rewriteJSON(h, `^/api/v1/clusters/[^/]+/nodes$`, func(_ *http.Request, v any) any {
						first(items(v, "nodes"), func(m map[string]any) { m["status"] = "Cordoned" })
						return v
					})
				},
				func(h http.Handler) http.Handler {
					return rewriteJSON(h, `^/api/v1/node-pools$`, func(_ *http.Request, v any) any {
						first(items(v, "nodepools"), func(m map[string]any) { m["phase"] = "Draining" })
						return v
					})
				},
				func(h http.Handler) http.Handler {
					return rewriteJSON(h, `^/api/v1/nodes/[^/]+/metrics$`, func(_ *http.Request, v any) any {
						extra.Add(1)
						m, _ := v.(map[string]any)
						ms, _ := m["measurements"].([]any)
						m["measurements"] = append(ms, map[string]any{"type": "GPU_QUANTUM_UTILIZATION", "labels": nil,
							"values": []any{map[string]any{"value": "1", "timestamp": "2026-11-25T10:00:00Z"}}})
						return v
					})
				})
		},
		wrapModelArts: func(h http.Handler) http.Handler {
			return chain(h,
				func(h http.Handler) http.Handler {
					return rewriteJSON(h, `^/v2/[^/]+/pools$`, func(_ *http.Request, v any) any {
						first(items(v, "items"), func(m map[string]any) { status(m)["phase"] = "Upgrading" })
						return v
					})
				},
				func(h http.Handler) http.Handler {
					return rewriteJSON(h, `^/v2/[^/]+/pools/[^/]+/nodes$`, func(_ *http.Request, v any) any {
						first(items(v, "items"), func(m map[string]any) { status(m)["phase"] = "Frozen" })
						return v
					})
				})
		},
	})
	now := time.Now().UTC().Truncate(time.Minute)
	r := e.query(t, `query($from: DateTime!, $to: DateTime!) {
		clusters { provider state }
		nodePools(first: 500) { edges { node { provider phase vendorPhase } } }
		unknown: nodePools(filter: {phase: [UNKNOWN]}) { totalCount }
		nodes(first: 500) { edges { node { provider status vendorStatus
			metrics(types: [CPU_UTILIZATION], start: $from, end: $to, samples: 2) { type } } } }
		fleetSummary { nodes } }`, map[string]any{"from": now.Add(-time.Hour).Format(time.RFC3339), "to": now.Format(time.RFC3339)})
	if len(r.Errors) != 0 {
		t.Fatalf("errors %+v", r.Errors)
	}
	var data struct {
		Clusters  []struct{ Provider, State string }
		NodePools struct {
			Edges []struct {
				Node struct {
					Provider, Phase string
					VendorPhase     *string
				}
			}
		}
		Unknown struct{ TotalCount int }
		Nodes   struct {
			Edges []struct {
				Node struct {
					Provider, Status, VendorStatus string
					Metrics                        []struct{ Type string }
				}
			}
		}
	}
	if err := json.Unmarshal(r.Data, &data); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, c := range data.Clusters {
		seen["cluster "+c.Provider+" "+c.State] = true
	}
	for _, edge := range data.NodePools.Edges {
		p := edge.Node
		switch {
		case p.Provider == "RUNAI" && p.VendorPhase == nil:
			t.Fatalf("Run:ai pool without vendorPhase: %+v", p)
		case p.Provider == "RUNAI" && *p.VendorPhase == "Draining":
			seen["pool "+p.Phase] = true
		case p.Provider == "RUNAI" && p.Phase == "UNKNOWN":
			t.Fatalf("known phase %s mapped to UNKNOWN", *p.VendorPhase)
		case p.Provider == "MODELARTS" && p.VendorPhase != nil:
			t.Fatalf("ModelArts pool with a vendorPhase: %+v", p)
		}
	}
	for _, edge := range data.Nodes.Edges {
		n := edge.Node
		if n.VendorStatus == "Cordoned" || n.VendorStatus == "Frozen" {
			seen["node "+n.Provider+" "+n.Status+" "+n.VendorStatus] = true
		}
		if len(n.Metrics) > 0 {
			seen["metrics"] = true
		}
		for _, m := range n.Metrics {
			if m.Type != "CPU_UTILIZATION" {
				t.Fatalf("metrics field answered an unrequested type %s", m.Type)
			}
		}
	}
	for _, want := range []string{"cluster RUNAI Hibernating", "cluster MODELARTS Upgrading", "pool UNKNOWN",
		"node RUNAI UNKNOWN Cordoned", "node MODELARTS UNKNOWN Frozen", "metrics"} {
		if !seen[want] {
			t.Errorf("missing %q in %v", want, seen)
		}
	}
	if extra.Load() == 0 {
		t.Error("no metrics answer carried the unknown type")
	}
	if data.Unknown.TotalCount != 1 {
		t.Errorf("filter phase UNKNOWN: %d pools, want 1", data.Unknown.TotalCount)
	}
}

// TestPoolsStandWhenTheClusterListingFails: the pools listing answered, the
// cluster listing did not. Each pool keeps a cluster built from its
// clusterId, with the listing's error beside it, instead of the whole
// nodePools answer (ModelArts pools included) going null.
func TestPoolsStandWhenTheClusterListingFails(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	if err := e.ra.Control().SetFaults(simctl.Faults{ErrorRate: 1, ErrorStatus: 503, Routes: []string{"GET /api/v1/clusters"}}); err != nil {
		t.Fatal(err)
	}
	r := e.query(t, `{ nodePools(first: 500) { totalCount edges { node { name provider cluster { vendorId state } } } } }`, nil)
	var data struct {
		NodePools *struct {
			TotalCount int
			Edges      []struct {
				Node struct {
					Name, Provider string
					Cluster        *struct {
						VendorID string
						State    *string
					}
				}
			}
		}
	}
	if err := json.Unmarshal(r.Data, &data); err != nil {
		t.Fatal(err)
	}
	if data.NodePools == nil || data.NodePools.TotalCount != len(data.NodePools.Edges) {
		t.Fatalf("nodePools %.500s", r.Data)
	}
	runai := 0
	for _, edge := range data.NodePools.Edges {
		c := edge.Node.Cluster
		if c == nil {
			t.Fatalf("pool %s without a cluster", edge.Node.Name)
		}
		if edge.Node.Provider == "RUNAI" {
			runai++
			if c.State == nil || *c.State != "Unknown" || c.VendorID == "" {
				t.Fatalf("cluster of %s: %+v", edge.Node.Name, c)
			}
		}
	}
	if runai != len(e.ra.Fleet().NodePools) || runai == len(data.NodePools.Edges) {
		t.Fatalf("%d Run:ai pools of %d, want %d and ModelArts pools", runai, len(data.NodePools.Edges), len(e.ra.Fleet().NodePools))
	}
	if len(r.Errors) == 0 {
		t.Fatal("no error for the failed cluster listing")
	}
	for _, err := range r.Errors {
		if err.Extensions["code"] != "UPSTREAM_UNAVAILABLE" || len(err.Path) == 0 || err.Path[len(err.Path)-1] != "cluster" {
			t.Fatalf("error %+v, want UPSTREAM_UNAVAILABLE at a cluster field", err)
		}
	}
}

// TestClustersStandWhenThePoolListingFails: the cluster listing answered,
// the pool listing did not. Each cluster answers an empty nodePools with the
// listing's error beside it, instead of the whole clusters answer (ModelArts
// clusters included) going null through the non-null list.
func TestClustersStandWhenThePoolListingFails(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	if err := e.ra.Control().SetFaults(simctl.Faults{ErrorRate: 1, ErrorStatus: 503, Routes: []string{"GET /api/v1/node-pools"}}); err != nil {
		t.Fatal(err)
	}
	r := e.query(t, `{ clusters { provider nodePools { name } } }`, nil)
	var data struct {
		Clusters []struct {
			Provider  string
			NodePools []struct{ Name string }
		}
	}
	if err := json.Unmarshal(r.Data, &data); err != nil {
		t.Fatal(err)
	}
	if len(data.Clusters) != 4 {
		t.Fatalf("clusters %.500s", r.Data)
	}
	for _, c := range data.Clusters {
		if (c.Provider == "RUNAI") != (len(c.NodePools) == 0) {
			t.Fatalf("cluster %+v", c)
		}
	}
	if len(r.Errors) == 0 {
		t.Fatal("no error for the failed pool listing")
	}
	for _, err := range r.Errors {
		if err.Extensions["code"] != "UPSTREAM_UNAVAILABLE" || len(err.Path) == 0 || err.Path[len(err.Path)-1] != "nodePools" {
			t.Fatalf("error %+v, want UPSTREAM_UNAVAILABLE at a nodePools field", err)
		}
	}
}

// TestNodesStandWhenMetricsFail: the metrics endpoints fail for every node
// and pool. Each metrics field answers empty with its error, instead of the
// whole nodes and nodePools answers going null through the non-null lists.
func TestNodesStandWhenMetricsFail(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	if err := e.ra.Control().SetFaults(simctl.Faults{ErrorRate: 1, ErrorStatus: 503, Routes: []string{
		"GET /api/v1/nodes/{nodeId}/metrics", "GET /api/v1/clusters/{clusterUuid}/nodepools/{nodepoolName}/metrics"}}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Minute)
	r := e.query(t, `query($from: DateTime!, $to: DateTime!) {
		nodes(first: 3, filter: {provider: RUNAI}) { totalCount edges { node { name metrics(types: [CPU_UTILIZATION], start: $from, end: $to) { type } } } }
		nodePools(first: 3, filter: {provider: RUNAI}) { totalCount edges { node { name metrics(types: [TOTAL_GPU], start: $from, end: $to) { type } } } } }`,
		map[string]any{"from": now.Add(-time.Hour).Format(time.RFC3339), "to": now.Format(time.RFC3339)})
	var data struct {
		Nodes, NodePools *struct {
			Edges []struct {
				Node struct {
					Name    string
					Metrics []struct{ Type string }
				}
			}
		}
	}
	if err := json.Unmarshal(r.Data, &data); err != nil {
		t.Fatal(err)
	}
	if data.Nodes == nil || data.NodePools == nil || len(data.Nodes.Edges) != 3 || len(data.NodePools.Edges) != 3 {
		t.Fatalf("data %.500s", r.Data)
	}
	if len(r.Errors) != 6 {
		t.Fatalf("%d errors, want one per metrics field: %+v", len(r.Errors), r.Errors)
	}
	for _, err := range r.Errors {
		if err.Extensions["code"] != "UPSTREAM_UNAVAILABLE" || len(err.Path) == 0 || err.Path[len(err.Path)-1] != "metrics" {
			t.Fatalf("error %+v, want UPSTREAM_UNAVAILABLE at a metrics field", err)
		}
	}
}
