package main

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/fleetgraph/fleetgraph/bench/harness"
)

// bed is the test bed of one subcommand: the built gateway binary and the
// shared Redis, plus everything started since, stopped by unwind.
type bed struct {
	c      *common
	binary string
	redis  *harness.Redis
	stops  stack
}

func newBed(c *common, withRedis bool) (*bed, error) {
	b := &bed{c: c}
	if err := os.MkdirAll(c.logs(), 0o755); err != nil {
		return nil, err
	}
	logf("building the gateway")
	bin, err := harness.BuildFleetgraph(c.goBin, c.root, c.work())
	if err != nil {
		return nil, err
	}
	b.binary = bin
	if withRedis {
		r, err := harness.StartRedis(c.logs())
		if err != nil {
			return nil, err
		}
		b.redis = r
		b.stops.push(r.Stop)
		logf("cache: %s on %s", r.Kind, r.Addr)
	}
	return b, nil
}

func (b *bed) close() { b.stops.unwind() }

// simBed is one running simulator with its callers' tokens.
type simBed struct {
	sim       *harness.Sim
	tokens    *harness.TokenPool // fresh tokens for cold requests
	warmToken string             // the one warm caller
}

func (b *bed) startSim(ctx context.Context, f harness.Fleet) (*simBed, error) {
	return b.startSimVersion(ctx, f, "")
}

// startSimVersion starts a simulator serving Run:ai API version ("": its
// default, 2.22).
func (b *bed) startSimVersion(ctx context.Context, f harness.Fleet, version string) (*simBed, error) {
	logf("simulator: %s, latency %v, Run:ai API %s", f, b.c.latency, cmp.Or(version, "2.22"))
	sim, err := harness.StartSim(b.binary, b.c.logs(), f, b.c.latency, version)
	if err != nil {
		return nil, err
	}
	sb := &simBed{sim: sim, tokens: harness.NewTokenPool(sim.RunAIURL, 4096)}
	if sb.warmToken, err = harness.MintToken(ctx, nil, sim.RunAIURL); err != nil {
		sb.stop()
		return nil, err
	}
	return sb, nil
}

func (sb *simBed) stop() {
	sb.tokens.Close()
	sb.sim.Stop()
}

// run is one measured run of a scenario.
type run struct {
	scenario    string
	query       harness.Query
	mode        string
	concurrency int
	duration    time.Duration
	requests    int
	warmup      time.Duration
	warmupReqs  int
	hive        harness.Hive // Hive Gateway runs: the installation and its cache; zero: the bed's
}

// fleetgraph measures r on a fresh gateway process over an emptied cache.
func (b *bed) fleetgraph(ctx context.Context, sb *simBed, r run) (harness.Measurement, error) {
	if b.redis != nil {
		if err := b.redis.Flush(ctx); err != nil {
			return harness.Measurement{}, err
		}
	}
	addr := ""
	if b.redis != nil {
		addr = b.redis.Addr
	}
	gw, err := harness.StartFleetgraph(b.binary, b.c.work(), sb.sim, addr, r.scenario)
	if err != nil {
		return harness.Measurement{}, err
	}
	defer gw.Stop()
	if r.mode == harness.ModeCold {
		if err := sb.tokens.Fill(ctx, 2000); err != nil {
			return harness.Measurement{}, err
		}
		defer sb.tokens.Hold()
	}
	return b.measure(ctx, sb, gw, r)
}

// transport measures r's vendor calls made by the bare transport system
// alone, on the same simulator (harness.RunTransport): the floor under the
// gateway's figures.
func (b *bed) transport(ctx context.Context, sb *simBed, r run, system string) (harness.Measurement, error) {
	m, err := harness.RunTransport(ctx, harness.RunSpec{
		System: system, Scenario: r.scenario, Fleet: sb.sim.Fleet, Latency: sb.sim.Latency, RunAIVersion: sb.sim.Version,
		Requests: r.requests, WarmupReqs: r.warmupReqs, SimURL: sb.sim.RunAIURL, Token: sb.warmToken,
		SimPID: sb.sim.Proc.PID(),
	})
	if err != nil {
		return m, fmt.Errorf("%s %s: %w", system, r.scenario, err)
	}
	logf("  %-10s %-15s %5d req  p50 %7.1f ms  p99 %7.1f ms  cpu %6.2f ms/req (%.3f ms/call)  simulator %6.2f ms/req  upstream %7.1f/req (min %d)  failures %d",
		m.System, m.Scenario, m.Requests, m.P50ms, m.P99ms, m.CPUmsPerReq, m.CPUmsPerReq/max(m.UpstreamPerReq, 1), m.SimCPUmsPerReq, m.UpstreamPerReq, m.MinUpstream, m.Failures)
	if m.FirstError != "" {
		logf("    first failure: %s", m.FirstError)
	}
	return m, nil
}

func (b *bed) measure(ctx context.Context, sb *simBed, gw *harness.Gateway, r run) (harness.Measurement, error) {
	spec := harness.RunSpec{
		System: gw.System, Scenario: r.scenario, URL: gw.URL, Query: r.query, Mode: r.mode,
		Fleet: sb.sim.Fleet, Latency: sb.sim.Latency, RunAIVersion: sb.sim.Version,
		Concurrency: r.concurrency, Duration: r.duration, Requests: r.requests,
		Warmup: r.warmup, WarmupReqs: r.warmupReqs, Timeout: 120 * time.Second,
		SimURL: sb.sim.RunAIURL, Tokens: sb.tokens, Token: sb.warmToken,
		GatewayPID: gw.Proc.PID(), RedisPID: b.redis.PID(), SimPID: sb.sim.Proc.PID(),
	}
	if gw.System == harness.SystemHive && r.hive.ResponseCacheRedis == "" {
		spec.RedisPID = 0 // Hive Gateway without its response cache uses no Redis
	}
	m, err := harness.Run(ctx, spec)
	if err != nil {
		return m, fmt.Errorf("%s %s: %w", gw.System, r.scenario, err)
	}
	logf("  %-10s %-15s %5d req %7.1f req/s  p50 %7.1f ms  p99 %7.1f ms  cpu %6.2f ms/req  rss %5.1f MB  upstream %7.1f/req (min %d)  failures %d",
		m.System, m.Scenario, m.Requests, m.ReqPerSec, m.P50ms, m.P99ms, m.CPUmsPerReq, m.PeakRSSMB, m.UpstreamPerReq, m.MinUpstream, m.Failures)
	if m.FirstError != "" {
		logf("    first failure: %s", m.FirstError)
	}
	return m, nil
}

// hiveBed is Hive Gateway composed over one simulator.
type hiveBed struct {
	hive       harness.Hive
	supergraph string
	token      string
}

func (b *bed) composeHive(ctx context.Context, h harness.Hive, sb *simBed, openapi string) (*hiveBed, error) {
	out, err := filepath.Abs(filepath.Join(b.c.work(), fmt.Sprintf("supergraph-%dn.graphql", sb.sim.Fleet.Nodes())))
	if err != nil {
		return nil, err
	}
	if err := h.Compose(openapi, sb.sim.RunAIURL, out); err != nil {
		return nil, err
	}
	tok, err := harness.MintToken(ctx, nil, sb.sim.RunAIURL)
	if err != nil {
		return nil, err
	}
	return &hiveBed{hive: h, supergraph: out, token: tok}, nil
}

// hive measures r on a fresh Hive Gateway process.
func (b *bed) hive(ctx context.Context, sb *simBed, hb *hiveBed, r run) (harness.Measurement, error) {
	h := hb.hive
	if r.hive.Dir != "" {
		h = r.hive
	}
	if h.ResponseCacheRedis != "" && b.redis != nil {
		if err := b.redis.Flush(ctx); err != nil {
			return harness.Measurement{}, err
		}
	}
	gw, err := h.Start(hb.supergraph, b.c.logs(), hb.token, r.scenario)
	if err != nil {
		return harness.Measurement{}, err
	}
	defer gw.Stop()
	return b.measure(ctx, sb, gw, r)
}
