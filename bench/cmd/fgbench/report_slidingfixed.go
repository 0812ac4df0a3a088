package main

import (
	"fmt"

	"github.com/fleetgraph/fleetgraph/bench/harness"
)

// A dashboard window and the scenario names of its runs: fleetgraph warm,
// Hive Gateway without a cache, Hive Gateway with its response cache.
type window struct {
	name, title          string
	fg, hive, hiveCached string
	// Target: fleetgraph's req/s at least reqX times Hive-with-response-
	// cache's, at most cpuX times its CPU-ms per request.
	reqX, cpuX float64
}

var windows = []window{
	{"sliding", "Dashboard, sliding window (`now-1h .. now` at send time, to the millisecond)",
		"dashboard-warm", "dashboard", "dashboard-rc", 10, 0.1},
	{"fixed", "Dashboard, fixed window (the same variables on every request)",
		"dashboard-fixed-warm", "dashboard-fixed", "dashboard-fixed-rc", 5, 0.2},
}

// windowRuns are the compare run's summaries of w: fleetgraph, Hive
// Gateway, Hive Gateway with its response cache (nil when not measured).
func (r *report) windowRuns(w window) (fg, h, hc *summary) {
	s := summarize(r.compare.Runs)
	n := r.compare.Settings.Fleet.Nodes()
	return s[runKey{harness.SystemFleetgraph, w.fg, n}], s[runKey{harness.SystemHive, w.hive, n}], s[runKey{harness.SystemHive, w.hiveCached, n}]
}

// windowTargets are the targets' lines against Hive Gateway with its
// response cache.
func (r *report) windowTargets() {
	if r.compare == nil {
		return
	}
	for _, w := range windows {
		fg, _, h := r.windowRuns(w)
		if fg == nil || h == nil {
			r.p("| %s-window warm dashboard vs Hive Gateway with its response cache | not measured (`make bench-compare`) | |", w.name)
			continue
		}
		rq, cpu := fg.reqPerSec/h.reqPerSec, fg.cpu/h.cpu
		r.p("| %s-window warm dashboard: ≥ %g× Hive-with-response-cache's req/s at ≤ %g× its CPU-ms per request | %.2f× the req/s at %.2f× the CPU-ms (%s vs %s req/s; %s vs %s ms) | %s |",
			w.name, w.reqX, w.cpuX, rq, cpu, f1(fg.reqPerSec), f1(h.reqPerSec), f1(fg.cpu), f1(h.cpu), mark(rq >= w.reqX && cpu <= w.cpuX))
	}
}

// windowTables are the warm dashboard with both windows against both Hive
// Gateway variants.
func (r *report) windowTables() {
	if r.compare == nil {
		return
	}
	for _, w := range windows {
		fg, h, hc := r.windowRuns(w)
		if fg == nil || h == nil || hc == nil {
			continue
		}
		r.p("### %s", w.title)
		r.p("")
		r.p("%d concurrent clients; %s; median of %d rounds. Hive Gateway's response cache: `responseCaching` on the same redis-server, TTL %gs (fleetgraph's `cache.responses.ttl`, its default).",
			r.compare.Settings.WarmConcurrency, r.compare.Settings.Fleet, fg.n, r.compare.Settings.ResponseTTLSeconds)
		r.p("")
		r.p("| figure | fleetgraph warm | Hive Gateway | Hive + response cache | fleetgraph / Hive | fleetgraph / Hive + cache |")
		r.p("|---|---:|---:|---:|---:|---:|")
		row := func(name string, f func(*summary) float64) {
			r.p("| %s | %s | %s | %s | %s | %s |", name, f1(f(fg)), f1(f(h)), f1(f(hc)), ratio(f(fg), f(h)), ratio(f(fg), f(hc)))
		}
		row("req/s", func(x *summary) float64 { return x.reqPerSec })
		row("p50 ms", func(x *summary) float64 { return x.p50 })
		row("p99 ms", func(x *summary) float64 { return x.p99 })
		row("gateway CPU ms / request", func(x *summary) float64 { return x.cpu })
		hcRedis := "not measured" // runs before the harness counted it for Hive Gateway
		if hc.redisCPU > 0 {
			hcRedis = f1(hc.redisCPU)
		}
		r.p("| + redis-server CPU ms / request | %s | – | %s | | |", f1(fg.redisCPU), hcRedis)
		row("peak RSS MB", func(x *summary) float64 { return x.rss })
		row(fmt.Sprintf("upstream calls / request (cold minimum %d)", fg.minUp), func(x *summary) float64 { return x.upstream })
		r.p("| failures / requests | %d / %d | %d / %d | %d / %d | | |", fg.failures, fg.requests, h.failures, h.requests, hc.failures, hc.requests)
		r.p("")
		for _, x := range []struct {
			name string
			s    *summary
		}{{"fleetgraph", fg}, {"Hive Gateway", h}, {"Hive Gateway with its response cache", hc}} {
			if x.s.firstError != "" {
				r.p("First failure of %s: `%.200s`", x.name, x.s.firstError)
				r.p("")
			}
		}
	}
}

// windowShortfalls explains a missed window target from the runs.
func (r *report) windowShortfalls() {
	if r.compare == nil {
		return
	}
	n := r.compare.Settings.Fleet.Nodes()
	for _, w := range windows {
		fg, _, hc := r.windowRuns(w)
		if fg == nil || hc == nil {
			continue
		}
		rq, cpu := fg.reqPerSec/hc.reqPerSec, fg.cpu/hc.cpu
		if rq >= w.reqX && cpu <= w.cpuX {
			continue
		}
		var bytes float64
		for _, m := range r.compare.Runs {
			if m.System == harness.SystemFleetgraph && m.Scenario == w.fg && m.FleetNodes == n {
				bytes = m.BytesPerReq
			}
		}
		r.p("- **%s-window warm dashboard: %.2f× Hive-with-response-cache's req/s at %.2f× its CPU-ms per request**",
			w.name, rq, cpu)
		r.p("  (target ≥ %g× at ≤ %g×). Both answer from a whole-response cache here; fleetgraph's costs %s ms of",
			w.reqX, w.cpuX, f1(fg.cpu))
		r.p("  gateway CPU per request (%s of the machine's %d cores at %s req/s) and %s ms of redis-server CPU",
			f1(fg.cpu*fg.reqPerSec/1000), r.compare.Meta.Cores, f1(fg.reqPerSec), f1(fg.redisCPU))
		r.p("  (the generation check of each hit). The req/s is then bounded outside the gateway: the closed-loop")
		r.p("  load generator runs on the same two cores and reads and checks every %s kB answer for `errors`, and", f1(bytes/1000))
		r.p("  %d clients each wait a loopback round trip per answer (p50 %s ms). More req/s from fleetgraph", r.compare.Settings.WarmConcurrency, f1(fg.p50))
		r.p("  would need a load generator on other cores; the CPU ratio is the gateway's own figure.")
	}
}
