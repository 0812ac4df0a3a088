package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fleetgraph/fleetgraph/bench/harness"
)

// runBudget is issue 14's end-to-end proof of the upstream budget: three
// gateway replicas on one redis-server share one Run:ai account whose
// simulator enforces a limit of N calls a minute, with the gateways'
// budget (rateLimit) below it. One interactive client sends node(id)
// lookups (one vendor call each: a metrics window no one asked before),
// first alone, then during a storm of dashboards on the same replicas:
// cold ones (a fresh window per request, ~100 calls each) and ones whose
// data was warmed before and has expired (a fixed window), which the
// budget should answer stale rather than with errors. It records the
// lookups' latency in both phases, what each dashboard got, the
// simulator's calls per minute and throttled answers, and the gateways'
// budget decisions -> bench/results/budget.json.
func runBudget(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("fgbench budget", flag.ContinueOnError)
	var c common
	c.register(fs)
	var s budgetSettings
	fs.IntVar(&s.Replicas, "replicas", 3, "gateway processes on the one Redis")
	fs.IntVar(&s.SimLimitPerMinute, "limit", 600, "the Run:ai simulator's per-account limit, calls a minute (POST /_sim/faults)")
	fs.Float64Var(&s.PerSecond, "per-second", 8, "the gateways' budget: runai[].rateLimit.perSecond")
	fs.IntVar(&s.Burst, "burst", 20, "the gateways' budget: runai[].rateLimit.burst")
	window := fs.Duration("window", 30*time.Second, "length of each measured phase")
	fs.IntVar(&s.ColdDashboards, "dashboards", 5, "cold dashboard clients in the storm (a fresh metrics window per request)")
	fs.IntVar(&s.WarmDashboards, "warm-dashboards", 2, "clients of the dashboard warmed before the storm (a fixed window, expired by then)")
	fs.Float64Var(&s.LookupRate, "lookup-rate", 3, "the interactive client's node(id) lookups per second")
	metricsTTL := fs.Duration("metrics-ttl", 5*time.Second, "cache.metricsPast of the gateways: how soon the warmed dashboard's data expires")
	fs.IntVar(&s.DiagnosePool, "diagnose-pool", 256, "after the storm, the same storm again on replicas restarted with this Redis pool_size (0: no such phase)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	s.Fleet, s.LatencyMs, s.WindowSeconds = dashboardFleet, float64(c.latency)/float64(time.Millisecond), window.Seconds()
	s.MetricsPastTTLSeconds = metricsTTL.Seconds()
	res := &budgetResults{Kind: "budget", Meta: harness.ReadMeta(c.root)}
	if up, err := exec.Command("uptime").Output(); err == nil {
		res.Uptime = strings.TrimSpace(string(up))
	}
	logf("load at start: %s", res.Meta.LoadAvg)

	b, err := newBed(&c, true)
	if err != nil {
		return err
	}
	defer b.close()
	res.Meta.Redis, s.Redis = b.redis.Kind, b.redis.Kind
	sb, err := b.startSim(ctx, dashboardFleet)
	if err != nil {
		return err
	}
	defer sb.stop()
	sb.tokens.Hold() // service credentials: no caller tokens are needed
	sim := sb.sim.RunAIURL
	if err := setSimLimit(ctx, sim, s.SimLimitPerMinute); err != nil {
		return err
	}
	logf("simulator limit: %d calls a minute per account", s.SimLimitPerMinute)

	var gws []*budgetGateway
	defer func() {
		for _, g := range gws {
			g.proc.Stop(5 * time.Second)
		}
	}()
	for i := range s.Replicas {
		g, err := startBudgetGateway(b, sim, s, *metricsTTL, i, 0)
		if err != nil {
			return err
		}
		gws = append(gws, g)
	}
	logf("%d gateways on %s, rateLimit %g/s burst %d (%g a minute); cache.metricsPast %v",
		len(gws), b.redis.Addr, s.PerSecond, s.Burst, s.PerSecond*60, *metricsTTL)

	bc := &budgetClient{http: &http.Client{Timeout: 90 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}, gws: gws}
	ids, err := bc.nodeIDs(ctx)
	if err != nil {
		return err
	}
	logf("%d node IDs listed on every replica", len(ids))

	sampler := startSimSampler(ctx, sim)
	defer sampler.stop()

	// The warmed dashboard: a fixed past window, asked until every value
	// is in the cache (a lookup's priority: it may wait 5 s per call).
	passes, err := bc.warm(ctx)
	if err != nil {
		return err
	}
	s.WarmPasses = passes
	refill := time.Duration(float64(s.Burst)/s.PerSecond*float64(time.Second)) + time.Second

	lk := &lookups{ids: ids, every: time.Duration(float64(time.Second) / s.LookupRate)}
	if err := bc.primeTokens(ctx, lk); err != nil {
		return err
	}
	time.Sleep(refill)
	base, err := measurePhase(ctx, "baseline", "the interactive client alone", *window, bc, sim, b, sb, gws, s, func(ctx context.Context, p *phaseRun) {
		p.run(ctx, func(ctx context.Context) { lk.loop(ctx, bc, &p.lookups) })
	})
	if err != nil {
		return err
	}
	res.Phases = append(res.Phases, base)
	time.Sleep(refill)
	var coldSeq atomic.Int64
	stormClients := func(ctx context.Context, p *phaseRun) {
		var fns []func(context.Context)
		fns = append(fns, func(ctx context.Context) { lk.loop(ctx, bc, &p.lookups) })
		for i := range s.ColdDashboards {
			fns = append(fns, func(ctx context.Context) {
				for ctx.Err() == nil {
					n := coldSeq.Add(1)
					from := coldBase.Add(time.Duration(n) * time.Hour)
					p.cold.addIn(ctx, bc.post(ctx, i, dashboardBody(from), nil))
				}
			})
		}
		for i := range s.WarmDashboards {
			fns = append(fns, func(ctx context.Context) {
				for ctx.Err() == nil {
					p.warm.addIn(ctx, bc.post(ctx, i+1, dashboardBody(warmFrom), nil))
				}
			})
		}
		p.run(ctx, fns...)
	}
	stormDesc := fmt.Sprintf("the interactive client, %d cold and %d warmed dashboards", s.ColdDashboards, s.WarmDashboards)
	storm, err := measurePhase(ctx, "storm", stormDesc, *window, bc, sim, b, sb, gws, s, stormClients)
	if err != nil {
		return err
	}
	res.Phases = append(res.Phases, storm)
	if s.DiagnosePool > 0 {
		// The same storm on replicas whose Redis client has a larger pool
		// (redis.url ?pool_size=): does the budget's own Redis traffic
		// queue the lookups' tries behind the dashboards'?
		for _, g := range gws {
			g.proc.Stop(5 * time.Second)
		}
		gws = gws[:0]
		for i := range s.Replicas {
			g, err := startBudgetGateway(b, sim, s, *metricsTTL, i, s.DiagnosePool)
			if err != nil {
				return err
			}
			gws = append(gws, g)
		}
		bc.gws = gws
		if err := bc.primeTokens(ctx, lk); err != nil {
			return err
		}
		time.Sleep(refill)
		diag, err := measurePhase(ctx, "storm-pool", fmt.Sprintf("the same storm on replicas restarted with redis.url ?pool_size=%d", s.DiagnosePool),
			*window, bc, sim, b, sb, gws, s, stormClients)
		if err != nil {
			return err
		}
		res.Phases = append(res.Phases, diag)
	}
	sampler.stop()
	res.Samples = sampler.samples()
	res.PeakCalls, res.PeakSpanSeconds = peakPerMinute(res.Samples)
	if n := len(res.Samples); n > 0 {
		res.Throttled = res.Samples[n-1].Throttled // since the simulator started
	}
	res.Settings = s
	logf("peak %d simulator calls in any %.0f s (limit %d a minute), %d throttled over the run", res.PeakCalls, res.PeakSpanSeconds, s.SimLimitPerMinute, res.Throttled)
	if err := res.save(c.results()); err != nil {
		return err
	}
	logf("wrote %s", filepath.Join(c.results(), "budget.json"))
	return nil
}

// phaseRun is one phase's clients and their tallies.
type phaseRun struct {
	window              time.Duration
	lookups, cold, warm tally
}

// run runs every client until the window ends, printing progress every
// 5 s.
func (p *phaseRun) run(ctx context.Context, clients ...func(context.Context)) {
	ctx, cancel := context.WithTimeout(ctx, p.window)
	defer cancel()
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Go(func() { c(ctx) })
	}
	wg.Go(func() {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		start := time.Now()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				l, c, w := p.lookups.outcome(), p.cold.outcome(), p.warm.outcome()
				logf("  t=%2.0fs  lookups %d (p95 %.0f ms, %d errors)  cold dashboards %d (%d with errors)  warmed %d (%d stale, %d with errors)",
					time.Since(start).Seconds(), l.Requests, l.P95ms, l.Errors+l.Failed, c.Requests, c.Errors+c.Failed, w.Requests, w.Stale, w.Errors+w.Failed)
			}
		}
	})
	wg.Wait()
}

// measurePhase runs clients over window and reads, around it, the
// simulator's counters, the replicas' budget metrics and everyone's CPU.
func measurePhase(ctx context.Context, name, desc string, window time.Duration, bc *budgetClient, simURL string, b *bed, sb *simBed,
	gws []*budgetGateway, s budgetSettings, clients func(context.Context, *phaseRun)) (budgetPhase, error) {
	ph := budgetPhase{Name: name, Description: desc, LoadAvgStart: readLoadAvg()}
	logf("phase %s: %s, %v", name, desc, window)
	before, err := takeSnapshot(ctx, simURL, b, sb, gws)
	if err != nil {
		return ph, err
	}
	obs := observeBudget(ctx, b.redis.Addr, s)
	start := time.Now()
	p := &phaseRun{window: window}
	clients(ctx, p)
	ph.Seconds = time.Since(start).Seconds()
	ph.Left = obs.stop()
	if err := ctx.Err(); err != nil {
		return ph, err
	}
	after, err := takeSnapshot(ctx, simURL, b, sb, gws)
	if err != nil {
		return ph, err
	}
	sim0, sim1, m0, m1 := before.sim, after.sim, before.metrics, after.metrics
	ph.LoadAvgEnd = readLoadAvg()
	ph.RedisFallbacks = after.fallbacks - before.fallbacks
	ph.Lookups, ph.Cold, ph.Warm = p.lookups.outcome(), p.cold.outcome(), p.warm.outcome()
	ph.SimCalls, ph.Throttled = sim1.Total-sim0.Total, sim1.Throttled-sim0.Throttled
	ph.SimPerMinute = float64(ph.SimCalls) / ph.Seconds * 60
	ph.SimRoutes = map[string]int64{}
	for k, v := range sim1.Requests {
		if d := v - sim0.Requests[k]; d != 0 {
			ph.SimRoutes[k] = d
		}
	}
	ph.Decisions, ph.Waits = map[string]float64{}, map[string]*waitHist{}
	for k, v := range m1 {
		d := v - m0[k]
		if d == 0 {
			continue
		}
		kind, rest, _ := strings.Cut(k, ":")
		switch kind {
		case "stale":
			ph.BudgetStale = d
		case "planRefusals":
			ph.PlanRefusals = d
		case "decision":
			ph.Decisions[rest] = d
		case "waitCount", "waitSum", "waitLe":
			class, le, _ := strings.Cut(rest, "/")
			h := ph.Waits[class]
			if h == nil {
				h = &waitHist{Le: map[string]float64{}}
				ph.Waits[class] = h
			}
			switch kind {
			case "waitCount":
				h.Count = d
			case "waitSum":
				h.SumSeconds = d
			default:
				h.Le[le] = d
			}
		}
	}
	ph.GatewayCPU, ph.SimCPU, ph.RedisCPU = (after.gwCPU - before.gwCPU).Seconds(), (after.simCPU - before.simCPU).Seconds(), (after.redisCPU - before.redisCPU).Seconds()
	l := ph.Lookups
	logf("  lookups %d: p50 %.1f  p95 %.1f  p99 %.1f ms, %d errors; cold dashboards %d (%d clean, %d with errors %v); warmed %d (%d clean, %d stale %v, %d with errors)",
		l.Requests, l.P50ms, l.P95ms, l.P99ms, l.Errors+l.Failed, ph.Cold.Requests, ph.Cold.Clean, ph.Cold.Errors+ph.Cold.Failed, ph.Cold.ErrorCodes,
		ph.Warm.Requests, ph.Warm.Clean, ph.Warm.Stale, ph.Warm.StaleReasons, ph.Warm.Errors+ph.Warm.Failed)
	logf("  simulator: %d calls (%.0f a minute), %d throttled; budget decisions %v, %g stale by budget, %d Redis fallbacks; CPU s: gateways %.1f, redis %.1f, simulator %.1f",
		ph.SimCalls, ph.SimPerMinute, ph.Throttled, ph.Decisions, ph.BudgetStale, ph.RedisFallbacks, ph.GatewayCPU, ph.RedisCPU, ph.SimCPU)
	logf("  budget left as observed every 10 ms (calls at once: samples): %v", ph.Left)
	if h := ph.Waits["interactive"]; h != nil && h.Count > 0 {
		logf("  interactive calls: %.0f, mean wait for the budget %.1f ms, %.0f within 10 ms, %.0f within 100 ms",
			h.Count, h.SumSeconds/h.Count*1000, h.Le["0.01"], h.Le["0.1"])
	}
	return ph, nil
}

// snapshot is what measurePhase reads before and after a phase.
type snapshot struct {
	sim                     harness.SimStats
	metrics                 map[string]float64 // scrapeBudget's
	gwCPU, simCPU, redisCPU time.Duration
	fallbacks               int
}

func takeSnapshot(ctx context.Context, simURL string, b *bed, sb *simBed, gws []*budgetGateway) (snapshot, error) {
	sn := snapshot{gwCPU: gatewaysCPU(gws), simCPU: harness.ReadTree(sb.sim.Proc.PID()).CPU, redisCPU: harness.ReadTree(b.redis.PID()).CPU,
		fallbacks: fallbacks(gws)}
	var err error
	if sn.sim, err = harness.ReadSimStats(ctx, simURL); err != nil {
		return sn, err
	}
	sn.metrics, err = scrapeBudget(ctx, gws)
	return sn, err
}

func gatewaysCPU(gws []*budgetGateway) time.Duration {
	var d time.Duration
	for _, g := range gws {
		d += harness.ReadTree(g.proc.PID()).CPU
	}
	return d
}

func readLoadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	return strings.TrimSpace(string(b))
}
