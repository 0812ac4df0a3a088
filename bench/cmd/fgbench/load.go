package main

import (
	"cmp"
	"context"
	"flag"
	"path/filepath"
	"regexp"
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
	only        string // regexp of the scenarios to run ("" = all)
	scaleReqs   int    // requests per fleet of scenario (d); 0: scaleRequests
}

func (l *loadFlags) register(fs *flag.FlagSet, duration time.Duration) {
	l.common.register(fs)
	fs.DurationVar(&l.duration, "duration", duration, "measured window of each scenario run")
	fs.DurationVar(&l.warmup, "warmup", time.Second, "unmeasured load before each window")
	fs.IntVar(&l.concurrency, "c", 8, "concurrent clients (closed loop) of scenarios (a)-(c)")
	fs.IntVar(&l.scaleMax, "scale-max", 10000, "largest fleet of scenario (d), in nodes")
	fs.DurationVar(&l.responseTTL, "response-ttl", 5*time.Second, "TTL of Hive Gateway's response cache (fleetgraph's cache.responses.ttl default)")
	fs.IntVar(&l.scaleReqs, "scale-requests", 0, "measured requests per fleet of scenario (d) (default 10 / 5 / 3 for 100 / 1 000 / 10 000 nodes)")
	fs.StringVar(&l.only, "run", "", "only the scenarios matching this regexp (e.g. 'scale-'); results then go to bench/.work/<kind>-run.json, not bench/results")
}

// selected says whether scenario is to run (see -run).
func (l *loadFlags) selected(scenario string) bool {
	return l.only == "" || regexp.MustCompile(l.only).MatchString(scenario)
}

// save writes res to bench/results, or under bench/.work for a -run subset
// (a partial run never replaces what the report is made of).
func (l *loadFlags) save(res *harness.Results) (string, error) {
	if l.only == "" {
		return filepath.Join(l.results(), res.Kind+".json"), res.Save(l.results())
	}
	res.Kind += "-run"
	return filepath.Join(l.work(), res.Kind+".json"), res.Save(l.work())
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
			s.ScaleRequests = append(s.ScaleRequests, cmp.Or(l.scaleReqs, scaleRequests[i]))
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
// that latency is the cost of the query and not of queueing; version is the
// Run:ai API of the simulator ("" = 2.22; "2.23": "scale-<n>-2.23").
func scaleRun(f harness.Fleet, requests int, version string) run {
	name := "scale-" + strconv.Itoa(f.Nodes())
	if version != "" {
		name += "-" + version
	}
	return run{
		scenario: name, query: harness.DashboardQuery, mode: harness.ModeCold,
		concurrency: 1, requests: requests, warmupReqs: 1,
	}
}

// scaleVersions are the Run:ai APIs of scenario (d): 2.22 (per-cluster node
// listings) and 2.23 (one tenant-wide listing).
var scaleVersions = []string{"", "2.23"}

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

	// The warm dashboard once more with a single client: the cache's own
	// figures when the gateway is not starved of CPU.
	alone := run{scenario: "dashboard-warm-1client", query: harness.DashboardQuery, mode: harness.ModeWarm,
		concurrency: 1, duration: l.duration, warmup: l.warmup}
	var runs []run
	for _, r := range append(l.scenarioRuns(), alone) {
		if l.selected(r.scenario) {
			runs = append(runs, r)
		}
	}
	if len(runs) > 0 {
		sb, err := b.startSim(ctx, dashboardFleet)
		if err != nil {
			return err
		}
		for _, r := range runs {
			m, err := b.fleetgraph(ctx, sb, r)
			if err != nil {
				sb.stop()
				return err
			}
			res.Runs = append(res.Runs, m)
		}
		sb.stop()
	}

	for _, version := range scaleVersions {
		for i, f := range res.Settings.ScaleFleets {
			r := scaleRun(f, res.Settings.ScaleRequests[i], version)
			if !l.selected(r.scenario) {
				continue
			}
			sb, err := b.startSimVersion(ctx, f, version)
			if err != nil {
				return err
			}
			m, err := b.fleetgraph(ctx, sb, r)
			if err == nil {
				res.Runs = append(res.Runs, m)
			}
			for _, system := range harness.BareTransports {
				if err != nil || version != "" {
					break
				}
				if m, err = b.transport(ctx, sb, r, system); err == nil {
					res.Runs = append(res.Runs, m)
				}
			}
			sb.stop()
			if err != nil {
				return err
			}
		}
	}
	out, err := l.save(res)
	if err != nil {
		return err
	}
	logf("wrote %s", out)
	return nil
}
