// Command fleetgraph is a GraphQL gateway over GPU fleets on NVIDIA Run:ai and
// Huawei Cloud ModelArts.
//
//	fleetgraph                       demo mode: embedded simulators and Redis
//	fleetgraph --config fleet.yaml   real backends (fleetgraph.example.yaml documents every key)
//	fleetgraph --config fleet.yaml --check-config   validate and exit (1, naming the field at fault)
//	fleetgraph sim                   the vendor simulators alone
//
// Logs are JSON lines on stderr (log.format: text for humans); SIGTERM drains
// in-flight requests before exiting.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/fleetgraph/fleetgraph/app"
)

func main() {
	slog.SetDefault(app.NewLogger(os.Stderr, os.Getenv(app.EnvPrefix+"LOG_FORMAT"), os.Getenv(app.EnvPrefix+"LOG_LEVEL")))
	var err error
	if len(os.Args) > 1 && os.Args[1] == "sim" {
		err = runSim(os.Args[2:])
	} else {
		err = runGateway(os.Args[1:])
	}
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "fleetgraph:", err)
		os.Exit(1)
	}
}

// simFlags are the simulators' flags; runaiVersion is the default API the
// Run:ai simulator serves.
func simFlags(fs *flag.FlagSet, runaiVersion string) *app.SimOptions {
	o := &app.SimOptions{}
	fs.StringVar(&o.RunAIAddr, "runai-addr", "127.0.0.1:9401", "Run:ai simulator address")
	fs.StringVar(&o.ModelArtsAddr, "modelarts-addr", "127.0.0.1:9402", "ModelArts simulator address")
	fs.Int64Var(&o.Seed, "seed", 1, "seed of the simulated fleet (same seed, same fleet)")
	fs.IntVar(&o.Clusters, "clusters", 2, "Run:ai clusters, and ModelArts resource pools, to simulate")
	fs.IntVar(&o.Pools, "pools", 3, "node pools per cluster")
	fs.IntVar(&o.NodesPerPool, "nodes-per-pool", 4, "nodes per node pool")
	fs.DurationVar(&o.Latency, "latency", 0, "latency added to every simulated vendor call, e.g. 20ms")
	fs.StringVar(&o.RunAIVersion, "runai-version", runaiVersion, "Run:ai control-plane API the simulator serves: 2.22, 2.23 (tenant-wide nodes) or 2.24")
	fs.IntVar(&o.RateLimit, "sim-rate-limit", 0, "per-account calls per minute each simulator serves before it throttles (Run:ai 429, ModelArts 429 APIG.0308); 0: no limit")
	return o
}

func runGateway(args []string) error {
	fs := flag.NewFlagSet("fleetgraph", flag.ContinueOnError)
	addr := fs.String("addr", "", "gateway listen address (default 127.0.0.1:8080, or listen: in the config)")
	configPath := fs.String("config", "", "YAML configuration of real backends (see fleetgraph.example.yaml); without it fleetgraph runs in demo mode")
	checkConfig := fs.Bool("check-config", false, "validate --config (with the environment's FLEETGRAPH_* overrides and ${VAR}s) and exit")
	// The demo shows a current control plane: one node listing per
	// control plane, the 2.23 metric types.
	sim := simFlags(fs, "2.23")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `fleetgraph: one GraphQL graph over NVIDIA Run:ai and Huawei ModelArts GPU fleets.

Usage:
  fleetgraph [flags]                 demo mode: embedded vendor simulators and Redis
  fleetgraph --config fleet.yaml     real backends (every key, with its default: fleetgraph.example.yaml)
  fleetgraph --config fleet.yaml --check-config   validate, print the field at fault, exit 1
  fleetgraph sim [flags]             only the vendor simulators (fleetgraph sim --help)

Environment: FLEETGRAPH_<PATH> overrides one field, e.g. FLEETGRAPH_LIMITS_MAXDEPTH=8.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var cfg *app.Config
	if *configPath != "" {
		var err error
		if cfg, err = app.LoadConfig(*configPath); err != nil {
			return err
		}
		if *checkConfig {
			// Redis is asked too: a Cluster endpoint configured as a
			// standalone server validates, yet its cache never hits.
			rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			redisNote, err := app.CheckRedis(rctx, cfg)
			cancel()
			if err != nil {
				return err
			}
			fmt.Printf("%s: OK (%d Run:ai, %d ModelArts backends; auth %s); %s\n", *configPath, len(cfg.RunAI), len(cfg.ModelArts), cfg.AuthMode(), redisNote)
			return nil
		}
	} else {
		if *checkConfig {
			return errors.New("--check-config needs --config FILE")
		}
		slog.Info("demo mode: no --config given, starting embedded simulators and Redis")
		sims, err := app.StartSims(*sim)
		if err != nil {
			return err
		}
		defer sims.Close()
		slog.Info("Run:ai simulator ready", "url", sims.RunAIURL, "clusters", sim.Clusters, "poolsPerCluster", sim.Pools, "nodesPerPool", sim.NodesPerPool, "latency", sim.Latency, "apiVersion", sims.RunAISim.Version())
		slog.Info("ModelArts simulator ready", "url", sims.ModelArtsURL, "resourcePools", sim.Clusters, "nodePoolsPerPool", sim.Pools, "nodesPerPool", sim.NodesPerPool)
		mr, err := app.StartRedis()
		if err != nil {
			return err
		}
		defer mr.Close()
		slog.Info("embedded Redis (miniredis) ready", "addr", mr.Addr())
		cfg = sims.DemoConfig()
		cfg.Redis.Addrs = []string{mr.Addr()}
		if err := cfg.ApplyEnv(os.Environ()); err != nil {
			return err
		}
	}
	logger := app.NewLogger(os.Stderr, cfg.Log.Format, cfg.Log.Level)
	slog.SetDefault(logger)
	listen := *addr
	if listen == "" {
		listen = cfg.Listen
	}
	if listen == "" {
		listen = "127.0.0.1:8080"
	}
	if n, src, err := cfg.ApplyMemoryLimit(); err != nil {
		return err
	} else if n > 0 {
		slog.Info("memory limit", "bytes", n, "mib", n>>20, "from", src)
	}
	gw, err := app.BuildWith(cfg, app.Options{Logger: logger, Demo: *configPath == ""})
	if err != nil {
		return err
	}
	defer gw.Close()
	for _, b := range gw.Registry.Backends() {
		slog.Info("backend configured", "name", b.Name, "provider", b.Provider)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (choose another with --addr)", listen, err)
	}
	// The address the gateway listens on, whichever set it (--addr, listen:,
	// the default; port 0 resolved), not the config file's listen: alone,
	// which the demo leaves empty.
	cfg.Listen = ln.Addr().String()
	slog.Info("configuration", "config", cfg)
	return gw.Serve(ctx, ln)
}

func runSim(args []string) error {
	fs := flag.NewFlagSet("fleetgraph sim", flag.ContinueOnError)
	// 2.22: the control plane the benchmarks in BENCHMARKS.md measured.
	sim := simFlags(fs, "2.22")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `fleetgraph sim: the Run:ai and ModelArts simulators alone, for benchmarks and demos.
Control endpoints on each: GET /_sim/stats, POST /_sim/stats/reset, POST|DELETE /_sim/faults.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sims, err := app.StartSims(*sim)
	if err != nil {
		return err
	}
	defer sims.Close()
	slog.Info("Run:ai simulator ready (demo client credentials fleetgraph-demo / demo-secret)", "url", sims.RunAIURL, "apiVersion", sims.RunAISim.Version())
	slog.Info("ModelArts simulator ready", "url", sims.ModelArtsURL, "projectID", sims.DemoConfig().ModelArts[0].ProjectID)
	<-ctx.Done()
	slog.Info("stopping simulators")
	return nil
}
