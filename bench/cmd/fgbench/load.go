package main

import (
	"context"
	"flag"
	"strconv"
	"time"

	"github.com/fleetgraph/fleetgraph/bench/harness"
)

// loadFlags are the knobs of the scenario runs (load and compare).
type loadFlags struct {
	common
	duration    time.Duration
	warmup      time.Duration
	concurrency int
	scaleMax    int
	responseTTL time.Duration
}

func (l *loadFlags) register(fs *flag.FlagSet, duration time.Duration) {
	l.common.register(fs)
	fs.DurationVar(&l.duration, "duration", duration, "measured window of each scenario run")
	fs.DurationVar(&l.warmup, "warmup", time.Second, "unmeasured load before each window")
	fs.IntVar(&l.concurrency, "c", 8, "concurrent clients (closed loop) of scenarios (a)-(c)")
	fs.IntVar(&l.scaleMax, "scale-max", 10000, "largest fleet of scenario (d), in nodes")
	fs.DurationVar(&l.responseTTL, "response-ttl", 5*time.Second, "TTL of Hive Gateway's response cache (fleetgraph's cache.responses.ttl default)")
}

func (l *loadFlags) settings() harness.Settings {
	s := harness.Settings{
		LatencyMs: float64(l.latency) / float64(time.Millisecond), Seconds: l.duration.Seconds(),
		WarmupSeconds: l.warmup.Seconds(), WarmConcurrency: l.concurrency, ColdConcurrency: l.concurrency,
		Fleet: dashboardFleet, ResponseTTLSeconds: l.responseTTL.Seconds(),
	}
	for i, f := range scaleFleets {
		if f.Nodes() <= l.scaleMax {
			s.ScaleFleets = append(s.ScaleFleets, f)
			s.ScaleRequests = append(s.ScaleRequests, scaleRequests[i])
		}
	}
	return s
}

// scenarioRuns are scenarios (a)-(c) for fleetgraph: each query cached
// (warm) and uncached (cold).
func (l *loadFlags) scenarioRuns() []run {
	var out []run
	for _, q := range []harness.Query{harness.PoolsQuery, harness.DashboardQuery} {
		for _, mode := range []string{harness.ModeWarm, harness.ModeCold} {
			out = append(out, run{
				scenario: q.Name + "-" + mode, query: q, mode: mode, concurrency: l.concurrency,
				duration: l.duration, warmup: l.warmup,
			})
		}
	}
	return out
}

// fixedRun is the warm dashboard with the same variables on every request:
// what fleetgraph's whole-response cache answers.
func (l *loadFlags) fixedRun() run {
	return run{scenario: "dashboard-fixed-warm", query: harness.DashboardFixedQuery, mode: harness.ModeWarm,
		concurrency: l.concurrency, duration: l.duration, warmup: l.warmup}
}

// scaleRun is scenario (d) on one fleet: cold dashboards one at a time, so
// that latency is the cost of the query and not of queueing.
func scaleRun(f harness.Fleet, requests int) run {
	return run{
		scenario: "scale-" + strconv.Itoa(f.Nodes()), query: harness.DashboardQuery, mode: harness.ModeCold,
		concurrency: 1, requests: requests, warmupReqs: 1,
	}
}

func runLoad(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("fgbench load", flag.ContinueOnError)
	var l loadFlags
	l.register(fs, 5*time.Second)
	if err := fs.Parse(args); err != nil {
		return err
	}
	b, err := newBed(&l.common, true)
	if err != nil {
		return err
	}
	defer b.close()
	res := &harness.Results{Kind: "load", Meta: harness.ReadMeta(l.root), Settings: l.settings()}
	res.Meta.Redis = b.redis.Kind
	res.Settings.Cache = b.redis.Kind

	sb, err := b.startSim(ctx, dashboardFleet)
	if err != nil {
		return err
	}
	// The warm dashboard once more with a single client: the cache's own
	// figures when the gateway is not starved of CPU.
	alone := run{scenario: "dashboard-warm-1client", query: harness.DashboardQuery, mode: harness.ModeWarm,
		concurrency: 1, duration: l.duration, warmup: l.warmup}
	for _, r := range append(l.scenarioRuns(), alone) {
		m, err := b.fleetgraph(ctx, sb, r)
		if err != nil {
			sb.stop()
			return err
		}
		res.Runs = append(res.Runs, m)
	}
	sb.stop()

	for i, f := range res.Settings.ScaleFleets {
		sb, err := b.startSim(ctx, f)
		if err != nil {
			return err
		}
		m, err := b.fleetgraph(ctx, sb, scaleRun(f, res.Settings.ScaleRequests[i]))
		sb.stop()
		if err != nil {
			return err
		}
		res.Runs = append(res.Runs, m)
	}
	if err := res.Save(l.results()); err != nil {
		return err
	}
	logf("wrote %s/load.json", l.results())
	return nil
}
