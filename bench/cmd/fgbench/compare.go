package main

import (
	"context"
	"errors"
	"flag"
	"path/filepath"
	"runtime"
	"time"

	"github.com/fleetgraph/fleetgraph/bench/harness"
)

// runCompare measures fleetgraph and Hive Gateway over the same simulator
// process, alternating which goes first from one round (and one fleet size)
// to the next, so that drift of this shared machine falls on both.
func runCompare(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("fgbench compare", flag.ContinueOnError)
	var l loadFlags
	l.register(fs, 5*time.Second)
	rounds := fs.Int("rounds", 3, "A/B rounds of scenarios (a)-(c)")
	openapi := fs.String("openapi", "", "Run:ai OpenAPI document (default ../shared/runai-openapi-2.22.json beside the repository)")
	budget := fs.Duration("budget", 9*time.Minute+30*time.Second, "give up (keeping what was measured) after this long")
	fork := fs.Int("hive-fork", runtime.NumCPU(), "Hive Gateway --fork: worker processes (its default is 1, one core for JavaScript; fleetgraph uses every core)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *openapi == "" {
		*openapi = filepath.Join(l.root, "..", "shared", "runai-openapi-2.22.json")
	}
	ctx, cancel := context.WithTimeout(ctx, *budget)
	defer cancel()

	hive, err := harness.NewHive(filepath.Join(l.root, "bench", "hive"))
	if err != nil {
		return err
	}
	hive.Fork = *fork
	if err := hive.Ensure(logf); err != nil {
		return err
	}
	b, err := newBed(&l.common, true)
	if err != nil {
		return err
	}
	defer b.close()
	res := &harness.Results{Kind: "compare", Meta: harness.ReadMeta(l.root), Settings: l.settings()}
	res.Settings.Rounds = *rounds
	res.Settings.HiveFork = *fork
	res.Meta.Redis, res.Settings.Cache = b.redis.Kind, b.redis.Kind
	res.Meta.Node = harness.NodeVersion()
	res.Meta.Packages = map[string]string{}
	for pkg := range harness.HivePackages {
		res.Meta.Packages[pkg] = hive.InstalledVersion(pkg)
	}
	save := func() error { return res.Save(l.results()) }

	err = compareScenarios(ctx, b, hive, *openapi, &l, *rounds, res)
	if err == nil {
		err = compareScale(ctx, b, hive, *openapi, res)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		res.Notes = append(res.Notes, "the comparison hit its time budget; the runs after that point are missing")
		logf("time budget exhausted: keeping what was measured")
		err = nil
	}
	if serr := save(); serr != nil {
		return serr
	}
	logf("wrote %s/compare.json", l.results())
	return err
}

// compareScenarios runs (a)-(c): per round, every fleetgraph scenario and
// every Hive scenario, the two systems taking turns to go first.
func compareScenarios(ctx context.Context, b *bed, hive harness.Hive, openapi string, l *loadFlags, rounds int, res *harness.Results) error {
	sb, err := b.startSim(ctx, dashboardFleet)
	if err != nil {
		return err
	}
	defer sb.stop()
	hb, err := b.composeHive(ctx, hive, sb, openapi)
	if err != nil {
		return err
	}
	// Hive Gateway without a cache and with its response cache on the same
	// Redis ("-rc"), on the dashboard with a sliding and a fixed window.
	var hiveRuns []run
	cached := hive.Cached(b.redis.Addr, l.responseTTL)
	for _, x := range []struct {
		name string
		q    harness.Query
		h    harness.Hive
	}{
		{"pools", harness.PoolsQuery, hive}, {"dashboard", harness.DashboardQuery, hive},
		{"dashboard-fixed", harness.DashboardFixedQuery, hive},
		{"dashboard-rc", harness.DashboardQuery, cached}, {"dashboard-fixed-rc", harness.DashboardFixedQuery, cached},
	} {
		hiveRuns = append(hiveRuns, run{scenario: x.name, query: x.q, mode: harness.ModeStatic, hive: x.h,
			concurrency: l.concurrency, duration: l.duration, warmup: l.warmup})
	}
	fg := func() error {
		for _, r := range append(l.scenarioRuns(), l.fixedRun()) {
			m, err := b.fleetgraph(ctx, sb, r)
			if err != nil {
				return err
			}
			res.Runs = append(res.Runs, m)
		}
		return nil
	}
	hv := func() error {
		for _, r := range hiveRuns {
			m, err := b.hive(ctx, sb, hb, r)
			if err != nil {
				return err
			}
			res.Runs = append(res.Runs, m)
		}
		return nil
	}
	for i := range rounds {
		logf("round %d of %d", i+1, rounds)
		first, second := fg, hv
		if i%2 == 1 {
			first, second = hv, fg
		}
		if err := first(); err != nil {
			return err
		}
		if err := second(); err != nil {
			return err
		}
	}
	return nil
}

// compareScale runs (d): cold dashboards, one at a time, on each fleet size.
func compareScale(ctx context.Context, b *bed, hive harness.Hive, openapi string, res *harness.Results) error {
	for i, f := range res.Settings.ScaleFleets {
		if err := compareOneScale(ctx, b, hive, openapi, f, res.Settings.ScaleRequests[i], i%2 == 1, res); err != nil {
			return err
		}
	}
	return nil
}

func compareOneScale(ctx context.Context, b *bed, hive harness.Hive, openapi string, f harness.Fleet, requests int, hiveFirst bool, res *harness.Results) error {
	sb, err := b.startSim(ctx, f)
	if err != nil {
		return err
	}
	defer sb.stop()
	hb, err := b.composeHive(ctx, hive, sb, openapi)
	if err != nil {
		return err
	}
	r := scaleRun(f, requests, "")
	fg := func() error {
		m, err := b.fleetgraph(ctx, sb, r)
		if err == nil {
			res.Runs = append(res.Runs, m)
		}
		return err
	}
	hv := func() error {
		hr := r
		hr.mode = harness.ModeStatic
		m, err := b.hive(ctx, sb, hb, hr)
		if err == nil {
			res.Runs = append(res.Runs, m)
		}
		return err
	}
	first, second := fg, hv
	if hiveFirst {
		first, second = hv, fg
	}
	if err := first(); err != nil {
		return err
	}
	return second()
}
