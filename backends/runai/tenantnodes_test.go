package runai_test

import (
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/backends/runai"
	"github.com/fleetgraph/fleetgraph/backends/runai/runaisim"
	"github.com/fleetgraph/fleetgraph/internal/testutil"
)

// versionEnv is env against a simulator of the given version. Its
// exchanges are validated when the test ends: those of the operations that
// runai-openapi-delta.json documents against it (2.24's operations), the
// others against 2.22's document, each as relaxed by env.relax.
type versionEnv struct{ *env }

func setupVersion(t *testing.T, version string, mod func(*runai.Config)) versionEnv {
	t.Helper()
	sim := runaisim.New(runaisim.Options{Version: version})
	e := &env{sim: sim, validate: true}
	e.rec = &testutil.Recorder{Next: http.StripPrefix(prefix, sim.Handler()), StripPrefix: prefix}
	e.srv = httptest.NewServer(e.rec)
	t.Cleanup(e.srv.Close)
	cfg := runai.Config{
		Name: "runai-test", BaseURL: e.srv.URL + prefix, HTTPClient: e.srv.Client(),
		ClientID: runaisim.DefaultClientID, ClientSecret: runaisim.DefaultClientSecret,
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := runai.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.client = c
	base := testutil.LoadSpec(t, "runai-openapi-2.22.json")
	delta := testutil.LoadSpec(t, "runai-openapi-delta.json")
	t.Cleanup(func() {
		if !e.validate {
			return
		}
		e.mu.Lock()
		defer e.mu.Unlock()
		for i, ex := range e.rec.Exchanges() {
			for _, r := range e.rules {
				if r.match(ex) {
					ex.SkipRequest = ex.SkipRequest || r.skipRequest
					if r.skipResponse {
						ex.Status = 0
					}
				}
			}
			spec, name := base, "2.22's document"
			if inDocument(delta, ex) {
				spec, name = delta, "the delta document"
			}
			if err := spec.Validate(ex); err != nil {
				t.Errorf("exchange %d breaks %s: %v", i, name, err)
			}
		}
	})
	return versionEnv{e}
}

// inDocument reports whether spec documents the operation of ex.
func inDocument(spec *testutil.Spec, ex testutil.Exchange) bool {
	err := spec.Validate(testutil.Exchange{Method: ex.Method, Path: ex.Path, SkipRequest: true})
	return err == nil || !strings.Contains(err.Error(), "no such operation")
}

const (
	routeTenantNodes      = "GET /api/v1/nodes"
	routeTenantNodesCount = "GET /api/v1/nodes/count"
)

func nodeNames(nodes []runai.Node) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = n.Name
	}
	return out
}

func TestListTenantNodes(t *testing.T) {
	t.Parallel()
	for _, version := range []string{runaisim.Version223, runaisim.Version224} {
		t.Run(version, func(t *testing.T) {
			t.Parallel()
			e := setupVersion(t, version, func(c *runai.Config) { c.PageSize = 5 })
			ctx := t.Context()
			fleet := e.sim.Fleet()
			nodes, err := e.client.ListTenantNodes(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(nodeNames(nodes), nodeNames(fleet.Nodes)) {
				t.Fatalf("ListTenantNodes: %v, want every node of the fleet %v", nodeNames(nodes), nodeNames(fleet.Nodes))
			}
			// 24 nodes in pages of 5: five pages, the last one short.
			if got := e.count(routeTenantNodes); got != 5 {
				t.Fatalf("%d listing calls, want 5", got)
			}
			if n, err := e.client.CountTenantNodes(ctx, nil); err != nil || n != int64(len(fleet.Nodes)) {
				t.Fatalf("CountTenantNodes: %d, %v; want %d", n, err, len(fleet.Nodes))
			}

			// One cluster through the tenant listing = the per-cluster listing.
			cl := fleet.Clusters[1].UUID
			perCluster, err := e.client.ListNodes(ctx, cl, nil)
			if err != nil {
				t.Fatal(err)
			}
			one, err := e.client.ListTenantNodes(ctx, &runai.NodeListOptions{FilterBy: []string{runai.ClusterFilter(cl), "status==Ready"}, SortBy: "name", SortOrder: "desc"})
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, n := range perCluster {
				if n.Status == runai.NodeReady {
					want = append(want, n.Name)
				}
			}
			slices.Sort(want)
			slices.Reverse(want)
			if !slices.Equal(nodeNames(one), want) {
				t.Fatalf("filtered to %s: %v, want %v", cl, nodeNames(one), want)
			}
			for _, n := range one {
				if n.ClusterUUID != cl || n.ID == "" || len(n.Raw) == 0 {
					t.Fatalf("node %+v", n)
				}
			}
			if n, err := e.client.CountTenantNodes(ctx, []string{runai.ClusterFilter(cl)}); err != nil || n != int64(len(perCluster)) {
				t.Fatalf("CountTenantNodes(%s): %d, %v; want %d", cl, n, err, len(perCluster))
			}
		})
	}
}

func TestTenantNodesOn222(t *testing.T) {
	t.Parallel()
	e := setupVersion(t, runaisim.Version222, nil)
	// 2.22 has no such route: its 404 is not in the delta document.
	e.relax(func(ex testutil.Exchange) bool { return ex.Status == http.StatusNotFound }, false, true)
	ctx := t.Context()
	if _, err := e.client.ListTenantNodes(ctx, nil); !errors.Is(err, backends.ErrNotFound) {
		t.Fatalf("ListTenantNodes on 2.22: %v, want ErrNotFound", err)
	}
	if _, err := e.client.CountTenantNodes(ctx, nil); !errors.Is(err, backends.ErrNotFound) {
		t.Fatalf("CountTenantNodes on 2.22: %v, want ErrNotFound", err)
	}
}

func TestProbeAPIVersion(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		sim  string
		want runai.APIVersion
	}{
		{runaisim.Version222, runai.V222},
		{runaisim.Version223, runai.V223},
		{runaisim.Version224, runai.V223}, // "2.23 or later": 2.24 is told apart by configuration only
	} {
		t.Run(tt.sim, func(t *testing.T) {
			t.Parallel()
			e := setupVersion(t, tt.sim, nil)
			e.relax(func(ex testutil.Exchange) bool { return ex.Status == http.StatusNotFound }, false, true)
			got, err := e.client.ProbeAPIVersion(t.Context())
			if err != nil || got != tt.want {
				t.Fatalf("ProbeAPIVersion: %q, %v; want %q", got, err, tt.want)
			}
			if n := e.count(routeTenantNodesCount); n != 1 {
				t.Fatalf("%d probe calls, want 1", n)
			}
			if got.HasTenantNodes() != (tt.want != runai.V222) {
				t.Fatalf("%s: HasTenantNodes %v", got, got.HasTenantNodes())
			}
		})
	}
	t.Run("undecided", func(t *testing.T) {
		t.Parallel()
		for _, status := range []int{http.StatusForbidden, http.StatusServiceUnavailable} {
			e := setupVersion(t, runaisim.Version223, nil)
			if err := e.sim.Control().SetFaults(faultOn(routeTenantNodesCount, status)); err != nil {
				t.Fatal(err)
			}
			got, err := e.client.ProbeAPIVersion(t.Context())
			var apiErr *backends.APIError
			if got != "" || !errors.As(err, &apiErr) || apiErr.Status != status {
				t.Fatalf("probe answered %d: %q, %v; want no version and the error", status, got, err)
			}
		}
		e := setupVersion(t, runaisim.Version223, nil)
		e.validate = false
		if err := e.sim.Control().SetFaults(faultDown()); err != nil {
			t.Fatal(err)
		}
		if got, err := e.client.ProbeAPIVersion(t.Context()); got != "" || err == nil {
			t.Fatalf("probe while down: %q, %v", got, err)
		}
	})
}

func TestProbeOnAProxyPage(t *testing.T) {
	t.Parallel()
	// An older control plane's unknown route need not answer the vendor's
	// Error body: a 404 of any shape is "2.22".
	c, _ := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, "<html>404 page not found</html>")
	})
	if got, err := c.ProbeAPIVersion(callerCtx(t)); err != nil || got != runai.V222 {
		t.Fatalf("ProbeAPIVersion: %q, %v; want 2.22", got, err)
	}
}

func TestTenantNodesTolerantDecoding(t *testing.T) {
	t.Parallel()
	// Page size 2 (observedServer): the first page holds two places.
	c, rec := observedServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/count"):
			io.WriteString(w, `{"count":2,"approximate":false}`)
		case r.URL.Query().Get("offset") == "2":
			io.WriteString(w, `{"nodes":[`+strings.Replace(nodeJSON(3), `"clusterUuid":"c"`, `"clusterUuid":""`, 1)+`,`+nodeJSON(4)+`],"next":null}`)
		case r.URL.Query().Get("offset") == "4":
			io.WriteString(w, `{"nodes":[`+strings.Replace(nodeJSON(5), `"clusterUuid":"c",`, ``, 1)+`],"total":5}`)
		default:
			io.WriteString(w, `{"nodes":[null,`+strings.Replace(nodeJSON(1), `"status"`, `"futureField":{"a":[1]},"taints":[null],"status"`, 1)+`],"links":{}}`)
		}
	})
	ctx := callerCtx(t)
	nodes, err := c.ListTenantNodes(ctx, nil)
	if err != nil || !slices.Equal(nodeNames(nodes), []string{"n1", "n4"}) {
		t.Fatalf("ListTenantNodes: %v, %v; want n1 and n4 (n3 and n5 have no cluster)", nodeNames(nodes), err)
	}
	if n, err := c.CountTenantNodes(ctx, []string{runai.ClusterFilter("c")}); err != nil || n != 2 {
		t.Fatalf("CountTenantNodes: %d, %v", n, err)
	}
	nulls, _ := rec.counts()
	// A null node and a null taint, then two nodes without a cluster.
	if want := map[string]int{"runai-fake/nodes": 4}; !maps.Equal(nulls, want) {
		t.Fatalf("null items %v, want %v", nulls, want)
	}
}

func TestTenantNodesRequestShape(t *testing.T) {
	t.Parallel()
	c, last := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"nodes":[],"count":0}`)
	})
	ctx := callerCtx(t)
	opts := &runai.NodeListOptions{FilterBy: []string{runai.ClusterFilter("c-1"), "gpuType=@H100"}, SortBy: "clusterUuid", SortOrder: "desc", Search: "gpu"}
	if _, err := c.ListTenantNodes(ctx, opts); err != nil {
		t.Fatal(err)
	}
	r := last()
	spec := testutil.LoadSpec(t, "runai-openapi-delta.json")
	ex := testutil.Exchange{Method: r.Method, Path: strings.TrimPrefix(r.URL.Path, prefix), RawQuery: r.URL.RawQuery, Header: r.Header}
	if err := spec.Validate(ex); err != nil {
		t.Fatal(err)
	}
	q := r.URL.Query()
	if q.Get("filterBy") != "clusterUuid==c-1,gpuType=@H100" || q.Get("sortBy") != "clusterUuid" || q.Get("sortOrder") != "desc" ||
		q.Get("search") != "gpu" || q.Get("offset") != "0" || q.Get("limit") != "2" || len(q) != 6 {
		t.Fatalf("query %q", r.URL.RawQuery)
	}
	if _, err := c.CountTenantNodes(ctx, []string{runai.ClusterFilter("c-1")}); err != nil {
		t.Fatal(err)
	}
	r = last()
	ex = testutil.Exchange{Method: r.Method, Path: strings.TrimPrefix(r.URL.Path, prefix), RawQuery: r.URL.RawQuery, Header: r.Header}
	if err := spec.Validate(ex); err != nil || r.URL.Path != prefix+"/api/v1/nodes/count" {
		t.Fatalf("%s: %v", r.URL, err)
	}
}
