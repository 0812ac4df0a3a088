package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/fleetgraph/fleetgraph/bench/harness"
)

func (r *report) machine() {
	r.p("## Machine and versions")
	r.p("")
	r.p("| | |")
	r.p("|---|---|")
	for _, x := range []struct {
		name string
		res  *harness.Results
	}{{"make bench", r.load}, {"make bench-compare", r.compare}, {"make bench-soak", r.soak}} {
		if x.res == nil {
			r.p("| `%s` | not run |", x.name)
			continue
		}
		m := x.res.Meta
		r.p("| `%s` | %s, commit `%s`, load average at start %s |", x.name, m.Generated, m.Commit, m.LoadAvg)
	}
	var m harness.Meta
	for _, res := range []*harness.Results{r.compare, r.load, r.soak} {
		if res != nil {
			m = res.Meta
			break
		}
	}
	r.p("| CPU | %s, %d cores (shared: other work ran on this machine during the runs) |", m.CPU, m.Cores)
	r.p("| memory, kernel | %.1f GB, Linux %s |", m.MemGB, m.Kernel)
	r.p("| Go | %s (gateway, simulator and load generator) |", m.GoVersion)
	r.p("| load generator | %s, closed loop (each client sends its next request when its answer is in) |", m.Vegeta)
	r.p("| cache | %s |", m.Redis)
	if r.compare != nil {
		cm := r.compare.Meta
		var pk []string
		for k, v := range cm.Packages {
			pk = append(pk, fmt.Sprintf("`%s@%s`", k, v))
		}
		sort.Strings(pk)
		r.p("| Node.js | %s |", cm.Node)
		r.p("| Hive Gateway side | %s |", strings.Join(pk, ", "))
	}
	r.p("")
}

func (r *report) method() {
	var st harness.Settings
	for _, res := range []*harness.Results{r.compare, r.load} {
		if res != nil {
			st = res.Settings
			break
		}
	}
	r.p("## Method")
	r.p("")
	r.p("- **Processes.** `fleetgraph sim` (both vendor simulators, %s ms on every vendor call) runs as its own", f1(st.LatencyMs))
	r.p("  process; each gateway under test is a fresh process per measured run (fleetgraph: the `go build` of")
	r.p("  this tree with `--config`; Hive Gateway: `hive-gateway supergraph` with `NODE_ENV=production`), so")
	r.p("  one run's heap never carries into the next. Everything listens on 127.0.0.1 on a free port and is")
	r.p("  stopped by its PID (SIGTERM to the process group it leads, SIGKILL after 5 s).")
	r.p("- **fleetgraph's configuration.** One Run:ai backend in pass-through mode (the caller's bearer goes")
	r.p("  upstream and scopes the cache), the shared cache on the Redis above (flushed before every run),")
	r.p("  the whole-response cache on (`cache.responses.enabled: true`, at its defaults: ttl 5 s, 32 MiB),")
	r.p("  every other setting at its default, except `requestTimeout: 120s` and, when the gateway has it,")
	r.p("  `limits.maxComplexity` raised so that one query may ask for a 10 000-node fleet.")
	if r.compare != nil && r.compare.Settings.HiveFork > 0 {
		r.p("- **Hive Gateway's workers.** `--fork %d`: one worker process per core, as fleetgraph uses every core", r.compare.Settings.HiveFork)
		r.p("  (Hive's default, 1, leaves JavaScript on one core). Its CPU and RSS are summed over the master and")
		r.p("  its workers.")
	}
	r.p("- **Hive Gateway's configuration.** `mesh-compose` over `runai-openapi-2.22.json` (Run:ai's own")
	r.p("  document) with `@omnigraph/openapi`, plus two `@resolveTo` links a dashboard needs")
	r.p("  (`Nodepool.nodes`, `Node.metrics`; bench/hive/mesh.config.mjs), composed against the same")
	r.p("  simulator process. Its upstream bearer is one simulator-minted token passed as a static header.")
	r.p("  Two variants: *Hive Gateway*, no cache; *Hive + response cache*, the same with `responseCaching`")
	r.p("  (`@graphql-mesh/plugin-response-cache`, built into the gateway runtime) storing whole responses in")
	r.p("  the same redis-server (`cache: {type: redis}`, `@graphql-mesh/cache-redis`; flushed before each")
	r.p("  run), one global session, the same TTL as fleetgraph's (bench/hive/gateway.cached.config.mjs).")
	r.p("- **Windows.** *sliding*: each request's `$from/$to` is `now-1h .. now` at send time, to the")
	r.p("  millisecond (the built-in dashboard's `Date.toISOString()`), so no two requests share variables;")
	r.p("  *fixed*: the hour before the minute the harness started, the same variables on every request.")
	r.p("  Scenarios (a)-(c) and the scale runs use the sliding window.")
	r.p("- **Callers.** *warm*: every request carries the same bearer, so fleetgraph's cache answers after the")
	r.p("  first; *cold*: every request carries a bearer never seen before (minted ahead by the simulator's")
	r.p("  `POST /_sim/token`), so nothing can come from the cache. Hive Gateway sends its static token either way.")
	r.p("- **Load.** vegeta in the harness process, closed loop, %d concurrent clients, %s s warm-up (fills the", st.WarmConcurrency, f1(st.WarmupSeconds))
	r.p("  cache, warms V8's JIT and the connection pools), then a %s s measured window. Scale runs (d) send", f1(st.Seconds))
	var reqs []string
	for _, n := range st.ScaleRequests {
		reqs = append(reqs, fmt.Sprint(n))
	}
	r.p("  cold dashboards one at a time (%s requests per fleet size, after one unmeasured request), so that", strings.Join(reqs, " / "))
	r.p("  their latency is the query's cost and not queueing.")
	r.p("- **Figures.** req/s = clean answers / window; p50/p95/p99 = exact percentiles of all latencies;")
	r.p("  a failure is a transport error, a non-200 or any `errors` in the body. CPU-ms/request = the")
	r.p("  gateway process tree's utime+stime from `/proc/<pid>/stat` over the window / requests (redis-server's")
	r.p("  shown apart). Peak RSS = `VmHWM` summed over the tree, reset at the window's start (`clear_refs`).")
	r.p("  Upstream calls/request = the simulator's `/_sim/stats` total over the window / requests.")
	r.p("- **A/B.** `make bench-compare` alternates which gateway goes first from one round (and one fleet")
	r.p("  size) to the next; tables show medians over rounds.")
	r.p("- **Fleets.** (a)–(c): %s. (d): %s.", st.Fleet, fleetList(st.ScaleFleets))
	r.p("")
	r.p("The queries (fleetgraph | Hive Gateway). The dashboard asks for two CPU series per node (every")
	r.p("simulated node has them; a CPU-only pool has no GPU series, which Run:ai answers with a 207):")
	r.p("fleetgraph with two aliased `metrics` fields, which it merges into one call per node; Hive with both")
	r.p("types in one field, its best case. fleetgraph's page sizes are the fleet's pool count and nodes per")
	r.p("pool (`$pools`, `$nodes`); Hive asks upstream for pages of 500.")
	r.p("")
	for _, q := range []harness.Query{harness.PoolsQuery, harness.DashboardQuery} {
		r.p("```graphql")
		r.p("# (%s) fleetgraph", q.Name)
		r.p("%s", q.Fleetgraph)
		r.p("# (%s) Hive Gateway", q.Name)
		r.p("%s", q.Hive)
		r.p("```")
	}
	r.p("")
	r.p("**Theoretical minimum of upstream calls** for one cold answer (pass-through: no token call). Run:ai")
	r.p("listings are offset/limit pages of at most 500 with no total, so a listing of n items takes")
	r.p("⌊n/500⌋+1 calls (the last, short or empty, says it is over); node pools carry their cluster's UUID;")
	r.p("node listings are per cluster; metrics are per node, with every type in one call (`metricType=A,B`);")
	r.p("there is no bulk time-series API:")
	r.p("")
	r.p("- (a) pools: ⌊pools/500⌋+1 = **1**.")
	r.p("- (b) dashboard: (⌊pools/500⌋+1) + Σ<sub>clusters</sub>(⌊nodes<sub>c</sub>/500⌋+1) + nodes; on %s that is **%d**.",
		st.Fleet, harness.MinUpstream(harness.DashboardQuery, st.Fleet))
	r.p("")
	r.p("**Critical-path floor** of a cold dashboard = dependent round trips × latency: the pool listing, then")
	r.p("the node pages of the largest cluster (sequential: no total to fan out on), then the metrics calls")
	r.p("(in parallel): (⌊pools/500⌋+1) + (⌊nodes<sub>c</sub>/500⌋+1) + 1 round trips.")
	r.p("")
	r.minimum223(st)
}

// minimum223 states the minimum and floor for a Run:ai control plane of 2.23
// or later (measured in scenario (d) when load.json has the 2.23 runs).
func (r *report) minimum223(st harness.Settings) {
	r.p("**On a Run:ai control plane of 2.23 or later** (`apiVersion: \"2.23\"`/`\"2.24\"`, or probed) the")
	if len(r.scaleSummariesOf(harness.SystemFleetgraph, scale223)) > 0 {
		r.p("gateway lists the tenant's nodes once (`GET /api/v1/nodes`) instead of once per cluster. Scenario (d)")
		r.p("measures fleetgraph against a 2.23 simulator too (`fleetgraph sim --runai-version 2.23`, the gateway")
		r.p("configured `apiVersion: \"2.23\"`, so no probe; Hive Gateway is composed over the 2.22 document and")
		r.p("is not rerun there); everything else in this report is against 2.22. The dashboard's minimum")
	} else {
		r.p("gateway lists the tenant's nodes once (`GET /api/v1/nodes`) instead of once per cluster. *Arithmetic,")
		r.p("not measured* (every measurement in this report is against a 2.22 simulator): the dashboard's minimum")
	}
	r.p("becomes (⌊pools/500⌋+1) + (⌊nodes/500⌋+1) + nodes, i.e. Σ<sub>clusters</sub>(⌊nodes<sub>c</sub>/500⌋+1) −")
	r.p("(⌊nodes/500⌋+1) calls fewer (clusters − 1 while every cluster has under 500 nodes), plus one")
	r.p("`GET /api/v1/nodes/count` per gateway process when the version is probed rather than configured. The")
	r.p("floor becomes (⌊pools/500⌋+1) + (⌊nodes/500⌋+1) + 1 round trips: the one listing's pages are")
	r.p("sequential where the per-cluster listings ran side by side, so on large fleets fewer calls cost more time:")
	r.p("")
	r.p("| fleet | minimum 2.22 | minimum 2.23 | floor 2.22 (round trips) | floor 2.23 (round trips) |")
	r.p("|---|---:|---:|---:|---:|")
	seen := map[harness.Fleet]bool{}
	for _, f := range append([]harness.Fleet{st.Fleet}, st.ScaleFleets...) {
		if seen[f] {
			continue
		}
		seen[f] = true
		q := harness.DashboardQuery
		r.p("| %s | %d | %d | %d | %d |", f, harness.MinUpstream(q, f), harness.MinUpstream223(q, f),
			harness.FloorRoundTrips(q, f), harness.FloorRoundTrips223(q, f))
	}
	r.p("")
}

func fleetList(fs []harness.Fleet) string {
	var s []string
	for _, f := range fs {
		s = append(s, f.String())
	}
	return strings.Join(s, "; ")
}

func (r *report) scenarioTables() {
	r.p("## Scenarios (a) and (b): fleetgraph and Hive Gateway")
	r.p("")
	if r.compare == nil {
		r.p("Not measured: run `make bench-compare`.")
		r.p("")
		return
	}
	s := summarize(r.compare.Runs)
	n := r.compare.Settings.Fleet.Nodes()
	titles := map[string]string{"pools": "(a) One node-pool list", "dashboard": "(b) Dashboard: every pool, its nodes, two metric series per node"}
	for _, q := range []string{"pools", "dashboard"} {
		w, c, h := s[runKey{harness.SystemFleetgraph, q + "-warm", n}], s[runKey{harness.SystemFleetgraph, q + "-cold", n}], s[runKey{harness.SystemHive, q, n}]
		if w == nil || c == nil || h == nil {
			continue
		}
		r.p("### %s", titles[q])
		r.p("")
		r.p("%d concurrent clients; %s; median of %d rounds.", r.compare.Settings.WarmConcurrency, r.compare.Settings.Fleet, w.n)
		r.p("")
		r.p("| figure | fleetgraph warm | fleetgraph cold | Hive Gateway | warm / Hive | cold / Hive |")
		r.p("|---|---:|---:|---:|---:|---:|")
		row := func(name string, f func(*summary) float64) {
			r.p("| %s | %s | %s | %s | %s | %s |", name, f1(f(w)), f1(f(c)), f1(f(h)), ratio(f(w), f(h)), ratio(f(c), f(h)))
		}
		row("req/s", func(x *summary) float64 { return x.reqPerSec })
		row("p50 ms", func(x *summary) float64 { return x.p50 })
		row("p95 ms", func(x *summary) float64 { return x.p95 })
		row("p99 ms", func(x *summary) float64 { return x.p99 })
		row("gateway CPU ms / request", func(x *summary) float64 { return x.cpu })
		r.p("| + redis-server CPU ms / request | %s | %s | – | | |", f1(w.redisCPU), f1(c.redisCPU))
		row("peak RSS MB", func(x *summary) float64 { return x.rss })
		row(fmt.Sprintf("upstream calls / request (minimum %d)", w.minUp), func(x *summary) float64 { return x.upstream })
		r.p("| failures / requests | %d / %d | %d / %d | %d / %d | | |", w.failures, w.requests, c.failures, c.requests, h.failures, h.requests)
		r.p("")
		r.p("Upstream calls per request by route: fleetgraph cold %s; Hive %s.", routes(c.routes), routes(h.routes))
		r.p("")
		for _, x := range []struct {
			name string
			s    *summary
		}{{"fleetgraph warm", w}, {"fleetgraph cold", c}, {"Hive Gateway", h}} {
			if x.s.firstError != "" {
				r.p("First failure of %s: `%.200s`", x.name, x.s.firstError)
				r.p("")
			}
		}
	}
}

func routes(m map[string]float64) string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var s []string
	for _, k := range keys {
		s = append(s, fmt.Sprintf("`%s` %s", k, f1(m[k])))
	}
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

func (r *report) coldWarm() {
	r.p("## Scenario (c): cold vs warm (fleetgraph, `make bench`)")
	r.p("")
	if r.load == nil {
		r.p("Not measured: run `make bench`.")
		r.p("")
		return
	}
	s := summarize(r.load.Runs)
	n := r.load.Settings.Fleet.Nodes()
	r.p("%d concurrent clients; %s.", r.load.Settings.WarmConcurrency, r.load.Settings.Fleet)
	r.p("")
	r.p("| query | figure | warm | cold | cold / warm |")
	r.p("|---|---|---:|---:|---:|")
	for _, q := range []string{"pools", "dashboard"} {
		w, c := s[runKey{harness.SystemFleetgraph, q + "-warm", n}], s[runKey{harness.SystemFleetgraph, q + "-cold", n}]
		if w == nil || c == nil {
			continue
		}
		for _, row := range []struct {
			name string
			f    func(*summary) float64
		}{
			{"req/s", func(x *summary) float64 { return x.reqPerSec }},
			{"p50 ms", func(x *summary) float64 { return x.p50 }},
			{"p99 ms", func(x *summary) float64 { return x.p99 }},
			{"gateway CPU ms / request", func(x *summary) float64 { return x.cpu }},
			{"redis-server CPU ms / request", func(x *summary) float64 { return x.redisCPU }},
			{"peak RSS MB", func(x *summary) float64 { return x.rss }},
			{"upstream calls / request", func(x *summary) float64 { return x.upstream }},
		} {
			r.p("| %s | %s | %s | %s | %s |", q, row.name, f1(row.f(w)), f1(row.f(c)), ratio(row.f(c), row.f(w)))
		}
	}
	r.p("")
	if a := s[runKey{harness.SystemFleetgraph, "dashboard-warm-1client", n}]; a != nil {
		r.p("The warm dashboard with **one client**, so that the gateway is not starved of CPU: %s req/s, p50 %s ms,",
			f1(a.reqPerSec), f1(a.p50))
		r.p("p99 %s ms, %s ms of gateway CPU and %s ms of redis-server CPU per request, %s upstream calls per",
			f1(a.p99), f1(a.cpu), f1(a.redisCPU), f1(a.upstream))
		r.p("request (the cache's 10 s TTL for ranges ending now lets a few through), peak RSS %s MB.", f1(a.rss))
		r.p("")
	}
}

func (r *report) scale() {
	r.p("## Scenario (d): fleet size, cold dashboard, one request at a time")
	r.p("")
	fg := r.scaleSummaries(harness.SystemFleetgraph)
	if len(fg) == 0 {
		r.p("Not measured: run `make bench`.")
		r.p("")
		return
	}
	hv := r.scaleSummaries(harness.SystemHive)
	hiveAt := map[int]*summary{}
	for _, a := range hv {
		hiveAt[a.fleet.Nodes()] = a.s
	}
	r.p("| fleet | gateway | requests | p50 ms | floor ms | p50 / floor | p50 × vs previous size | CPU ms / request | simulator CPU ms / request | peak RSS MB | upstream / request | minimum | upstream / minimum |")
	r.p("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	var prev, prevH *summary
	at223 := map[int]*summary{}
	for _, a := range r.scaleSummariesOf(harness.SystemFleetgraph, scale223) {
		at223[a.fleet.Nodes()] = a.s
	}
	var prev223 *summary
	bare := map[string]map[int]*summary{} // bare transport -> nodes -> its run
	for _, system := range harness.BareTransports {
		for _, a := range r.scaleSummaries(system) {
			if bare[system] == nil {
				bare[system] = map[int]*summary{}
			}
			bare[system][a.fleet.Nodes()] = a.s
		}
	}
	prevBare := map[string]*summary{}
	for _, a := range fg {
		line := func(name string, s, p *summary) {
			growth := "–"
			if p != nil {
				growth = fmt.Sprintf("%.2f", s.p50/p.p50)
			}
			fail := ""
			if s.failures > 0 {
				fail = fmt.Sprintf(" (%d failed)", s.failures)
			}
			rss := "–" // the bare transport runs in the harness: not measured apart
			if s.rss > 0 {
				rss = f1(s.rss)
			}
			r.p("| %s | %s | %d%s | %s | %s | %s | %s | %s | %s | %s | %s | %d | %s |", a.fleet, name, s.requests, fail, f1(s.p50), f1(s.floor),
				ratio(s.p50, s.floor), growth, f1(s.cpu), f1(s.simCPU), rss, f1(s.upstream), s.minUp, fmt.Sprintf("%.3f", s.upstream/float64(s.minUp)))
		}
		line("fleetgraph", a.s, prev)
		prev = a.s
		for _, system := range harness.BareTransports {
			if t := bare[system][a.fleet.Nodes()]; t != nil {
				line(system+" (no gateway)", t, prevBare[system])
				prevBare[system] = t
			}
		}
		if t := at223[a.fleet.Nodes()]; t != nil {
			line("fleetgraph, Run:ai 2.23", t, prev223)
			prev223 = t
		}
		if h := hiveAt[a.fleet.Nodes()]; h != nil {
			line("Hive Gateway", h, prevH)
			prevH = h
		}
	}
	r.p("")
	if len(bare) > 0 {
		r.p("The **bare transport** rows (*%s*, *%s*) are the floor under fleetgraph's on this", harness.SystemTransport, harness.SystemFastTransport)
		r.p("machine: the same vendor calls (the pool listing, every cluster's node pages side by side, then")
		r.p("every node's metrics at once) made by an HTTP client with the gateway's connection settings and")
		r.p("nothing else: no GraphQL, no decoding of the metrics, no cache (`harness.RunTransport`, from the")
		r.p("harness process, whose CPU is the column; same simulator process, right after fleetgraph's run of")
		r.p("`make bench-load`). *%s* is Go's `net/http`; *%s* is `backends/fasttransport`, the", harness.SystemTransport, harness.SystemFastTransport)
		r.p("fasthttp client fleetgraph sends through by default. fleetgraph in that run against each:")
		r.p("")
		r.p("| fleet | bare transport | fleetgraph's p50 / the transport's | fleetgraph's CPU per call / the transport's | the transport: CPU per call, p50 / floor |")
		r.p("|---|---|---:|---:|---:|")
		for _, a := range scaleSummariesIn([]*harness.Results{r.load}, harness.SystemFleetgraph, "") {
			for _, system := range harness.BareTransports {
				if t := bare[system][a.fleet.Nodes()]; t != nil {
					r.p("| %d nodes | %s | %s | %s | %.3f ms, %s |", a.fleet.Nodes(), system, ratio(a.s.p50, t.p50),
						ratio(a.s.cpu/a.s.upstream, t.cpu/t.upstream), t.cpu/t.upstream, ratio(t.p50, t.floor))
				}
			}
		}
		r.p("")
	}
	if len(at223) > 0 {
		r.p("The Run:ai 2.23 rows are from `make bench-load` (fleetgraph alone, against a 2.23 simulator); the")
		r.p("others from `make bench-compare` where it ran that size (alternated with Hive Gateway), else from")
		r.p("`make bench-load` too.")
		r.p("")
	}
	if len(hv) > 0 {
		r.p("fleetgraph / Hive Gateway, per fleet size: ")
		r.p("")
		r.p("| fleet | p50 | CPU ms / request | peak RSS | upstream calls |")
		r.p("|---|---:|---:|---:|---:|")
		for _, a := range fg {
			if h := hiveAt[a.fleet.Nodes()]; h != nil {
				r.p("| %d nodes | %s | %s | %s | %s |", a.fleet.Nodes(), ratio(a.s.p50, h.p50), ratio(a.s.cpu, h.cpu), ratio(a.s.rss, h.rss), ratio(a.s.upstream, h.upstream))
			}
		}
		r.p("")
	}
}

func (r *report) soakSection() {
	r.p("## Soak (`make bench-soak`)")
	r.p("")
	if r.soak == nil || r.soak.Soak == nil {
		r.p("Not run for this report: it takes 5 minutes of the whole machine. `make bench-soak` runs it")
		r.p("(200 clients on the 100-node dashboard, warm, every 50th request cold; RSS sampled every 5 s) and")
		r.p("adds its figures here.")
		r.p("")
		return
	}
	so := r.soak.Soak
	m := so.Run
	peak, slope, growth := soakStats(so)
	r.p("%d concurrent clients for %s s on the dashboard of %s; every %dth request cold (fresh bearer).",
		so.Clients, f1(so.Seconds), r.soak.Settings.Fleet, so.ColdEvery)
	if so.MemoryLimit != "" {
		r.p("The gateway ran with `server.memoryLimit: %s` (Go's soft memory limit; a container gets 90%% of its", so.MemoryLimit)
		r.p("memory limit by default), and the default `limits.maxConcurrentRequests` (8): the other clients wait in line.")
		r.p("Without the memory limit the same 200 clients gave a peak of 107 MB over a minute, at the same throughput.")
	}
	r.p("")
	if m != nil {
		r.p("| req/s | p50 ms | p99 ms | CPU ms / request | upstream / request | failures / requests | peak RSS MB | slope after 1 min | last min vs 2nd |")
		r.p("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
		r.p("| %s | %s | %s | %s | %s | %d / %d | %s | %+.1f MB/min | %+.0f%% |", f1(m.ReqPerSec), f1(m.P50ms), f1(m.P99ms), f1(m.CPUmsPerReq),
			f1(m.UpstreamPerReq), m.Failures, m.Requests, f1(peak), slope, growth*100)
		r.p("")
	}
	r.p("Gateway RSS every 30 s (bar: share of the peak sample):")
	r.p("")
	r.p("```")
	next, top := 0.0, 0.0
	for _, p := range so.Samples {
		top = max(top, p.RSSMB)
	}
	for _, p := range so.Samples {
		if p.Second >= next {
			r.p("t=%4.0fs  %7.1f MB  %s", p.Second, p.RSSMB, strings.Repeat("#", int(50*p.RSSMB/top)))
			next = p.Second + 30 - 2.5
		}
	}
	r.p("```")
	r.p("")
}
