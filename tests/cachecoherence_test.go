package tests

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/fleetgraph/fleetgraph/app"
	"github.com/fleetgraph/fleetgraph/backends/runai/runaisim"
	"github.com/fleetgraph/fleetgraph/backends/simctl"
)

func poolByID(ps []poolRef, id string) (poolRef, bool) {
	for _, p := range ps {
		if p.ID == id {
			return p, true
		}
	}
	return poolRef{}, false
}

// passThroughModelArts is a ModelArts-only gateway whose callers bring
// their own X-Auth-Token, over the shared cache at addr.
func passThroughModelArts(addr string, edit func(*app.Config)) func(*app.Config) {
	return withRedis(addr, func(c *app.Config) {
		c.RunAI = nil
		c.ModelArts[0].AccessKey, c.ModelArts[0].SecretKey, c.ModelArts[0].PassThrough = "", "", true
		if edit != nil {
			edit(c)
		}
	})
}

func (e *env) poolsAs(t *testing.T, token string) []poolRef {
	t.Helper()
	r := e.query(t, poolIDs, nil, "X-Auth-Token", token)
	ps, ok := decodePools(r.Data)
	if len(r.Errors) > 0 || !ok {
		t.Fatalf("pool list: %+v %s", r.Errors, r.Data)
	}
	return ps
}

// A write in pass-through mode fences every caller's cached lists, not only
// the writer's: Bob sees Alice's delete at once.
func TestWriteFencesEveryCredentialScope(t *testing.T) {
	t.Parallel()
	mr := newMiniredis(t)
	e := newEnv(t, envOptions{modelarts: maSlow, configure: passThroughModelArts(mr.Addr(), nil)})
	alice, bob := e.ma.IssueToken(), e.ma.IssueToken()
	var victim string
	for _, p := range e.poolsAs(t, alice) {
		if p.Provider == "MODELARTS" {
			victim = p.ID
		}
	}
	if victim == "" {
		t.Fatal("no ModelArts node pool listed")
	}
	if p, _ := poolByID(e.poolsAs(t, bob), victim); p.Phase == "DELETING" { // Bob's list is cached now
		t.Fatalf("the pool is deleting before the write: %+v", p)
	}
	e.query(t, `mutation($id: ID!) { deleteNodePool(id: $id) { accepted } }`, map[string]any{"id": victim}, "X-Auth-Token", alice).mustData(t, &struct{}{})
	if p, ok := poolByID(e.poolsAs(t, bob), victim); ok && p.Phase != "DELETING" {
		t.Fatalf("Bob's cached list still shows the pool %s after Alice deleted it", p.Phase)
	}
}

// Losing the generation hash (a restart without persistence, a failover)
// must not make a replica's old local copies valid again.
func TestLostGenerationsDoNotResurrectLocalCopies(t *testing.T) {
	t.Parallel()
	mr := newMiniredis(t)
	cfg := withRedis(mr.Addr(), nil)
	a := newEnv(t, envOptions{runai: runaisim.Options{PoolsPerCluster: 2, PhaseDelay: settleAtOnce}, configure: cfg})
	b := replica(t, a, cfg)
	victim := deletablePool(t, a)
	listPools(t, b)
	listPools(t, b) // read back from Redis: now in B's local layer
	a.query(t, `mutation($id: ID!) { deleteNodePool(id: $id) { accepted } }`, map[string]any{"id": victim}).mustData(t, &struct{}{})
	for _, k := range mr.Keys() {
		if contains(k, ":gen:") {
			mr.Del(k)
		}
	}
	if hasPool(listPools(t, b), victim) {
		t.Fatal("after the generations were lost, replica B served its pre-delete local copy")
	}
}

// An answer holding a transitional phase is cached briefly: the pool shows
// its settled phase soon after the vendor says so, not a list TTL later.
func TestTransitionalPhasesAreCachedBriefly(t *testing.T) {
	t.Parallel()
	mr := newMiniredis(t)
	const phase = 300 * time.Millisecond
	e := newEnv(t, envOptions{runai: runaisim.Options{PoolsPerCluster: 2, PhaseDelay: phase}, configure: withRedis(mr.Addr(), func(c *app.Config) {
		c.Cache.Transitional = app.Duration(100 * time.Millisecond)
	})})
	victim := deletablePool(t, e)
	var patched struct{ PatchNodePool struct{ Phase string } }
	e.query(t, `mutation($id: ID!) { patchNodePool(id: $id, input: {labelValue: "x"}) { phase } }`, map[string]any{"id": victim}).mustData(t, &patched)
	if p, _ := poolByID(listPools(t, e), victim); p.Phase != "UPDATING" {
		t.Fatalf("after the patch the pool is %q, want UPDATING", p.Phase)
	}
	time.Sleep(phase + 150*time.Millisecond) // the vendor is done, and the entry's short TTL over
	e.resetCounters()
	if p, _ := poolByID(listPools(t, e), victim); p.Phase == "UPDATING" {
		t.Fatal("still UPDATING after the vendor finished: the list was cached for the list TTL")
	}
	if n := e.ra.Control().Count(raListPools); n != 1 {
		t.Fatalf("%d pool listings, want 1", n)
	}
}

// A pass-through credential is trusted without the vendor seeing it for
// cache.passThroughTrust at most: once the vendor refuses it, cached data
// stops being served within that bound, and never stale.
func TestPassThroughCredentialTrustIsBounded(t *testing.T) {
	t.Parallel()
	mr := newMiniredis(t)
	const trust = 300 * time.Millisecond
	e := newEnv(t, envOptions{configure: passThroughModelArts(mr.Addr(), func(c *app.Config) {
		c.Cache.PassThroughTrust = app.Duration(trust)
	})})
	alice := e.ma.IssueToken()
	e.poolsAs(t, alice)
	e.resetCounters()
	e.poolsAs(t, alice)
	if n := e.upstreamCalls(); n != 0 {
		t.Fatalf("within the trust bound: %d upstream calls, want 0 (cached)", n)
	}
	// The vendor now refuses the token (revoked).
	if err := e.ma.Control().SetFaults(simctl.Faults{ErrorRate: 1, ErrorStatus: http.StatusUnauthorized}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(trust + 50*time.Millisecond)
	r := e.query(t, poolIDs, nil, "X-Auth-Token", alice)
	if codes := r.codes(); len(codes) == 0 || codes[0] != "UNAUTHENTICATED" {
		t.Fatalf("a revoked token past the trust bound: codes %v, data %s (served from the cache)", codes, r.Data)
	}
}

// The request log counts the lookups of cached answers, not the read of
// the generations that fence them.
func TestRequestLogCountsLookupsNotGenerations(t *testing.T) {
	t.Parallel()
	mr := newMiniredis(t)
	e := newProdEnv(t, prodOptions{envOptions: envOptions{configure: withRedis(mr.Addr(), nil)}})
	var data struct{ Clusters []cluster }
	e.query(t, `query Fleet { clusters(provider: RUNAI) { name } }`, nil, "X-Request-Id", "gen-1").mustData(t, &data)
	if line := requestLine(t, e, "gen-1"); line["cacheMisses"].(float64) != 1 || line["cacheHits"].(float64) != 0 {
		t.Fatalf("cold request line %v, want 1 miss (the Run:ai cluster list) and 0 hits", line)
	}
	e.query(t, `query Fleet { clusters(provider: RUNAI) { name } }`, nil, "X-Request-Id", "gen-2").mustData(t, &data)
	if line := requestLine(t, e, "gen-2"); line["cacheMisses"].(float64) != 0 || line["cacheHits"].(float64) != 1 {
		t.Fatalf("warm request line %v, want 1 hit and 0 misses", line)
	}
}

// Redis failures are logged at warn with their reason, once per node per
// 10s however many requests fail, as JSON like every other line.
func TestRedisFailuresAreLoggedAtWarnRateLimited(t *testing.T) {
	t.Parallel()
	e := newProdEnv(t, prodOptions{envOptions: envOptions{configure: withRedis(closedAddr(t), nil)}})
	var data struct{ Clusters []cluster }
	for range 5 {
		e.query(t, `{ clusters { name } }`, nil).mustData(t, &data)
	}
	var warned []map[string]any
	for _, l := range e.log.lines(t) { // lines fails on a line that is not JSON
		if l["msg"] == "redis operation failed; its keys go upstream" {
			warned = append(warned, l)
		}
	}
	if len(warned) != 1 || warned[0]["level"] != "WARN" || !contains(fmt.Sprint(warned[0]["err"]), "connection refused") {
		t.Fatalf("Redis failure lines %v, want one warn with the reason", warned)
	}
}
