package tests

import (
	"slices"
	"testing"
	"time"

	"github.com/fleetgraph/fleetgraph/app"
	"github.com/fleetgraph/fleetgraph/backends/simctl"
)

// breakerFast: opens after 3 failures in a row, probes after 150ms, no
// retries (so calls can be counted one to one).
func breakerFast(c *app.Config) {
	c.Resilience.Breaker.ConsecutiveFailures = 3
	c.Resilience.Breaker.OpenFor = app.Duration(150 * time.Millisecond)
	c.Resilience.Retry.Disabled = true
}

func TestBreakerOpensFailsFastAndRecovers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{configure: breakerFast})
	if err := e.ma.Control().SetFaults(simctl.Faults{Down: true}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		r := e.query(t, `{ clusters(provider: MODELARTS) { name } }`, nil)
		if !slices.Contains(r.codes(), "UPSTREAM_UNAVAILABLE") {
			t.Fatalf("codes %v", r.codes())
		}
	}
	if got := metricValue(t, e, `fleetgraph_breaker_state{backend="modelarts-a"}`); got != 2 {
		t.Fatalf("breaker state %v after 3 failures, want 2 (open)", got)
	}
	// Open: the subtree fails fast, nothing reaches the vendor, the other
	// provider is unaffected.
	sent := e.ma.Control().Total()
	r := e.query(t, `{ clusters { name provider } }`, nil)
	if e.ma.Control().Total() != sent {
		t.Fatal("a call went through an open breaker")
	}
	if len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != "UPSTREAM_UNAVAILABLE" || r.Errors[0].Extensions["provider"] != "MODELARTS" {
		t.Fatalf("errors %+v", r.Errors)
	}
	if !contains(string(r.Data), "RUNAI") {
		t.Fatalf("Run:ai data lost while the ModelArts breaker is open: %s", r.Data)
	}
	if got := metricValue(t, e, `fleetgraph_upstream_requests_total{backend="modelarts-a",code="breaker_open",provider="MODELARTS",route="/v2/{project_id}/pools"}`); got == 0 {
		t.Fatal("breaker_open not counted")
	}

	// The vendor is back: after OpenFor one probe goes through and closes it.
	e.ma.Control().ClearFaults()
	time.Sleep(200 * time.Millisecond)
	var data struct{ Clusters []cluster }
	e.query(t, `{ clusters(provider: MODELARTS) { name } }`, nil).mustData(t, &data)
	if len(data.Clusters) == 0 {
		t.Fatal("no data after recovery")
	}
	if got := metricValue(t, e, `fleetgraph_breaker_state{backend="modelarts-a"}`); got != 0 {
		t.Fatalf("breaker state %v after recovery, want 0", got)
	}
}

func TestClientErrorsDoNotTripTheBreaker(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{configure: breakerFast})
	if err := e.ma.Control().SetFaults(simctl.Faults{ErrorRate: 1, ErrorStatus: 404}); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		e.query(t, `{ clusters(provider: MODELARTS) { name } }`, nil)
	}
	if got := metricValue(t, e, `fleetgraph_breaker_state{backend="modelarts-a"}`); got != 0 {
		t.Fatalf("breaker state %v after 404s, want 0: a 4xx is the caller's fault", got)
	}
}

func TestIdempotentReadsAreRetried(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{configure: func(c *app.Config) {
		c.Resilience.Retry.MaxAttempts = 3
		c.Resilience.Retry.BaseDelay = app.Duration(time.Millisecond)
	}})
	if err := e.ma.Control().SetFaults(simctl.Faults{ErrorRate: 1, ErrorStatus: 503, Routes: []string{maPools}}); err != nil {
		t.Fatal(err)
	}
	r := e.query(t, `{ clusters(provider: MODELARTS) { name } }`, nil)
	if !slices.Contains(r.codes(), "UPSTREAM_UNAVAILABLE") {
		t.Fatalf("codes %v", r.codes())
	}
	if n := e.ma.Control().Count(maPools); n != 3 {
		t.Fatalf("pool listing sent %d times, want 3 (2 retries)", n)
	}
	if got := metricValue(t, e, `fleetgraph_upstream_retries_total{backend="modelarts-a",provider="MODELARTS",reason="503"}`); got != 2 {
		t.Fatalf("retries counted %v, want 2", got)
	}
}

func TestStaleServedWhileBreakerIsOpen(t *testing.T) {
	t.Parallel()
	mr := newMiniredis(t)
	e := newEnv(t, envOptions{configure: withRedis(mr.Addr(), func(c *app.Config) {
		breakerFast(c)
		c.Cache.Clusters = app.Duration(10 * time.Millisecond)
	})})
	var want struct{ Clusters []cluster }
	e.query(t, `{ clusters(provider: MODELARTS) { name } }`, nil).mustData(t, &want)
	if err := e.ma.Control().SetFaults(simctl.Faults{Down: true}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	for range 5 { // trips the breaker; every answer is the stale value
		var got struct{ Clusters []cluster }
		e.query(t, `{ clusters(provider: MODELARTS) { name } }`, nil).mustData(t, &got)
		if len(got.Clusters) != len(want.Clusters) {
			t.Fatalf("%d clusters, want %d (stale)", len(got.Clusters), len(want.Clusters))
		}
	}
	if got := metricValue(t, e, `fleetgraph_breaker_state{backend="modelarts-a"}`); got != 2 {
		t.Fatalf("breaker state %v, want open", got)
	}
}
