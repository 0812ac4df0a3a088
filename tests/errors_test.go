package tests

import (
	"slices"
	"testing"
	"time"

	"github.com/fleetgraph/fleetgraph/app"
	"github.com/fleetgraph/fleetgraph/backends/simctl"
	modelartssource "github.com/fleetgraph/fleetgraph/fleet/modelarts"
	runaisource "github.com/fleetgraph/fleetgraph/fleet/runai"
)

func TestBadInputIsRejectedBeforeAnyUpstreamCall(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	node := firstRunAINode(t, e, true)
	tests := []struct {
		name  string
		query string
		vars  map[string]any
	}{
		{"malformed node id", `{ node(id: "not-an-id") { name } }`, nil},
		{"cluster id where a node id is expected", `query($id: ID!) { node(id: $id) { name } }`, map[string]any{"id": runaisource.ClusterID{Backend: "runai-a", Cluster: "c"}.Encode()}},
		{"first 0", `{ nodes(first: 0) { totalCount } }`, nil},
		{"first 501", `{ nodePools(first: 501) { totalCount } }`, nil},
		{"bad cursor", `{ nodes(after: "zzz") { totalCount } }`, nil},
		{"bad filter cluster id", `{ nodes(filter: {clusterId: "x"}) { totalCount } }`, nil},
		{"start after end, nested under a list", `{ nodes { edges { node {
			metrics(types: [GPU_UTILIZATION], start: "2026-11-25T11:00:00Z", end: "2026-11-25T10:00:00Z") { type } } } } }`, nil},
		{"start equals end", `query($id: ID!) { node(id: $id) {
			metrics(types: [GPU_UTILIZATION], start: "2026-11-25T11:00:00Z", end: "2026-11-25T11:00:00Z") { type } } }`, map[string]any{"id": node}},
		{"samples 1001 in a variable", `query($id: ID!, $n: Int) { node(id: $id) {
			metrics(types: [GPU_UTILIZATION], start: "2026-11-25T10:00:00Z", end: "2026-11-25T11:00:00Z", samples: $n) { type } } }`, map[string]any{"id": node, "n": 1001}},
		{"no metric types", `query($id: ID!) { node(id: $id) {
			metrics(types: [], start: "2026-11-25T10:00:00Z", end: "2026-11-25T11:00:00Z") { type } } }`, map[string]any{"id": node}},
		{"unknown metric type literal", `query($id: ID!) { node(id: $id) {
			metrics(types: [GPU_MAGIC], start: "2026-11-25T10:00:00Z", end: "2026-11-25T11:00:00Z") { type } } }`, map[string]any{"id": node}},
		{"unknown metric type variable", `query($id: ID!, $t: [NodeMetricType!]!) { node(id: $id) {
			metrics(types: $t, start: "2026-11-25T10:00:00Z", end: "2026-11-25T11:00:00Z") { type } } }`, map[string]any{"id": node, "t": []string{"GPU_MAGIC"}}},
		{"bad timestamp", `query($id: ID!) { node(id: $id) {
			metrics(types: [GPU_UTILIZATION], start: "yesterday", end: "2026-11-25T11:00:00Z") { type } } }`, map[string]any{"id": node}},
		{"too many groupBy", `{ nodeTelemetry(type: READY_GPUS, groupBy: [NODE, NODEPOOL, CLUSTER_ID]) { value } }`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.upstreamCalls()
			r := e.query(t, tt.query, tt.vars)
			if len(r.Errors) == 0 || !slices.Contains(r.codes(), "BAD_USER_INPUT") {
				t.Fatalf("errors %+v, want BAD_USER_INPUT", r.Errors)
			}
			if got := e.upstreamCalls() - before; got != 0 {
				t.Fatalf("%d upstream calls for a rejected request, want 0", got)
			}
		})
	}
}

func TestUnknownButWellFormedIDsAreNull(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	cluster := e.ra.Fleet().Clusters[0].UUID
	vars := map[string]any{
		"node":      runaisource.NodeID{Backend: "runai-a", Cluster: cluster, Node: "no-such-node"}.Encode(),
		"otherNode": runaisource.NodeID{Backend: "unconfigured", Cluster: cluster, Node: "n1"}.Encode(),
		"cluster":   modelartssource.ClusterID{Backend: "modelarts-a", Pool: "no-such-pool-0123456789abcdef0123456789"}.Encode(),
		"pool":      modelartssource.NodePoolID{Backend: "modelarts-a", Pool: "no-such-pool-0123456789abcdef0123456789", NodePool: "np"}.Encode(),
	}
	var out map[string]any
	e.query(t, `query($node: ID!, $otherNode: ID!, $cluster: ID!, $pool: ID!) {
		a: node(id: $node) { name } b: node(id: $otherNode) { name }
		c: cluster(id: $cluster) { name } d: nodePool(id: $pool) { name } }`, vars).mustData(t, &out)
	for k, v := range out {
		if v != nil {
			t.Errorf("%s resolved to %v, want null", k, v)
		}
	}
	if len(out) != 4 {
		t.Fatalf("data %v", out)
	}
}

func TestOneProviderDownKeepsTheOther(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	if err := e.ma.Control().SetFaults(simctl.Faults{Down: true}); err != nil {
		t.Fatal(err)
	}
	r := e.query(t, `{ clusters { name provider } nodes(first: 500) { totalCount edges { node { provider } } } }`, nil)
	var data struct {
		Clusters []cluster
		Nodes    struct {
			TotalCount int
			Edges      []struct{ Node struct{ Provider string } }
		}
	}
	if err := jsonUnmarshal(r.Data, &data); err != nil {
		t.Fatal(err)
	}
	if len(data.Clusters) != 2 || data.Nodes.TotalCount == 0 {
		t.Fatalf("Run:ai data missing: %s", r.Data)
	}
	for _, c := range data.Clusters {
		if c.Provider != "RUNAI" {
			t.Fatalf("cluster of a down provider: %+v", c)
		}
	}
	if len(r.Errors) == 0 {
		t.Fatal("no error for the down provider")
	}
	for _, e := range r.Errors {
		if e.Extensions["code"] != "UPSTREAM_UNAVAILABLE" || e.Extensions["provider"] != "MODELARTS" || len(e.Path) == 0 {
			t.Fatalf("error %+v: want UPSTREAM_UNAVAILABLE for MODELARTS with a path", e)
		}
	}
}

func TestUpstreamTimeoutHasItsOwnCode(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{configure: func(c *app.Config) {
		c.ModelArts[0].Timeout = app.Duration(50 * time.Millisecond)
	}})
	if err := e.ma.Control().SetFaults(simctl.Faults{LatencyMs: 300}); err != nil {
		t.Fatal(err)
	}
	r := e.query(t, `{ clusters { provider } }`, nil)
	if !slices.Contains(r.codes(), "UPSTREAM_TIMEOUT") {
		t.Fatalf("codes %v, want UPSTREAM_TIMEOUT", r.codes())
	}
	if !contains(string(r.Data), "RUNAI") {
		t.Fatalf("Run:ai data lost: %s", r.Data)
	}
}

// The request timeout bounds a request that waits on a vendor through the
// cache as it bounds one without: a call made for the cache goes on for
// the others waiting on it (and may outlive this request), but this
// request answers UPSTREAM_TIMEOUT for that backend at its deadline, with
// the other backend's data. (It used to wait for the vendor client's own
// timeout, 10 s by default, whatever requestTimeout said.)
func TestRequestTimeoutBoundsCachedCalls(t *testing.T) {
	t.Parallel()
	mr := newMiniredis(t)
	e := newEnv(t, envOptions{configure: withRedis(mr.Addr(), func(c *app.Config) {
		c.Resilience.Retry.Disabled = true
		c.RequestTimeout = app.Duration(300 * time.Millisecond)
	})})
	if err := e.ma.Control().SetFaults(simctl.Faults{LatencyMs: 1500}); err != nil {
		t.Fatal(err)
	}
	r := e.query(t, `{ clusters { name provider } }`, nil)
	if len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != "UPSTREAM_TIMEOUT" || r.Errors[0].Extensions["backend"] != "modelarts-a" ||
		r.Errors[0].Extensions["provider"] != "MODELARTS" {
		t.Fatalf("errors %+v, want one UPSTREAM_TIMEOUT of modelarts-a", r.Errors)
	}
	if !contains(string(r.Data), "RUNAI") || contains(string(r.Data), "MODELARTS") {
		t.Fatalf("data %s: want Run:ai's clusters alone", r.Data)
	}
	// The call answers after the request is over; its value is kept all the
	// same, and the next request is served it without calling again.
	for deadline := time.Now().Add(10 * time.Second); cacheOps(t, e, "set", "late") < 1; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the late answer was never kept")
		}
	}
	r = e.query(t, `{ clusters { name provider } }`, nil)
	if len(r.Errors) > 0 || !contains(string(r.Data), "MODELARTS") {
		t.Fatalf("after the late answer: errors %+v, data %s", r.Errors, r.Data)
	}
	if got := e.ma.Control().Total(); got != 1 {
		t.Errorf("ModelArts called %d times, want once (the second request read the late answer)", got)
	}
}

func TestPassThroughCredentials(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{configure: func(c *app.Config) {
		c.RunAI[0].ClientID, c.RunAI[0].ClientSecret, c.RunAI[0].PassThrough = "", "", true
		c.ModelArts[0].AccessKey, c.ModelArts[0].SecretKey, c.ModelArts[0].PassThrough = "", "", true
	}})
	// No credentials: UNAUTHENTICATED for both providers, nothing sent upstream.
	r := e.query(t, `{ clusters { name } }`, nil)
	if codes := r.codes(); len(codes) != 2 || codes[0] != "UNAUTHENTICATED" || codes[1] != "UNAUTHENTICATED" {
		t.Fatalf("codes %v, want two UNAUTHENTICATED", codes)
	}
	if n := e.upstreamCalls(); n != 0 {
		t.Fatalf("%d upstream calls without credentials, want 0", n)
	}
	// A wrong Run:ai token is refused by the vendor: UNAUTHENTICATED for RUNAI only.
	r = e.query(t, `{ clusters { provider } }`, nil, "Authorization", "Bearer forged", "X-Auth-Token", e.ma.IssueToken())
	if codes := r.codes(); len(codes) != 1 || codes[0] != "UNAUTHENTICATED" || r.Errors[0].Extensions["provider"] != "RUNAI" {
		t.Fatalf("errors %+v, want UNAUTHENTICATED from RUNAI only", r.Errors)
	}
	// Both callers' credentials: everything.
	var data struct{ Clusters []cluster }
	e.query(t, `{ clusters { provider } }`, nil, "Authorization", "Bearer "+e.ra.IssueToken(), "X-Auth-Token", e.ma.IssueToken()).mustData(t, &data)
	if len(data.Clusters) != 4 {
		t.Fatalf("%d clusters with both credentials, want 4", len(data.Clusters))
	}
	if n := e.ra.Control().Count(raToken); n != 0 {
		t.Fatalf("pass-through fetched %d service tokens", n)
	}
}
