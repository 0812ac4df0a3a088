package tests

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/fleetgraph/fleetgraph/app"
	"github.com/fleetgraph/fleetgraph/backends/runai/runaisim"
	"github.com/fleetgraph/fleetgraph/backends/simctl"
)

// withResponses is withRedis with the whole-response cache on.
func withResponses(addr string, edit func(*app.Config)) func(*app.Config) {
	return withRedis(addr, func(c *app.Config) {
		c.Cache.Responses.Enabled = true
		if edit != nil {
			edit(c)
		}
	})
}

// runaiOnly drops the ModelArts backend.
func runaiOnly(c *app.Config) { c.ModelArts = nil }

// cacheOps reads fleetgraph_cache_operations_total{op, result}.
func cacheOps(t *testing.T, e *env, op, result string) float64 {
	t.Helper()
	return metricValue(t, e, `fleetgraph_cache_operations_total{op="`+op+`",result="`+result+`"}`)
}

// fieldLookups is every lookup of the step-aligned field cache so far.
func fieldLookups(t *testing.T, e *env) float64 {
	return cacheOps(t, e, "get", "hit") + cacheOps(t, e, "get", "miss") + cacheOps(t, e, "get", "stale") + cacheOps(t, e, "get", "error")
}

const fixedDashboard = `query D($from: DateTime!, $to: DateTime!) {
  nodePools(first: 20) { edges { node { id name phase
    nodes(first: 20) { edges { node { id name status
      metrics(types: [CPU_UTILIZATION], start: $from, end: $to, samples: 5) { type points { timestamp value } }
    } } } } } } }`

func window(to time.Time) map[string]any {
	return map[string]any{"from": to.Add(-time.Hour).Format(time.RFC3339Nano), "to": to.Format(time.RFC3339Nano)}
}

// A dashboard that sends the same variables again is answered from the
// response cache (kept the second time, served from the third): no upstream call, no field-cache lookup, one counted
// response hit, the same bytes. A sliding window (new variables) misses it
// and is served by the step-aligned field cache, still without upstream
// calls.
func TestFixedWindowDashboardIsServedFromResponseCache(t *testing.T) {
	t.Parallel()
	mr := newMiniredis(t)
	e := newEnv(t, envOptions{runai: runaisim.Options{PoolsPerCluster: 2}, configure: withResponses(mr.Addr(), runaiOnly)})
	to := time.Now().UTC().Truncate(time.Minute)
	first := e.query(t, fixedDashboard, window(to))
	if len(first.Errors) > 0 || len(first.Data) < 100 {
		t.Fatalf("first dashboard: %+v %s", first.Errors, first.Data)
	}
	e.query(t, fixedDashboard, window(to)) // the second answer of a key is kept
	e.resetCounters()
	lookups, hits := fieldLookups(t, e), cacheOps(t, e, "response", "hit")
	again := e.query(t, fixedDashboard, window(to))
	if n := e.upstreamCalls(); n != 0 {
		t.Fatalf("repeated fixed-window dashboard: %d upstream calls, want 0", n)
	}
	if n := fieldLookups(t, e) - lookups; n != 0 {
		t.Fatalf("repeated fixed-window dashboard: %v field-cache lookups, want 0 (answered whole)", n)
	}
	if n := cacheOps(t, e, "response", "hit") - hits; n != 1 {
		t.Fatalf("%v response-cache hits, want 1", n)
	}
	if !bytes.Equal(again.Data, first.Data) || len(again.Errors) > 0 {
		t.Fatalf("the cached answer differs:\n%s\nvs\n%s", again.Data, first.Data)
	}
	// The window slides by a millisecond: a response miss, served by the
	// field cache (same step) without going upstream.
	misses := cacheOps(t, e, "response", "miss")
	slid := e.query(t, fixedDashboard, window(to.Add(time.Millisecond)))
	if len(slid.Errors) > 0 || cacheOps(t, e, "response", "miss")-misses != 1 {
		t.Fatalf("sliding window: errors %+v, response misses %v (want 1)", slid.Errors, cacheOps(t, e, "response", "miss")-misses)
	}
	if n := e.upstreamCalls(); n != 0 {
		t.Fatalf("sliding window: %d upstream calls, want 0 (step-aligned field cache)", n)
	}
}

// A write on one replica makes another replica's cached answer miss at once
// (its generations changed in Redis), and the next read sees the write: on
// miniredis and on a real redis-server.
func TestWriteOnOneReplicaFencesAnotherReplicasResponseCache(t *testing.T) {
	t.Parallel()
	for name, addr := range map[string]func(*testing.T) string{
		"miniredis":    func(t *testing.T) string { return newMiniredis(t).Addr() },
		"redis-server": func(t *testing.T) string { return startRedisServer(t).addr() },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := withResponses(addr(t), nil)
			a := newEnv(t, envOptions{runai: runaisim.Options{PoolsPerCluster: 2, PhaseDelay: settleAtOnce}, configure: cfg})
			b := replica(t, a, cfg)
			victim := deletablePool(t, a)
			if !hasPool(listPools(t, a), victim) {
				t.Fatal("the victim is not listed before the write")
			}
			listPools(t, a) // the second answer of a key is kept
			hits := cacheOps(t, a, "response", "hit")
			listPools(t, a)
			if n := cacheOps(t, a, "response", "hit") - hits; n != 1 {
				t.Fatalf("replica A's second list: %v response-cache hits, want 1", n)
			}
			b.query(t, `mutation($id: ID!) { deleteNodePool(id: $id) { accepted } }`, map[string]any{"id": victim}).mustData(t, &struct{}{})
			hits, fenced := cacheOps(t, a, "response", "hit"), cacheOps(t, a, "response", "fenced")
			if hasPool(listPools(t, a), victim) {
				t.Fatal("replica A served its cached answer from before replica B's delete")
			}
			if h, f := cacheOps(t, a, "response", "hit")-hits, cacheOps(t, a, "response", "fenced")-fenced; h != 0 || f != 1 {
				t.Fatalf("after the write: %v response hits (want 0), %v fenced (want 1)", h, f)
			}
		})
	}
}

// Different variables and different callers' credentials never share an
// entry.
func TestResponseCacheKeysByVariablesAndCredentials(t *testing.T) {
	t.Parallel()
	mr := newMiniredis(t)
	e := newEnv(t, envOptions{modelarts: maSlow, configure: passThroughModelArts(mr.Addr(), func(c *app.Config) { c.Cache.Responses.Enabled = true })})
	alice, bob := e.ma.IssueToken(), e.ma.IssueToken()
	const q = `query($n: Int!) { nodePools(first: $n) { edges { node { id name phase } } } }`
	ask := func(token string, n int) {
		t.Helper()
		if r := e.query(t, q, map[string]any{"n": n}, "X-Auth-Token", token); len(r.Errors) > 0 {
			t.Fatalf("%+v", r.Errors)
		}
	}
	ask(alice, 50)
	ask(alice, 50) // the second answer of a key is kept
	hits := cacheOps(t, e, "response", "hit")
	ask(alice, 50)
	if n := cacheOps(t, e, "response", "hit") - hits; n != 1 {
		t.Fatalf("Alice's repeated query: %v response hits, want 1", n)
	}
	hits = cacheOps(t, e, "response", "hit")
	e.resetCounters()
	ask(bob, 50)
	if n := cacheOps(t, e, "response", "hit") - hits; n != 0 {
		t.Fatalf("Bob was served Alice's cached answer (%v response hits)", n)
	}
	if e.upstreamCalls() == 0 {
		t.Fatal("Bob's first query made no upstream call: it was answered with Alice's credential")
	}
	ask(alice, 49)
	if n := cacheOps(t, e, "response", "hit") - hits; n != 0 {
		t.Fatalf("other variables were served the cached answer (%v response hits)", n)
	}
}

// An answer with errors, or with stale parts, is never cached; once the
// vendor is back, answers are.
func TestResponseCacheNeverKeepsErrorsOrStaleAnswers(t *testing.T) {
	t.Parallel()
	const q = `{ clusters { name provider } }`
	t.Run("errors", func(t *testing.T) {
		t.Parallel()
		mr := newMiniredis(t)
		e := newEnv(t, envOptions{configure: withResponses(mr.Addr(), nil)})
		if err := e.ma.Control().SetFaults(simctl.Faults{Down: true}); err != nil {
			t.Fatal(err)
		}
		hits := cacheOps(t, e, "response", "hit")
		for i := range 3 { // the second answer of a key would be kept, the third served
			if r := e.query(t, q, nil); len(r.Errors) == 0 {
				t.Fatalf("query %d: no error while ModelArts is down", i+1)
			}
		}
		if n := cacheOps(t, e, "response", "hit") - hits; n != 0 {
			t.Fatalf("an answer with errors was served from the response cache (%v hits)", n)
		}
		if err := e.ma.Control().SetFaults(simctl.Faults{}); err != nil {
			t.Fatal(err)
		}
		waitCleanAnswer(t, e, q)
		e.query(t, q, nil).mustData(t, &struct{}{}) // kept
		e.query(t, q, nil).mustData(t, &struct{}{}) // served
		if n := cacheOps(t, e, "response", "hit") - hits; n != 1 {
			t.Fatalf("after recovery: %v response hits, want 1", n)
		}
	})
	t.Run("stale", func(t *testing.T) {
		t.Parallel()
		mr := newMiniredis(t)
		const ttl = 300 * time.Millisecond
		e := newEnv(t, envOptions{configure: withResponses(mr.Addr(), func(c *app.Config) {
			c.Cache.Clusters, c.Cache.Responses.TTL = app.Duration(ttl), app.Duration(ttl)
		})})
		e.query(t, q, nil).mustData(t, &struct{}{})
		time.Sleep(ttl + 100*time.Millisecond) // field and response entries past their freshness
		if err := e.ma.Control().SetFaults(simctl.Faults{Down: true}); err != nil {
			t.Fatal(err)
		}
		hits := cacheOps(t, e, "response", "hit")
		for i := range 3 {
			if raw := e.rawQuery(t, q); !contains(raw, `"stale":[`) {
				t.Fatalf("query %d while ModelArts is down is not served stale: %s", i+1, raw)
			}
		}
		if n := cacheOps(t, e, "response", "hit") - hits; n != 0 {
			t.Fatalf("an answer with stale parts was served from the response cache (%v hits)", n)
		}
		if err := e.ma.Control().SetFaults(simctl.Faults{}); err != nil {
			t.Fatal(err)
		}
		waitCleanAnswer(t, e, q) // kept: the key was answered (cleanly) once, before the outage
		// Served again: a kept answer lives at most the 300 ms its field
		// values stay fresh, so on a loaded machine not every query in a row
		// finds it; some do.
		for range 10 {
			e.query(t, q, nil).mustData(t, &struct{}{})
		}
		if n := cacheOps(t, e, "response", "hit") - hits; n < 2 {
			t.Fatalf("after recovery: %v response hits in 10 queries, want at least 2", n)
		}
	})
}

// waitCleanAnswer queries until the answer has neither errors nor stale
// parts (the backend's breaker may hold it open a moment after recovery).
func waitCleanAnswer(t *testing.T, e *env, q string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		raw := e.rawQuery(t, q)
		if !contains(raw, `"errors"`) && !contains(raw, `"stale"`) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no clean answer after recovery: %s", raw)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Identical dashboards that miss at the same time execute once: the first
// one's answer is shared with the others, after the same generation check
// as a hit, and their field lookups are the first one's alone.
func TestConcurrentIdenticalMissesExecuteOnce(t *testing.T) {
	t.Parallel()
	mr := newMiniredis(t)
	e := newEnv(t, envOptions{runai: runaisim.Options{PoolsPerCluster: 2}, configure: withResponses(mr.Addr(), runaiOnly)})
	to := time.Now().UTC().Truncate(time.Minute)
	lookups := fieldLookups(t, e)
	e.query(t, fixedDashboard, window(to.Add(-time.Hour))).mustData(t, &struct{}{})
	one := fieldLookups(t, e) - lookups // what one execution of this shape looks up
	// A slow vendor: the others arrive while the first one waits on it.
	if err := e.ra.Control().SetFaults(simctl.Faults{LatencyMs: 700}); err != nil {
		t.Fatal(err)
	}
	lookups, shared := fieldLookups(t, e), cacheOps(t, e, "response", "shared")
	const n = 5
	var first []byte
	for i, raw := range postTogether(t, e, n, fixedDashboard, window(to)) {
		if !contains(string(raw), `"data":{"nodePools"`) || contains(string(raw), `"errors"`) {
			t.Fatalf("answer %d: %s", i+1, raw)
		}
		if first == nil {
			first = raw
		} else if !bytes.Equal(raw, first) {
			t.Fatalf("answers differ:\n%s\nvs\n%s", raw, first)
		}
	}
	if got := cacheOps(t, e, "response", "shared") - shared; got != n-1 {
		t.Errorf("%v answers shared, want %d", got, n-1)
	}
	if got := fieldLookups(t, e) - lookups; got != one {
		t.Errorf("%d identical dashboards at once made %v field lookups, want one execution's %v", n, got, one)
	}
}

// An answer with errors is shared with the identical operations that
// waited for it, not kept: while a vendor fails, n identical dashboards
// call it once, not n times, and each gets the first one's data and
// errors (its own copy: the error codes and extensions added to one
// answer are not added to another). The next query, after them, executes.
// Both the partial answer (Run:ai's clusters, ModelArts failing) and the
// answer that read nothing (both vendors down) are shared.
func TestConcurrentIdenticalMissesShareErrorAnswers(t *testing.T) {
	t.Parallel()
	for name, runaiDown := range map[string]bool{"one vendor down": false, "both vendors down": true} {
		t.Run(name, func(t *testing.T) {
			mr := newMiniredis(t)
			e := newEnv(t, envOptions{configure: withResponses(mr.Addr(), func(c *app.Config) { c.Resilience.Retry.Disabled = true })})
			faults := simctl.Faults{Down: true, LatencyMs: 700}
			if err := e.ma.Control().SetFaults(faults); err != nil {
				t.Fatal(err)
			}
			if runaiDown {
				if err := e.ra.Control().SetFaults(faults); err != nil {
					t.Fatal(err)
				}
			}
			unshared, shared := cacheOps(t, e, "response", "unshared"), cacheOps(t, e, "response", "shared")
			const n = 4
			var first []byte
			for i, raw := range postTogether(t, e, n, `{ clusters { name provider } }`, nil) {
				if !contains(string(raw), `"code":"UPSTREAM_UNAVAILABLE"`) && !contains(string(raw), `"code":"UPSTREAM_ERROR"`) {
					t.Fatalf("answer %d has no upstream error while ModelArts is down: %s", i+1, raw)
				}
				if first == nil {
					first = raw
				} else if !bytes.Equal(raw, first) {
					t.Fatalf("answers differ:\n%s\nvs\n%s", raw, first)
				}
			}
			if got := cacheOps(t, e, "response", "shared") - shared; got != n-1 {
				t.Errorf("%v answers with errors shared, want %d", got, n-1)
			}
			if got := cacheOps(t, e, "response", "unshared") - unshared; got != 0 {
				t.Errorf("%v operations executed on their own after the first one's error, want 0", got)
			}
			if got := e.ma.Control().Total(); got != 1 {
				t.Errorf("%d identical queries at once called the failing vendor %d times, want once", n, got)
			}
			// Not kept: the next one asks the vendor again.
			e.resetCounters()
			if r := e.query(t, `{ clusters { name provider } }`, nil); len(r.Errors) == 0 {
				t.Fatalf("no error while ModelArts is down: %s", r.Data)
			}
			if got := e.ma.Control().Total(); got != 1 {
				t.Errorf("the query after them called ModelArts %d times, want 1 (an error answer is not kept)", got)
			}
		})
	}
}

// An answer with errors is shared only within the first operation's
// upstream budget class: its errors may be that class's own (a budget
// refusal). Identical queries of another priority execute on their own.
func TestErrorAnswersAreNotSharedAcrossPriorities(t *testing.T) {
	t.Parallel()
	mr := newMiniredis(t)
	e := newEnv(t, envOptions{configure: withResponses(mr.Addr(), func(c *app.Config) { c.Resilience.Retry.Disabled = true })})
	if err := e.ma.Control().SetFaults(simctl.Faults{Down: true, LatencyMs: 700}); err != nil {
		t.Fatal(err)
	}
	unshared, shared := cacheOps(t, e, "response", "unshared"), cacheOps(t, e, "response", "shared")
	const n = 3
	for i, raw := range postTogetherWith(t, e, n, `{ clusters { name provider } }`, nil, http.Header{app.PriorityHeader: {"background"}}) {
		if !contains(string(raw), `"errors"`) {
			t.Fatalf("answer %d has no error while ModelArts is down: %s", i+1, raw)
		}
	}
	if got := cacheOps(t, e, "response", "shared") - shared; got != 0 {
		t.Errorf("%v answers with errors shared with another priority, want 0", got)
	}
	if got := cacheOps(t, e, "response", "unshared") - unshared; got != n-1 {
		t.Errorf("%v operations of another priority executed on their own, want %d", got, n-1)
	}
}

// An answer cut short by the first operation's own deadline is not
// shared: the operations that waited for it may have time left, and
// execute on their own.
func TestConcurrentIdenticalMissesDoNotShareTheirOwnTimeout(t *testing.T) {
	t.Parallel()
	mr := newMiniredis(t)
	e := newEnv(t, envOptions{configure: withResponses(mr.Addr(), func(c *app.Config) {
		c.Resilience.Retry.Disabled = true
		c.RequestTimeout = app.Duration(400 * time.Millisecond)
	})})
	if err := e.ma.Control().SetFaults(simctl.Faults{LatencyMs: 1500}); err != nil {
		t.Fatal(err)
	}
	unshared, shared := cacheOps(t, e, "response", "unshared"), cacheOps(t, e, "response", "shared")
	const n = 3
	for i, raw := range postTogether(t, e, n, `{ clusters { name provider } }`, nil) {
		if !contains(string(raw), `"errors"`) {
			t.Fatalf("answer %d has no error after its deadline: %s", i+1, raw)
		}
	}
	if got := cacheOps(t, e, "response", "shared") - shared; got != 0 {
		t.Errorf("%v answers cut short by the first one's deadline shared, want 0", got)
	}
	if got := cacheOps(t, e, "response", "unshared") - unshared; got != n-1 {
		t.Errorf("%v operations executed on their own, want %d", got, n-1)
	}
}

// postTogether sends n identical queries: the first, then, once it has
// called a vendor, the others. It returns their response bodies.
func postTogether(t *testing.T, e *env, n int, query string, vars map[string]any) [][]byte {
	t.Helper()
	return postTogetherWith(t, e, n, query, vars, nil)
}

// postTogetherWith is postTogether whose queries after the first carry
// header.
func postTogetherWith(t *testing.T, e *env, n int, query string, vars map[string]any, header http.Header) [][]byte {
	t.Helper()
	e.resetCounters()
	answers := make(chan []byte, n)
	post := func(header http.Header) {
		body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
		req, _ := http.NewRequest(http.MethodPost, e.gw.URL+"/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for k, vs := range header {
			req.Header[k] = vs
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			answers <- []byte(err.Error())
			return
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		answers <- raw
	}
	go post(nil)
	for deadline := time.Now().Add(10 * time.Second); e.upstreamCalls() == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the first query never called a vendor")
		}
	}
	for range n - 1 {
		go post(header)
	}
	out := make([][]byte, n)
	for i := range out {
		out[i] = <-answers
	}
	return out
}
