package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/fleetgraph/fleetgraph/backends/modelarts/modelartssim"
	"github.com/fleetgraph/fleetgraph/backends/runai/runaisim"
)

// SimOptions size the simulated fleets (demo mode and `fleetgraph sim`).
type SimOptions struct {
	RunAIAddr     string        // default 127.0.0.1:9401
	ModelArtsAddr string        // default 127.0.0.1:9402
	Seed          int64         // default 1
	Clusters      int           // Run:ai clusters and ModelArts resource pools, default 2
	Pools         int           // node pools per cluster, default 3
	NodesPerPool  int           // default 4
	Latency       time.Duration // added to every simulated vendor call
	RunAIVersion  string        // Run:ai API served: 2.22 (default), 2.23 or 2.24
	RateLimit     int           // per-account calls per minute on each simulator (0: none)
}

// Sims are the running simulators.
type Sims struct {
	RunAI, ModelArts       *http.Server
	RunAIURL, ModelArtsURL string
	RunAISim               *runaisim.Server
	ModelArtsSim           *modelartssim.Server
}

// The demo's service credentials: the real auth paths run against the
// simulators (Run:ai client credentials, ModelArts AK/SK signing).
const (
	demoRunAIClient   = "fleetgraph-demo"
	demoRunAISecret   = "demo-secret"
	demoAccessKey     = "DEMOACCESSKEY"
	demoSecretKey     = "demo-secret-key"
	demoProjectID     = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
	demoShutdownGrace = 2 * time.Second
)

// StartSims starts both vendor simulators on their addresses.
func StartSims(o SimOptions) (*Sims, error) {
	if o.RunAIAddr == "" {
		o.RunAIAddr = "127.0.0.1:9401"
	}
	if o.ModelArtsAddr == "" {
		o.ModelArtsAddr = "127.0.0.1:9402"
	}
	version, err := runaisim.ParseVersion(o.RunAIVersion)
	if err != nil {
		return nil, err
	}
	ra := runaisim.New(runaisim.Options{
		Seed: o.Seed, Clusters: o.Clusters, PoolsPerCluster: o.Pools, NodesPerPool: o.NodesPerPool,
		Latency: o.Latency, ClientID: demoRunAIClient, ClientSecret: demoRunAISecret, Version: version,
		RateLimitPerMinute: o.RateLimit,
	})
	ma := modelartssim.New(modelartssim.Options{
		Seed: o.Seed, Pools: o.Clusters, NodePoolsPerPool: o.Pools, NodesPerNodePool: o.NodesPerPool,
		Latency: o.Latency, ProjectID: demoProjectID, AccessKey: demoAccessKey, SecretKey: demoSecretKey,
		RateLimitPerMinute: o.RateLimit,
	})
	s := &Sims{RunAISim: ra, ModelArtsSim: ma}
	if s.RunAI, s.RunAIURL, err = serve(o.RunAIAddr, ra.Handler()); err != nil {
		return nil, fmt.Errorf("Run:ai simulator: %w", err)
	}
	if s.ModelArts, s.ModelArtsURL, err = serve(o.ModelArtsAddr, ma.Handler()); err != nil {
		_ = s.RunAI.Close()
		return nil, fmt.Errorf("ModelArts simulator: %w", err)
	}
	return s, nil
}

// Close stops both simulators.
func (s *Sims) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), demoShutdownGrace)
	defer cancel()
	_ = s.RunAI.Shutdown(ctx)
	_ = s.ModelArts.Shutdown(ctx)
}

// DemoConfig is the configuration that points the gateway at the simulators.
func (s *Sims) DemoConfig() *Config {
	return &Config{
		RunAI: []RunAIConfig{{
			Name: "runai-demo", BaseURL: s.RunAIURL, ClientID: demoRunAIClient, ClientSecret: demoRunAISecret,
			// The demo knows the API its simulator serves: configured, not
			// probed (a probe cannot tell 2.24 from 2.23).
			APIVersion: s.RunAISim.Version(),
		}},
		ModelArts: []ModelArtsConfig{{
			Name: "modelarts-demo", Endpoint: s.ModelArtsURL, ProjectID: demoProjectID,
			AccessKey: demoAccessKey, SecretKey: demoSecretKey,
			// The simulator serves AOM's query_range too, on the same server.
			AOM: &AOMConfig{Endpoint: s.ModelArtsURL},
		}},
	}
}

// StartRedis starts an embedded Redis (miniredis) on loopback.
func StartRedis() (*miniredis.Miniredis, error) {
	mr := miniredis.NewMiniRedis()
	if err := mr.StartAddr("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("embedded Redis: %w", err)
	}
	return mr, nil
}

func serve(addr string, h http.Handler) (*http.Server, string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", fmt.Errorf("listen on %s: %w (is another fleetgraph running? choose another address with the flags)", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Error("simulator stopped", "addr", addr, "err", err)
		}
	}()
	return srv, "http://" + ln.Addr().String(), nil
}
