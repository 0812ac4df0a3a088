package main

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"

	"github.com/fleetgraph/fleetgraph/bench/harness"
)

// shortfalls explains each missed target from what the runs recorded.
func (r *report) shortfalls() {
	r.p("## What is short of the targets, and why")
	r.p("")
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
	for _, a := range fg {
		if a.s.p50 > 1.2*a.s.floor {
			extra := 0.0
			if extraClusters {
				extra = a.s.floor / float64(harness.FloorRoundTrips(harness.DashboardQuery, a.fleet)) // one round trip
			}
			r.p("- **Cold latency above 1.2× the floor** (%d nodes: p50 %s ms against a floor of %s ms). The extra",
				a.fleet.Nodes(), f1(a.s.p50), f1(a.s.floor))
			r.p("  round trip above adds %s ms; the remaining %s ms are CPU on the critical path: %s ms of gateway CPU",
				f1(extra), f1(a.s.p50-a.s.floor-extra), f1(a.s.cpu))
			r.p("  per cold dashboard (decoding 100+ vendor answers, the cache's JSON round trip, then marshalling the")
			r.p("  response once the last answer is in) and %s ms of simulator CPU, on two cores shared with the load",
				f1(a.s.simCPU))
			r.p("  generator. Each dataloader level also waits its 1 ms batch window. The CPU items below are the lever;")
			r.p("  at larger fleets the CPU share dominates (scale table).")
			break
		}
	}
	if r.compare != nil {
		s := summarize(r.compare.Runs)
		n := r.compare.Settings.Fleet.Nodes()
		if w := s[runKey{harness.SystemFleetgraph, "dashboard-warm", n}]; w != nil {
			if w.upstream > 1 {
				r.p("- **Under load the warm dashboard is partly cold: %s upstream calls per request (median; %s in",
					f1(w.upstream), f1(w.maxUpstream))
				r.p("  the worst round), where one client gets 0.** With %d clients", r.compare.Settings.WarmConcurrency)
				r.p("  the gateway saturates both cores (%s ms of CPU per dashboard); Redis operations then exceed the", f1(w.cpu))
				r.p("  cache's 50 ms timeout (`cache.timeout`, measured in wall time, scheduling delay included), five")
				r.p("  in a row open the cache breaker (the gateway logs `cache breaker state changed`), and for its 5 s")
				r.p("  every lookup is a miss that goes upstream, which costs more CPU: a feedback loop. The cache is")
				r.p("  correct; it is CPU starvation that turns it off. Suggested: cut the CPU per response (below), and")
				r.p("  count a cache timeout against the breaker only when the process is not CPU-bound (or use a longer")
				r.p("  timeout for pipelined batch reads than for single keys).")
			}
			if h := s[runKey{harness.SystemHive, "dashboard", n}]; h != nil && (w.reqPerSec < 10*h.reqPerSec || w.cpu > 0.1*h.cpu) {
				r.p("- **Warm dashboard vs Hive Gateway: %.2f× its req/s at %.2f× its CPU-ms per request** (target ≥ 10×",
					w.reqPerSec/h.reqPerSec, w.cpu/h.cpu)
				r.p("  at ≤ 0.1×). A warm answer does no upstream work at all, so its cost is the GraphQL execution and")
				r.p("  the cache decode; on the 100-node dashboard (4 000 metric points) that is tens of ms of CPU")
				if note := r.microNote("BenchmarkQueryDashboardWarm"); note != "" {
					r.p("  (%s).", note)
				}
				r.p("  The profiles below put it in three places:")
				r.p("  1. gqlgen marshals every element of every list of objects in a goroutine of its own")
				r.p("     (`graphql.MarshalSliceConcurrently`, generated for `[MetricPoint!]!`, `[MetricSeries!]!`,")
				r.p("     `[NodeEdge!]!`): one goroutine, one `FieldContext`, one `CollectFields` and one deferred-group")
				r.p("     bookkeeping per metric point. `gqlgen.yml` cannot turn this off in v0.17.95 (`exec.worker_limit`")
				r.p("     bounds the goroutines but keeps them; 99designs/gqlgen#3202 asks for exactly this).")
				r.p("  2. gqlgen's generated `_MetricPoint` calls `graphql.GetPath(ctx)` for `ProcessDeferredGroup` on every")
				r.p("     object even with no `@defer` in the query: a path slice built per point (`graphql.GetPath` in the")
				r.p("     profiles).")
				r.p("  3. the cache path decodes twice per hit (the envelope with a `json.RawMessage`, then the value) and,")
				r.p("     on a miss, marshals the fetched value, unmarshals it back and marshals the envelope, which")
				r.p("     re-scans the value (`cachedLoad`, fleet/cache.go): a cold series is decoded from the vendor,")
				r.p("     encoded, decoded and scanned again.")
				r.p("  Smaller: `app.writeResponse` passes the already-encoded response through `json.Marshal`, which")
				r.p("  validates and compacts all of it once more (`encoding/json.appendCompact` under it in the profiles).")
				r.p("  Suggested, in order of yield: serve points without a goroutine each (a scalar list, e.g. a")
				r.p("  `MetricPoint` scalar serialised as `{timestamp, value}`, or `timestamps`/`values` scalar lists beside")
				r.p("  `points`); keep the decoded value from a miss instead of round-tripping it through JSON; store cache")
				r.p("  values in one encoding pass (no envelope re-scan).")
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
				r.p("  grows (peak RSS %s → %s MB) and the collector works harder. The per-point costs below are the lever.",
					f1(a.s.rss), f1(b.s.rss))
			}
		}
	}
	if r.soak != nil && r.soak.Soak != nil {
		peak, slope, growth := soakStats(r.soak.Soak)
		if peak > 100 || !flat(slope, growth) {
			lo, hi := soakRange(r.soak.Soak)
			r.p("- **Soak RSS: peak %s MB** (target ≤ 100 MB); %s (%s–%s MB after the first minute). It is",
				f1(peak), flatness(slope, growth), f1(lo), f1(hi))
			r.p("  the level that misses, by an order of magnitude: %d clients against ≈%s answers per second",
				r.soak.Soak.Clients, f1(r.soak.Soak.Run.ReqPerSec))
			r.p("  keep all %d requests in flight in the gateway (p50 %s s), and every in-flight dashboard holds its",
				r.soak.Soak.Clients, f1(r.soak.Soak.Run.P50ms/1000))
			r.p("  marshaller tree and its goroutines' stacks until it is written")
			if note := r.microNote("BenchmarkQueryDashboardWarm"); note != "" {
				r.p("  (%s).", note)
			}
			r.p("  The same fixes as for CPU shrink it; a bound on concurrent expensive operations (queueing the rest")
			r.p("  before they allocate) would cap it.")
		}
	} else {
		r.p("- **Soak not run for this report** (`make bench-soak`, 5 minutes). The peak RSS of the 16-client")
		r.p("  runs above, already past 100 MB on the dashboard, says where it would land at 200 clients.")
	}
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
