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
	// Use up the budget: a cold metrics query for every node.
	s := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e.query(t, coldMetrics, map[string]any{"s": s, "e": s.Add(time.Hour)})
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
