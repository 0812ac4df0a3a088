package tests

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetgraph/fleetgraph/app"
	"github.com/fleetgraph/fleetgraph/backends/simctl"
)

// sse subscribes over Server-Sent Events and returns the events' payloads
// until ctx ends.
func sse(t *testing.T, ctx context.Context, e *env, query string, vars map[string]any) <-chan gqlResponse {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.gw.URL+"/graphql", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("SSE subscribe: %d", resp.StatusCode)
	}
	out := make(chan gqlResponse, 16)
	go func() {
		defer resp.Body.Close()
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			data, ok := strings.CutPrefix(sc.Text(), "data: ")
			if !ok || strings.TrimSpace(data) == "" {
				continue
			}
			var r gqlResponse
			if json.Unmarshal([]byte(data), &r) == nil {
				select {
				case out <- r:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out
}

func fastSubscriptions(c *app.Config) {
	c.Subscriptions.MinInterval = app.Duration(500 * time.Millisecond)
}

const poolMetricsSub = `subscription($id: ID!) { nodePoolMetrics(nodePoolId: $id, types: [GPU_UTILIZATION], intervalSeconds: 1, windowSeconds: 600, samples: 10) { at series { type points { value } } } }`

func runaiPoolID(t *testing.T, e *env) string {
	t.Helper()
	var data struct {
		NodePools struct {
			Edges []struct{ Node struct{ ID string } }
		}
	}
	e.query(t, `{ nodePools(first: 1, filter: {provider: RUNAI}) { edges { node { id } } } }`, nil).mustData(t, &data)
	return data.NodePools.Edges[0].Node.ID
}

func TestFiftySubscribersOnePollPerInterval(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{runai: gpuOnly, configure: fastSubscriptions})
	id := runaiPoolID(t, e)
	e.resetCounters()
	ctx, cancel := context.WithCancel(t.Context())
	const n = 50
	streams := make([]<-chan gqlResponse, n)
	for i := range streams {
		streams[i] = sse(t, ctx, e, poolMetricsSub, map[string]any{"id": id})
	}
	var wg sync.WaitGroup
	for i, s := range streams {
		wg.Go(func() {
			for range 2 { // two updates each: two polls
				r, ok := <-s
				if !ok || len(r.Errors) > 0 || !strings.Contains(string(r.Data), "GPU_UTILIZATION") {
					t.Errorf("subscriber %d: %+v", i, r)
					return
				}
			}
		})
	}
	wg.Wait()
	calls := e.ra.Control().Count(raPoolMetrics)
	if calls < 2 || calls > 3 {
		t.Fatalf("%d upstream metrics calls for %d subscribers over two updates, want 2 (3 if a third poll started)", calls, n)
	}
	cancel()
	// Last subscriber gone: polling stops.
	time.Sleep(300 * time.Millisecond)
	stopped := e.ra.Control().Count(raPoolMetrics)
	time.Sleep(2500 * time.Millisecond)
	if got := e.ra.Control().Count(raPoolMetrics); got != stopped {
		t.Fatalf("polling went on after every subscriber left: %d -> %d", stopped, got)
	}
}

func TestSubscriptionSurvivesAnUpstreamFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{runai: gpuOnly, configure: func(c *app.Config) {
		fastSubscriptions(c)
		c.Resilience.Retry.Disabled = true
	}})
	id := runaiPoolID(t, e)
	s := sse(t, t.Context(), e, poolMetricsSub, map[string]any{"id": id})
	if r := <-s; len(r.Errors) > 0 {
		t.Fatalf("first update: %+v", r.Errors)
	}
	if err := e.ra.Control().SetFaults(simctl.Faults{Down: true, Routes: []string{raPoolMetrics}}); err != nil {
		t.Fatal(err)
	}
	var sawError bool
	deadline := time.After(10 * time.Second)
	for !sawError {
		select {
		case r := <-s:
			if len(r.Errors) > 0 {
				if r.Errors[0].Extensions["code"] != "UPSTREAM_UNAVAILABLE" || !strings.Contains(string(r.Data), `"series":null`) {
					t.Fatalf("error event %+v %s", r.Errors, r.Data)
				}
				sawError = true
			}
		case <-deadline:
			t.Fatal("no error event while the backend was down")
		}
	}
	e.ra.Control().ClearFaults()
	for {
		select {
		case r := <-s:
			if len(r.Errors) == 0 && strings.Contains(string(r.Data), "GPU_UTILIZATION") {
				return // recovered, same subscription
			}
		case <-deadline:
			t.Fatal("the subscription did not recover")
		}
	}
}

func TestSubscriptionSharesTheCacheWithQueries(t *testing.T) {
	t.Parallel()
	mr := newMiniredis(t)
	e := newEnv(t, envOptions{runai: gpuOnly, configure: withRedis(mr.Addr(), fastSubscriptions)})
	id := runaiPoolID(t, e)
	// The window aligns to its 1-minute step: keep poll and query in one step.
	if left := time.Until(time.Now().Truncate(time.Minute).Add(time.Minute)); left < 5*time.Second {
		time.Sleep(left + 100*time.Millisecond)
	}
	s := sse(t, t.Context(), e, `subscription($id: ID!) { nodePoolMetrics(nodePoolId: $id, types: [GPU_UTILIZATION], intervalSeconds: 60, windowSeconds: 3600, samples: 60) { at } }`, map[string]any{"id": id})
	<-s
	e.resetCounters()
	// The same window as a plain query: answered from the cache.
	end := time.Now().UTC()
	e.query(t, `query($id: ID!, $s: DateTime!, $e: DateTime!) { nodePool(id: $id) { metrics(types: [GPU_UTILIZATION], start: $s, end: $e, samples: 60) { type } } }`,
		map[string]any{"id": id, "s": end.Add(-time.Hour).Format(time.RFC3339), "e": end.Format(time.RFC3339)})
	if n := e.ra.Control().Count(raPoolMetrics); n != 0 {
		t.Fatalf("a query for the subscription's window made %d metrics calls, want 0", n)
	}
}
