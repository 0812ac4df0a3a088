package modelarts_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/backends/modelarts"
	"github.com/fleetgraph/fleetgraph/backends/modelarts/modelartssim"
	"github.com/fleetgraph/fleetgraph/backends/simctl"
	"github.com/fleetgraph/fleetgraph/internal/testutil"
)

const (
	flavorT4   = "modelarts.vm.gpu.t4u8" // offered by GPU pools (even pool index)
	phaseDelay = 10 * time.Second
)

// writeOpts is a small fleet: one GPU pool, one node pool of two nodes.
func writeOpts() modelartssim.Options {
	return modelartssim.Options{Seed: 11, Pools: 1, NodePoolsPerPool: 1, NodesPerNodePool: 2, PhaseDelay: phaseDelay}
}

func t4Pool(name string, count int) modelarts.CreateNodePoolRequest {
	return modelarts.CreateNodePoolRequest{
		Metadata: modelarts.CreateNodePoolMetadata{Name: name},
		Spec: modelarts.NodePoolSpec{Resources: modelarts.PoolResource{
			Flavor: flavorT4, Count: count, MaxCount: count,
		}},
	}
}

func authConfigs() []struct {
	name string
	cfg  func(*env) modelarts.Config
} {
	return []struct {
		name string
		cfg  func(*env) modelarts.Config
	}{
		{"token", func(e *env) modelarts.Config { return modelarts.Config{Token: e.sim.IssueToken()} }},
		{"AK/SK", func(*env) modelarts.Config {
			return modelarts.Config{AccessKey: modelartssim.DefaultAccessKey, SecretKey: modelartssim.DefaultSecretKey}
		}},
	}
}

// counts is a node pool's status.resources as plain numbers.
type counts struct{ creating, available, abnormal, deleting int }

func countsOf(np *modelarts.NodePool) counts {
	n := func(b *modelarts.PoolResourceFlavorCount) int {
		if b == nil {
			return 0
		}
		return b.Count
	}
	r := np.Status.Resources
	return counts{n(r.Creating), n(r.Available), n(r.Abnormal), n(r.Deleting)}
}

// phases counts the node pool's nodes by phase, from ListNodePoolNodes, and
// checks that ListPoolNodes shows the same nodes.
func phases(t *testing.T, c *modelarts.Client, pool, nodePool string) map[string]int {
	t.Helper()
	nodes, err := c.ListNodePoolNodes(t.Context(), pool, nodePool)
	if err != nil {
		t.Fatalf("ListNodePoolNodes: %v", err)
	}
	all, err := c.ListPoolNodes(t.Context(), pool)
	if err != nil {
		t.Fatalf("ListPoolNodes: %v", err)
	}
	var inPool []string
	for _, n := range all {
		if n.NodePoolName() == nodePool {
			inPool = append(inPool, n.Metadata.Name)
		}
	}
	if got := nodeNames(nodes); !slices.Equal(got, inPool) {
		t.Errorf("node-pool nodes %v, pool nodes of the node pool %v", got, inPool)
	}
	out := map[string]int{}
	for _, n := range nodes {
		out[n.Status.Phase]++
		if n.Spec.Flavor != flavorT4 {
			t.Errorf("node %s flavor %s", n.Metadata.Name, n.Spec.Flavor)
		}
	}
	return out
}

// expect checks a node pool's counts, its nodes' phases and the pool-level
// totals.
func expect(t *testing.T, c *modelarts.Client, pool, nodePool string, want counts) {
	t.Helper()
	np, err := c.GetNodePool(t.Context(), pool, nodePool)
	if err != nil {
		t.Fatalf("GetNodePool: %v", err)
	}
	if got := countsOf(np); got != want {
		t.Errorf("status.resources = %+v, want %+v", got, want)
	}
	ph := phases(t, c, pool, nodePool)
	if got := ph[modelarts.NodeCreating] + ph[modelarts.NodeChecking]; got != want.creating {
		t.Errorf("Creating+Checking nodes = %d, want %d (%v)", got, want.creating, ph)
	}
	if ph[modelarts.NodeAvailable] != want.available || ph[modelarts.NodeDeleting] != want.deleting {
		t.Errorf("node phases %v, want %+v", ph, want)
	}
	p, err := c.GetPool(t.Context(), pool)
	if err != nil {
		t.Fatalf("GetPool: %v", err)
	}
	total := func(fc modelarts.FlavorCounts) int {
		n := 0
		for _, x := range fc {
			if x.Flavor == flavorT4 {
				n += x.Count
			}
		}
		return n
	}
	r := p.Status.Resources
	if got := (counts{total(r.Creating), total(r.Available), total(r.Abnormal), total(r.Deleting)}); got != want {
		t.Errorf("pool status.resources for %s = %+v, want %+v", flavorT4, got, want)
	}
}

func TestNodePoolWriteLifecycle(t *testing.T) {
	t.Parallel()
	for _, auth := range authConfigs() {
		t.Run(auth.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, writeOpts())
			c := e.client(t, auth.cfg(e))
			ctx := t.Context()
			pool := e.sim.Fleet().Pools[0].Metadata.Name

			req := t4Pool("train-t4", 3)
			req.Metadata.Annotations = map[string]string{modelarts.AnnotationBillingMode: modelarts.BillingPayPerUse}
			req.Spec.Resources.Labels = map[string]string{"team": "vision"}
			req.Spec.Resources.Taints = []modelarts.Taint{{Key: "dedicated", Value: "train", Effect: "NoSchedule"}}
			np, err := c.CreateNodePool(ctx, pool, req)
			if err != nil {
				t.Fatalf("CreateNodePool: %v", err)
			}
			r := np.Spec.Resources
			if np.APIVersion != "v2" || np.Kind != "NodePool" || np.Metadata.Name != "train-t4" || r.Flavor != flavorT4 ||
				r.Count != 3 || r.MaxCount != 3 || r.Labels["team"] != "vision" || len(r.Taints) != 1 || len(np.Raw) == 0 ||
				np.Metadata.Annotations[modelarts.AnnotationBillingMode] != "0" || np.Status != (modelarts.NodePoolStatus{}) {
				t.Errorf("CreateNodePool = %+v", np)
			}
			if azTotal(r.AZs) != 3 || len(r.AZs) != 3 {
				t.Errorf("azs = %v, want one node in each of 3 zones", r.AZs)
			}
			nps, err := c.ListNodePools(ctx, pool)
			if err != nil || len(nps) != 2 || nps[1].Metadata.Name != "train-t4" {
				t.Fatalf("ListNodePools = %v, %v", nps, err)
			}

			expect(t, c, pool, "train-t4", counts{creating: 3})
			e.clock.Advance(phaseDelay) // Checking: still counted as creating
			if ph := phases(t, c, pool, "train-t4"); ph[modelarts.NodeChecking] != 3 {
				t.Errorf("after one step: %v, want 3 Checking", ph)
			}
			expect(t, c, pool, "train-t4", counts{creating: 3})
			e.clock.Advance(phaseDelay)
			expect(t, c, pool, "train-t4", counts{available: 3})

			// Scale up: the new nodes go through the same steps.
			np, err = c.PatchNodePool(ctx, pool, "train-t4", modelarts.PatchNodePoolRequest{
				Spec: modelarts.PatchNodePoolSpec{Resources: modelarts.PoolResourcePatch{Count: new(5), MaxCount: new(5)}},
			})
			if err != nil {
				t.Fatalf("PatchNodePool up: %v", err)
			}
			if np.Metadata.Name != "train-t4" || np.Spec.Resources.Count != 5 || azTotal(np.Spec.Resources.AZs) != 5 ||
				np.Spec.Resources.Labels["team"] != "vision" {
				t.Errorf("PatchNodePool up = %+v", np)
			}
			expect(t, c, pool, "train-t4", counts{creating: 2, available: 3})
			e.clock.Advance(2 * phaseDelay)
			expect(t, c, pool, "train-t4", counts{available: 5})

			// Scale down to an explicit spread: removed nodes go Deleting, then away.
			np, err = c.PatchNodePool(ctx, pool, "train-t4", modelarts.PatchNodePoolRequest{
				Spec: modelarts.PatchNodePoolSpec{Resources: modelarts.PoolResourcePatch{Count: new(2), MaxCount: new(2),
					AZs: []modelarts.AZCount{{AZ: "cn-north-4a", Count: 2}}}},
			})
			if err != nil {
				t.Fatalf("PatchNodePool down: %v", err)
			}
			if got := np.Spec.Resources.AZs; len(got) != 1 || got[0] != (modelarts.AZCount{AZ: "cn-north-4a", Count: 2}) {
				t.Errorf("azs after scale-down = %v", got)
			}
			expect(t, c, pool, "train-t4", counts{available: 2, deleting: 3})
			e.clock.Advance(phaseDelay)
			expect(t, c, pool, "train-t4", counts{available: 2})
			nodes, err := c.ListNodePoolNodes(ctx, pool, "train-t4")
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range nodes {
				if n.Status.AZ != "cn-north-4a" {
					t.Errorf("node %s kept in %s", n.Metadata.Name, n.Status.AZ)
				}
			}

			// Labels and taints: what is sent replaces, an empty list clears,
			// what is not sent stays.
			np, err = c.PatchNodePool(ctx, pool, "train-t4", modelarts.PatchNodePoolRequest{
				Spec: modelarts.PatchNodePoolSpec{Resources: modelarts.PoolResourcePatch{
					Labels: map[string]string{"team": "nlp", "example.com/tier": "gold"}, Taints: []modelarts.Taint{},
				}},
			})
			if err != nil {
				t.Fatalf("PatchNodePool labels: %v", err)
			}
			if r := np.Spec.Resources; r.Count != 2 || len(r.Taints) != 0 || len(r.Labels) != 2 || r.Labels["team"] != "nlp" {
				t.Errorf("after the labels patch: %+v", r)
			}
			// What changes, plus the flavor and counts every PATCH carries,
			// read from the node pool just before (upstreams-2.md §b).
			ex := e.rec.Exchanges()
			if body := string(ex[len(ex)-1].Body); body != `{"spec":{"resources":{"flavor":"modelarts.vm.gpu.t4u8","count":2,"maxCount":2,"taints":[],"labels":{"example.com/tier":"gold","team":"nlp"}}}}` {
				t.Errorf("PATCH body = %s: it must carry what changes, flavor, count and maxCount", body)
			}
			if get := ex[len(ex)-2]; get.Method != http.MethodGet || !strings.HasSuffix(get.Path, "/nodepools/train-t4") {
				t.Errorf("the PATCH followed %s %s, want the node pool's GET", get.Method, get.Path)
			}
			np, err = c.PatchNodePool(ctx, pool, "train-t4", modelarts.PatchNodePoolRequest{
				Spec: modelarts.PatchNodePoolSpec{Resources: modelarts.PoolResourcePatch{
					Taints: []modelarts.Taint{{Key: "gpu", Effect: "NoExecute"}, {Key: "example.com/x", Value: "y", Effect: "PreferNoSchedule"}},
				}},
			})
			if err != nil {
				t.Fatalf("PatchNodePool taints: %v", err)
			}
			if r := np.Spec.Resources; len(r.Taints) != 2 || r.Taints[0].Effect != "NoExecute" || r.Labels["team"] != "nlp" {
				t.Errorf("after the taints patch: %+v", r)
			}
			got, err := c.GetNodePool(ctx, pool, "train-t4")
			if err != nil || len(got.Spec.Resources.Taints) != 2 || got.Spec.Resources.Labels["example.com/tier"] != "gold" {
				t.Errorf("GetNodePool after patches = %+v, %v", got, err)
			}

			// Delete: answered with the whole node pool, nodes Deleting, then gone.
			np, err = c.DeleteNodePool(ctx, pool, "train-t4")
			if err != nil {
				t.Fatalf("DeleteNodePool: %v", err)
			}
			if np.Metadata.Name != "train-t4" || np.Kind != "NodePool" || countsOf(np) != (counts{deleting: 2}) {
				t.Errorf("DeleteNodePool = %+v", np)
			}
			expect(t, c, pool, "train-t4", counts{deleting: 2})
			if _, err := c.CreateNodePool(ctx, pool, t4Pool("train-t4", 1)); !errors.Is(err, backends.ErrBadRequest) {
				t.Errorf("re-create while deleting: err = %v, want ErrBadRequest", err)
			}
			if _, err := c.DeleteNodePool(ctx, pool, "train-t4"); !errors.Is(err, backends.ErrBadRequest) {
				t.Errorf("second delete: err = %v, want ErrBadRequest", err)
			}
			e.clock.Advance(phaseDelay)
			if _, err := c.GetNodePool(ctx, pool, "train-t4"); !errors.Is(err, backends.ErrNotFound) {
				t.Errorf("GetNodePool after deletion: err = %v, want ErrNotFound", err)
			}
			if _, err := c.DeleteNodePool(ctx, pool, "train-t4"); !errors.Is(err, backends.ErrNotFound) {
				t.Errorf("delete after deletion: err = %v, want ErrNotFound", err)
			}
			nodes, err = c.ListPoolNodes(ctx, pool)
			if err != nil || len(nodes) != 2 {
				t.Errorf("pool nodes after deletion = %d, %v; want the 2 seeded", len(nodes), err)
			}

			ctl := e.sim.Control()
			for route, want := range map[string]int64{
				modelartssim.RouteCreateNodePool: 2, modelartssim.RoutePatchNodePool: 4, modelartssim.RouteDeleteNodePool: 3,
			} {
				if got := ctl.Count(route); got != want {
					t.Errorf("%s counted %d times, want %d", route, got, want)
				}
			}
			for _, x := range e.rec.Exchanges() {
				if x.Method == http.MethodPost || x.Method == http.MethodPatch {
					if ct := x.Header.Get("Content-Type"); ct != "application/json;charset=UTF-8" {
						t.Errorf("%s Content-Type = %q", x.Method, ct)
					}
				}
			}
		})
	}
}

func azTotal(azs []modelarts.AZCount) int {
	n := 0
	for _, a := range azs {
		n += a.Count
	}
	return n
}

// TestWritesAreNotRetried: a write whose answer is lost after the simulator
// applied it is sent once, reported as an error, and flagged MaybeApplied.
func TestWritesAreNotRetried(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		route   string
		faults  simctl.Faults
		timeout time.Duration
		iam     bool
		call    func(context.Context, *modelarts.Client, string) error
		applied func(*testing.T, *modelarts.Client, string)
		want    error
	}{
		{
			name: "create, answer replaced by 502", route: modelartssim.RouteCreateNodePool,
			faults: simctl.Faults{FailAfterApply: true}, want: backends.ErrUnavailable,
			call:    create("lost-answer", 2),
			applied: exists("lost-answer", 2),
		},
		{
			name: "create with IAM, answer replaced by 500", route: modelartssim.RouteCreateNodePool, iam: true,
			faults: simctl.Faults{FailAfterApply: true, ErrorStatus: 500}, want: backends.ErrUpstream,
			call:    create("lost-answer", 1),
			applied: exists("lost-answer", 1),
		},
		{
			name: "create, answer later than the client timeout", route: modelartssim.RouteCreateNodePool,
			faults: simctl.Faults{ResponseDelayMs: 3000}, timeout: 300 * time.Millisecond, want: context.DeadlineExceeded,
			call:    create("slow-answer", 1),
			applied: exists("slow-answer", 1),
		},
		{
			name: "patch, answer replaced by 502", route: modelartssim.RoutePatchNodePool,
			faults: simctl.Faults{FailAfterApply: true}, want: backends.ErrUnavailable,
			call: func(ctx context.Context, c *modelarts.Client, pool string) error {
				_, err := c.PatchNodePool(ctx, pool, "nodepool-1", modelarts.PatchNodePoolRequest{
					Spec: modelarts.PatchNodePoolSpec{Resources: modelarts.PoolResourcePatch{Count: new(3), MaxCount: new(3)}},
				})
				return err
			},
			applied: func(t *testing.T, c *modelarts.Client, pool string) {
				np, err := c.GetNodePool(t.Context(), pool, "nodepool-1")
				if err != nil || np.Spec.Resources.Count != 3 {
					t.Errorf("node pool after the lost patch: %+v, %v", np, err)
				}
			},
		},
		{
			name: "delete, answer replaced by 502", route: modelartssim.RouteDeleteNodePool,
			faults: simctl.Faults{FailAfterApply: true}, want: backends.ErrUnavailable,
			call: func(ctx context.Context, c *modelarts.Client, pool string) error {
				_, err := c.DeleteNodePool(ctx, pool, "nodepool-1")
				return err
			},
			applied: func(t *testing.T, c *modelarts.Client, pool string) {
				np, err := c.GetNodePool(t.Context(), pool, "nodepool-1")
				if err != nil || countsOf(np).deleting != 2 {
					t.Errorf("node pool after the lost delete: %+v, %v", np, err)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, writeOpts())
			if tc.faults.ResponseDelayMs > 0 {
				// The client left before the answer: nothing was sent back.
				e.adjust = func(ex *testutil.Exchange) {
					if ex.Method == http.MethodPost {
						ex.Status = 0
					}
				}
			}
			cfg := modelarts.Config{Token: e.sim.IssueToken(), Timeout: tc.timeout}
			if tc.iam {
				cfg = modelarts.Config{IAM: e.iamConfig(), Timeout: tc.timeout}
			}
			c := e.client(t, cfg)
			pool := e.sim.Fleet().Pools[0].Metadata.Name
			tc.faults.Routes = []string{tc.route}
			if err := e.sim.Control().SetFaults(tc.faults); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			err := tc.call(t.Context(), c, pool)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if !modelarts.MaybeApplied(err) {
				t.Errorf("MaybeApplied(%v) = false", err)
			}
			if tc.timeout > 0 {
				var te *backends.TransportError
				if !errors.As(err, &te) || !te.Timeout {
					t.Errorf("err = %#v, want a timeout *TransportError", err)
				}
				if d := time.Since(start); d > 2*time.Second {
					t.Errorf("the call took %v, past its %v timeout", d, tc.timeout)
				}
			}
			if got := e.sim.Control().Count(tc.route); got != 1 {
				t.Errorf("%s counted %d times, want exactly 1 (no retry)", tc.route, got)
			}
			e.sim.Control().ClearFaults()
			tc.applied(t, c, pool)
		})
	}
}

func create(name string, count int) func(context.Context, *modelarts.Client, string) error {
	return func(ctx context.Context, c *modelarts.Client, pool string) error {
		_, err := c.CreateNodePool(ctx, pool, t4Pool(name, count))
		return err
	}
}

func exists(name string, count int) func(*testing.T, *modelarts.Client, string) {
	return func(t *testing.T, c *modelarts.Client, pool string) {
		np, err := c.GetNodePool(t.Context(), pool, name)
		if err != nil || countsOf(np).creating != count {
			t.Errorf("node pool %s after the lost answer: %+v, %v", name, np, err)
		}
	}
}

func TestMaybeApplied(t *testing.T) {
	t.Parallel()
	e := setup(t, writeOpts())
	c := e.client(t, modelarts.Config{Token: e.sim.IssueToken()})
	pool := e.sim.Fleet().Pools[0].Metadata.Name

	_, badReq := c.CreateNodePool(t.Context(), pool, t4Pool("Bad_Name", 1))
	_, notFound := c.DeleteNodePool(t.Context(), pool, "nodepool-9")
	_, emptyArg := c.DeleteNodePool(t.Context(), pool, "")
	_, noCred := e.client(t, modelarts.Config{PassThrough: true}).CreateNodePool(t.Context(), pool, t4Pool("x1", 1))

	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close() // nothing listens: the dial fails, nothing was sent
	closed, err := modelarts.New(modelarts.Config{Name: "m", Endpoint: srv.URL, ProjectID: "p", Token: "t"})
	if err != nil {
		t.Fatal(err)
	}
	_, refused := closed.CreateNodePool(t.Context(), pool, t4Pool("x1", 1))

	// A 2xx answer that is not a node pool: the write happened.
	junk := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("OK")) }))
	t.Cleanup(junk.Close)
	jc, err := modelarts.New(modelarts.Config{Name: "m", Endpoint: junk.URL, ProjectID: "p", Token: "t"})
	if err != nil {
		t.Fatal(err)
	}
	_, undecodable := jc.CreateNodePool(t.Context(), pool, t4Pool("x1", 1))

	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"400", badReq, false},
		{"404", notFound, false},
		{"empty name, no call", emptyArg, false},
		{"no pass-through credential, no call", noCred, false},
		{"connection refused", refused, false},
		{"undecodable 2xx", undecodable, true},
	} {
		if tc.name != "nil" && tc.err == nil {
			t.Errorf("%s: no error", tc.name)
		}
		if got := modelarts.MaybeApplied(tc.err); got != tc.want {
			t.Errorf("%s: MaybeApplied(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
	if !errors.Is(undecodable, backends.ErrUpstream) {
		t.Errorf("undecodable 2xx: %v, want ErrUpstream", undecodable)
	}
	if !errors.Is(emptyArg, backends.ErrBadRequest) || !errors.Is(noCred, backends.ErrNoCredentials) {
		t.Errorf("empty arg %v / no credential %v", emptyArg, noCred)
	}
}
