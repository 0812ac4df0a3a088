package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/fleetgraph/fleetgraph/bench/harness"
)

// runBudget is issue 14's end-to-end proof of the upstream budget: three
// gateway replicas on one redis-server share one Run:ai account whose
// simulator enforces a limit of N calls a minute, with the gateways'
// budget (rateLimit) below it. One interactive client sends node(id)
// lookups (one vendor call each: a metrics window no one asked before),
// first alone, then during a storm of dashboards on the same replicas:
// cold ones (a fresh window per request, ~100 calls each) and ones whose
// data was warmed before and has expired (a fixed window), which the
// budget should answer stale rather than with errors. It records the
// lookups' latency in both phases, what each dashboard got, the
// simulator's calls per minute and throttled answers, and the gateways'
// budget decisions -> bench/results/budget.json.
func runBudget(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("fgbench budget", flag.ContinueOnError)
	var c common
	c.register(fs)
	var s budgetSettings
	fs.IntVar(&s.Replicas, "replicas", 3, "gateway processes on the one Redis")
	fs.IntVar(&s.SimLimitPerMinute, "limit", 600, "the Run:ai simulator's per-account limit, calls a minute (POST /_sim/faults)")
	fs.Float64Var(&s.PerSecond, "per-second", 8, "the gateways' budget: runai[].rateLimit.perSecond")
	fs.IntVar(&s.Burst, "burst", 20, "the gateways' budget: runai[].rateLimit.burst")
	window := fs.Duration("window", 30*time.Second, "length of each measured phase")
	fs.IntVar(&s.ColdDashboards, "dashboards", 5, "cold dashboard clients in the storm (a fresh metrics window per request)")
	fs.IntVar(&s.WarmDashboards, "warm-dashboards", 2, "clients of the dashboard warmed before the storm (a fixed window, expired by then)")
	fs.Float64Var(&s.LookupRate, "lookup-rate", 3, "the interactive client's node(id) lookups per second")
	metricsTTL := fs.Duration("metrics-ttl", 5*time.Second, "cache.metricsPast of the gateways: how soon the warmed dashboard's data expires")
	fs.IntVar(&s.DiagnosePool, "diagnose-pool", 256, "after the storm, the same storm again on replicas restarted with this Redis pool_size (0: no such phase)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	s.Fleet, s.LatencyMs, s.WindowSeconds = dashboardFleet, float64(c.latency)/float64(time.Millisecond), window.Seconds()
	s.MetricsPastTTLSeconds = metricsTTL.Seconds()
	res := &budgetResults{Kind: "budget", Meta: harness.ReadMeta(c.root)}
	if up, err := exec.Command("uptime").Output(); err == nil {
		res.Uptime = strings.TrimSpace(string(up))
	}
	logf("load at start: %s", res.Meta.LoadAvg)

	b, err := newBed(&c, true)
	if err != nil {
		return err
	}
	defer b.close()
	res.Meta.Redis, s.Redis = b.redis.Kind, b.redis.Kind
	sb, err := b.startSim(ctx, dashboardFleet)
	if err != nil {
		return err
	}
	defer sb.stop()
	sb.tokens.Hold() // service credentials: no caller tokens are needed
	sim := sb.sim.RunAIURL
	if err := setSimLimit(ctx, sim, s.SimLimitPerMinute); err != nil {
		return err
	}
	logf("simulator limit: %d calls a minute per account", s.SimLimitPerMinute)

	var gws []*budgetGateway
	defer func() {
		for _, g := range gws {
			g.proc.Stop(5 * time.Second)
		}
	}()
	for i := range s.Replicas {
		g, err := startBudgetGateway(b, sim, s, *metricsTTL, i, 0)
		if err != nil {
			return err
		}
		gws = append(gws, g)
	}
	logf("%d gateways on %s, rateLimit %g/s burst %d (%g a minute); cache.metricsPast %v",
		len(gws), b.redis.Addr, s.PerSecond, s.Burst, s.PerSecond*60, *metricsTTL)

	bc := &budgetClient{http: &http.Client{Timeout: 90 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}, gws: gws}
	ids, err := bc.nodeIDs(ctx)
	if err != nil {
		return err
	}
	logf("%d node IDs listed on every replica", len(ids))

	sampler := startSimSampler(ctx, sim)
	defer sampler.stop()

	// The warmed dashboard: a fixed past window, asked until every value
	// is in the cache (a lookup's priority: it may wait 5 s per call).
	passes, err := bc.warm(ctx)
	if err != nil {
		return err
	}
	s.WarmPasses = passes
	refill := time.Duration(float64(s.Burst)/s.PerSecond*float64(time.Second)) + time.Second

	lk := &lookups{ids: ids, every: time.Duration(float64(time.Second) / s.LookupRate)}
	if err := bc.primeTokens(ctx, lk); err != nil {
		return err
	}
	time.Sleep(refill)
	base, err := measurePhase(ctx, "baseline", "the interactive client alone", *window, bc, sim, b, sb, gws, s, func(ctx context.Context, p *phaseRun) {
		p.run(ctx, func(ctx context.Context) { lk.loop(ctx, bc, &p.lookups) })
	})
	if err != nil {
		return err
	}
	res.Phases = append(res.Phases, base)
	time.Sleep(refill)
	var coldSeq atomic.Int64
	stormClients := func(ctx context.Context, p *phaseRun) {
		var fns []func(context.Context)
		fns = append(fns, func(ctx context.Context) { lk.loop(ctx, bc, &p.lookups) })
		for i := range s.ColdDashboards {
			fns = append(fns, func(ctx context.Context) {
				for ctx.Err() == nil {
					n := coldSeq.Add(1)
					from := coldBase.Add(time.Duration(n) * time.Hour)
					p.cold.addIn(ctx, bc.post(ctx, i, dashboardBody(from), nil))
				}
			})
		}
		for i := range s.WarmDashboards {
			fns = append(fns, func(ctx context.Context) {
				for ctx.Err() == nil {
					p.warm.addIn(ctx, bc.post(ctx, i+1, dashboardBody(warmFrom), nil))
				}
			})
		}
		p.run(ctx, fns...)
	}
	stormDesc := fmt.Sprintf("the interactive client, %d cold and %d warmed dashboards", s.ColdDashboards, s.WarmDashboards)
	storm, err := measurePhase(ctx, "storm", stormDesc, *window, bc, sim, b, sb, gws, s, stormClients)
	if err != nil {
		return err
	}
	res.Phases = append(res.Phases, storm)
	if s.DiagnosePool > 0 {
		// The same storm on replicas whose Redis client has a larger pool
		// (redis.url ?pool_size=): does the budget's own Redis traffic
		// queue the lookups' tries behind the dashboards'?
		for _, g := range gws {
			g.proc.Stop(5 * time.Second)
		}
		gws = gws[:0]
		for i := range s.Replicas {
			g, err := startBudgetGateway(b, sim, s, *metricsTTL, i, s.DiagnosePool)
			if err != nil {
				return err
			}
			gws = append(gws, g)
		}
		bc.gws = gws
		if err := bc.primeTokens(ctx, lk); err != nil {
			return err
		}
		time.Sleep(refill)
		diag, err := measurePhase(ctx, "storm-pool", fmt.Sprintf("the same storm on replicas restarted with redis.url ?pool_size=%d", s.DiagnosePool),
			*window, bc, sim, b, sb, gws, s, stormClients)
		if err != nil {
			return err
		}
		res.Phases = append(res.Phases, diag)
	}
	sampler.stop()
	res.Samples = sampler.samples()
	res.PeakCalls, res.PeakSpanSeconds = peakPerMinute(res.Samples)
	if n := len(res.Samples); n > 0 {
		res.Throttled = res.Samples[n-1].Throttled // since the simulator started
	}
	res.Settings = s
	logf("peak %d simulator calls in any %.0f s (limit %d a minute), %d throttled over the run", res.PeakCalls, res.PeakSpanSeconds, s.SimLimitPerMinute, res.Throttled)
	if err := res.save(c.results()); err != nil {
		return err
	}
	logf("wrote %s", filepath.Join(c.results(), "budget.json"))
	return nil
}

// budgetResults is bench/results/budget.json.
type budgetResults struct {
	Kind     string         `json:"kind"`
	Meta     harness.Meta   `json:"meta"`
	Uptime   string         `json:"uptimeAtStart"`
	Settings budgetSettings `json:"settings"`
	Phases   []budgetPhase  `json:"phases"`
	// PeakCalls is the most simulator calls (every account, every route)
	// in any PeakSpanSeconds of the run (60, or the run when shorter),
	// from Samples.
	PeakCalls       int64       `json:"peakCalls"`
	PeakSpanSeconds float64     `json:"peakSpanSeconds"`
	Throttled       int64       `json:"throttled"` // since the simulator started: setup, warm-up and every phase
	Samples         []simSample `json:"samples"`
}

type budgetSettings struct {
	Fleet                 harness.Fleet `json:"fleet"`
	LatencyMs             float64       `json:"latencyMs"`
	Replicas              int           `json:"replicas"`
	SimLimitPerMinute     int           `json:"simLimitPerMinute"`
	PerSecond             float64       `json:"perSecond"`
	Burst                 int           `json:"burst"`
	WindowSeconds         float64       `json:"windowSeconds"`
	ColdDashboards        int           `json:"coldDashboards"`
	WarmDashboards        int           `json:"warmDashboards"`
	LookupRate            float64       `json:"lookupRate"`
	MetricsPastTTLSeconds float64       `json:"metricsPastTTLSeconds"`
	WarmPasses            int           `json:"warmPasses"`
	// DiagnosePool is the Redis pool_size of the "storm-pool" phase's
	// replicas (0: not run); the others use go-redis's default.
	DiagnosePool int    `json:"diagnosePool,omitempty"`
	Redis        string `json:"redis"`
}

// budgetPhase is one measured window, on the same processes.
type budgetPhase struct {
	Name        string  `json:"name"`
	Description string  `json:"description"`
	Seconds     float64 `json:"seconds"`
	Lookups     outcome `json:"lookups"`
	Cold        outcome `json:"coldDashboards"`
	Warm        outcome `json:"warmDashboards"`
	// SimCalls is the simulator's vendor calls over the window, every
	// replica's; SimPerMinute the same as a rate.
	SimCalls     int64            `json:"simCalls"`
	SimPerMinute float64          `json:"simPerMinute"`
	Throttled    int64            `json:"throttled"`
	SimRoutes    map[string]int64 `json:"simRoutes"`
	// Decisions is fleetgraph_upstream_budget_decisions_total over the
	// window summed over the replicas, by "class/outcome".
	Decisions map[string]float64 `json:"decisions"`
	// Waits is fleetgraph_upstream_budget_wait_seconds over the window
	// summed over the replicas, by class.
	Waits map[string]*waitHist `json:"waits"`
	// RedisFallbacks counts the replicas' warnings that the budget's
	// Redis calls failed (each then budgets locally for 5 s; a replica
	// warns at most once a minute).
	RedisFallbacks int     `json:"redisFallbacks"`
	BudgetStale    float64 `json:"budgetStale"`  // fleetgraph_upstream_budget_stale_total
	PlanRefusals   float64 `json:"planRefusals"` // fleetgraph_upstream_budget_plan_refusals_total
	// Left counts what an observer saw left of the budget ("calls at
	// once", 0..burst), peeking every 10 ms on its own Redis connection.
	Left map[int]int `json:"left"`
	// CPU seconds (utime+stime) over the window: the gateways summed, the
	// simulator, redis-server.
	GatewayCPU   float64 `json:"gatewayCpuS"`
	SimCPU       float64 `json:"simCpuS"`
	RedisCPU     float64 `json:"redisCpuS"`
	LoadAvgStart string  `json:"loadAvgStart"`
	LoadAvgEnd   string  `json:"loadAvgEnd"`
}

// outcome is what one kind of client got over a phase.
type outcome struct {
	Requests int `json:"requests"`
	Clean    int `json:"clean"`  // data, no errors, nothing stale
	Stale    int `json:"stale"`  // data, no errors, extensions.stale
	Errors   int `json:"errors"` // GraphQL errors (partial data)
	Failed   int `json:"failed"` // transport error or not HTTP 200
	// ErrorCodes counts the errors by extensions.code; StaleReasons the
	// stale entries by reason.
	ErrorCodes   map[string]int `json:"errorCodes,omitempty"`
	StaleReasons map[string]int `json:"staleReasons,omitempty"`
	P50ms        float64        `json:"p50ms"`
	P95ms        float64        `json:"p95ms"`
	P99ms        float64        `json:"p99ms"`
	MeanMs       float64        `json:"meanMs"`
	FirstError   string         `json:"firstError,omitempty"`
}

// waitHist is one class's wait histogram: Count decisions that waited
// SumSeconds in all, Le[bound] of them at most bound seconds.
type waitHist struct {
	Count      float64            `json:"count"`
	SumSeconds float64            `json:"sumSeconds"`
	Le         map[string]float64 `json:"le"`
}

// simSample is the simulator's counters at one instant of the run.
type simSample struct {
	Second    float64 `json:"s"`
	Total     int64   `json:"total"`
	Throttled int64   `json:"throttled"`
}

func (r *budgetResults) save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "budget.json"), append(b, '\n'), 0o644)
}

// loadBudgetResults reads dir/budget.json; nil when there is none.
func loadBudgetResults(dir string) (*budgetResults, error) {
	b, err := os.ReadFile(filepath.Join(dir, "budget.json"))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var r budgetResults
	return &r, json.Unmarshal(b, &r)
}

// The windows: past ones (cache.metricsPast), never the same twice for a
// lookup or a cold dashboard; the warmed dashboard's is fixed.
var (
	lookupBase = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	coldBase   = time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC)
	warmFrom   = time.Date(2021, 6, 1, 0, 0, 0, 0, time.UTC)
)

// lookupQuery is a person's GraphiQL query: one node and a metric of it
// (class interactive: one root lookup).
const lookupQuery = `query Lookup($id: ID!, $from: DateTime!, $to: DateTime!) { node(id: $id) { id name status
  metrics(types: [CPU_UTILIZATION], start: $from, end: $to, samples: 20) { type points { timestamp value } } } }`

// dashboardBody is the load scenarios' dashboard (every pool, its nodes,
// two series per node in one call per node) over the hour from from.
func dashboardBody(from time.Time) []byte {
	return gqlBody(harness.DashboardQuery.Fleetgraph, map[string]any{
		"from": from.Format(time.RFC3339), "to": from.Add(time.Hour).Format(time.RFC3339),
		"pools": dashboardFleet.Pools(), "nodes": dashboardFleet.NodesPerPool})
}

func gqlBody(query string, vars map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	return b
}

// budgetGateway is one replica.
type budgetGateway struct {
	proc *harness.Proc
	base string // http://127.0.0.1:port
	log  string // its output
}

// fallbackWarning is what a replica logs (at most once a minute) when its
// budget's Redis calls fail and it keeps a local budget.
const fallbackWarning = "upstream budget: Redis unreachable"

// fallbacks counts the replicas' fallback warnings so far.
func fallbacks(gws []*budgetGateway) int {
	n := 0
	for _, g := range gws {
		b, _ := os.ReadFile(g.log)
		n += bytes.Count(b, []byte(fallbackWarning))
	}
	return n
}

// startBudgetGateway writes replica i's configuration (service
// credentials: every caller shares the one account, and what it cached
// may be served stale), checks it with the binary, and starts it.
// poolSize > 0 sets the Redis client's pool (redis.url ?pool_size=).
func startBudgetGateway(b *bed, simURL string, s budgetSettings, metricsTTL time.Duration, i, poolSize int) (*budgetGateway, error) {
	port, err := harness.FreePort()
	if err != nil {
		return nil, err
	}
	pool := ""
	if poolSize > 0 {
		pool = "?pool_size=" + strconv.Itoa(poolSize)
	}
	cfg := fmt.Sprintf(`# written by fgbench budget: replica %d of %d over one Run:ai account
listen: 127.0.0.1:%d
runai:
  - name: runai-bench
    baseURL: %s
    clientID: fleetgraph-demo
    clientSecret: demo-secret
    apiVersion: "2.22"
    rateLimit:
      perSecond: %g
      burst: %d
redis:
  url: redis://%s/0%s
cache:
  metricsPast: %s
limits:
  maxComplexity: 100000000
`, i+1, s.Replicas, port, simURL, s.PerSecond, s.Burst, b.redis.Addr, pool, metricsTTL)
	label := fmt.Sprintf("fleetgraph-budget-%d", i+1)
	if poolSize > 0 {
		label += "-pool" + strconv.Itoa(poolSize)
	}
	path := filepath.Join(b.c.work(), label+".yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	if out, err := exec.Command(b.binary, "--config", path, "--check-config").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("gateway configuration %s: %v: %s", path, err, out)
	}
	p, err := harness.Start(b.c.logs(), label, nil, b.binary, "--config", path)
	if err != nil {
		return nil, err
	}
	g := &budgetGateway{proc: p, base: "http://127.0.0.1:" + strconv.Itoa(port), log: filepath.Join(b.c.logs(), label+".log")}
	if err := p.WaitReady(20*time.Second, func() error { _, err := getBody(context.Background(), g.base+"/healthz"); return err }); err != nil {
		p.Stop(2 * time.Second)
		return nil, err
	}
	return g, nil
}

func getBody(ctx context.Context, url string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return b, err
}

// setSimLimit replaces the simulator's faults with its per-account limit
// (POST /_sim/faults replaces, it does not merge) and reads it back.
func setSimLimit(ctx context.Context, simURL string, perMinute int) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, simURL+"/_sim/faults",
		strings.NewReader(fmt.Sprintf(`{"rateLimitPerMinute": %d}`, perMinute)))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST /_sim/faults: %s", resp.Status)
	}
	st, err := readSim(ctx, simURL)
	if err != nil {
		return err
	}
	if st.RateLimitPerMinute != perMinute {
		return fmt.Errorf("the simulator's limit is %d a minute after POST /_sim/faults, want %d", st.RateLimitPerMinute, perMinute)
	}
	return nil
}

// simStats is GET /_sim/stats with the throttling figures.
type simStats struct {
	Requests           map[string]int64 `json:"requests"`
	Total              int64            `json:"total"`
	Throttled          int64            `json:"throttled"`
	RateLimitPerMinute int              `json:"rateLimitPerMinute"`
}

func readSim(ctx context.Context, simURL string) (simStats, error) {
	var s simStats
	b, err := getBody(ctx, simURL+"/_sim/stats")
	if err != nil {
		return s, err
	}
	return s, json.Unmarshal(b, &s)
}

// simSampler reads the simulator's counters every second.
type simSampler struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	list   []simSample
}

func startSimSampler(ctx context.Context, simURL string) *simSampler {
	ctx, cancel := context.WithCancel(ctx)
	s := &simSampler{cancel: cancel}
	start := time.Now()
	s.wg.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			if st, err := readSim(ctx, simURL); err == nil {
				s.mu.Lock()
				s.list = append(s.list, simSample{Second: time.Since(start).Seconds(), Total: st.Total, Throttled: st.Throttled})
				s.mu.Unlock()
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
	return s
}

func (s *simSampler) stop() { s.cancel(); s.wg.Wait() }

func (s *simSampler) samples() []simSample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.list)
}

// peakPerMinute is the most calls between two samples at least 60 s apart
// with no sample between them that is (an upper bound of any 60 s
// window's count, at the samples' 1 s resolution); over the whole run when
// it is shorter than a minute.
func peakPerMinute(ss []simSample) (calls int64, span float64) {
	if len(ss) < 2 {
		return 0, 0
	}
	if ss[len(ss)-1].Second-ss[0].Second < 60 {
		return ss[len(ss)-1].Total - ss[0].Total, ss[len(ss)-1].Second - ss[0].Second
	}
	j := 0
	for i := range ss {
		for j+1 < i && ss[i].Second-ss[j+1].Second >= 60 {
			j++
		}
		if ss[i].Second-ss[j].Second >= 60 {
			calls = max(calls, ss[i].Total-ss[j].Total)
		}
	}
	return calls, 60
}

// budgetClient sends GraphQL requests to the replicas.
type budgetClient struct {
	http *http.Client
	gws  []*budgetGateway
}

// answer is one response, sorted.
type answer struct {
	latency      time.Duration
	failed       string
	codes        []string // extensions.code of each GraphQL error
	message      string   // the first error's
	staleReasons []string
}

func (c *budgetClient) post(ctx context.Context, replica int, body []byte, header http.Header) answer {
	g := c.gws[replica%len(c.gws)]
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, g.base+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header[k] = v
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		return answer{latency: time.Since(start), failed: err.Error()}
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	a := answer{latency: time.Since(start)}
	switch {
	case err != nil:
		a.failed = err.Error()
	case resp.StatusCode != http.StatusOK:
		a.failed = fmt.Sprintf("HTTP %d: %.300s", resp.StatusCode, b)
	default:
		var r struct {
			Data   json.RawMessage `json:"data"`
			Errors []struct {
				Message    string         `json:"message"`
				Extensions map[string]any `json:"extensions"`
			} `json:"errors"`
			Extensions struct {
				Stale []struct {
					Reason string `json:"reason"`
				} `json:"stale"`
			} `json:"extensions"`
		}
		if err := json.Unmarshal(b, &r); err != nil {
			a.failed = fmt.Sprintf("not JSON: %v: %.300s", err, b)
		} else if len(r.Errors) == 0 && (len(r.Data) == 0 || string(r.Data) == "null") {
			a.failed = fmt.Sprintf("no data: %.300s", b)
		}
		for _, e := range r.Errors {
			a.codes = append(a.codes, fmt.Sprint(e.Extensions["code"]))
		}
		if len(r.Errors) > 0 {
			a.message = fmt.Sprintf("%s: %.300s", a.codes[0], r.Errors[0].Message)
		}
		for _, st := range r.Extensions.Stale {
			a.staleReasons = append(a.staleReasons, st.Reason)
		}
	}
	return a
}

// tally collects the answers of one kind of client over a phase.
type tally struct {
	mu  sync.Mutex
	out outcome
	lat []time.Duration
}

func (t *tally) add(a answer) {
	t.mu.Lock()
	defer t.mu.Unlock()
	o := &t.out
	o.Requests++
	t.lat = append(t.lat, a.latency)
	switch {
	case a.failed != "":
		o.Failed++
		if o.FirstError == "" {
			o.FirstError = a.failed
		}
	case len(a.codes) > 0:
		o.Errors++
		if o.FirstError == "" {
			o.FirstError = a.message
		}
	case len(a.staleReasons) > 0:
		o.Stale++
	default:
		o.Clean++
	}
	for _, c := range a.codes {
		if o.ErrorCodes == nil {
			o.ErrorCodes = map[string]int{}
		}
		o.ErrorCodes[c]++
	}
	for _, r := range a.staleReasons {
		if o.StaleReasons == nil {
			o.StaleReasons = map[string]int{}
		}
		o.StaleReasons[r]++
	}
}

// addIn adds a unless ctx ended meanwhile: an answer cut off by the
// window's end is not one.
func (t *tally) addIn(ctx context.Context, a answer) {
	if ctx.Err() == nil {
		t.add(a)
	}
}

// outcome is the tally with its latency quantiles (nearest rank).
func (t *tally) outcome() outcome {
	t.mu.Lock()
	defer t.mu.Unlock()
	o := t.out
	if len(t.lat) == 0 {
		return o
	}
	lat := slices.Clone(t.lat)
	slices.Sort(lat)
	q := func(p float64) float64 {
		i := min(max(int(p*float64(len(lat))+0.5)-1, 0), len(lat)-1)
		return float64(lat[i]) / float64(time.Millisecond)
	}
	var sum time.Duration
	for _, l := range lat {
		sum += l
	}
	o.P50ms, o.P95ms, o.P99ms = q(0.50), q(0.95), q(0.99)
	o.MeanMs = float64(sum/time.Duration(len(lat))) / float64(time.Millisecond)
	return o
}

// phaseRun is one phase's clients and their tallies.
type phaseRun struct {
	window              time.Duration
	lookups, cold, warm tally
}

// run runs every client until the window ends, printing progress every
// 5 s.
func (p *phaseRun) run(ctx context.Context, clients ...func(context.Context)) {
	ctx, cancel := context.WithTimeout(ctx, p.window)
	defer cancel()
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Go(func() { c(ctx) })
	}
	wg.Go(func() {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		start := time.Now()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				l, c, w := p.lookups.outcome(), p.cold.outcome(), p.warm.outcome()
				logf("  t=%2.0fs  lookups %d (p95 %.0f ms, %d errors)  cold dashboards %d (%d with errors)  warmed %d (%d stale, %d with errors)",
					time.Since(start).Seconds(), l.Requests, l.P95ms, l.Errors+l.Failed, c.Requests, c.Errors+c.Failed, w.Requests, w.Stale, w.Errors+w.Failed)
			}
		}
	})
	wg.Wait()
}

// measurePhase runs clients over window and reads, around it, the
// simulator's counters, the replicas' budget metrics and everyone's CPU.
func measurePhase(ctx context.Context, name, desc string, window time.Duration, bc *budgetClient, simURL string, b *bed, sb *simBed,
	gws []*budgetGateway, s budgetSettings, clients func(context.Context, *phaseRun)) (budgetPhase, error) {
	ph := budgetPhase{Name: name, Description: desc, LoadAvgStart: readLoadAvg()}
	logf("phase %s: %s, %v", name, desc, window)
	before, err := takeSnapshot(ctx, simURL, b, sb, gws)
	if err != nil {
		return ph, err
	}
	obs := observeBudget(ctx, b.redis.Addr, s)
	start := time.Now()
	p := &phaseRun{window: window}
	clients(ctx, p)
	ph.Seconds = time.Since(start).Seconds()
	ph.Left = obs.stop()
	if err := ctx.Err(); err != nil {
		return ph, err
	}
	after, err := takeSnapshot(ctx, simURL, b, sb, gws)
	if err != nil {
		return ph, err
	}
	sim0, sim1, m0, m1 := before.sim, after.sim, before.metrics, after.metrics
	ph.LoadAvgEnd = readLoadAvg()
	ph.RedisFallbacks = after.fallbacks - before.fallbacks
	ph.Lookups, ph.Cold, ph.Warm = p.lookups.outcome(), p.cold.outcome(), p.warm.outcome()
	ph.SimCalls, ph.Throttled = sim1.Total-sim0.Total, sim1.Throttled-sim0.Throttled
	ph.SimPerMinute = float64(ph.SimCalls) / ph.Seconds * 60
	ph.SimRoutes = map[string]int64{}
	for k, v := range sim1.Requests {
		if d := v - sim0.Requests[k]; d != 0 {
			ph.SimRoutes[k] = d
		}
	}
	ph.Decisions, ph.Waits = map[string]float64{}, map[string]*waitHist{}
	for k, v := range m1 {
		d := v - m0[k]
		if d == 0 {
			continue
		}
		kind, rest, _ := strings.Cut(k, ":")
		switch kind {
		case "stale":
			ph.BudgetStale = d
		case "planRefusals":
			ph.PlanRefusals = d
		case "decision":
			ph.Decisions[rest] = d
		case "waitCount", "waitSum", "waitLe":
			class, le, _ := strings.Cut(rest, "/")
			h := ph.Waits[class]
			if h == nil {
				h = &waitHist{Le: map[string]float64{}}
				ph.Waits[class] = h
			}
			switch kind {
			case "waitCount":
				h.Count = d
			case "waitSum":
				h.SumSeconds = d
			default:
				h.Le[le] = d
			}
		}
	}
	ph.GatewayCPU, ph.SimCPU, ph.RedisCPU = (after.gwCPU - before.gwCPU).Seconds(), (after.simCPU - before.simCPU).Seconds(), (after.redisCPU - before.redisCPU).Seconds()
	l := ph.Lookups
	logf("  lookups %d: p50 %.1f  p95 %.1f  p99 %.1f ms, %d errors; cold dashboards %d (%d clean, %d with errors %v); warmed %d (%d clean, %d stale %v, %d with errors)",
		l.Requests, l.P50ms, l.P95ms, l.P99ms, l.Errors+l.Failed, ph.Cold.Requests, ph.Cold.Clean, ph.Cold.Errors+ph.Cold.Failed, ph.Cold.ErrorCodes,
		ph.Warm.Requests, ph.Warm.Clean, ph.Warm.Stale, ph.Warm.StaleReasons, ph.Warm.Errors+ph.Warm.Failed)
	logf("  simulator: %d calls (%.0f a minute), %d throttled; budget decisions %v, %g stale by budget, %d Redis fallbacks; CPU s: gateways %.1f, redis %.1f, simulator %.1f",
		ph.SimCalls, ph.SimPerMinute, ph.Throttled, ph.Decisions, ph.BudgetStale, ph.RedisFallbacks, ph.GatewayCPU, ph.RedisCPU, ph.SimCPU)
	logf("  budget left as observed every 10 ms (calls at once: samples): %v", ph.Left)
	if h := ph.Waits["interactive"]; h != nil && h.Count > 0 {
		logf("  interactive calls: %.0f, mean wait for the budget %.1f ms, %.0f within 10 ms, %.0f within 100 ms",
			h.Count, h.SumSeconds/h.Count*1000, h.Le["0.01"], h.Le["0.1"])
	}
	return ph, nil
}

// budgetObserver peeks at the replicas' shared budget (the GCRA key of
// the service account: the backend's name) through redis_rate with the
// gateways' limit and n = 0, which takes nothing, every 10 ms.
type budgetObserver struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	left   map[int]int
}

func observeBudget(ctx context.Context, addr string, s budgetSettings) *budgetObserver {
	ctx, cancel := context.WithCancel(ctx)
	o := &budgetObserver{cancel: cancel, left: map[int]int{}}
	rc := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 1})
	l := redis_rate.NewLimiter(rc)
	lim := redis_rate.Limit{Rate: int(s.PerSecond*60 + 0.5), Burst: s.Burst, Period: time.Minute}
	o.wg.Go(func() {
		defer rc.Close()
		for ctx.Err() == nil {
			if r, err := l.AllowN(ctx, "fleetgraph:budget:runai-bench", lim, 0); err == nil {
				o.left[r.Remaining]++
			}
			select {
			case <-ctx.Done():
			case <-time.After(10 * time.Millisecond):
			}
		}
	})
	return o
}

func (o *budgetObserver) stop() map[int]int {
	o.cancel()
	o.wg.Wait()
	return o.left
}

// snapshot is what measurePhase reads before and after a phase.
type snapshot struct {
	sim                     simStats
	metrics                 map[string]float64 // scrapeBudget's
	gwCPU, simCPU, redisCPU time.Duration
	fallbacks               int
}

func takeSnapshot(ctx context.Context, simURL string, b *bed, sb *simBed, gws []*budgetGateway) (snapshot, error) {
	sn := snapshot{gwCPU: gatewaysCPU(gws), simCPU: harness.ReadTree(sb.sim.Proc.PID()).CPU, redisCPU: harness.ReadTree(b.redis.PID()).CPU,
		fallbacks: fallbacks(gws)}
	var err error
	if sn.sim, err = readSim(ctx, simURL); err != nil {
		return sn, err
	}
	sn.metrics, err = scrapeBudget(ctx, gws)
	return sn, err
}

func gatewaysCPU(gws []*budgetGateway) time.Duration {
	var d time.Duration
	for _, g := range gws {
		d += harness.ReadTree(g.proc.PID()).CPU
	}
	return d
}

func readLoadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	return strings.TrimSpace(string(b))
}

// budgetMetric is one sample line of the budget's counters.
var budgetMetric = regexp.MustCompile(`^fleetgraph_upstream_budget_(decisions_total|stale_total|plan_refusals_total|wait_seconds_count|wait_seconds_sum|wait_seconds_bucket)\{([^}]*)\} (\S+)$`)

var labelPair = regexp.MustCompile(`(\w+)="([^"]*)"`)

// scrapeBudget sums the budget's counters over the replicas' /metrics:
// "decision:class/outcome", "stale", "planRefusals", and the wait
// histogram's "waitCount:class", "waitSum:class", "waitLe:class/bound".
func scrapeBudget(ctx context.Context, gws []*budgetGateway) (map[string]float64, error) {
	out := map[string]float64{}
	for _, g := range gws {
		b, err := getBody(ctx, g.base+"/metrics")
		if err != nil {
			return nil, err
		}
		for line := range strings.SplitSeq(string(b), "\n") {
			m := budgetMetric.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			v, err := strconv.ParseFloat(m[3], 64)
			if err != nil {
				continue
			}
			labels := map[string]string{}
			for _, lp := range labelPair.FindAllStringSubmatch(m[2], -1) {
				labels[lp[1]] = lp[2]
			}
			switch m[1] {
			case "decisions_total":
				out["decision:"+labels["class"]+"/"+labels["outcome"]] += v
			case "stale_total":
				out["stale"] += v
			case "plan_refusals_total":
				out["planRefusals"] += v
			case "wait_seconds_count":
				out["waitCount:"+labels["class"]] += v
			case "wait_seconds_sum":
				out["waitSum:"+labels["class"]] += v
			case "wait_seconds_bucket":
				out["waitLe:"+labels["class"]+"/"+labels["le"]] += v
			}
		}
	}
	return out, nil
}

// lookups is the interactive client: node(id) lookups at a steady pace,
// each with a metrics window no one asked before (one vendor call),
// round robin over the nodes and the replicas.
type lookups struct {
	ids    []string
	every  time.Duration
	seq    atomic.Int64
	primed atomic.Int64 // primeTokens' windows, counted down from lookupBase
}

func (l *lookups) loop(ctx context.Context, bc *budgetClient, t *tally) {
	next := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(next)):
		}
		next = next.Add(l.every)
		n := int(l.seq.Add(1))
		from := lookupBase.Add(time.Duration(n) * time.Hour)
		body := gqlBody(lookupQuery, map[string]any{"id": l.ids[n%len(l.ids)],
			"from": from.Format(time.RFC3339), "to": from.Add(time.Hour).Format(time.RFC3339)})
		t.addIn(ctx, bc.post(ctx, n, body, nil))
	}
}

// nodeIDs lists the fleet's nodes on every replica (which also fetches
// each replica's service token).
func (c *budgetClient) nodeIDs(ctx context.Context) ([]string, error) {
	body := gqlBody(`query { nodes(first: 500) { edges { node { id } } } }`, nil)
	var ids []string
	for i := range c.gws {
		a := c.post(ctx, i, body, nil)
		if a.failed != "" || len(a.codes) > 0 {
			return nil, fmt.Errorf("listing nodes on replica %d: %s%s", i+1, a.failed, a.message)
		}
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.gws[0].base+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			Nodes struct {
				Edges []struct{ Node struct{ ID string } }
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, err
	}
	for _, e := range r.Data.Nodes.Edges {
		ids = append(ids, e.Node.ID)
	}
	if len(ids) != dashboardFleet.Nodes() {
		return nil, fmt.Errorf("listed %d nodes, the fleet has %d", len(ids), dashboardFleet.Nodes())
	}
	return ids, nil
}

// primeTokens makes each replica fetch its service token before a phase:
// one lookup each, of a window before the phases' (a replica whose node
// listing came from the shared cache has made no call yet).
func (c *budgetClient) primeTokens(ctx context.Context, l *lookups) error {
	for i := range c.gws {
		from := lookupBase.Add(-time.Duration(l.primed.Add(1)) * time.Hour)
		a := c.post(ctx, i, gqlBody(lookupQuery, map[string]any{"id": l.ids[0],
			"from": from.Format(time.RFC3339), "to": from.Add(time.Hour).Format(time.RFC3339)}), nil)
		if a.failed != "" || len(a.codes) > 0 {
			return fmt.Errorf("a lookup on replica %d: %s%s", i+1, a.failed, a.message)
		}
	}
	return nil
}

// warm asks the warmed dashboard until an answer has no error (every
// value is then cached, fresh or expired), with a lookup's priority so
// that its calls may wait 5 s for the budget; it returns the passes.
func (c *budgetClient) warm(ctx context.Context) (int, error) {
	h := http.Header{"X-Fleetgraph-Priority": []string{"interactive"}}
	for pass := 1; pass <= 15; pass++ {
		a := c.post(ctx, 0, dashboardBody(warmFrom), h)
		logf("warming the fixed-window dashboard: pass %d, %.1f s, %d errors %s", pass, a.latency.Seconds(), len(a.codes), a.failed)
		if a.failed == "" && len(a.codes) == 0 {
			return pass, nil
		}
		if err := ctx.Err(); err != nil {
			return pass, err
		}
	}
	return 0, fmt.Errorf("the fixed-window dashboard was not answered without errors in 15 passes")
}
