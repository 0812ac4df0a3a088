package tests

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/fleetgraph/fleetgraph/app"
	"github.com/fleetgraph/fleetgraph/backends/simctl"
)

// The upstream budget (issue 14): replicas on one Redis share one budget
// per vendor account, so that together they stay under the vendor's limit;
// dashboards get stale data or RATE_LIMITED when it is short, mutations go
// first; a 429 teaches every replica the vendor's limit.

// replica builds one more gateway over e's simulators with cfg edited by
// configure (e's own is replica 0).
func (e *env) replica(t *testing.T, configure func(*app.Config)) *env {
	t.Helper()
	cfg := simConfig(e.raURL, e.maURL)
	cfg.RunAI[0].APIVersion = e.ra.Version()
	configure(cfg)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	gw, err := app.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := *e
	r.gw = httptest.NewServer(gw.Handler)
	t.Cleanup(r.gw.Close)
	return &r
}

// coldMetrics asks every Run:ai node for a window no one asked before: one
// vendor call per node, nothing from the cache.
const coldMetrics = `query($s: DateTime!, $e: DateTime!) { nodes(first: 500, filter: {provider: RUNAI}) { edges { node {
	metrics(types: [GPU_UTILIZATION], start: $s, end: $e, samples: 4) { type } } } } }`

func TestReplicasStayUnderTheVendorLimit(t *testing.T) {
	t.Parallel()
	mr := miniredis.RunT(t)
	const perSecond, burst = 2.0, 8 // 8 + 120/min: well under the vendor's 200/min
	budgeted := withRedis(mr.Addr(), func(c *app.Config) {
		c.RunAI[0].RateLimit = &app.RateLimitConfig{PerSecond: perSecond, Burst: burst}
	})
	a := newEnv(t, envOptions{runai: gpuOnly, configure: budgeted})
	if err := a.ra.Control().SetFaults(simctl.Faults{RateLimitPerMinute: 200}); err != nil {
		t.Fatal(err)
	}
	replicas := []*env{a, a.replica(t, budgeted), a.replica(t, budgeted)}
	pool := firstRunAIPool(t, a)
	a.resetCounters()

	var seq atomic.Int64
	var mu sync.Mutex
	codes := map[string]int{}
	start := time.Now()
	var wg sync.WaitGroup
	for _, r := range replicas {
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Since(start) < 2*time.Second {
					s := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(seq.Add(1)) * time.Hour)
					res := r.query(t, coldMetrics, map[string]any{"s": s, "e": s.Add(time.Hour)})
					mu.Lock()
					for _, er := range res.Errors {
						codes[fmt.Sprint(er.Extensions["code"])]++
						if er.Extensions["code"] == "RATE_LIMITED" && (er.Extensions["retryAfterSeconds"] == nil || !strings.Contains(er.Message, "upstream budget")) {
							t.Errorf("a budget refusal without a retry hint: %+v", er)
						}
					}
					mu.Unlock()
				}
			}()
		}
	}
	// A mutation in the middle of the storm: it takes the reserve the
	// dashboards leave, it does not wait behind them.
	time.Sleep(500 * time.Millisecond)
	var patched struct{ PatchNodePool struct{ ID string } }
	replicas[1].query(t, patchLabel, map[string]any{"id": pool}).mustData(t, &patched)
	wg.Wait()
	elapsed := time.Since(start)

	if n := a.ra.Control().Throttled(); n != 0 {
		t.Errorf("the simulator throttled %d calls", n)
	}
	// GCRA: at most the burst plus the rate over the elapsed time.
	calls := a.ra.Control().Total()
	if max := int64(burst + perSecond*elapsed.Seconds() + 1); calls > max {
		t.Errorf("%d Run:ai calls in %v, over the budget's %d", calls, elapsed, max)
	}
	if codes["RATE_LIMITED"] == 0 {
		t.Errorf("the dashboards never met the budget: %v (calls %d)", codes, calls)
	}
	for code, n := range codes {
		if code != "RATE_LIMITED" {
			t.Errorf("%d errors %s: only RATE_LIMITED is expected", n, code)
		}
	}
}

// A dashboard whose data is cached but past its TTL gets it stale (reason:
// the budget) rather than an error when the budget is empty.
func TestEmptyBudgetServesStale(t *testing.T) {
	t.Parallel()
	mr := miniredis.RunT(t)
	e := newEnv(t, envOptions{runai: gpuOnly, configure: withRedis(mr.Addr(), func(c *app.Config) {
		c.RunAI[0].RateLimit = &app.RateLimitConfig{PerSecond: 1.0 / 60, Burst: 6}
		c.Cache.Nodes = app.Duration(200 * time.Millisecond)
	})})
	const listing = `{ nodes(first: 500, filter: {provider: RUNAI}) { totalCount } }`
	var first struct{ Nodes struct{ TotalCount int } }
	e.query(t, listing, nil).mustData(t, &first) // 2 clusters: 2 calls + clusters
	time.Sleep(300 * time.Millisecond)           // past the TTL, within staleFor
	// The listing (token, clusters, 2 node listings) took 4 calls of the 6:
	// what is left is the 30% a dashboard leaves to lookups and writes.
	e.resetCounters()
	raw := e.rawQuery(t, listing)
	var again struct {
		Data       struct{ Nodes struct{ TotalCount int } }
		Errors     []gqlError
		Extensions struct {
			Stale []struct{ Backend, Reason string }
		}
	}
	if err := jsonUnmarshal([]byte(raw), &again); err != nil || len(again.Errors) > 0 {
		t.Fatalf("%v: %s", err, raw)
	}
	if again.Data.Nodes.TotalCount != first.Nodes.TotalCount {
		t.Fatalf("stale answer %d nodes, first %d", again.Data.Nodes.TotalCount, first.Nodes.TotalCount)
	}
	if n := e.ra.Control().Total(); n != 0 {
		t.Fatalf("%d Run:ai calls with an empty budget", n)
	}
	if len(again.Extensions.Stale) == 0 || again.Extensions.Stale[0].Reason != "budget" || again.Extensions.Stale[0].Backend != "runai-a" {
		t.Fatalf("no stale extension with reason budget: %s", raw)
	}
	if v := metricValue(t, e, `fleetgraph_upstream_budget_stale_total{backend="runai-a"}`); v == 0 {
		t.Error("the stale answer is not counted")
	}
}

// The vendor's limit drops below the configured budget at run time
// (ModelArts' API Gateway: 30 a minute): the first 429 says so, every
// replica takes 90% of it, and once the gateway's earlier calls have left
// the vendor's window the replicas stay under it.
func TestALearnedLimitKeepsEveryReplicaUnderIt(t *testing.T) {
	t.Parallel()
	mr := miniredis.RunT(t)
	budgeted := withRedis(mr.Addr(), func(c *app.Config) {
		c.ModelArts[0].RateLimit = &app.RateLimitConfig{PerSecond: 10, Burst: 10} // 600/min: too much
		c.Cache.Clusters = app.Duration(time.Millisecond)                         // every query cold
		c.Cache.NodePools = app.Duration(time.Millisecond)
		c.Cache.Nodes = app.Duration(time.Millisecond)
	})
	a := newEnv(t, envOptions{configure: budgeted})
	replicas := []*env{a, a.replica(t, budgeted), a.replica(t, budgeted)}
	var simNow atomic.Int64
	simNow.Store(time.Now().UnixNano())
	ctl := a.ma.Control()
	ctl.SetClock(func() time.Time { return time.Unix(0, simNow.Load()) })
	if err := ctl.SetFaults(simctl.Faults{RateLimitPerMinute: 30}); err != nil {
		t.Fatal(err)
	}
	const q = `{ clusters(provider: MODELARTS) { nodes(first: 1) { totalCount } } }`
	hammer := func(d time.Duration) {
		var wg sync.WaitGroup
		end := time.Now().Add(d)
		for _, r := range replicas {
			wg.Go(func() {
				for time.Now().Before(end) {
					r.query(t, q, nil)
				}
			})
		}
		wg.Wait()
	}
	// Until the vendor throttles once (the budget lets 600/min through).
	for deadline := time.Now().Add(10 * time.Second); ctl.Throttled() == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the simulator never throttled")
		}
		hammer(200 * time.Millisecond)
	}
	// A minute on at the vendor: the calls before it left its window.
	simNow.Add(int64(61 * time.Second))
	ctl.ResetStats()
	// 4 s at 10/s would be 40 calls, over the vendor's 30 (without
	// learning: 11 throttled of 41); at the learned 27/min (burst 1) it
	// is a handful (4 measured), even while the other replicas take up to
	// 2 s to read the learned limit from Redis.
	hammer(4 * time.Second)
	if n := ctl.Throttled(); n != 0 {
		t.Errorf("throttled %d times after the limit was learned (%d calls)", n, ctl.Total())
	}
	if n := ctl.Total(); n > 20 {
		t.Errorf("%d ModelArts calls in 4 s: the replicas did not slow down to the learned 27/min", n)
	}
}

// planRoomy is a budget no test query comes near, on both vendors: the
// plan is checked and reported, nothing is refused.
func planRoomy(c *app.Config) {
	c.RunAI[0].RateLimit = &app.RateLimitConfig{PerSecond: 100, Burst: 1000}
	c.ModelArts[0].RateLimit = &app.RateLimitConfig{PerSecond: 100, Burst: 1000}
}

// The plan the budget checks is the cold answer's cost: on the dashboard
// over both vendors (37 calls, dashboard_minimum_test.go), planned and
// made agree; warm, the plan's listings come from the cache and only the
// calls per object are planned (the cold figure, which the cache then
// answers).
func TestThePlanIsTheColdDashboardsCost(t *testing.T) {
	t.Parallel()
	mr := miniredis.RunT(t)
	e := newEnv(t, envOptions{runai: gpuOnly, configure: withRedis(mr.Addr(), planRoomy)})
	e.resetCounters()
	cost := func() map[string]any {
		r := e.post(t, dashboard, nil, "X-Fleetgraph-Cost", "true")
		if r.code() != "" {
			t.Fatalf("%d %s", r.status, r.body)
		}
		ext, _ := r.json["extensions"].(map[string]any)
		c, _ := ext["cost"].(map[string]any)
		if c == nil || c["plannedUpstreamCalls"] == nil {
			t.Fatalf("no plannedUpstreamCalls: %s", r.body)
		}
		return c
	}
	cold := cost()
	made := e.upstreamCalls()
	if cold["plannedUpstreamCalls"] != float64(37) || cold["upstreamCalls"] != float64(made) || made != 37 {
		t.Fatalf("cold dashboard: planned %v, made %v (simulators %d), want 37 each", cold["plannedUpstreamCalls"], cold["upstreamCalls"], made)
	}
	e.resetCounters()
	warm := cost()
	if warm["upstreamCalls"] != float64(0) || e.upstreamCalls() != 0 {
		t.Fatalf("warm dashboard made %v calls", warm["upstreamCalls"])
	}
	// 37 less the listings: token, Run:ai clusters, pools and 2 node
	// listings; ModelArts pools, 2 node-pool and 2 node listings.
	if warm["plannedUpstreamCalls"] != float64(37-10) {
		t.Fatalf("warm dashboard planned %v calls per object, want 27", warm["plannedUpstreamCalls"])
	}
}

// A query that could never fit its backend's budget is refused before any
// call per object, with the estimate and the limit; a smaller one fits.
func TestAQueryThatCouldNeverFitIsRefusedBeforeItsCalls(t *testing.T) {
	t.Parallel()
	// A dashboard's share of the burst is 7 of 10 (30% stays for lookups
	// and writes), plus 0.1/s over the 30 s request timeout: 10 calls.
	mr := miniredis.RunT(t)
	e := newEnv(t, envOptions{runai: gpuOnly, configure: withRedis(mr.Addr(), func(c *app.Config) {
		c.RunAI[0].RateLimit = &app.RateLimitConfig{PerSecond: 0.1, Burst: 10}
	})})
	var listed struct{ Nodes struct{ TotalCount int } }
	e.query(t, `{ nodes(first: 500, filter: {provider: RUNAI}) { totalCount } }`, nil).mustData(t, &listed)
	if listed.Nodes.TotalCount <= 10 {
		t.Fatalf("%d Run:ai nodes: the test needs more than the budget's 10", listed.Nodes.TotalCount)
	}
	e.resetCounters()
	s := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	vars := map[string]any{"s": s, "e": s.Add(time.Hour)}
	r := e.query(t, coldMetrics, vars)
	if len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != "LIMIT_EXCEEDED" || string(r.Data) != "" && string(r.Data) != "null" {
		t.Fatalf("want one LIMIT_EXCEEDED and no data: %+v %s", r.Errors, r.Data)
	}
	ext := r.Errors[0].Extensions
	if ext["limit"] != "upstreamBudget" || ext["backend"] != "runai-a" || ext["estimate"] != float64(listed.Nodes.TotalCount) || ext["max"] != float64(10) {
		t.Errorf("extensions %v: want upstreamBudget, runai-a, estimate %d, max 10", ext, listed.Nodes.TotalCount)
	}
	for _, want := range []string{fmt.Sprintf("about %d calls to backend runai-a", listed.Nodes.TotalCount), "at most 10", "rateLimit"} {
		if !strings.Contains(r.Errors[0].Message, want) {
			t.Errorf("message %q does not say %q", r.Errors[0].Message, want)
		}
	}
	if n := e.upstreamCalls(); n != 0 {
		t.Fatalf("the refused query made %d upstream calls (%v)", n, e.ra.Control().Stats())
	}
	if v := metricValue(t, e, `fleetgraph_upstream_budget_plan_refusals_total{backend="runai-a",class="dashboard"}`); v != 1 {
		t.Errorf("plan refusals counted %v, want 1", v)
	}
	// Three nodes fit (the listings took 4 of the 7 calls a dashboard
	// may take at once): answered, one call each.
	fits := strings.Replace(coldMetrics, "first: 500", "first: 3", 1)
	var data struct{ Nodes struct{ Edges []any } }
	e.query(t, fits, vars).mustData(t, &data)
	if len(data.Nodes.Edges) != 3 || e.ra.Control().Stats()[raNodeMetrics] != 3 {
		t.Fatalf("%d nodes, %v calls", len(data.Nodes.Edges), e.ra.Control().Stats())
	}
}

// Three replicas on one Redis: once the budget is short, a dashboard whose
// data is cached but past its TTL is answered stale (reason budget) on
// every replica, with no error, while cold dashboards are refused calls.
func TestReplicasDegradeToStaleWhenTheBudgetIsShort(t *testing.T) {
	t.Parallel()
	mr := miniredis.RunT(t)
	budgeted := withRedis(mr.Addr(), func(c *app.Config) {
		c.RunAI[0].RateLimit = &app.RateLimitConfig{PerSecond: 1.0 / 60, Burst: 30}
		c.Cache.Nodes = app.Duration(200 * time.Millisecond)
		c.Cache.NodePools = app.Duration(200 * time.Millisecond)
		c.Cache.Clusters = app.Duration(200 * time.Millisecond)
	})
	a := newEnv(t, envOptions{runai: gpuOnly, configure: budgeted})
	replicas := []*env{a, a.replica(t, budgeted), a.replica(t, budgeted)}
	// A fixed past window: its metrics stay cached (metricsPast, 1 h).
	const panel = `{ nodePools(first: 100, filter: {provider: RUNAI}) { edges { node { name
		nodes(first: 4) { edges { node { name metrics(types: [GPU_UTILIZATION], start: "2026-01-01T00:00:00Z", end: "2026-01-01T01:00:00Z", samples: 4) { type } } } } } } } }`
	var warm map[string]any
	a.query(t, panel, nil).mustData(t, &warm) // 1 token + 1 pools + 2 node listings + 16 metrics: 20 of 30
	time.Sleep(300 * time.Millisecond)        // every listing past its TTL, within staleFor
	// A cold storm takes what a dashboard may take (down to the 30% reserve).
	s := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 3 {
		replicas[i].query(t, strings.Replace(coldMetrics, "first: 500", "first: 2", 1), map[string]any{"s": s.Add(time.Duration(i) * time.Hour), "e": s.Add(time.Duration(i+1) * time.Hour)})
	}
	a.resetCounters()
	for i, r := range replicas {
		raw := r.rawQuery(t, panel)
		var got struct {
			Data       map[string]any
			Errors     []gqlError
			Extensions struct {
				Stale []struct{ Backend, Reason string }
			}
		}
		if err := jsonUnmarshal([]byte(raw), &got); err != nil || len(got.Errors) > 0 {
			t.Fatalf("replica %d: %v %.300s", i, err, raw)
		}
		if len(got.Extensions.Stale) == 0 || got.Extensions.Stale[0].Reason != "budget" {
			t.Fatalf("replica %d: not stale by the budget: %.300s", i, raw)
		}
		if fmt.Sprint(got.Data) != fmt.Sprint(warm) {
			t.Fatalf("replica %d: the stale answer differs from the warm one", i)
		}
	}
	if n := a.ra.Control().Total(); n != 0 {
		t.Fatalf("%d Run:ai calls with the budget at its reserve", n)
	}
}
