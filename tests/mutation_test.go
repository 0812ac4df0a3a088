package tests

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/fleetgraph/fleetgraph/app"
	"github.com/fleetgraph/fleetgraph/backends/modelarts/modelartssim"
	"github.com/fleetgraph/fleetgraph/backends/runai/runaisim"
	"github.com/fleetgraph/fleetgraph/backends/simctl"
)

const (
	raCreate   = "POST /api/v1/node-pools"
	raPut      = "PUT /api/v1/node-pools/{nodepoolId}"
	raPatch    = "PATCH /api/v1/node-pools/{nodepoolId}"
	raDelete   = "DELETE /api/v1/node-pools/{nodepoolId}"
	raLegacyC  = "POST /v1/k8s/clusters/{clusterId}/node-pools"
	maCreate   = "POST /v2/{project_id}/pools/{pool_name}/nodepools"
	maPatch    = "PATCH /v2/{project_id}/pools/{pool_name}/nodepools/{nodepool_name}"
	maDelete   = "DELETE /v2/{project_id}/pools/{pool_name}/nodepools/{nodepool_name}"
	cpuFlavor  = "modelarts.vm.cpu.4ud"
	createPool = `mutation($in: CreateNodePoolInput!) { createNodePool(input: $in) { id name provider phase nodeSelector flavor cluster { id } } }`
)

// slowPhases keeps vendor phases visible (Creating, Deleting) for the test.
var (
	raSlow = runaisim.Options{PhaseDelay: time.Minute}
	maSlow = modelartssim.Options{PhaseDelay: time.Minute}
)

type pool struct {
	ID, Name, Provider, Phase string
	NodeSelector, Flavor      *string
	Cluster                   struct{ ID string }
}

func clusterIDs(t *testing.T, e *env) (runai, modelarts string) {
	t.Helper()
	var data struct{ Clusters []cluster }
	e.query(t, `{ clusters { id provider } }`, nil).mustData(t, &data)
	for _, c := range data.Clusters {
		if c.Provider == "RUNAI" && runai == "" {
			runai = c.ID
		}
		if c.Provider == "MODELARTS" && modelarts == "" {
			modelarts = c.ID
		}
	}
	return runai, modelarts
}

func poolNames(t *testing.T, e *env) []string {
	t.Helper()
	var data struct {
		NodePools struct {
			Edges []struct{ Node struct{ Name string } }
		}
	}
	e.query(t, `{ nodePools(first: 500) { edges { node { name } } } }`, nil).mustData(t, &data)
	var names []string
	for _, edge := range data.NodePools.Edges {
		names = append(names, edge.Node.Name)
	}
	return names
}

func TestRunAINodePoolLifecycle(t *testing.T) {
	t.Parallel()
	mr := miniredis.RunT(t)
	e := newEnv(t, envOptions{runai: raSlow, configure: withRedis(mr.Addr(), nil)})
	ra, _ := clusterIDs(t, e)
	if slices.Contains(poolNames(t, e), "team-a") { // also warms the cache
		t.Fatal("team-a exists before the test")
	}
	var created struct{ CreateNodePool pool }
	e.query(t, createPool, map[string]any{"in": map[string]any{
		"clusterId": ra, "name": "team-a", "labelKey": "team", "labelValue": "a",
		"placementStrategy": map[string]any{"gpu": "BINPACK"},
	}}).mustData(t, &created)
	p := created.CreateNodePool
	if p.Phase != "CREATING" || p.Provider != "RUNAI" || p.Cluster.ID != ra || p.NodeSelector == nil || *p.NodeSelector != "team=a" {
		t.Fatalf("created %+v", p)
	}
	// The write invalidated the cached pool list: the next read sees it.
	if !slices.Contains(poolNames(t, e), "team-a") {
		t.Fatal("the new pool is not listed after the write")
	}
	var patched struct{ PatchNodePool pool }
	e.query(t, `mutation($id: ID!) { patchNodePool(id: $id, input: {labelValue: "b"}) { id nodeSelector phase } }`,
		map[string]any{"id": p.ID}).mustData(t, &patched)
	if *patched.PatchNodePool.NodeSelector != "team=b" || patched.PatchNodePool.Phase != "UPDATING" {
		t.Fatalf("patched %+v", patched.PatchNodePool)
	}
	var updated struct{ UpdateNodePool pool }
	e.query(t, `mutation($id: ID!) { updateNodePool(id: $id, input: {labelKey: "group", labelValue: "c"}) { nodeSelector } }`,
		map[string]any{"id": p.ID}).mustData(t, &updated)
	if *updated.UpdateNodePool.NodeSelector != "group=c" {
		t.Fatalf("updated %+v", updated.UpdateNodePool)
	}
	var deleted struct {
		DeleteNodePool struct {
			ID       string
			Accepted bool
			Phase    string
		}
	}
	e.query(t, `mutation($id: ID!) { deleteNodePool(id: $id) { id accepted phase } }`, map[string]any{"id": p.ID}).mustData(t, &deleted)
	if !deleted.DeleteNodePool.Accepted || deleted.DeleteNodePool.Phase != "DELETING" || deleted.DeleteNodePool.ID != p.ID {
		t.Fatalf("deleted %+v", deleted.DeleteNodePool)
	}
	for route, n := range map[string]int64{raCreate: 1, raPatch: 1, raPut: 1, raDelete: 1} {
		if got := e.ra.Control().Count(route); got != n {
			t.Errorf("%s called %d times, want %d", route, got, n)
		}
	}
}

func TestRunAILegacyNodePoolAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{runai: raSlow, configure: func(c *app.Config) { c.RunAI[0].LegacyNodePoolAPI = true }})
	ra, _ := clusterIDs(t, e)
	var created struct{ CreateNodePool pool }
	e.query(t, createPool, map[string]any{"in": map[string]any{"clusterId": ra, "name": "legacy-a", "labelKey": "team", "labelValue": "l"}}).mustData(t, &created)
	if created.CreateNodePool.Name != "legacy-a" || created.CreateNodePool.Phase != "CREATING" {
		t.Fatalf("created through the deprecated API: %+v", created.CreateNodePool)
	}
	if e.ra.Control().Count(raLegacyC) != 1 || e.ra.Control().Count(raCreate) != 0 {
		t.Fatalf("stats %v: want the deprecated create only", e.ra.Control().Stats())
	}
	if !slices.Contains(poolNames(t, e), "legacy-a") {
		t.Fatal("pool created through the deprecated API is not listed")
	}
	var patched struct{ PatchNodePool pool }
	e.query(t, `mutation($id: ID!) { patchNodePool(id: $id, input: {labelValue: "m"}) { nodeSelector } }`,
		map[string]any{"id": created.CreateNodePool.ID}).mustData(t, &patched)
	if *patched.PatchNodePool.NodeSelector != "team=m" {
		t.Fatalf("patched %+v", patched.PatchNodePool)
	}
	var deleted struct{ DeleteNodePool struct{ Accepted bool } }
	e.query(t, `mutation($id: ID!) { deleteNodePool(id: $id) { accepted } }`, map[string]any{"id": created.CreateNodePool.ID}).mustData(t, &deleted)
	if !deleted.DeleteNodePool.Accepted {
		t.Fatal("legacy delete not accepted")
	}
}

func TestModelArtsNodePoolLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{modelarts: maSlow})
	_, ma := clusterIDs(t, e)
	var created struct{ CreateNodePool pool }
	e.query(t, createPool, map[string]any{"in": map[string]any{
		"clusterId": ma, "name": "batch-cpu", "flavor": cpuFlavor, "count": 2,
		"labels": []map[string]any{{"key": "team", "value": "ml"}},
		"taints": []map[string]any{{"key": "dedicated", "value": "ml", "effect": "NO_SCHEDULE"}},
	}}).mustData(t, &created)
	p := created.CreateNodePool
	if p.Phase != "CREATING" || p.Provider != "MODELARTS" || p.Flavor == nil || *p.Flavor != cpuFlavor {
		t.Fatalf("created %+v", p)
	}
	var scaled struct {
		PatchNodePool struct {
			Phase             string
			ReportedNodeCount int
		}
	}
	e.query(t, `mutation($id: ID!) { patchNodePool(id: $id, input: {count: 3}) { phase reportedNodeCount } }`,
		map[string]any{"id": p.ID}).mustData(t, &scaled)
	if scaled.PatchNodePool.ReportedNodeCount != 3 {
		t.Fatalf("scaled %+v", scaled.PatchNodePool)
	}
	var deleted struct {
		DeleteNodePool struct {
			Accepted bool
			Phase    string
		}
	}
	e.query(t, `mutation($id: ID!) { deleteNodePool(id: $id) { accepted phase } }`, map[string]any{"id": p.ID}).mustData(t, &deleted)
	if !deleted.DeleteNodePool.Accepted || deleted.DeleteNodePool.Phase != "DELETING" {
		t.Fatalf("deleted %+v", deleted.DeleteNodePool)
	}
	for route, n := range map[string]int64{maCreate: 1, maPatch: 1, maDelete: 1} {
		if got := e.ma.Control().Count(route); got != n {
			t.Errorf("%s called %d times, want %d", route, got, n)
		}
	}
}

func TestMutationValidationBeforeAnyUpstreamCall(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	ra, ma := clusterIDs(t, e)
	tests := []struct {
		name  string
		in    map[string]any
		field string
	}{
		{"run:ai without labelKey", map[string]any{"clusterId": ra, "name": "x", "labelValue": "v"}, "input.labelKey"},
		{"run:ai empty name", map[string]any{"clusterId": ra, "name": "", "labelKey": "k", "labelValue": "v"}, "input.name"},
		{"run:ai ratio 6", map[string]any{"clusterId": ra, "name": "x", "labelKey": "k", "labelValue": "v", "overProvisioningRatio": 6}, "input.overProvisioningRatio"},
		{"run:ai swap size without swap", map[string]any{"clusterId": ra, "name": "x", "labelKey": "k", "labelValue": "v",
			"gpuResourceOptimization": map[string]any{"cpuSwapMemorySize": "100G"}}, "input.gpuResourceOptimization.cpuSwapMemorySize"},
		{"run:ai bad swap size", map[string]any{"clusterId": ra, "name": "x", "labelKey": "k", "labelValue": "v",
			"gpuResourceOptimization": map[string]any{"swapEnabled": true, "cpuSwapMemorySize": "lots"}}, "input.gpuResourceOptimization.cpuSwapMemorySize"},
		{"modelarts field on run:ai", map[string]any{"clusterId": ra, "name": "x", "labelKey": "k", "labelValue": "v", "flavor": cpuFlavor}, "input.flavor"},
		{"run:ai field on modelarts", map[string]any{"clusterId": ma, "name": "xy", "flavor": cpuFlavor, "count": 1, "labelKey": "k"}, "input.labelKey"},
		{"modelarts bad name", map[string]any{"clusterId": ma, "name": "Bad_Name", "flavor": cpuFlavor, "count": 1}, "input.name"},
		{"modelarts -default name", map[string]any{"clusterId": ma, "name": "pool-default", "flavor": cpuFlavor, "count": 1}, "input.name"},
		{"modelarts no flavor", map[string]any{"clusterId": ma, "name": "xy", "count": 1}, "input.flavor"},
		{"modelarts maxCount < count", map[string]any{"clusterId": ma, "name": "xy", "flavor": cpuFlavor, "count": 3, "maxCount": 2}, "input.maxCount"},
		{"modelarts azs mismatch", map[string]any{"clusterId": ma, "name": "xy", "flavor": cpuFlavor, "count": 3,
			"azs": []map[string]any{{"az": "cn-north-4a", "count": 1}}}, "input.azs"},
		{"modelarts bad label key", map[string]any{"clusterId": ma, "name": "xy", "flavor": cpuFlavor, "count": 1,
			"labels": []map[string]any{{"key": "-bad", "value": "v"}}}, "input.labels[0].key"},
		{"malformed cluster id", map[string]any{"clusterId": "nope", "name": "xy"}, "input.clusterId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.upstreamCalls()
			r := e.query(t, createPool, map[string]any{"in": tt.in})
			if len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != tt.field {
				t.Fatalf("errors %+v, want BAD_USER_INPUT on %s", r.Errors, tt.field)
			}
			if n := e.upstreamCalls() - before; n != 0 {
				t.Fatalf("%d upstream calls for invalid input", n)
			}
		})
	}
}

func TestCreateConflictSendsNoWrite(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	var data struct {
		NodePools struct {
			Edges []struct {
				Node struct {
					Name     string
					Provider string
					Cluster  struct{ ID string }
				}
			}
		}
	}
	e.query(t, `{ nodePools(first: 500) { edges { node { name provider cluster { id } } } } }`, nil).mustData(t, &data)
	for _, edge := range data.NodePools.Edges {
		in := map[string]any{"clusterId": edge.Node.Cluster.ID, "name": edge.Node.Name, "labelKey": "k", "labelValue": "v"}
		if edge.Node.Provider == "MODELARTS" {
			in = map[string]any{"clusterId": edge.Node.Cluster.ID, "name": edge.Node.Name, "flavor": cpuFlavor, "count": 1}
		}
		r := e.query(t, createPool, map[string]any{"in": in})
		if codes := r.codes(); len(codes) != 1 || codes[0] != "CONFLICT" {
			t.Fatalf("create of existing %s/%s: %+v", edge.Node.Provider, edge.Node.Name, r.Errors)
		}
	}
	if e.ra.Control().Count(raCreate) != 0 || e.ma.Control().Count(maCreate) != 0 {
		t.Fatal("a conflicting create reached the vendor")
	}
}

func TestCreateWithLostAnswerIsReconciledByReadBack(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		faults simctl.Faults
	}{
		{"5xx after the vendor applied it", simctl.Faults{FailAfterApply: true, ErrorStatus: 502}},
		{"answer lost to a timeout", simctl.Faults{ResponseDelayMs: 400}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{configure: func(c *app.Config) {
				c.RunAI[0].Timeout = app.Duration(150 * time.Millisecond)
				c.ModelArts[0].Timeout = app.Duration(150 * time.Millisecond)
			}})
			ra, ma := clusterIDs(t, e)
			f := tt.faults
			f.Routes = []string{raCreate}
			if err := e.ra.Control().SetFaults(f); err != nil {
				t.Fatal(err)
			}
			f.Routes = []string{maCreate}
			if err := e.ma.Control().SetFaults(f); err != nil {
				t.Fatal(err)
			}
			for _, in := range []map[string]any{
				{"clusterId": ra, "name": "recovered", "labelKey": "k", "labelValue": "v"},
				{"clusterId": ma, "name": "recovered", "flavor": cpuFlavor, "count": 1},
			} {
				var out struct{ CreateNodePool pool }
				e.query(t, createPool, map[string]any{"in": in}).mustData(t, &out)
				if out.CreateNodePool.Name != "recovered" {
					t.Fatalf("read back %+v", out.CreateNodePool)
				}
				// Asking again is a conflict, never a duplicate.
				if codes := e.query(t, createPool, map[string]any{"in": in}).codes(); len(codes) != 1 || codes[0] != "CONFLICT" {
					t.Fatalf("second create: %v", codes)
				}
			}
			if e.ra.Control().Count(raCreate) != 1 || e.ma.Control().Count(maCreate) != 1 {
				t.Fatalf("creates sent: Run:ai %d, ModelArts %d; want exactly 1 each (never retried)",
					e.ra.Control().Count(raCreate), e.ma.Control().Count(maCreate))
			}
		})
	}
}

func TestCreateRefusedByVendorIsNotAppliedAndNotRetried(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	ra, _ := clusterIDs(t, e)
	if err := e.ra.Control().SetFaults(simctl.Faults{ErrorRate: 1, ErrorStatus: 503, Routes: []string{raCreate}}); err != nil {
		t.Fatal(err)
	}
	r := e.query(t, createPool, map[string]any{"in": map[string]any{"clusterId": ra, "name": "never", "labelKey": "k", "labelValue": "v"}})
	if len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != "UPSTREAM_UNAVAILABLE" || r.Errors[0].Extensions["outcome"] != "NOT_APPLIED" {
		t.Fatalf("errors %+v: want UPSTREAM_UNAVAILABLE with outcome NOT_APPLIED", r.Errors)
	}
	if n := e.ra.Control().Count(raCreate); n != 1 {
		t.Fatalf("create sent %d times, want 1: a mutation is never retried", n)
	}
	if slices.Contains(poolNames(t, e), "never") {
		t.Fatal("the refused pool exists")
	}
}

func TestReadOnlyGateway(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{configure: func(c *app.Config) { c.Mutations.Disabled = true }})
	ra, _ := clusterIDs(t, e)
	e.resetCounters()
	r := e.query(t, createPool, map[string]any{"in": map[string]any{"clusterId": ra, "name": "x", "labelKey": "k", "labelValue": "v"}})
	if codes := r.codes(); len(codes) != 1 || codes[0] != "FORBIDDEN" || !strings.Contains(r.Errors[0].Message, "read-only") {
		t.Fatalf("errors %+v, want FORBIDDEN", r.Errors)
	}
	if n := e.upstreamCalls(); n != 0 {
		t.Fatalf("%d upstream calls on a read-only gateway", n)
	}
}

func TestWriteInvalidationSeenByASecondGateway(t *testing.T) {
	t.Parallel()
	mr := miniredis.RunT(t)
	a := newEnv(t, envOptions{modelarts: maSlow, configure: withRedis(mr.Addr(), nil)})
	b := &env{ra: a.ra, ma: a.ma, gw: newServerFor(t, a, mr.Addr())}
	_, ma := clusterIDs(t, b)
	poolNames(t, b) // b's cache now holds the pool lists
	var created struct{ CreateNodePool pool }
	a.query(t, createPool, map[string]any{"in": map[string]any{"clusterId": ma, "name": "shared", "flavor": cpuFlavor, "count": 1}}).mustData(t, &created)
	if !slices.Contains(poolNames(t, b), "shared") {
		t.Fatal("the second gateway still serves the pool list from before the write")
	}
}
