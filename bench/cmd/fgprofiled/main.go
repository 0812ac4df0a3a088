// Command fgprofiled is the fleetgraph gateway with net/http/pprof on a
// second loopback address, for `fgbench profile`: the same app.Build as
// `fleetgraph --config`, so the profile is of the shipped code, in its own
// process (the load generator's CPU stays out of it).
//
//	fgprofiled --config fleet.yaml --pprof 127.0.0.1:6060
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/fleetgraph/fleetgraph/app"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "fgprofiled:", err)
		os.Exit(1)
	}
}

func run() error {
	configPath := flag.String("config", "", "gateway configuration (required)")
	pprofAddr := flag.String("pprof", "127.0.0.1:6060", "address of /debug/pprof/")
	check := flag.Bool("check-config", false, "validate --config and exit")
	flag.Parse()
	if *configPath == "" {
		return errors.New("--config is required")
	}
	cfg, err := app.LoadConfig(*configPath)
	if err != nil || *check {
		return err
	}
	gw, err := app.Build(cfg)
	if err != nil {
		return err
	}
	defer gw.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	pm := http.NewServeMux()
	pm.HandleFunc("/debug/pprof/", pprof.Index)
	pm.HandleFunc("/debug/pprof/profile", pprof.Profile)
	pm.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	servers := []*http.Server{
		{Addr: cfg.Listen, Handler: gw.Handler, ReadHeaderTimeout: 10 * time.Second},
		{Addr: *pprofAddr, Handler: pm, ReadHeaderTimeout: 10 * time.Second},
	}
	errc := make(chan error, len(servers))
	for _, s := range servers {
		ln, err := net.Listen("tcp", s.Addr)
		if err != nil {
			return err
		}
		go func() { errc <- s.Serve(ln) }()
	}
	slog.Info("fgprofiled ready", "graphql", cfg.Listen, "pprof", *pprofAddr)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range servers {
		_ = s.Shutdown(sctx)
	}
	return nil
}
