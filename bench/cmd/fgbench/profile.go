package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/fleetgraph/fleetgraph/bench/harness"
)

// runProfile takes a CPU profile of the gateway (fgprofiled: the same
// app.Build with pprof on a second port, in its own process) while one
// scenario runs, and keeps `go tool pprof -top` of it for the report.
func runProfile(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("fgbench profile", flag.ContinueOnError)
	var l loadFlags
	l.register(fs, 10*time.Second)
	scenario := fs.String("scenario", "dashboard-warm", "pools-warm, pools-cold, dashboard-warm, dashboard-cold, or scale-<nodes>[-2.23] (cold dashboards of scenario (d), one client)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var r *run
	fleet, version := dashboardFleet, ""
	for _, sr := range l.scenarioRuns() {
		if sr.scenario == *scenario {
			r = &sr
		}
	}
	for _, v := range scaleVersions {
		for _, f := range scaleFleets {
			if sr := scaleRun(f, 0, v); sr.scenario == *scenario {
				// Over the profile's window, not a request count.
				sr.duration, sr.warmup, sr.warmupReqs = l.duration, l.warmup, 0
				r, fleet, version = &sr, f, v
			}
		}
	}
	if r == nil {
		return fmt.Errorf("unknown scenario %q", *scenario)
	}
	b, err := newBed(&l.common, true)
	if err != nil {
		return err
	}
	defer b.close()
	bin, err := harness.Build(l.goBin, l.root, l.work(), "fgprofiled", "./bench/cmd/fgprofiled")
	if err != nil {
		return err
	}
	sb, err := b.startSimVersion(ctx, fleet, version)
	if err != nil {
		return err
	}
	defer sb.stop()
	if r.mode == harness.ModeCold {
		if err := sb.tokens.Fill(ctx, 2000); err != nil {
			return err
		}
	}
	port, err := harness.FreePort()
	if err != nil {
		return err
	}
	pprofURL := "http://127.0.0.1:" + strconv.Itoa(port) + "/debug/pprof/profile"
	gw, err := harness.StartFleetgraph(bin, l.work(), sb.sim, b.redis.Addr, "profile-"+r.scenario, "--pprof", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return err
	}
	defer gw.Stop()

	// The profile covers the measured window: warm-up first, then profile
	// and load side by side.
	warm := *r
	warm.duration, warm.warmup = l.warmup, 0
	if _, err := b.measure(ctx, sb, gw, warm); err != nil {
		return err
	}
	out := filepath.Join(l.work(), r.scenario+".pprof")
	heap := filepath.Join(l.work(), r.scenario+".heap.pprof")
	errc, heapc := make(chan error, 1), make(chan error, 1)
	go func() { errc <- fetch(ctx, pprofURL+"?seconds="+strconv.Itoa(int(l.duration.Seconds())), out) }()
	go func() {
		// The live heap in the middle of the window, under load.
		select {
		case <-time.After(l.duration / 2):
			heapc <- fetch(ctx, strings.TrimSuffix(pprofURL, "profile")+"heap", heap)
		case <-ctx.Done():
			heapc <- ctx.Err()
		}
	}()
	r.warmup = 0
	if _, err := b.measure(ctx, sb, gw, *r); err != nil {
		return err
	}
	if err := <-errc; err != nil {
		return err
	}
	if err := <-heapc; err != nil {
		return err
	}
	top, err := exec.CommandContext(ctx, l.goBin, "tool", "pprof", "-top", "-nodecount=35", bin, out).Output()
	if err != nil {
		return fmt.Errorf("go tool pprof: %w", err)
	}
	cum, err := exec.CommandContext(ctx, l.goBin, "tool", "pprof", "-top", "-cum", "-nodecount=35", bin, out).Output()
	if err != nil {
		return fmt.Errorf("go tool pprof: %w", err)
	}
	all, err := exec.CommandContext(ctx, l.goBin, "tool", "pprof", "-top", "-cum", "-nodecount=600", bin, out).Output()
	if err != nil {
		return fmt.Errorf("go tool pprof: %w", err)
	}
	text := fmt.Sprintf("# fgbench profile -scenario %s: %v of CPU profile, %d clients\n\n## flat\n%s\n## cumulative\n%s\n## selected (cumulative): the functions BENCHMARKS.md discusses\n%s",
		r.scenario, l.duration, r.concurrency, trimPprof(top), trimPprof(cum), selected(all))
	dir := l.results() // what the report shows; a -run profile stays out of it
	if l.only != "" {
		dir = l.work()
	}
	if err := os.WriteFile(filepath.Join(dir, "profile-"+r.scenario+".txt"), []byte(text), 0o644); err != nil {
		return err
	}
	fmt.Print(text)
	logf("profile: %s (go tool pprof %s %s); heap in use mid-window: %s", out, bin, out, heap)
	return nil
}

// trimPprof drops pprof's header lines that name local paths.
func trimPprof(b []byte) string {
	var keep []string
	for line := range strings.SplitSeq(string(b), "\n") {
		if strings.HasPrefix(line, "File:") || strings.HasPrefix(line, "Build ID:") {
			continue
		}
		keep = append(keep, line)
	}
	return strings.Join(keep, "\n")
}

func fetch(ctx context.Context, url, out string) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New("pprof: " + resp.Status)
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, resp.Body)
	return err
}

// discussed are the functions BENCHMARKS.md's analysis names.
var discussed = []string{
	"graphql.MarshalSliceConcurrently.func2", "graphql.GetPath$", "executionContext)._MetricPoint$",
	"graphql.CollectFields$", "fleet.cachedLoad", "encoding/json.Unmarshal$", "encoding/json.Marshal$",
	"app.writeResponse", "runai.(*Client).do$", "runtime.gcBgMarkWorker$", "runtime.mallocgc$",
	"cache.(*Redis).GetMany$", "dataloader/v7.(*batcher",
}

// selected keeps pprof's header and the lines of the discussed functions.
func selected(b []byte) string {
	var keep []string
	for i, line := range strings.Split(trimPprof(b), "\n") {
		if i < 6 || strings.Contains(line, "flat%") {
			keep = append(keep, line)
			continue
		}
		for _, d := range discussed {
			name := strings.TrimSuffix(d, "$")
			if strings.HasSuffix(d, "$") && strings.HasSuffix(strings.TrimSpace(line), name) ||
				!strings.HasSuffix(d, "$") && strings.Contains(line, name) {
				keep = append(keep, line)
				break
			}
		}
	}
	return strings.Join(keep, "\n")
}
