package tests

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/fleetgraph/fleetgraph/app"
	"github.com/fleetgraph/fleetgraph/backends/runai/runaisim"
	"github.com/fleetgraph/fleetgraph/backends/simctl"
)

// withRedis points the gateway's cache at addr.
func withRedis(addr string, edit func(*app.Config)) func(*app.Config) {
	return func(c *app.Config) {
		c.Redis.Addrs = []string{addr}
		c.Cache.BreakerOpenFor = app.Duration(100 * time.Millisecond)
		// The production 50ms Redis timeout turns a loaded CI box (race
		// detector, a browser test beside) into cache misses: correct, but
		// not what these tests measure.
		c.Cache.Timeout = app.Duration(2 * time.Second)
		if edit != nil {
			edit(c)
		}
	}
}

// gpuOnly is a Run:ai fleet without CPU-only pools, whose GPU metrics would
// (rightly) answer 207 partial.
var gpuOnly = runaisim.Options{PoolsPerCluster: 2}

// frozenGPUOnly is gpuOnly with the simulator's clock stopped when the test
// starts. Run:ai allocation (fleetSummary.allocatedGpus) moves with the
// clock in 5-minute steps: a test that compares an answer fetched again from
// the vendor with an earlier one failed whenever it straddled a step.
func frozenGPUOnly() runaisim.Options {
	o, at := gpuOnly, time.Now()
	o.Now = func() time.Time { return at }
	return o
}

const dashboard = `{ fleetSummary { nodes gpus allocatedGpus }
	nodePools(first: 100) { totalCount edges { node { name phase cluster { name }
		metrics(types: [GPU_UTILIZATION, CPU_UTILIZATION], start: "2026-11-25T10:00:05Z", end: "2026-11-25T11:00:05Z", samples: 12) { type points { value } }
		nodes(first: 500) { totalCount edges { node { name status gpuCount
			metrics(types: [GPU_UTILIZATION, CPU_MEMORY_UTILIZATION], start: "2026-11-25T10:00:05Z", end: "2026-11-25T11:00:05Z", samples: 12) { type points { value } } } } } } } } }`

func TestWarmDashboardCostsNoUpstreamCall(t *testing.T) {
	t.Parallel()
	mr := miniredis.RunT(t)
	e := newEnv(t, envOptions{runai: gpuOnly, configure: withRedis(mr.Addr(), nil)})
	cold := e.query(t, dashboard, nil)
	var data map[string]any
	cold.mustData(t, &data)
	if e.upstreamCalls() == 0 {
		t.Fatal("cold query made no upstream call")
	}
	e.resetCounters()
	warm := e.query(t, dashboard, nil)
	warm.mustData(t, &data)
	if n := e.upstreamCalls(); n != 0 {
		t.Fatalf("warm dashboard made %d upstream calls (Run:ai %v, ModelArts %v), want 0", n, e.ra.Control().Stats(), e.ma.Control().Stats())
	}
	if string(warm.Data) != string(cold.Data) {
		t.Fatal("warm answer differs from the cold one")
	}
	// A sliding window 20 s later aligns to the same step: still no call.
	slid := strings.ReplaceAll(strings.ReplaceAll(dashboard, "10:00:05Z", "10:00:25Z"), "11:00:05Z", "11:00:25Z")
	e.query(t, slid, nil).mustData(t, &data)
	if n := e.upstreamCalls(); n != 0 {
		t.Fatalf("sliding window made %d upstream calls, want 0", n)
	}
	if hits := metricValue(t, e, `fleetgraph_cache_operations_total{op="get",result="hit"}`); hits == 0 {
		t.Fatal("no cache hit counted in /metrics")
	}
}

func TestStaleValueServedWhileVendorIsDown(t *testing.T) {
	t.Parallel()
	mr := miniredis.RunT(t)
	e := newEnv(t, envOptions{configure: withRedis(mr.Addr(), func(c *app.Config) {
		c.Cache.Clusters = app.Duration(20 * time.Millisecond)
	})})
	var before struct{ Clusters []cluster }
	e.query(t, `{ clusters { name provider } }`, nil).mustData(t, &before)
	time.Sleep(40 * time.Millisecond) // past the 20ms TTL: the entry is now stale
	if err := e.ma.Control().SetFaults(simctl.Faults{Down: true}); err != nil {
		t.Fatal(err)
	}
	r := e.query(t, `{ clusters { name provider } }`, nil)
	if len(r.Errors) != 0 {
		t.Fatalf("errors %+v: the stale value should have been served", r.Errors)
	}
	var after struct{ Clusters []cluster }
	r.mustData(t, &after)
	if len(after.Clusters) != len(before.Clusters) {
		t.Fatalf("%d clusters while ModelArts is down, want %d", len(after.Clusters), len(before.Clusters))
	}
	raw := e.rawQuery(t, `{ clusters { name } }`)
	if !strings.Contains(raw, `"stale":[`) || !strings.Contains(raw, `"backend":"modelarts-a"`) {
		t.Fatalf("response does not say it is stale: %s", raw)
	}
	if n := metricValue(t, e, `fleetgraph_cache_operations_total{op="get",result="stale"}`); n == 0 {
		t.Fatal("no stale serve counted in /metrics")
	}
}

func TestRedisFailureNeverFailsAQuery(t *testing.T) {
	t.Parallel()
	mr := miniredis.RunT(t)
	e := newEnv(t, envOptions{runai: frozenGPUOnly(), configure: withRedis(mr.Addr(), nil)})
	var want map[string]any
	first := e.query(t, dashboard, nil)
	first.mustData(t, &want)

	mr.Close() // Redis gone mid-run
	for i := range 3 {
		r := e.query(t, dashboard, nil)
		if len(r.Errors) != 0 || string(r.Data) != string(first.Data) {
			t.Fatalf("query %d with Redis down: errors %+v; data differs from the first answer: %s", i, r.Errors, firstDifference(string(first.Data), string(r.Data)))
		}
	}
	if n := metricValue(t, e, `fleetgraph_cache_operations_total{op="get",result="error"}`) + metricValue(t, e, `fleetgraph_cache_operations_total{op="get",result="bypass"}`); n == 0 {
		t.Fatal("Redis errors were not counted")
	}

	if err := mr.Restart(); err != nil {
		t.Fatal(err)
	}
	// The cache breaker probes again after 100ms; within a second the cache
	// is filled again and a query costs nothing upstream.
	waitForWarmCache(t, e, 3*time.Second)
}

func TestCallersNeverShareCacheEntries(t *testing.T) {
	t.Parallel()
	mr := miniredis.RunT(t)
	e := newEnv(t, envOptions{configure: withRedis(mr.Addr(), func(c *app.Config) {
		c.RunAI = nil
		c.ModelArts[0].AccessKey, c.ModelArts[0].SecretKey, c.ModelArts[0].PassThrough = "", "", true
	})})
	alice, bob := e.ma.IssueToken(), e.ma.IssueToken()
	if alice == bob {
		t.Fatal("the simulator issued the same token twice")
	}
	var data struct{ Clusters []cluster }
	e.query(t, `{ clusters { name } }`, nil, "X-Auth-Token", alice).mustData(t, &data)
	e.resetCounters()
	// Alice again: from the cache.
	e.query(t, `{ clusters { name } }`, nil, "X-Auth-Token", alice).mustData(t, &data)
	if n := e.upstreamCalls(); n != 0 {
		t.Fatalf("alice's second query made %d calls, want 0", n)
	}
	// Bob: his own entry, fetched with his own token.
	e.query(t, `{ clusters { name } }`, nil, "X-Auth-Token", bob).mustData(t, &data)
	if n := e.ma.Control().Count(maPools); n != 1 {
		t.Fatalf("bob's query made %d pool listings, want 1 (no entry of alice's)", n)
	}
	// A forged token is refused by the vendor, not answered from anyone's entry.
	r := e.query(t, `{ clusters { name } }`, nil, "X-Auth-Token", "forged")
	if codes := r.codes(); len(codes) != 1 || codes[0] != "UNAUTHENTICATED" {
		t.Fatalf("forged token: codes %v, data %s", codes, r.Data)
	}
	// Keys hold a hash of the credential, never the credential itself.
	for _, k := range mr.Keys() {
		if strings.Contains(k, alice) || strings.Contains(k, bob) {
			t.Fatalf("cache key %q contains a credential", k)
		}
	}
}

// waitForWarmCache fills the cache and waits until a repeated dashboard
// costs no upstream call: the cache is back after Redis was gone.
func waitForWarmCache(t *testing.T, e *env, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		e.query(t, dashboard, nil)
		e.resetCounters()
		e.query(t, dashboard, nil)
		if e.upstreamCalls() == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cache did not resume after Redis came back (last: %d upstream calls)", e.upstreamCalls())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The in-process layer answers hot keys without Redis's payload, and a
// write through one gateway is seen at once (no waiting, no retry) by
// another gateway that held the old value in its own memory: the write
// bumps the backend's generation in Redis, which every lookup reads.
func TestLocalCacheLayerIsCoherentAcrossGateways(t *testing.T) {
	t.Parallel()
	for name, writerLocal := range map[string]bool{"writer with a local layer": true, "writer without one": false} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testLocalCacheCoherence(t, writerLocal)
		})
	}
}

// testLocalCacheCoherence: gateway a writes, gateway b (local layer on)
// reads. A writer without a local layer of its own must still tell b.
func testLocalCacheCoherence(t *testing.T, writerLocal bool) {
	mr := miniredis.RunT(t)
	a := newEnv(t, envOptions{modelarts: maSlow, configure: withRedis(mr.Addr(), func(c *app.Config) {
		c.Cache.Local.Disabled = !writerLocal
	})})
	b := &env{ra: a.ra, ma: a.ma, gw: newServerFor(t, a, mr.Addr())}
	_, ma := clusterIDs(t, b)
	before := poolNames(t, b)
	localHits := func() float64 {
		return metricValue(t, b, `fleetgraph_cache_operations_total{op="local",result="hit"}`)
	}
	h0 := localHits()
	b.resetCounters()
	if got := poolNames(t, b); !slices.Equal(got, before) {
		t.Fatalf("warm pool list %v differs from the cold one %v", got, before)
	}
	if n := b.upstreamCalls(); n != 0 {
		t.Fatalf("warm pool list made %d upstream calls", n)
	}
	if localHits() <= h0 {
		t.Fatal("the warm pool list was not answered by the local layer")
	}

	var created struct{ CreateNodePool pool }
	a.query(t, createPool, map[string]any{"in": map[string]any{"clusterId": ma, "name": "seen-at-once", "flavor": cpuFlavor, "count": 1}}).mustData(t, &created)
	if !slices.Contains(poolNames(t, b), "seen-at-once") {
		t.Fatal("gateway b served its in-memory pool list from before gateway a's write")
	}

	// Without Redis the local layer cannot be checked, so it is not used:
	// slower (upstream), never wrong.
	mr.Close()
	b.resetCounters()
	if !slices.Contains(poolNames(t, b), "seen-at-once") {
		t.Fatal("pool list without Redis lost the new pool")
	}
	if n := b.upstreamCalls(); n == 0 {
		t.Fatal("with Redis down the pool list came from the unverifiable local layer")
	}
}

// firstDifference shows where two answers part.
func firstDifference(a, b string) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	from := max(0, i-120)
	return "\n  first: ..." + a[from:min(len(a), i+120)] + "\n  then:  ..." + b[from:min(len(b), i+120)]
}
