package main

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// The upstream budget's section of BENCHMARKS.md, from budget.json
// (`make bench-budget`): issue 14's proof with three replicas under a
// vendor limit.

// phase is the named phase of budget.json; nil when it has none.
func (b *budgetResults) phase(name string) *budgetPhase {
	for i := range b.Phases {
		if b.Phases[i].Name == name {
			return &b.Phases[i]
		}
	}
	return nil
}

// perMinute is the most simulator calls in any minute of the run, and
// whether the run was long enough for that to be a minute's count; else
// the storm's rate.
func (b *budgetResults) perMinute() (calls float64, ofAMinute bool) {
	if b.PeakSpanSeconds >= 60 {
		return float64(b.PeakCalls), true
	}
	if s := b.phase("storm"); s != nil {
		return s.SimPerMinute, false
	}
	return 0, false
}

// budgetVerdict is the target's three conditions.
func (b *budgetResults) budgetVerdict() (p95Ratio float64, ok bool) {
	base, storm := b.phase("baseline"), b.phase("storm")
	if base == nil || storm == nil || base.Lookups.P95ms == 0 {
		return 0, false
	}
	p95Ratio = storm.Lookups.P95ms / base.Lookups.P95ms
	pm, _ := b.perMinute()
	return p95Ratio, p95Ratio <= 1.5 && b.Throttled == 0 && pm <= float64(b.Settings.SimLimitPerMinute)
}

func (r *report) budgetTarget() {
	b := r.budget
	if b == nil || b.phase("storm") == nil {
		r.p("| interactive p95 under a budget-limited dashboard storm ≤ 1.5× its unthrottled p95, zero throttled, ≤ N calls/min | not measured (`make bench-budget`) | |")
		return
	}
	base, storm := b.phase("baseline"), b.phase("storm")
	ratio, ok := b.budgetVerdict()
	pm, minute := b.perMinute()
	per := fmt.Sprintf("peak %.0f calls in any minute", pm)
	if !minute {
		per = fmt.Sprintf("%.0f calls/min in the storm", pm)
	}
	r.p("| interactive p95 under a budget-limited dashboard storm ≤ 1.5× its unthrottled p95, zero throttled, ≤ N calls/min (N = %d) | p95 %s ms vs %s ms alone = %.2f×; %d throttled; %s | %s |",
		b.Settings.SimLimitPerMinute, f1(storm.Lookups.P95ms), f1(base.Lookups.P95ms), ratio, b.Throttled, per, mark(ok))
}

func (r *report) budgetSection() {
	r.p("## Upstream budget: three replicas under a vendor limit")
	r.p("")
	b := r.budget
	if b == nil || b.phase("baseline") == nil || b.phase("storm") == nil {
		r.p("Not run here: `make bench-budget` writes bench/results/budget.json.")
		r.p("")
		return
	}
	s := b.Settings
	base, storm := b.phase("baseline"), b.phase("storm")
	r.p("Issue 14's proof (`make bench-budget`, bench/cmd/fgbench/budget.go): %d gateway processes on one %s share", s.Replicas, s.Redis)
	r.p("one Run:ai account (service credentials) of one `fleetgraph sim` (%s, %s ms per call), whose", s.Fleet, f1(s.LatencyMs))
	r.p("limit is set at run time to **%d calls a minute** per account (`POST /_sim/faults {\"rateLimitPerMinute\": %d}`).", s.SimLimitPerMinute, s.SimLimitPerMinute)
	r.p("Every replica's budget is `rateLimit: {perSecond: %g, burst: %d}` (%g a minute, at most %g in any minute), with",
		s.PerSecond, s.Burst, s.PerSecond*60, s.PerSecond*60+float64(s.Burst))
	r.p("`cache.metricsPast: %gs`; every other setting at its default (budget waits: lookups 5 s, dashboards 1 s;", s.MetricsPastTTLSeconds)
	r.p("dashboards leave 30%% of the burst to lookups, lookups 10%% to writes). The clients go round robin over the replicas:")
	r.p("")
	r.p("- **interactive**: one client, %g `node(id)` lookups a second (a paced loop: the next one when the last is in", s.LookupRate)
	r.p("  and its time has come), each with one metric series over an hour no one asked before: one Run:ai call each.")
	r.p("- **cold dashboards**: %d clients, closed loop, the load scenarios' dashboard (every pool, node, and two CPU", s.ColdDashboards)
	r.p("  series per node in one call per node) over an hour no one asked before: about %d calls each, which no", s.Fleet.Nodes())
	r.p("  cache can answer.")
	r.p("- **warmed dashboards**: %d clients, the same dashboard over a fixed hour, asked before the phases until", s.WarmDashboards)
	r.p("  answered without an error (%d passes), and expired by the storm (metricsPast above): the data the budget", s.WarmPasses)
	r.p("  may serve stale.")
	r.p("")
	r.p("Phases of %.0f s on the same processes: **baseline**, the interactive client alone; then, after the budget", s.WindowSeconds)
	r.p("refilled, the **storm**: the interactive client and every dashboard.")
	if s.DiagnosePool > 0 {
		r.p("Then a diagnostic phase, **storm-pool**: the same storm on the three replicas restarted with a larger Redis")
		r.p("client pool (`redis.url: redis://…/0?pool_size=%d`; by default go-redis keeps 10 connections per core, shared", s.DiagnosePool)
		r.p("by the cache and the budget).")
	}
	r.p("The simulator's counters are read every second; the budget's decisions are `fleetgraph_upstream_budget_*` of")
	r.p("the replicas' `/metrics`, summed. Run %s, commit `%s` (the working tree, with other sessions' uncommitted", b.Meta.Generated, b.Meta.Commit)
	r.p("changes when dirty), `uptime` at start: `%s`. This 2-core machine was shared with other sessions' work, so", strings.TrimSpace(b.Uptime))
	r.p("the latencies are noisy; the call counts are not.")
	r.p("")

	r.p("**Interactive lookups**")
	r.p("")
	phases := []*budgetPhase{base, storm}
	if d := b.phase("storm-pool"); d != nil {
		phases = append(phases, d)
	}
	r.p("| phase | lookups | p50 ms | p95 ms | p99 ms | errors | budget decisions | waited > 10 ms | mean wait ms | budget seen at ≤ %d left (lookups wait) | at < %d left (below the dashboards' reserve) |",
		reserveOf(0.1, s.Burst), reserveOf(0.3, s.Burst))
	r.p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, ph := range phases {
		l := ph.Lookups
		h := ph.Waits["interactive"]
		var n, waited, mean float64
		if h != nil && h.Count > 0 {
			n, waited, mean = h.Count, h.Count-h.Le["0.01"], h.SumSeconds/h.Count*1000
		}
		r.p("| %s | %d | %s | %s | %s | %d | %.0f | %.0f | %s | %s | %s |", ph.Name, l.Requests, f1(l.P50ms), f1(l.P95ms), f1(l.P99ms),
			l.Errors+l.Failed, n, waited, f1(mean), share(ph.Left, reserveOf(0.1, s.Burst)), share(ph.Left, reserveOf(0.3, s.Burst)-1))
	}
	r.p("")
	r.p("The last two columns are an observer's: it reads what is left of the shared budget every 10 ms on its own")
	r.p("Redis connection (redis_rate with the gateways' limit and n = 0, which takes nothing) and counts the samples.")
	r.p("A dashboard call may take one only while more than %d are left, a lookup while more than %d are.", reserveOf(0.3, s.Burst), reserveOf(0.1, s.Burst))
	r.p("")
	r.p("**Dashboards in the storm** (an answer with errors carries partial data)")
	r.p("")
	r.p("| phase | dashboards | answers | clean | stale, no error | with errors | failed | errors by code | stale values by reason | p50 ms | p95 ms |")
	r.p("|---|---|---:|---:|---:|---:|---:|---|---|---:|---:|")
	for _, ph := range phases[1:] {
		for _, x := range []struct {
			name string
			o    outcome
		}{{"cold (a new window each)", ph.Cold}, {"warmed, expired (fixed window)", ph.Warm}} {
			o := x.o
			r.p("| %s | %s | %d | %d | %d | %d | %d | %s | %s | %s | %s |", ph.Name, x.name, o.Requests, o.Clean, o.Stale, o.Errors, o.Failed,
				counts(o.ErrorCodes), counts(o.StaleReasons), f1(o.P50ms), f1(o.P95ms))
		}
	}
	r.p("")
	r.p("**The vendor account and the budget**")
	r.p("")
	r.p("| phase | s | simulator calls | budget's bound | per minute | throttled | calls let through, by class | refused, by class | stale by budget | Redis fallbacks | CPU s: gateways, redis, simulator | load average start → end |")
	r.p("|---|---:|---:|---:|---:|---:|---|---|---:|---:|---|---|")
	for _, ph := range phases {
		through, refused := byClass(ph.Decisions)
		r.p("| %s | %.0f | %d | %.0f | %.0f | %d | %s | %s | %.0f | %d | %.1f, %.1f, %.1f | %s → %s |", ph.Name, ph.Seconds, ph.SimCalls, b.bound(ph),
			ph.SimPerMinute, ph.Throttled, through, refused, ph.BudgetStale, ph.RedisFallbacks, ph.GatewayCPU, ph.RedisCPU, ph.SimCPU,
			firstField(ph.LoadAvgStart), firstField(ph.LoadAvgEnd))
	}
	r.p("")
	r.p("The budget's bound is the most a GCRA budget lets through in the phase (burst + rate × seconds); a Redis")
	r.p("fallback is a replica's warning that the budget's Redis calls failed (it then budgets locally for 5 s, so")
	r.p("the replicas together may send up to %d× the rate).", s.Replicas)
	r.p("")
	pm, minute := b.perMinute()
	if minute {
		r.p("Over the whole run (every phase and the warm-up, %.0f s), the most simulator calls in any minute were **%.0f** (limit %d;",
			b.lastSecond(), pm, s.SimLimitPerMinute)
	} else {
		r.p("The run was shorter than a minute (%.0f s): the storm's rate was **%.0f calls a minute** (limit %d;", b.lastSecond(), pm, s.SimLimitPerMinute)
	}
	r.p("the budget's bound %g), and the simulator answered **%d** calls as throttled.", s.PerSecond*60+float64(s.Burst), b.Throttled)
	r.p("")
	r.p("%s", b.budgetReading())
	r.p("")
}

// bound is the most calls the shared budget lets through over ph.
func (b *budgetResults) bound(ph *budgetPhase) float64 {
	return float64(b.Settings.Burst) + b.Settings.PerSecond*ph.Seconds
}

func (b *budgetResults) lastSecond() float64 {
	if len(b.Samples) == 0 {
		return 0
	}
	return b.Samples[len(b.Samples)-1].Second - b.Samples[0].Second
}

// budgetReading is the section's paragraph: what the run shows, in the
// words its figures allow.
func (b *budgetResults) budgetReading() string {
	s := b.Settings
	base, storm := b.phase("baseline"), b.phase("storm")
	ratio, _ := b.budgetVerdict()
	pm, _ := b.perMinute()
	var parts []string
	var broke []*budgetPhase // phases over the budget's own bound, or with Redis fallbacks
	for _, ph := range []*budgetPhase{storm, b.phase("storm-pool")} {
		if ph != nil && (float64(ph.SimCalls) > b.bound(ph) || ph.RedisFallbacks > 0) {
			broke = append(broke, ph)
		}
	}
	if b.Throttled == 0 && pm <= float64(s.SimLimitPerMinute) {
		held := "because every call, retries included, came out of one budget in Redis"
		if len(broke) > 0 {
			held = fmt.Sprintf("but only just (%.0f of %d in the busiest minute), and not because the shared budget held its own bound (below)", pm, s.SimLimitPerMinute)
		}
		parts = append(parts, fmt.Sprintf("**What it shows.** The vendor's limit held: %d replicas and %d dashboards asking for far more than the account allows "+
			"(a cold dashboard alone wants about %d calls; %d of them went at it in a closed loop) kept the account under its limit with no throttled answer, %s.",
			s.Replicas, s.ColdDashboards+s.WarmDashboards, s.Fleet.Nodes(), s.ColdDashboards, held))
	} else {
		parts = append(parts, fmt.Sprintf("**What it shows.** The vendor's limit did not hold: %d throttled answers and %.0f calls in a minute against a limit of %d.",
			b.Throttled, pm, s.SimLimitPerMinute))
	}
	w := storm.Warm
	if w.Requests > 0 && w.Errors+w.Failed == 0 && w.Stale > 0 {
		parts = append(parts, fmt.Sprintf("The warmed dashboards degraded as designed: %d of their %d answers were stale (reason `budget`), none had an error; "+
			"at p50 %s ms each (a value is served stale only once its call was refused, at the earliest after the dashboard's 1 s wait).",
			w.Stale, w.Requests, f1(w.P50ms)))
	} else if w.Requests > 0 {
		parts = append(parts, fmt.Sprintf("The warmed dashboards did not all degrade to stale data: %d of %d answers had errors (%s), %d were stale.",
			w.Errors+w.Failed, w.Requests, counts(w.ErrorCodes), w.Stale))
	}
	parts = append(parts, fmt.Sprintf("The cold dashboards had nothing cached to fall back on: %d of their %d answers carried `RATE_LIMITED` fields "+
		"(partial data, with a retry hint), which is the designed answer when the budget is short and the cache empty.",
		storm.Cold.Errors, storm.Cold.Requests))
	through, _ := byClass(storm.Decisions)
	if ratio <= 1.5 {
		parts = append(parts, fmt.Sprintf("Lookups kept their latency: p95 %s ms in the storm against %s ms alone (%.2f×).",
			f1(storm.Lookups.P95ms), f1(base.Lookups.P95ms), ratio))
	} else {
		h := storm.Waits["interactive"]
		var waited, n float64
		if h != nil {
			n, waited = h.Count, h.Count-h.Le["0.01"]
		}
		parts = append(parts, fmt.Sprintf("The interactive class did **not** keep its latency: p95 %s ms (p99 %s ms) in the storm against %s ms alone, %.1f×; "+
			"%.0f of its %.0f budget decisions waited more than 10 ms, although dashboards leave %d of the burst of %d to it, and the calls let through went %s.",
			f1(storm.Lookups.P95ms), f1(storm.Lookups.P99ms), f1(base.Lookups.P95ms), ratio, waited, n,
			reserveOf(0.3, s.Burst), s.Burst, through))
		parts = append(parts, fmt.Sprintf("The observer saw the budget at %d or fewer calls left, where a lookup must wait, in %s of the storm's "+
			"samples (baseline: %s), and below the dashboards' reserve of %d in %s, although a dashboard call may take one only while more than %d "+
			"are left: the dashboards take past their reserve. The budget checks the reserve with one Redis call (redis_rate AllowN with n = 0: what "+
			"is left) and takes with another (Allow, which takes whenever one is left); every waiting dashboard call that saw room in the same "+
			"instant takes it, and with hundreds of them waiting on each replica the reserve is drained as it refills. "+
			"The reserve would hold only if the check and the take were one atomic step (one script).",
			reserveOf(0.1, s.Burst), share(storm.Left, reserveOf(0.1, s.Burst)), share(base.Left, reserveOf(0.1, s.Burst)),
			reserveOf(0.3, s.Burst), share(storm.Left, reserveOf(0.3, s.Burst)-1), reserveOf(0.3, s.Burst)))
		if d := b.phase("storm-pool"); d != nil && base.Lookups.P95ms > 0 {
			parts = append(parts, fmt.Sprintf("A larger Redis client pool (`pool_size=%d`, storm-pool) is no fix: the lookups' p95 was %s ms there (%.1f× "+
				"alone; the observer saw %s of its samples at %d or fewer left); that it differs from the default pool's %s ms is within this "+
				"machine's noise from run to run.", s.DiagnosePool, f1(d.Lookups.P95ms), d.Lookups.P95ms/base.Lookups.P95ms,
				share(d.Left, reserveOf(0.1, s.Burst)), reserveOf(0.1, s.Burst), f1(storm.Lookups.P95ms)))
		}
	}
	if len(broke) > 0 {
		var names, calls []string
		fb := 0
		for _, ph := range broke {
			names = append(names, ph.Name)
			calls = append(calls, fmt.Sprintf("%d calls in %s against a bound of %.0f", ph.SimCalls, ph.Name, b.bound(ph)))
			fb += ph.RedisFallbacks
		}
		parts = append(parts, fmt.Sprintf("Nor did the shared budget hold its own bound: %s. The replicas logged %d warnings that the budget's Redis calls "+
			"had failed (timeouts at its 200 ms bound: `i/o timeout`, `context deadline exceeded`), after each of which a replica budgets alone for 5 s, "+
			"so that together they may send up to %d× the rate. No fault was injected into Redis: what slowed it past that bound is most likely "+
			"the storm itself, hundreds of waiting calls per replica each trying again and again (two Redis round trips a try), on a shared "+
			"2-core machine.", strings.Join(calls, ", "), fb, s.Replicas))
	}
	if h := storm.Waits["dashboard"]; h != nil && h.Count > 0 {
		if over := h.Count - h.Le["1"]; over > 0 {
			parts = append(parts, fmt.Sprintf("%.0f of the dashboards' %.0f budget decisions took their whole 1 s bound or a hair more: a call "+
				"waiting in line is refused when its bound runs out, and the histogram's 1 s bucket holds only those under it.", over, h.Count))
		}
	}
	if admitted, waited := outcomeTotal(storm.Decisions, "admitted"), outcomeTotal(storm.Decisions, "waited"); admitted == 0 && waited > 0 {
		parts = append(parts, "In `fleetgraph_upstream_budget_decisions_total` every call let through is counted `waited`, none `admitted`, even alone "+
			"in the baseline: a decision's wait includes its Redis round trip, never zero, so the outcome does not tell a call that waited for room; "+
			"the tables add the two, and the wait histogram (`waited > 10 ms`) says which did.")
	}
	parts = append(parts, fmt.Sprintf("The simulator bills a call to the application its token was issued to, as the vendor bills the account: "+
		"the %d replicas each fetch their own service token, and all of them share the one limit of %d calls a minute.", s.Replicas, s.SimLimitPerMinute))
	return strings.Join(parts, " ")
}

// byClass words the decisions: calls let through (admitted and waited)
// and refused, by class.
func byClass(d map[string]float64) (through, refused string) {
	t, rf := map[string]float64{}, map[string]float64{}
	for k, v := range d {
		class, outcome, _ := strings.Cut(k, "/")
		if outcome == "refused" {
			rf[class] += v
		} else {
			t[class] += v
		}
	}
	return classCounts(t), classCounts(rf)
}

// outcomeTotal sums the decisions of every class with outcome.
func outcomeTotal(d map[string]float64, outcome string) float64 {
	var n float64
	for k, v := range d {
		if _, o, _ := strings.Cut(k, "/"); o == outcome {
			n += v
		}
	}
	return n
}

func classCounts(m map[string]float64) string {
	if len(m) == 0 {
		return "–"
	}
	order := map[string]int{"mutation": 0, "interactive": 1, "dashboard": 2, "background": 3}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return order[keys[i]] < order[keys[j]] })
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %.0f", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// reserveOf is a class's reserve of burst (budget.reserve: the share of
// the burst, rounded up).
func reserveOf(share float64, burst int) int {
	return min(int(math.Ceil(share*float64(burst))), max(0, burst-1))
}

// share words the observer's samples at most at of all: "12% (30 of 250)".
func share(left map[int]int, at int) string {
	var n, all int
	for l, v := range left {
		all += v
		if l <= at {
			n += v
		}
	}
	if all == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f%% (%d of %d)", 100*float64(n)/float64(all), n, all)
}

func counts(m map[string]int) string {
	if len(m) == 0 {
		return "–"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func firstField(s string) string {
	f, _, _ := strings.Cut(s, " ")
	return f
}
