package harness_test

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/fleetgraph/fleetgraph/app"
	"github.com/fleetgraph/fleetgraph/backends/runai/runaisim"
	"github.com/fleetgraph/fleetgraph/bench/harness"
)

// TestHarnessSmoke runs the harness's load path for about a second against
// in-process servers: the Run:ai simulator and the gateway (app.Build, the
// binary's wiring) behind httptest. It checks what must hold on any
// machine, however loaded: every answer is clean, and a cold request never
// costs fewer upstream calls than the theoretical minimum (fewer would
// mean the minimum is wrong, or that one caller was served another's
// cache). No timing is asserted.
func TestHarnessSmoke(t *testing.T) {
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	fleet := harness.Fleet{Clusters: 2, PoolsPerCluster: 3, NodesPerPool: 4}
	ra := runaisim.New(runaisim.Options{Clusters: fleet.Clusters, PoolsPerCluster: fleet.PoolsPerCluster, NodesPerPool: fleet.NodesPerPool})
	sim := httptest.NewServer(ra.Handler())
	t.Cleanup(sim.Close)
	mr := miniredis.RunT(t)
	gw, err := app.Build(&app.Config{
		RunAI: []app.RunAIConfig{{Name: "runai-bench", BaseURL: sim.URL, PassThrough: true}},
		Redis: app.RedisConfig{Addrs: []string{mr.Addr()}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gw.Close() })
	srv := httptest.NewServer(gw.Handler)
	t.Cleanup(srv.Close)

	tokens := harness.NewTokenPool(sim.URL, 256)
	t.Cleanup(tokens.Close)
	warm, err := harness.MintToken(t.Context(), nil, sim.URL)
	if err != nil {
		t.Fatal(err)
	}
	runs := []harness.RunSpec{
		{Scenario: "dashboard-cold", Query: harness.DashboardQuery, Mode: harness.ModeCold, Concurrency: 2, Duration: 800 * time.Millisecond},
		{Scenario: "pools-warm", Query: harness.PoolsQuery, Mode: harness.ModeWarm, Concurrency: 1, Requests: 3, WarmupReqs: 1},
	}
	for _, spec := range runs {
		spec.System, spec.URL, spec.Fleet, spec.SimURL = harness.SystemFleetgraph, srv.URL+"/graphql", fleet, sim.URL
		spec.Tokens, spec.Token, spec.Timeout = tokens, warm, 30*time.Second
		m, err := harness.Run(t.Context(), spec)
		if err != nil {
			t.Fatalf("%s: %v", spec.Scenario, err)
		}
		t.Logf("%s: %d requests, %.1f upstream calls each (minimum %d)", m.Scenario, m.Requests, m.UpstreamPerReq, m.MinUpstream)
		if m.Requests == 0 || m.Failures != 0 {
			t.Fatalf("%s: %d requests, %d failures, first: %s", m.Scenario, m.Requests, m.Failures, m.FirstError)
		}
		if spec.Mode == harness.ModeCold && m.UpstreamPerReq < float64(m.MinUpstream) {
			t.Errorf("%s: %.2f upstream calls per cold request, below the theoretical minimum %d", m.Scenario, m.UpstreamPerReq, m.MinUpstream)
		}
	}
	if want := 1 + 2*1 + 24; harness.MinUpstream(harness.DashboardQuery, fleet) != want {
		t.Errorf("MinUpstream(dashboard, 24 nodes) = %d, want %d", harness.MinUpstream(harness.DashboardQuery, fleet), want)
	}
}

// TestReadTree reads this process's own CPU time and memory from /proc.
func TestReadTree(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc is Linux")
	}
	s := harness.ReadTree(os.Getpid())
	if !s.Measured || s.RSS <= 0 || s.PeakRSS < s.RSS {
		t.Fatalf("ReadTree(self) = %+v", s)
	}
}

// The bare transport makes exactly the cold dashboard's minimum of vendor
// calls, cleanly: it is only a floor under fleetgraph's figures if it does
// the same work. The fleet has a cluster with more than one page of nodes,
// so paging is covered.
func TestTransportMakesTheMinimumCalls(t *testing.T) {
	fleet := harness.Fleet{Clusters: 2, PoolsPerCluster: 3, NodesPerPool: 200}
	ra := runaisim.New(runaisim.Options{Clusters: fleet.Clusters, PoolsPerCluster: fleet.PoolsPerCluster, NodesPerPool: fleet.NodesPerPool})
	sim := httptest.NewServer(ra.Handler())
	t.Cleanup(sim.Close)
	token, err := harness.MintToken(t.Context(), nil, sim.URL)
	if err != nil {
		t.Fatal(err)
	}
	for _, system := range harness.BareTransports {
		m, err := harness.RunTransport(t.Context(), harness.RunSpec{System: system, Scenario: "scale-1200", Fleet: fleet,
			Latency: time.Millisecond, Requests: 2, WarmupReqs: 1, SimURL: sim.URL, Token: token})
		if err != nil {
			t.Fatal(err)
		}
		if m.System != system || m.Failures > 0 || m.Requests != 2 {
			t.Fatalf("%s: %d of %d failed: %s", m.System, m.Failures, m.Requests, m.FirstError)
		}
		if m.UpstreamPerReq != float64(m.MinUpstream) || m.MinUpstream != harness.MinUpstream(harness.DashboardQuery, fleet) {
			t.Errorf("%s: upstream calls per dashboard %v, minimum %d: %v", system, m.UpstreamPerReq, m.MinUpstream, m.UpstreamRoutes)
		}
		if m.UpstreamRoutes["GET /api/v1/nodes/{nodeId}/metrics"] != float64(fleet.Nodes()) {
			t.Errorf("%s: metrics calls per dashboard %v, want one per node (%d): %v", system, m.UpstreamRoutes["GET /api/v1/nodes/{nodeId}/metrics"], fleet.Nodes(), m.UpstreamRoutes)
		}
	}
	if _, err := harness.RunTransport(t.Context(), harness.RunSpec{Fleet: fleet, RunAIVersion: "2.23", SimURL: sim.URL}); err == nil {
		t.Error("a 2.23 run was accepted: the bare transport lists nodes per cluster")
	}
}
