package runai_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/backends/runai"
	"github.com/fleetgraph/fleetgraph/backends/runai/runaisim"
	"github.com/fleetgraph/fleetgraph/backends/simctl"
	"github.com/fleetgraph/fleetgraph/internal/testutil"
)

const (
	pathPools = "/api/v1/node-pools"

	routeCreatePool = "POST /api/v1/node-pools"
	routePutPool    = "PUT /api/v1/node-pools/{nodepoolId}"
	routePatchPool  = "PATCH /api/v1/node-pools/{nodepoolId}"
	routeDeletePool = "DELETE /api/v1/node-pools/{nodepoolId}"
)

func ptr[T any](v T) *T { return &v }

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// poolsNamed returns the pools called name, through the listing.
func (e *env) poolsNamed(t *testing.T, name string) []runai.NodePool {
	t.Helper()
	pools, err := e.client.ListNodePools(t.Context(), &runai.NodePoolListOptions{FilterBy: []string{"name==" + name}})
	if err != nil {
		t.Fatal(err)
	}
	return pools
}

func TestNodePoolWriteLifecycle(t *testing.T) {
	t.Parallel()
	clk := newClock()
	const delay = time.Minute
	e := setup(t, runaisim.Options{Clusters: 2, PoolsPerCluster: 3, NodesPerPool: 2, Now: clk.Now, PhaseDelay: delay}, nil)
	ctx := t.Context()
	cl := e.sim.Fleet().Clusters[0].UUID
	defaultNodes, err := e.client.ListNodes(ctx, cl, &runai.NodeListOptions{FilterBy: []string{"nodePool==default"}})
	if err != nil || len(defaultNodes) == 0 {
		t.Fatalf("default pool nodes: %v %v", defaultNodes, err)
	}

	// Create: a pool selecting the default pool's label takes its nodes.
	created, err := e.client.CreateNodePool(ctx, runai.NodePoolCreateFields{
		Name: "team-a", LabelKey: "run.ai/node-pool", LabelValue: "default", ClusterID: cl,
		OverProvisioningRatio:           ptr(2),
		PlacementStrategy:               &runai.PlacementStrategy{CPU: ptr("binpack"), GPU: ptr("spread")},
		GPUNetworkAccelerationDetection: ptr("Use"),
		GPUResourceOptimization:         &runai.GPUResourceOptimization{SwapEnabled: ptr(true), CPUSwapMemorySize: ptr("64G")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if created.ID == "" || created.Phase != runai.PoolCreating || created.CreatedBy != runaisim.DefaultClientID ||
		!created.CreatedAt.Equal(clk.Now()) || deref(created.OverProvisioningRatio) != 2 || deref(created.PlacementStrategy.CPU) != "binpack" ||
		deref(created.GPUResourceOptimization.ReservedGPUMemoryForSwapOperations) != "2G" || !created.Status.GPUNetworkAccelerationDetected {
		t.Fatalf("created %+v", created)
	}
	checkRaw(t, created.Raw, "id", created.ID)
	id := created.ID
	if got, err := e.client.GetNodePool(ctx, id); err != nil || got.Phase != runai.PoolCreating {
		t.Fatalf("GetNodePool: %+v %v", got, err)
	}
	if got := e.poolsNamed(t, "team-a"); len(got) != 1 || got[0].ID != id {
		t.Fatalf("listing: %+v", got)
	}
	moved, err := e.client.ListNodes(ctx, cl, &runai.NodeListOptions{FilterBy: []string{"nodePool==team-a"}})
	if err != nil || !slices.Equal(nodeIDs(moved), nodeIDs(defaultNodes)) {
		t.Fatalf("team-a's nodes %v (%v), want the default pool's %v", nodeIDs(moved), err, nodeIDs(defaultNodes))
	}
	clk.Advance(delay)
	if got, err := e.client.GetNodePool(ctx, id); err != nil || (got.Phase != runai.PoolReady && got.Phase != runai.PoolUnschedulable) {
		t.Fatalf("after PhaseDelay: %+v %v", got, err)
	}

	// PATCH changes only what it sets.
	patched, err := e.client.PatchNodePool(ctx, id, runai.NodePoolUpdateFields{LabelValue: ptr("nobody")})
	if err != nil {
		t.Fatal(err)
	}
	if patched.Phase != runai.PoolUpdating || patched.LabelValue != "nobody" || patched.LabelKey != "run.ai/node-pool" ||
		deref(patched.OverProvisioningRatio) != 2 || deref(patched.PlacementStrategy.GPU) != "spread" ||
		deref(patched.GPUNetworkAccelerationDetection) != "Use" || deref(patched.GPUResourceOptimization.CPUSwapMemorySize) != "64G" {
		t.Fatalf("patched %+v", patched)
	}
	// PUT resets what it leaves out (labels have no default and stay).
	put, err := e.client.UpdateNodePool(ctx, id, runai.NodePoolUpdateFields{OverProvisioningRatio: ptr(3)})
	if err != nil {
		t.Fatal(err)
	}
	if put.Phase != runai.PoolUpdating || deref(put.OverProvisioningRatio) != 3 || put.LabelValue != "nobody" ||
		deref(put.PlacementStrategy.CPU) != "spread" || deref(put.PlacementStrategy.GPU) != "binpack" ||
		deref(put.GPUNetworkAccelerationDetection) != "Auto" || deref(put.GPUResourceOptimization.SwapEnabled) ||
		put.GPUResourceOptimization.CPUSwapMemorySize != nil {
		t.Fatalf("after PUT %+v", put)
	}
	clk.Advance(delay)
	if got, err := e.client.GetNodePool(ctx, id); err != nil || got.Phase != runai.PoolEmpty {
		t.Fatalf("relabelled to nothing: %+v %v", got, err)
	}

	// DELETE: accepted, Deleting, accepted again, then gone.
	for range 2 {
		if status, err := e.client.DeleteNodePool(ctx, id); err != nil || status != http.StatusAccepted {
			t.Fatalf("DeleteNodePool: %d %v", status, err)
		}
		if got, err := e.client.GetNodePool(ctx, id); err != nil || got.Phase != runai.PoolDeleting || got.DeletedAt == nil {
			t.Fatalf("after DELETE: %+v %v", got, err)
		}
	}
	clk.Advance(delay)
	if _, err := e.client.GetNodePool(ctx, id); !errors.Is(err, backends.ErrNotFound) {
		t.Fatalf("after the deletion settled: err %v, want ErrNotFound", err)
	}
	for route, want := range map[string]int64{routeCreatePool: 1, routePatchPool: 1, routePutPool: 1, routeDeletePool: 2} {
		if got := e.count(route); got != want {
			t.Errorf("%s counted %d, want %d", route, got, want)
		}
	}
}

func TestNodePoolWriteErrors(t *testing.T) {
	t.Parallel()
	e := setup(t, runaisim.Options{PhaseDelay: -1}, nil)
	// Deliberately invalid bodies: only the 400 answers are validated.
	e.relax(func(ex testutil.Exchange) bool { return ex.Status == http.StatusBadRequest }, true, false)
	// 409 is in Run:ai's status set but not declared on create_nodepool.
	e.relax(exchange(http.MethodPost, pathPools, http.StatusConflict), false, true)
	ctx := t.Context()
	f := e.sim.Fleet()
	cl, def := f.Clusters[0].UUID, f.NodePools[0]
	valid := func(mod func(*runai.NodePoolCreateFields)) runai.NodePoolCreateFields {
		p := runai.NodePoolCreateFields{Name: "p", LabelKey: "k", LabelValue: "v", ClusterID: cl}
		mod(&p)
		return p
	}
	creates := []struct {
		name  string
		f     runai.NodePoolCreateFields
		field string
	}{
		{"empty name", valid(func(p *runai.NodePoolCreateFields) { p.Name = "" }), "name"},
		{"empty labelKey", valid(func(p *runai.NodePoolCreateFields) { p.LabelKey = "" }), "labelKey"},
		{"empty labelValue", valid(func(p *runai.NodePoolCreateFields) { p.LabelValue = "" }), "labelValue"},
		{"clusterId not a UUID", valid(func(p *runai.NodePoolCreateFields) { p.ClusterID = "cluster-1" }), "clusterId"},
		{"unknown cluster", valid(func(p *runai.NodePoolCreateFields) { p.ClusterID = "00000000-0000-4000-8000-000000000000" }), "clusterId"},
		{"ratio 0", valid(func(p *runai.NodePoolCreateFields) { p.OverProvisioningRatio = ptr(0) }), "overProvisioningRatio"},
		{"ratio 6", valid(func(p *runai.NodePoolCreateFields) { p.OverProvisioningRatio = ptr(6) }), "overProvisioningRatio"},
		{"cpu placement", valid(func(p *runai.NodePoolCreateFields) {
			p.PlacementStrategy = &runai.PlacementStrategy{CPU: ptr("random")}
		}), "placementStrategy.cpu"},
		{"gpu placement", valid(func(p *runai.NodePoolCreateFields) {
			p.PlacementStrategy = &runai.PlacementStrategy{GPU: ptr("pack")}
		}), "placementStrategy.gpu"},
		{"detection", valid(func(p *runai.NodePoolCreateFields) { p.GPUNetworkAccelerationDetection = ptr("Maybe") }), "gpuNetworkAccelerationDetection"},
		{"swap size pattern", valid(func(p *runai.NodePoolCreateFields) {
			p.GPUResourceOptimization = &runai.GPUResourceOptimization{SwapEnabled: ptr(true), CPUSwapMemorySize: ptr("lots")}
		}), "cpuSwapMemorySize"},
		{"reserved size pattern", valid(func(p *runai.NodePoolCreateFields) {
			p.GPUResourceOptimization = &runai.GPUResourceOptimization{SwapEnabled: ptr(true), ReservedGPUMemoryForSwapOperations: ptr("-")}
		}), "reservedGpuMemoryForSwapOperations"},
		{"size without swap", valid(func(p *runai.NodePoolCreateFields) {
			p.GPUResourceOptimization = &runai.GPUResourceOptimization{SwapEnabled: ptr(false), CPUSwapMemorySize: ptr("10G")}
		}), "only allowed when swapEnabled is true"},
	}
	for _, tt := range creates {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.client.CreateNodePool(ctx, tt.f)
			var apiErr *backends.APIError
			if !errors.Is(err, backends.ErrBadRequest) || !errors.As(err, &apiErr) || !strings.Contains(apiErr.Message, tt.field) || apiErr.Route != pathPools {
				t.Fatalf("err %v, want a 400 naming %q", err, tt.field)
			}
		})
	}
	if got := len(e.sim.Fleet().NodePools); got != len(f.NodePools) {
		t.Fatalf("%d pools after refused creations, want %d", got, len(f.NodePools))
	}

	updates := []struct {
		name  string
		call  func() error
		check func(error) bool
	}{
		{"PATCH empty labelKey", func() error {
			_, err := e.client.PatchNodePool(ctx, def.ID, runai.NodePoolUpdateFields{LabelKey: ptr("")})
			return err
		}, isBadRequestNaming("labelKey")},
		{"PUT ratio 9", func() error {
			_, err := e.client.UpdateNodePool(ctx, def.ID, runai.NodePoolUpdateFields{OverProvisioningRatio: ptr(9)})
			return err
		}, isBadRequestNaming("overProvisioningRatio")},
		{"delete the default pool", func() error { _, err := e.client.DeleteNodePool(ctx, def.ID); return err }, isBadRequestNaming("default")},
		{"PUT unknown", func() error {
			_, err := e.client.UpdateNodePool(ctx, "9999", runai.NodePoolUpdateFields{})
			return err
		}, func(err error) bool { return errors.Is(err, backends.ErrNotFound) }},
		{"PATCH unknown", func() error {
			_, err := e.client.PatchNodePool(ctx, "9999", runai.NodePoolUpdateFields{})
			return err
		}, func(err error) bool { return errors.Is(err, backends.ErrNotFound) }},
		{"DELETE unknown", func() error { _, err := e.client.DeleteNodePool(ctx, "9999"); return err },
			func(err error) bool { return errors.Is(err, backends.ErrNotFound) }},
	}
	for _, tt := range updates {
		if err := tt.call(); !tt.check(err) {
			t.Errorf("%s: unexpected err %v", tt.name, err)
		}
	}

	// A name the cluster has: 409, errors.Is ErrConflict.
	_, err := e.client.CreateNodePool(ctx, valid(func(p *runai.NodePoolCreateFields) { p.Name = "default" }))
	var apiErr *backends.APIError
	if !errors.Is(err, backends.ErrConflict) || !errors.As(err, &apiErr) || apiErr.Message != "Node pool default already exists in cluster cluster-1" {
		t.Fatalf("duplicate: err %v, want ErrConflict", err)
	}

	// Unknown fields: the typed client cannot send them; a raw request can.
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.srv.URL+prefix+pathPools,
		strings.NewReader(`{"name":"p","labelKey":"k","labelValue":"v","clusterId":"`+cl+`","colour":"blue"}`))
	req.Header.Set("Authorization", "Bearer "+e.sim.IssueToken())
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(body), `unknown field \"colour\"`) {
		t.Fatalf("unknown field: %d %s", resp.StatusCode, body)
	}
}

func isBadRequestNaming(s string) func(error) bool {
	return func(err error) bool {
		var apiErr *backends.APIError
		return errors.Is(err, backends.ErrBadRequest) && errors.As(err, &apiErr) && strings.Contains(apiErr.Message, s)
	}
}

// TestWritesAreSentOnce: a write whose answer is lost or fails after the
// API applied it is not sent again, whatever the write.
func TestWritesAreSentOnce(t *testing.T) {
	t.Parallel()
	type write struct {
		name, route string
		call        func(e *env, poolID string) error
		applied     func(e *env, poolID string) bool
	}
	legacyPath := func(e *env) string { return e.sim.Fleet().Clusters[0].UUID }
	writes := []write{
		{"create", routeCreatePool, func(e *env, _ string) error {
			_, err := e.client.CreateNodePool(t.Context(), runai.NodePoolCreateFields{Name: "once", LabelKey: "k", LabelValue: "v", ClusterID: legacyPath(e)})
			return err
		}, func(e *env, _ string) bool { return len(e.poolsNamed(t, "once")) == 1 }},
		{"put", routePutPool, func(e *env, id string) error {
			_, err := e.client.UpdateNodePool(t.Context(), id, runai.NodePoolUpdateFields{OverProvisioningRatio: ptr(4)})
			return err
		}, func(e *env, id string) bool { return deref(e.pool(t, id).OverProvisioningRatio) == 4 }},
		{"patch", routePatchPool, func(e *env, id string) error {
			_, err := e.client.PatchNodePool(t.Context(), id, runai.NodePoolUpdateFields{LabelValue: ptr("patched")})
			return err
		}, func(e *env, id string) bool { return e.pool(t, id).LabelValue == "patched" }},
		{"delete", routeDeletePool, func(e *env, id string) error {
			_, err := e.client.DeleteNodePool(t.Context(), id)
			return err
		}, func(e *env, id string) bool { return len(e.poolsNamed(t, "a100")) == 0 }},
		{"legacy create", routeLegacyCreate, func(e *env, _ string) error {
			return e.client.LegacyCreateNodePool(t.Context(), legacyPath(e), runai.LegacyNodePoolCreate{Name: "once", LabelKey: "k", LabelValue: "v"})
		}, func(e *env, _ string) bool { return len(e.poolsNamed(t, "once")) == 1 }},
		{"legacy labels", routeLegacyLabels, func(e *env, id string) error {
			return e.client.LegacyUpdateNodePoolLabels(t.Context(), legacyPath(e), atoi(t, id), "k", "relabelled")
		}, func(e *env, id string) bool { return e.pool(t, id).LabelValue == "relabelled" }},
	}
	faults := []struct {
		name  string
		fault simctl.Faults
		check func(error) bool
	}{
		{"fails after applying", simctl.Faults{FailAfterApply: true}, func(err error) bool { return errors.Is(err, backends.ErrUnavailable) }},
		{"answer outlives the timeout", simctl.Faults{ResponseDelayMs: 5000}, func(err error) bool {
			var te *backends.TransportError
			return errors.As(err, &te) && te.Timeout && errors.Is(err, context.DeadlineExceeded)
		}},
	}
	for _, w := range writes {
		for _, fl := range faults {
			t.Run(w.name+"/"+fl.name, func(t *testing.T) {
				t.Parallel()
				e := setup(t, runaisim.Options{PhaseDelay: -1}, func(c *runai.Config) { c.Timeout = 250 * time.Millisecond })
				// The fault replaces or cuts the answer: validate the request only.
				method, _, _ := strings.Cut(w.route, " ")
				e.relax(func(ex testutil.Exchange) bool { return ex.Method == method && ex.Path != "/api/v1/token" }, false, true)
				target := e.poolsNamed(t, "a100") // a token in the cache, and a pool to write
				if len(target) != 1 {
					t.Fatalf("pools named a100: %d", len(target))
				}
				fault := fl.fault
				fault.Routes = []string{w.route}
				if err := e.sim.Control().SetFaults(fault); err != nil {
					t.Fatal(err)
				}
				err := w.call(e, target[0].ID)
				if err == nil || !fl.check(err) {
					t.Fatalf("err %v", err)
				}
				e.sim.Control().ClearFaults()
				if got := e.count(w.route); got != 1 {
					t.Fatalf("%s counted %d times, want 1", w.route, got)
				}
				if !w.applied(e, target[0].ID) {
					t.Fatal("the write was not applied")
				}
			})
		}
	}
}

func (e *env) pool(t *testing.T, id string) *runai.NodePool {
	t.Helper()
	p, err := e.client.GetNodePool(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestWriteReauthenticates: a 401 comes before the API applies anything, so
// the one re-send with a fresh token creates the pool once.
func TestWriteReauthenticates(t *testing.T) {
	t.Parallel()
	simClock, clientClock := newClock(), newClock()
	e := setup(t, runaisim.Options{Now: simClock.Now, PhaseDelay: -1}, nil)
	runai.SetClock(e.client, clientClock.Now)
	if _, err := e.client.ListClusters(t.Context()); err != nil {
		t.Fatal(err)
	}
	simClock.Advance(2 * time.Hour) // upstream, the cached token has expired
	cl := e.sim.Fleet().Clusters[0].UUID
	if _, err := e.client.CreateNodePool(t.Context(), runai.NodePoolCreateFields{Name: "after-401", LabelKey: "k", LabelValue: "v", ClusterID: cl}); err != nil {
		t.Fatal(err)
	}
	if tok, posts := e.count(routeToken), e.count(routeCreatePool); tok != 2 || posts != 2 {
		t.Fatalf("%d token calls and %d POSTs, want 2 and 2", tok, posts)
	}
	if got := e.poolsNamed(t, "after-401"); len(got) != 1 {
		t.Fatalf("%d pools named after-401, want 1", len(got))
	}
}

// TestWriteRequestShape: bodies carry what is set and nothing else, and a
// 204 to DELETE is a success.
func TestWriteRequestShape(t *testing.T) {
	t.Parallel()
	var (
		mu   sync.Mutex
		seen []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.EscapedPath()+" "+r.Header.Get("Content-Type")+" "+string(body))
		mu.Unlock()
		switch r.Method {
		case http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		case http.MethodPost:
			w.WriteHeader(http.StatusCreated)
			io.WriteString(w, `{"id":"9","name":"p"}`)
		default:
			io.WriteString(w, `{"id":"9","name":"p"}`)
		}
	}))
	t.Cleanup(srv.Close)
	c, err := runai.New(runai.Config{Name: "r", BaseURL: srv.URL + prefix, PassThrough: true, HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := backends.WithCredentials(t.Context(), backends.Credentials{RunAIBearer: "caller-token"})
	if _, err := c.CreateNodePool(ctx, runai.NodePoolCreateFields{Name: "p", LabelKey: "k", LabelValue: "v", ClusterID: "c"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PatchNodePool(ctx, "a/b", runai.NodePoolUpdateFields{OverProvisioningRatio: ptr(2)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateNodePool(ctx, "9", runai.NodePoolUpdateFields{}); err != nil {
		t.Fatal(err)
	}
	if status, err := c.DeleteNodePool(ctx, "9"); err != nil || status != http.StatusNoContent {
		t.Fatalf("DeleteNodePool: %d %v", status, err)
	}
	if err := c.LegacyUpdateNodePool(ctx, "c", 9, runai.LegacyNodePoolUpdate{OverProvisioningRatio: 2}); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"POST " + prefix + `/api/v1/node-pools application/json {"name":"p","labelKey":"k","labelValue":"v","clusterId":"c"}`,
		"PATCH " + prefix + `/api/v1/node-pools/a%2Fb application/json {"overProvisioningRatio":2}`,
		"PUT " + prefix + `/api/v1/node-pools/9 application/json {}`,
		"DELETE " + prefix + `/api/v1/node-pools/9  `,
		"PUT " + prefix + `/v1/k8s/clusters/c/node-pools/9 application/json {"overProvisioningRatio":2}`,
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(seen, want) {
		t.Fatalf("requests:\n%s\nwant:\n%s", strings.Join(seen, "\n"), strings.Join(want, "\n"))
	}
}
