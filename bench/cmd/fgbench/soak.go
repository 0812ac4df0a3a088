package main

import (
	"context"
	"flag"
	"sync"
	"time"

	"github.com/fleetgraph/fleetgraph/bench/harness"
)

// runSoak holds 200 clients on the dashboard for 5 minutes and samples the
// gateway's RSS: is memory bounded, and flat once warm?
func runSoak(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("fgbench soak", flag.ContinueOnError)
	var c common
	c.register(fs)
	clients := fs.Int("c", 200, "concurrent clients")
	duration := fs.Duration("duration", 5*time.Minute, "soak length")
	coldEvery := fs.Int("cold-every", 50, "every Nth request carries a fresh credential (cold); 0: all warm")
	every := fs.Duration("sample", 5*time.Second, "RSS sampling interval")
	memLimit := fs.String("memory-limit", "80Mi", "the gateway's server.memoryLimit (Go soft memory limit); \"\" for none")
	if err := fs.Parse(args); err != nil {
		return err
	}
	b, err := newBed(&c, true)
	if err != nil {
		return err
	}
	defer b.close()
	sb, err := b.startSim(ctx, dashboardFleet)
	if err != nil {
		return err
	}
	defer sb.stop()
	if err := b.redis.Flush(ctx); err != nil {
		return err
	}
	var env []string
	if *memLimit != "" {
		env = append(env, "FLEETGRAPH_SERVER_MEMORYLIMIT="+*memLimit)
	}
	gw, err := harness.StartFleetgraphEnv(b.binary, c.work(), sb.sim, b.redis.Addr, "soak", env)
	if err != nil {
		return err
	}
	defer gw.Stop()

	if *coldEvery > 0 {
		if err := sb.tokens.Fill(ctx, 1000); err != nil {
			return err
		}
	}
	soak := &harness.Soak{Clients: *clients, Seconds: duration.Seconds(), ColdEvery: *coldEvery, MemoryLimit: *memLimit}
	var mu sync.Mutex
	start := time.Now()
	cpu0 := harness.ReadTree(gw.Proc.PID()).CPU
	spec := harness.RunSpec{
		System: gw.System, Scenario: "soak", URL: gw.URL, Query: harness.DashboardQuery, Mode: harness.ModeWarm,
		Fleet: sb.sim.Fleet, Latency: sb.sim.Latency, Concurrency: *clients, Duration: *duration,
		Timeout: 60 * time.Second, SimURL: sb.sim.RunAIURL, Tokens: sb.tokens, Token: sb.warmToken,
		ColdEvery: *coldEvery, GatewayPID: gw.Proc.PID(), RedisPID: b.redis.PID(), SampleEvery: *every,
		OnSample: func(s harness.ProcStats) {
			mu.Lock()
			defer mu.Unlock()
			soak.Samples = append(soak.Samples, harness.RSSSample{
				Second: time.Since(start).Seconds(), RSSMB: float64(s.RSS) / (1 << 20), CPUSec: (s.CPU - cpu0).Seconds(),
			})
			logf("  t=%4.0fs  rss %6.1f MB", time.Since(start).Seconds(), float64(s.RSS)/(1<<20))
		},
	}
	logf("soak: %d clients for %v (every %dth request cold)", *clients, *duration, *coldEvery)
	m, err := harness.Run(ctx, spec)
	if err != nil {
		return err
	}
	soak.Run = &m
	res := &harness.Results{Kind: "soak", Meta: harness.ReadMeta(c.root), Soak: soak, Runs: []harness.Measurement{m}}
	res.Meta.Redis = b.redis.Kind
	res.Settings = harness.Settings{LatencyMs: float64(c.latency) / float64(time.Millisecond), Seconds: duration.Seconds(),
		WarmConcurrency: *clients, Fleet: dashboardFleet, Cache: b.redis.Kind}
	if err := res.Save(c.results()); err != nil {
		return err
	}
	logf("wrote %s/soak.json", c.results())
	return nil
}
