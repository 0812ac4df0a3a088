// Command fgbench runs fleetgraph's end-to-end benchmarks and writes
// BENCHMARKS.md. The make targets call it from the repository root:
//
//	fgbench micro     go test -bench over bench/ (micro-benchmarks), kept for the report
//	fgbench load      fleetgraph alone: scenarios (a)-(d)          -> bench/results/load.json
//	fgbench compare   fleetgraph and Hive Gateway, alternating A/B -> bench/results/compare.json
//	fgbench soak      200 clients for 5 minutes, RSS sampled        -> bench/results/soak.json
//	fgbench profile   CPU profile of an in-process gateway under one scenario
//	fgbench budget    3 replicas under a vendor limit: lookups vs a dashboard storm -> bench/results/budget.json
//	fgbench report    BENCHMARKS.md from whatever bench/results/*.json hold
//
// Every process it starts (simulator, gateways, redis-server) listens on
// 127.0.0.1 on a free port and is stopped by its PID, also on Ctrl-C.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/fleetgraph/fleetgraph/bench/harness"
)

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "micro":
		err = runMicro(ctx, args)
	case "load":
		err = runLoad(ctx, args)
	case "compare":
		err = runCompare(ctx, args)
	case "soak":
		err = runSoak(ctx, args)
	case "profile":
		err = runProfile(ctx, args)
	case "budget":
		err = runBudget(ctx, args)
	case "report":
		err = runReport(args)
	default:
		usage()
		os.Exit(2)
	}
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "fgbench:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: fgbench micro|load|compare|soak|profile|budget|report [flags]   (fgbench <cmd> -h for flags)")
}

// common are the flags every measuring subcommand shares.
type common struct {
	root    string
	goBin   string
	latency time.Duration
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.root, "root", ".", "repository root")
	fs.StringVar(&c.goBin, "go", envOr("GO", "go"), "go command used to build the gateway")
	fs.DurationVar(&c.latency, "latency", 20*time.Millisecond, "simulated upstream latency per vendor call")
}

func (c *common) work() string    { return filepath.Join(c.root, "bench", ".work") }
func (c *common) logs() string    { return filepath.Join(c.work(), "logs") }
func (c *common) results() string { return filepath.Join(c.root, "bench", "results") }

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// The fleets: scenarios (a)-(c) run on the 100-node fleet; (d) scales it.
var (
	dashboardFleet = harness.Fleet{Clusters: 2, PoolsPerCluster: 5, NodesPerPool: 10}
	scaleFleets    = []harness.Fleet{
		{Clusters: 2, PoolsPerCluster: 5, NodesPerPool: 10},   // 100
		{Clusters: 2, PoolsPerCluster: 5, NodesPerPool: 100},  // 1 000
		{Clusters: 2, PoolsPerCluster: 50, NodesPerPool: 100}, // 10 000
	}
	scaleRequests = []int{10, 5, 3}
)

// stack stops what was started, last first, also when a run fails.
type stack []func()

func (s *stack) push(f func()) { *s = append(*s, f) }

func (s *stack) unwind() {
	for i := len(*s) - 1; i >= 0; i-- {
		(*s)[i]()
	}
	*s = nil
}
