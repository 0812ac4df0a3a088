package main

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/fleetgraph/fleetgraph/bench/harness"
)

// shortfalls explains each missed target from what the runs recorded.
func (r *report) shortfalls() {
	r.p("## What is short of the targets, and why")
	r.p("")
	r.windowShortfalls()
	fg := r.scaleSummaries(harness.SystemFleetgraph)
	extraClusters := false
	for _, a := range fg {
		if a.s.routes["GET /api/v1/clusters"] > 0 {
			extraClusters = true
		}
	}
	if extraClusters {
		r.p("- **One upstream call and one round trip above the minimum.** Every cold `nodePools` answer calls")
		r.p("  `GET /api/v1/clusters` first and lists pools only once it is back: `Service.NodePools`")
		r.p("  (fleet/service.go) walks `Service.Clusters` and then `NodePoolsOfCluster`. For Run:ai the pool listing")
		r.p("  already carries each pool's `clusterId`, and one listing per backend (`runaiPools`) serves every")
		r.p("  cluster, so the cluster listing is neither needed nor needed *first*. It costs one call per query")
		r.p("  (measured/minimum above 1.00, smallest fleet worst) and, worse, one dependent round trip: the critical")
		r.p("  path is clusters → pools → nodes → metrics, four round trips where three suffice. Suggested: issue the")
		r.p("  `runaiPools` load before waiting on clusters (or derive Run:ai clusters from the pools), which")
		r.p("  removes the round trip at once and the call when `cluster { ... }` is not selected.")
	}
	r.coldShortfalls(extraClusters)
	if r.compare != nil {
		s := summarize(r.compare.Runs)
		n := r.compare.Settings.Fleet.Nodes()
		if w := s[runKey{harness.SystemFleetgraph, "dashboard-warm", n}]; w != nil {
			if w.upstream > 1 {
				r.p("- **Under load the warm dashboard is partly cold: %s upstream calls per request (median; %s in",
					f1(w.upstream), f1(w.maxUpstream))
				r.p("  the worst round), where one client gets 0.** With %d clients the gateway saturates both cores", r.compare.Settings.WarmConcurrency)
				r.p("  (%s ms of CPU per dashboard); Redis operations then exceed `cache.timeout` (wall time,", f1(w.cpu))
				r.p("  scheduling delay included), five in a row open the cache breaker, and for its 5 s every lookup")
				r.p("  that the local layer cannot answer goes upstream.")
			}
			if h := s[runKey{harness.SystemHive, "dashboard", n}]; h != nil && (w.reqPerSec < 10*h.reqPerSec || w.cpu > 0.1*h.cpu) {
				r.p("- **Warm dashboard vs Hive Gateway: %.2f× its req/s at %.2f× its CPU-ms per request** (target ≥ 10×",
					w.reqPerSec/h.reqPerSec, w.cpu/h.cpu)
				r.p("  at ≤ 0.1×). A warm answer does no upstream work, so its cost is the GraphQL execution")
				if note := r.microNote("BenchmarkQueryDashboardWarm"); note != "" {
					r.p("  (%s).", note)
				}
				r.p("  What is left is gqlgen's per-object machinery (field contexts, field sets, one goroutine per")
				r.p("  concurrent field of each node) and the garbage it makes; see the profiles.")
			}
		}
	}
	if len(fg) > 1 {
		for i := 1; i < len(fg); i++ {
			if g := fg[i].s.p50 / fg[i-1].s.p50; g > 10 {
				a, b := fg[i-1], fg[i]
				r.p("- **Cold time grows faster than the fleet (%d→%d nodes: ×%.1f).** The upstream part barely grows",
					a.fleet.Nodes(), b.fleet.Nodes(), g)
				r.p("  (floor %s → %s ms: more node pages, paged one after the other). On this 2-core machine the",
					f1(a.s.floor), f1(b.s.floor))
				r.p("  request is CPU-bound: %s s of gateway CPU and %s s of simulator CPU per %d-node dashboard, and the",
					f1(b.s.cpu/1000), f1(b.s.simCPU/1000), b.fleet.Nodes())
				r.p("  gateway's CPU per node rises with the fleet (%.2f → %.2f ms per node) as the heap of one response",
					a.s.cpu/float64(a.fleet.Nodes()), b.s.cpu/float64(b.fleet.Nodes()))
				r.p("  grows (peak RSS %s → %s MB) and the collector works harder.", f1(a.s.rss), f1(b.s.rss))
				r.ratioSpread(a.fleet.Nodes(), b.fleet.Nodes())
			}
		}
	}
	if r.soak != nil && r.soak.Soak != nil {
		peak, slope, growth := soakStats(r.soak.Soak)
		if peak > 100 || !flat(slope, growth) {
			lo, hi := soakRange(r.soak.Soak)
			r.p("- **Soak RSS: peak %s MB** (target ≤ 100 MB); %s (%s–%s MB after the first minute), with",
				f1(peak), flatness(slope, growth), f1(lo), f1(hi))
			r.p("  `limits.maxConcurrentRequests` %s and `server.memoryLimit` %q. The peak is a high-water mark",
				"8 (the default)", r.soak.Soak.MemoryLimit)
			r.p("  between samples: bursts of cold requests, each holding its 100 vendor answers, meet a heap the")
			r.p("  collector lets grow to twice what is live. What raised it since the last soak (peak 99.3 MB, 81–88 MB")
			r.p("  after the first minute, before the whole-response cache) is that cache, on in the harness's")
			r.p("  configuration: under 200 clients concurrent identical requests are a key's second answer and are")
			r.p("  kept, so it filled its 32 MiB (a soak of this round's tree peaked at 128 MB; 75-second soaks gave")
			r.p("  101–107 MB with it, 83–88 MB with `cache.responses.enabled: false`). Its default budget is now a")
			r.p("  tenth of the memory limit when lower (8 MiB here), and an entry keeps its own bytes rather than the")
			r.p("  response buffer it was cut from: 128 → 102 MB. The same tenth for the local layer's 16 MiB gave")
			r.p("  nothing (101 MB, at 116 instead of 125 req/s) and was not kept. Concurrent identical misses now")
			r.p("  execute once (one answer, not the second one that would be kept); what is left above the target is")
			r.p("  the bursts of cold requests.")
		}
	} else {
		r.p("- **Soak not run for this report** (`make bench-soak`, 5 minutes).")
	}
	r.p("")
}

// ratioSpread gives the same growth from make bench-load's run when the
// comparison's runs are the ones reported: a ratio of two p50s of a few
// requests each moves with the noise of a shared machine.
func (r *report) ratioSpread(from, to int) {
	if r.compare == nil || r.load == nil {
		return
	}
	at := map[int]*summary{}
	for _, a := range scaleSummariesIn([]*harness.Results{r.load}, harness.SystemFleetgraph, "") {
		at[a.fleet.Nodes()] = a.s
	}
	if a, b := at[from], at[to]; a != nil && b != nil {
		r.p("  The ratio is of two p50s of a few requests each: `make bench-load`'s run of the same tree gave")
		r.p("  ×%.2f (%s → %s ms); the change table has same-machine A/B pairs.", b.p50/a.p50, f1(a.p50), f1(b.p50))
	}
}

// coldShortfalls explains the cold targets missed: latency against the
// floor and gateway CPU per upstream call, at every fleet size and API.
func (r *report) coldShortfalls(extraClusters bool) {
	var late, heavy []*summaryAt
	for _, a := range r.coldScale() {
		if a.s.p50 > floorBound(a.fleet.Nodes())*a.s.floor {
			late = append(late, a)
		}
		if a.s.cpu/a.s.upstream > callCPUBound {
			heavy = append(heavy, a)
		}
	}
	if len(late) == 0 && len(heavy) == 0 {
		return
	}
	r.transportFloor()
	var parts []string
	for _, a := range late {
		extra := 0.0
		if extraClusters {
			extra = a.s.floor / float64(harness.FloorRoundTripsOf(a.version, harness.DashboardQuery, a.fleet))
		}
		parts = append(parts, fmt.Sprintf("%s: p50 %s ms, floor %s ms, %s ms beyond it; %s ms of gateway and %s ms of simulator CPU, %s ms spread over two cores",
			a.label(), f1(a.s.p50), f1(a.s.floor), f1(a.s.p50-a.s.floor-extra), f1(a.s.cpu), f1(a.s.simCPU), f1((a.s.cpu+a.s.simCPU)/2)))
	}
	if len(late) > 0 {
		r.p("- **Cold latency above the floor's bound** (%s). The floor counts round trips and nothing", strings.Join(parts, "; "))
		r.p("  else; what is beyond it is CPU on the critical path, on two cores shared by the gateway, the")
		r.p("  simulator and the load generator: every metrics answer arrives after the same 20 ms, so decoding")
		r.p("  them, building the nodes' fields and encoding the response is a burst that the cores cannot hide,")
		r.p("  and the simulator's own CPU for those calls falls in the same window. What the CPU spread over two")
		r.p("  cores does not account for is the serial part (the listing's pages, the response once the last")
		r.p("  answer is in) and waiting for a core on a machine other work shares.")
	}
	parts = nil
	for _, a := range heavy {
		parts = append(parts, fmt.Sprintf("%s: %.3f ms", a.label(), a.s.cpu/a.s.upstream))
	}
	if len(heavy) > 0 {
		r.p("- **Gateway CPU per upstream call above %.1f ms** (%s). Two rounds took the vendor side of a call", callCPUBound, strings.Join(parts, "; "))
		r.p("  down (the table below: answers decoded with far fewer passes and allocations, connections kept")
		r.p("  instead of redialled, a field's arguments computed once per operation, no path built per object):")
		r.p("  our own code on a call's path is now a small part of it (the metrics answer's decode is 7.7%% of a")
		r.p("  cold 1 000-node profile, `profile-scale-1000`; the cache entry's encoding 4.3%%). What is left is the machinery around it:")
		r.p("  the HTTP exchange (22.9%% from the transport's entry, 15.6%% inside fasthttp, of which the kernel's")
		r.p("  socket write and read are 6.5%% and 2.3%%: one of each per call, on loopback), gqlgen's execution of")
		r.p("  every node's fields (13.5%%) and the response's encoding (7.9%%), the collector (background marking")
		r.p("  10.3%%, allocation assists 1.1%%; half of the marking is scanning the stacks of the goroutines a cold")
		r.p("  dashboard has parked: one per call in flight, one per node and concurrent field in gqlgen's executor),")
		r.p("  and those goroutines' stack growth (8.0%%: each call's goroutine grows its stack once on the way down")
		r.p("  to the socket). Before this round's transport the exchange was net/http's (15.5%% in the caller,")
		r.p("  17.3%% in the connection's reader and writer goroutines) and the assists 12.8%%.")
		r.p("  Fewer goroutines per node is not the 5× either: with the node edges marshalled in order")
		r.p("  and each node's concurrent fields run inline (an experiment, not kept: it would need every one of")
		r.p("  them prefetched, or a page's calls go one by one), the in-process 100-node dashboard made 2 fewer")
		r.p("  goroutines per node (233 → 51 warm, 449 → 264 cold) for 3–9%% less CPU warm (12.6–14.6 → 12.2–13.3")
		r.p("  ms) and 4%% cold (52.2–56.0 → 50.2–53.6 ms), and the transport alone already costs what the bare")
		r.p("  transport rows show. `GOGC=300` (gateway and")
		r.p("  simulator, in the previous round, over net/http) measured 486–536 → 388–422 CPU-ms per 1 000-node dashboard at 140 → 202–218 MB RSS:")
		r.p("  a memory-for-CPU trade left to the operator (Go's `GOGC`), not made the default, because the soak's")
		r.p("  100 MB target runs under an 80 MiB limit.")
	}
}

// transportFloor says what the bare transports (harness.RunTransport) cost
// against the cold targets, when they were measured.
func (r *report) transportFloor() {
	var cpu, lat []string
	below, over := false, false // a bare transport misses a target; fasthttp's alone is over the CPU one
	var left []string
	for _, system := range harness.BareTransports {
		var per, p50, at []string
		for _, a := range r.scaleSummaries(system) {
			c := a.s.cpu / a.s.upstream
			per = append(per, fmt.Sprintf("%.3f", c))
			p50 = append(p50, fmt.Sprintf("%.2f", a.s.p50/a.s.floor))
			at = append(at, strconv.Itoa(a.fleet.Nodes()))
			below = below || c > callCPUBound || a.s.p50 > floorBound(a.fleet.Nodes())*a.s.floor
			if system == harness.SystemFastTransport {
				over = over || c >= callCPUBound
				left = append(left, fmt.Sprintf("%.3f", callCPUBound-c))
			}
		}
		if len(per) > 0 {
			nodes := strings.Join(at, " / ") + " nodes"
			cpu = append(cpu, fmt.Sprintf("*%s* %s ms at %s", system, strings.Join(per, " / "), nodes))
			lat = append(lat, fmt.Sprintf("*%s* %s", system, strings.Join(p50, " / ")))
		}
	}
	if len(cpu) == 0 || !below {
		return
	}
	r.p("- **On this machine the cold targets are at or below what the transport alone costs.** The same")
	r.p("  vendor calls made by an HTTP client and nothing else (the bare transport rows of scenario (d)) cost")
	r.p("  %s of client CPU per call (target for the whole gateway: %.1f ms),", strings.Join(cpu, "; "), callCPUBound)
	r.p("  and their p50 is %s times the floor (target 1.2 up to 1 000 nodes, 2 at", strings.Join(lat, "; "))
	r.p("  10 000): the floor counts 20 ms per round trip and no CPU, while a thousand parallel answers take the")
	r.p("  client's and the simulator's CPU (its own column) on two shared cores. fleetgraph sends through")
	if over {
		r.p("  the client of the *%s* rows (`backends/fasttransport`) since this round, and in this run", harness.SystemFastTransport)
		r.p("  those rows alone are at or over the whole gateway's target: nothing is left for GraphQL execution,")
		r.p("  decoding and the cache.")
	} else {
		r.p("  the client of the *%s* rows (`backends/fasttransport`) since this round, which leaves the rest", harness.SystemFastTransport)
		r.p("  of the gateway (GraphQL execution and marshalling")
		r.p("  of every node, decoding, the cache) %s ms per call under the target.", strings.Join(left, " / "))
	}
	r.p("  The row is fasthttp under net/http's request and response types, as the gateway uses it; fasthttp")
	r.p("  with its own types measured 0.075 ms per call at 1 000 nodes beside 0.092–0.117 for the row (same")
	r.p("  period, alternated), and the kernel's socket write and read per call are 9%% of the gateway's profile.")
	r.p("  Unencrypted HTTP/2 to the simulator (one connection, no reader and writer goroutines per call) was")
	r.p("  tried and measured no better (1 000 nodes: 471–529 vs 435–484 CPU-ms). So the gap to judge is")
	r.p("  fleetgraph's against these rows, which the table under scenario (d) gives.")
}

// changes lists what profiling led to in this round, with what each
// change gave when it was measured (figures from the commits that made
// them; the tables above are the current state).
func (r *report) changes() {
	r.p("## What profiling changed, and what it gave")
	r.p("")
	r.p("Measured when each change was made: in-process with `BenchmarkQueryDashboardWarm` (CPU per response,")
	r.p("simulators and miniredis in the same process) or with `fgbench load` (separate processes as above).")
	r.p("")
	r.p("| change | where | before → after |")
	r.p("|---|---|---|")
	r.p("| Lists of objects that never wait marshalled in order on the calling goroutine; lists of plain objects (`MetricPoint`: every field a non-null scalar) written in one pass into one buffer, falling back to gqlgen's code for anything it would answer with an error | `internal/gqlfast`, a gqlgen plugin run by `make generate` (`internal/cmd/gqlgen`) | warm dashboard 59.6 → 29.1 CPU-ms, 252k → 49k allocations, 4 229 → 230 goroutines per response |")
	r.p("| Response written as gqlgen produced it: no `json.Marshal` re-validating and compacting the data, no copy into one buffer | `app.encodeResponse` | part of the line above (`encoding/json.appendCompact` was ~8%% of warm CPU) |")
	r.p("| In-process layer of decoded values in front of Redis, coherent across replicas (a write bumps a per-backend generation in Redis that every lookup reads) | `fleet/local.go`, `cache.local` | warm dashboard 29.1 → 11 CPU-ms in-process; under load 46 → ~9 CPU-ms per request, 40 → ~190 req/s |")
	r.p("| Sibling `metrics` fields read from the query once per request, not once per node | `resolvers.siblingTypes`, `fleet.Memo` | ~11%% of warm CPU |")
	r.p("| Backend HTTP transport keeps 256 idle connections (was 64 per host, 100 in all): a dashboard's ~100 parallel metrics calls no longer redial | `backends/resilience` | cold dashboard 46 → 34 CPU-ms per request, 29.6 → 38.4 req/s |")
	r.p("| Cache entries encoded and decoded without a second pass over the value; the request that made a call keeps its value instead of decoding it back | `fleet/cache.go` | part of the line above |")
	r.p("| Vendor answers and cache values decoded with goccy/go-json | `internal/jsonx` | one Run:ai metrics answer ~40 → 19 µs (`BenchmarkDecodeNodeMetrics`, encoding-json vs jsonx) |")
	r.p("| Dataloader batch window 1 ms → 250 µs | `fleet/loaders.go` | one-client warm p50 8.6 → 7.2 ms; cold 100-node p50 ~88 → ~82 ms |")
	r.p("| Whole-response cache (`cache.responses`): the same document, operation, variables and credential scope answered from one in-process copy while every backend generation it read is unchanged in Redis (one `HMGET` per hit); kept on a key's second answer | `app/respcache.go`, `cache/responses.go` | fixed-window warm dashboard (8 clients, 100 nodes): without it served by the field cache as the sliding one is (117 req/s at 13.5 CPU-ms in this run, not measured apart; the issue measured 114–127 req/s at ~15), with it 1 048 req/s at 0.53 CPU-ms; sliding window unchanged (in-process A/B, `BenchmarkQueryDashboardWarm` with a sliding window: 11.5–11.7 CPU-ms per op off, 11.7–13.0 on; +90 of 38 100 allocations) |")
	r.p("| At most `limits.maxConcurrentRequests` (8) requests execute at once, the rest wait in line; `server.memoryLimit` (Go soft memory limit) | `app/admit.go`, `app/memlimit.go` | soak peak RSS 1 910 → ~100 MB at the same throughput |")
	r.p("| Run:ai listings decoded with go-json (page, elements, each node), a listed node's timestamps read without a second decode | `backends/runai` (paging.go, vendortime.go) | one 500-node page 11.5 → 5.7 ms, 16.5k → 8.5k allocations (`BenchmarkDecodeNodePage`) |")
	r.p("| A node's metrics answer read by a scanner of its own when it has the usual shape (else the general path, as before); a series' points in one allocation; an answer read into one buffer of its `Content-Length` | `backends/runai/metricsfast.go`, `fleet/runai/map.go`, `backends/body.go` | one answer 219 → 10 allocations, 12.3 → 4.0 kB, 39–46 → 15–19 µs on this machine under load (`BenchmarkDecodeNodeMetrics`, jsonx vs fast); in-process cold dashboard (`BenchmarkQueryDashboardNoCache`, simulator included) 95.3k → 68.6k allocations per op |")
	r.p("| Backend transport keeps 1 024 idle connections (was 256): a 1 000-node dashboard redialled ~750 of its metrics connections on every request | `backends/resilience` | 1 000-node cold dashboard, gateway 437–451 → 366–400 CPU-ms, simulator 189–201 → 130–143 CPU-ms per request (`fgbench load -run scale-1000 -scale-requests 15`, twice each) |")
	r.p("| Simulator: a metrics answer written without reflection (the same bytes), a query's sample instants formatted once | `backends/runai/runaisim` | 8 → 4.5 µs per answer (`BenchmarkMetricsJSON`); the simulator's CPU is in the cold latency (same machine) |")
	r.p("| Cache entries of metrics values written without reflection (`fleet.MetricsResult.AppendJSON`, Marshal's bytes; `jsonx.MarshalFast`) | `fleet/metricsjson.go`, `internal/jsonx`, `cache/layered.go` | one node's value 17–25 → 10–13 µs, 42 → 1 allocations (`BenchmarkMetricsResultEncode`); `jsonx.Marshal` was 7%% of a cold 1 000-node dashboard's CPU |")
	r.p("| Together, this round's changes against the commit before them (805b997), alternated on the same machine (`fgbench load -run 'scale-(100|1000)$' -scale-requests 15`, twice each) | | 1 000 nodes: gateway 530–531 → 375–387 CPU-ms (0.53 → 0.37–0.39 ms per upstream call), simulator 206–221 → 139–141 CPU-ms, p50 487–667 → 366–383 ms; 100 nodes: gateway 57–60 → 48–57 CPU-ms, p50 112–116 → 103–124 ms (within the noise) |")
	r.p("| Identical queries that miss at the same time execute once: the others wait for the first one's answer and are served it after a hit's generation check (an answer that could not be kept is not shared); an answer neither waited for nor kept is not copied | `cache/respflight.go`, `app/respcache.go` | 5 identical cold dashboards at once: 95 → 19 field lookups, 4 of 5 answers shared (`TestConcurrentIdenticalMissesExecuteOnce`); the soak below |")
	r.p("| A field's arguments computed once per operation, not once per object (`gqlfast.Args`: the dashboard's `metrics(types, start, end, samples)` parsed its two DateTimes on every node); a query's payload written into a buffer sized by the operation's last payload instead of gqlgen's doubling `bytes.Buffer` | `internal/gqlfast` (args.go, response.go), rewritten into the generated executor | in-process 100-node dashboard: warm 19.9–22.7 → 17.7 CPU-ms, 38.0k → 32.5k allocations, 3.25 → 2.46 MB per response; cold 61–62 → 59–60 CPU-ms, 66.8k → 61.4k allocations |")
	r.p("| An object with nothing deferred builds no path and adds nothing to the shared deferred counter (gqlgen's `ProcessDeferredGroup` returned at once after `GetPath` allocated it); one error value per scalar type in field contexts; metric-type sets merged without splitting strings; `isExcluded` returns at once for a successful call (`errors.As`'s reflection on a nil error) | `internal/gqlfast/gen`, `fleet/metrictypes.go`, `backends/resilience` | warm 32.5k → 26.6k allocations per response, cold 61.4k → 55.4k; `isExcluded` was 1.5%% of a cold 1 000-node profile |")
	r.p("| At most 1 024 connections per backend host (`MaxConnsPerHost`: a 10 000-node dashboard opens one per node); kept now that the test it seemed to break is understood: a whole answer read from the local layer took the local copy's end (its 5 s maxAge) as its own freshness and was dropped or kept for milliseconds, a 2–5%% flake with or without the cap (fixed in `cache/local.go`) | `backends/resilience`, `cache/local.go` | measured when first tried: 10 000 nodes p50 5 340–5 743 → 3 952–3 964 ms, gateway 3 905–4 330 → 3 185–3 350 CPU-ms, peak RSS 757–770 → 640–660 MB |")
	r.p("| Together, this round's changes against the commit before them (8305ae5), alternated on this machine (`fgbench load -run 'scale-(100|1000|10000)$'`, twice each). This machine is slower than the last report's: the same old tree used 484–532 CPU-ms per 1 000-node dashboard here against 364 there, so the tables above are not comparable with the last report's, only these pairs are | | 10 000 nodes: gateway 7 193–7 280 → 4 920–5 267 CPU-ms, p50 5 629–5 898 → 4 064–4 572 ms, peak RSS 762–864 → 617–626 MB (mostly the connection cap); 1 000 nodes: 484–532 → 498–516 CPU-ms, p50 406–456 → 442–463 ms; 100 nodes: 56–67 → 59 CPU-ms, p50 110–115 → 106–109 ms (both within the noise); soak peak 102 → 98.1 MB (one execution per identical miss) |")
	r.p("| Lists of plain objects include nested lists of plain objects (`MetricSeries` with its labels and points: one pass per node's metrics field instead of gqlgen's field set, field contexts and marshalers per series), checked first and written when the response is, straight into its buffer (no intermediate buffer per list); `tests/TestPlainListsFastPathMatchesGqlgen` compares every such list with gqlgen's own output | `internal/gqlfast`, `internal/gqlfast/gen` | in-process warm 100-node dashboard: 17.0–18.9 → 15.6–16.0 CPU-ms, 2.23 → 1.69 MB and 26.5k → 23.1k allocations per response |")
	r.p("| A metrics call's query written in one buffer (no `url.Values`, no formatted strings; other queries encoded in one pass with literal commas, was `Encode` then `ReplaceAll`); a body of announced length probed for its end in the byte reserved for it (was a `ReadAll` of the rest: 512 bytes per call) | `backends/runai`, `backends/body.go` | in-process cold 100-node dashboard: 51.9k → 50.3k allocations (16 fewer per call) |")
	r.p("| This round's changes together against the commit before them (b9c3431), alternated on this machine (`fgbench load -run 'scale-(100|1000)$' -scale-requests 15`, twice each, at 74e6337) | | 1 000 nodes: 446–521 → 441–503 CPU-ms, p50 402–476 → 414–468 ms; 100 nodes: 61–63 → 51–59 CPU-ms: within the noise of this shared machine at 1 000 nodes. 10 000 nodes (`-scale-requests 3`, twice each, at b18929d): 4 420–4 730 → 4 237–4 797 CPU-ms, p50 3 720–3 836 → 3 589–3 890 ms, peak RSS 639–676 → 636–644 MB: no change |")
	r.p("| Vendor reads sent through fasthttp (`backends/fasttransport`, an `http.RoundTripper` under the retries and the breaker; writes, requests with a body and proxied requests through net/http; `resilience.transport: net/http` puts Go's transport back for all): no reader and writer goroutine per connection, no request and response value graph per call | `backends/fasttransport`, `app` | bare calls of a cold 1 000-node dashboard (A/B, 15 requests, twice): net/http 0.141–0.163 ms of client CPU per call, fasthttp under net/http's types (the *fasthttp alone* rows, what the gateway runs) 0.092–0.117, fasthttp with its own types 0.075; at 100 and 10 000 nodes the rows are closer (see scenario (d)); fleetgraph 1 000 nodes 350–377 → 294–317 CPU-ms, p50 342–377 → 321–347 ms (A/B, 15 requests, twice); in-process cold 100-node dashboard 50.7–55.4 → 43.1–50.3 CPU-ms (simulators included), 50.1k → 46.5k allocations |")
	r.p("| A batch's misses run on at most 1 024 goroutines (`cache.FanOut`, each takes the next key when done with one; the transport's connections per host): a 10 000-node dashboard parked ~9 000 goroutines for a connection, each with the stack it had grown, and every GC cycle scanned them | `cache` | 10 000 nodes: 3 213–3 490 → 2 653–3 033 CPU-ms, p50 2.9–3.1 → 2.6–2.7 s, peak RSS 724–740 → 582–593 MB (A/B, 3 requests, twice) |")
	r.p("| Tried, not kept | | Unencrypted HTTP/2 between gateway and simulator (`http.Protocols`, one connection for up to 1 000 streams instead of 1 000 connections with a reader and a writer goroutine each): 1 000 nodes 471–529 vs 435–484 CPU-ms over HTTP/1.1, RSS 115–132 vs 139–141 MB; `GODEBUG=adaptivestackstart=1` (stack growth is 7–12%% of the cold profile): 100 nodes 49–50 → 52–54 CPU-ms, 1000 nodes no difference beyond the noise; `GOGC=200`: no difference beyond the noise, +10 MB peak RSS; `GOGC=300` (gateway and simulator, 1 000 nodes, twice each): 486–536 → 388–422 CPU-ms, RSS 140–145 → 202–218 MB (a trade for the operator, see above); the simulator's generic `writeJSON` through go-json: no gain (its metrics answer is now written by hand) |")
	r.p("")
}

// microFigures parses the micro-benchmark output: benchmark name (without
// the -N suffix) -> unit -> value.
func (r *report) microFigures() map[string]map[string]float64 {
	out := map[string]map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(r.micro))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := f[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			name = name[:i]
		}
		m := map[string]float64{}
		for i := 2; i+1 < len(f); i += 2 {
			var v float64
			if _, err := fmt.Sscanf(f[i], "%g", &v); err == nil {
				m[f[i+1]] = v
			}
		}
		out[name] = m
	}
	return out
}

// microNote is "(BenchmarkX: N goroutines, M allocations, K MB per response)" when measured.
func (r *report) microNote(name string) string {
	m := r.microFigures()[name]
	if m == nil {
		return ""
	}
	return fmt.Sprintf("`%s`: %.0f goroutines, %.0f allocations and %.1f MB allocated per response, %.0f ms of CPU",
		name, m["goroutines/op"], m["allocs/op"], m["B/op"]/(1<<20), m["cpu-us/op"]/1000)
}

func (r *report) microSection() {
	r.p("## Micro-benchmarks (`go test -bench . -benchmem ./bench/`)")
	r.p("")
	if len(r.micro) == 0 {
		r.p("Not run: `make bench`.")
		r.p("")
		return
	}
	r.p("In-process: the gateway from `app.Build` (the binary's wiring) over in-process simulators without")
	r.p("latency, 100-node fleet; `cpu-us/op` is the process's CPU (simulators included) per op, `goroutines/op`")
	r.p("the goroutines started per op.")
	r.p("")
	r.p("```")
	sc := bufio.NewScanner(bytes.NewReader(r.micro))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "Benchmark") || strings.HasPrefix(line, "cpu:") || strings.HasPrefix(line, "goos:") {
			r.p("%s", line)
		}
	}
	r.p("```")
	r.p("")
	r.p("`BenchmarkCacheKeys` builds keys through `Cache.Invalidate`, and `BenchmarkQuantityParse` calls")
	r.p("`resource.ParseQuantity` directly: the metrics batch key (`metricsKey.key`), the credential scope")
	r.p("(`Cache.scope`) and `resources()` are unexported in package fleet; an `export_test.go` there would")
	r.p("let them be measured alone.")
	r.p("")
}

func (r *report) profileSection() {
	r.p("## Profiles (`fgbench profile`)")
	r.p("")
	if len(r.profiles) == 0 {
		r.p("None kept: `go run ./bench/cmd/fgbench profile -scenario dashboard-warm` writes one.")
		r.p("")
		return
	}
	r.p("CPU profiles of the gateway (bench/cmd/fgprofiled: `app.Build` plus net/http/pprof, in its own")
	r.p("process) while the scenario ran; the heaviest entries by cumulative time.")
	r.p("")
	for _, p := range r.profiles {
		text := p.text
		if i := strings.Index(text, "## cumulative"); i > 0 {
			// The flat listing is mostly the runtime (allocation, GC): the
			// cumulative one shows who causes it.
			head, _, _ := strings.Cut(text, "\n")
			text = head + "\n\n" + text[i:]
		}
		r.p("<details><summary>%s</summary>", p.name)
		r.p("")
		r.p("```")
		r.p("%s", strings.TrimSpace(text))
		r.p("```")
		r.p("")
		r.p("</details>")
		r.p("")
	}
}
