package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Modes of a fleetgraph run. Hive Gateway has no cache: its runs are
// ModeStatic (one service token it was started with).
const (
	ModeWarm   = "warm"   // one caller's bearer on every request: the cache answers
	ModeCold   = "cold"   // a fresh bearer per request: nothing can come from the cache
	ModeStatic = "static" // no caller credential (Hive Gateway's static header)
)

// RunSpec is one measured load run against one gateway.
type RunSpec struct {
	System   string
	Scenario string // label of the scenario in the results
	URL      string // the gateway's GraphQL endpoint
	Query    Query
	Mode     string
	Fleet    Fleet
	Latency  time.Duration // the simulator's per-call latency, for the floor
	// RunAIVersion is the API the simulator serves ("" = 2.22), for the
	// minimum and the floor: from 2.23 nodes are listed tenant-wide.
	RunAIVersion string

	Concurrency int           // closed loop: this many clients, each waiting for its answer
	Duration    time.Duration // measured window; or
	Requests    int           // a fixed number of requests when > 0
	Warmup      time.Duration // unmeasured load first (fills the cache, warms JITs and pools); or
	WarmupReqs  int
	Timeout     time.Duration // per request, default 60s

	SimURL string     // the Run:ai simulator, for its counters and tokens
	Tokens *TokenPool // cold mode: a fresh token per request
	Token  string     // warm mode: the one caller's token
	// ColdEvery > 0 makes every ColdEvery-th request of a warm run cold (a
	// fresh token from Tokens): a realistic mix for the soak.
	ColdEvery   int
	GatewayPID  int             // CPU and RSS of this process tree; 0: not measured
	RedisPID    int             // CPU of redis-server, reported apart; 0: none
	SimPID      int             // CPU of the simulator, reported apart; 0: not measured
	OnSample    func(ProcStats) // called every SampleEvery during the measured window
	SampleEvery time.Duration
}

// Measurement is the outcome of one run.
type Measurement struct {
	System      string  `json:"system"`
	Scenario    string  `json:"scenario"`
	Query       string  `json:"query"`
	Mode        string  `json:"mode"`
	FleetNodes  int     `json:"fleetNodes"`
	Fleet       Fleet   `json:"fleet"`
	Concurrency int     `json:"concurrency"`
	Seconds     float64 `json:"seconds"`
	Requests    int     `json:"requests"`
	Failures    int     `json:"failures"` // transport errors, non-200, or GraphQL errors
	FirstError  string  `json:"firstError,omitempty"`
	ReqPerSec   float64 `json:"reqPerSec"`
	P50ms       float64 `json:"p50ms"`
	P95ms       float64 `json:"p95ms"`
	P99ms       float64 `json:"p99ms"`
	MeanMs      float64 `json:"meanMs"`
	BytesPerReq float64 `json:"bytesPerReq"`
	// CPUmsPerReq is the gateway's user+system CPU over the window divided by
	// the requests; RedisCPUmsPerReq the same for redis-server.
	CPUmsPerReq      float64 `json:"cpuMsPerReq"`
	RedisCPUmsPerReq float64 `json:"redisCpuMsPerReq"`
	SimCPUmsPerReq   float64 `json:"simCpuMsPerReq"` // the simulator's CPU: it shares the machine
	PeakRSSMB        float64 `json:"peakRssMB"`      // VmHWM over the window (reset before it)
	PeakRSSReset     bool    `json:"peakRssReset"`
	Procs            int     `json:"procs"` // processes in the gateway's tree
	// UpstreamPerReq is the simulator's vendor-call count over the window
	// divided by the requests.
	UpstreamPerReq float64            `json:"upstreamPerReq"`
	UpstreamRoutes map[string]float64 `json:"upstreamRoutes"`
	MinUpstream    int                `json:"minUpstream"`
	FloorMs        float64            `json:"floorMs"`
	// RunAIVersion is the Run:ai API the simulator served ("" = 2.22).
	RunAIVersion string `json:"runaiVersion,omitempty"`
}

// Run measures spec: warm-up, then the measured window, with the
// simulator's counters and the gateway's /proc figures read around it.
func Run(ctx context.Context, spec RunSpec) (Measurement, error) {
	if spec.Timeout == 0 {
		spec.Timeout = 60 * time.Second
	}
	m := Measurement{
		System: spec.System, Scenario: spec.Scenario, Query: spec.Query.Name, Mode: spec.Mode,
		FleetNodes: spec.Fleet.Nodes(), Fleet: spec.Fleet, Concurrency: spec.Concurrency,
		MinUpstream:  MinUpstreamOf(spec.RunAIVersion, spec.Query, spec.Fleet),
		FloorMs:      float64(FloorRoundTripsOf(spec.RunAIVersion, spec.Query, spec.Fleet)) * float64(spec.Latency) / float64(time.Millisecond),
		RunAIVersion: spec.RunAIVersion,
	}
	if spec.Warmup > 0 || spec.WarmupReqs > 0 {
		if err := attack(ctx, spec, spec.Warmup, spec.WarmupReqs, nil); err != nil {
			return m, fmt.Errorf("warm-up: %w", err)
		}
	}
	before, err := ReadSimStats(ctx, spec.SimURL)
	if err != nil {
		return m, err
	}
	m.PeakRSSReset = ResetPeakRSS(spec.GatewayPID)
	gw0, rd0, sim0 := ReadTree(spec.GatewayPID), ReadTree(spec.RedisPID), ReadTree(spec.SimPID)

	stopSampling := sample(spec)
	err = attack(ctx, spec, spec.Duration, spec.Requests, &m)
	stopSampling()
	if err != nil {
		return m, err
	}
	gw1, rd1, sim1 := ReadTree(spec.GatewayPID), ReadTree(spec.RedisPID), ReadTree(spec.SimPID)
	after, err := ReadSimStats(ctx, spec.SimURL)
	if err != nil {
		return m, err
	}
	n := float64(max(m.Requests, 1))
	if gw1.Measured {
		m.CPUmsPerReq = float64(gw1.CPU-gw0.CPU) / float64(time.Millisecond) / n
		m.PeakRSSMB = float64(gw1.PeakRSS) / (1 << 20)
		m.Procs = gw1.Procs
	}
	if rd1.Measured {
		m.RedisCPUmsPerReq = float64(rd1.CPU-rd0.CPU) / float64(time.Millisecond) / n
	}
	m.setSim(sim0, sim1, before, after, n)
	return m, nil
}

// setSim fills in the simulator's share of n requests: its CPU (when
// measured) and the vendor calls it counted, in all and by route.
func (m *Measurement) setSim(cpu0, cpu1 ProcStats, before, after SimStats, n float64) {
	if cpu1.Measured {
		m.SimCPUmsPerReq = float64(cpu1.CPU-cpu0.CPU) / float64(time.Millisecond) / n
	}
	d := after.Sub(before)
	m.UpstreamPerReq = float64(d.Total) / n
	m.UpstreamRoutes = map[string]float64{}
	for k, v := range d.Requests {
		m.UpstreamRoutes[k] = float64(v) / n
	}
}

// sample calls spec.OnSample every SampleEvery until the returned stop.
func sample(spec RunSpec) (stop func()) {
	if spec.OnSample == nil || spec.SampleEvery <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(spec.SampleEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				spec.OnSample(ReadTree(spec.GatewayPID))
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// attack runs one closed-loop vegeta attack: Concurrency workers at the
// maximum rate (each sends its next request when its answer is in), for du
// or until n requests were sent. With m non-nil it fills in the latency,
// throughput and failure figures.
func attack(ctx context.Context, spec RunSpec, du time.Duration, n int, m *Measurement) error {
	if du <= 0 && n <= 0 {
		return errors.New("a run needs a duration or a request count")
	}
	var sent atomic.Int64
	var targetErr atomic.Value
	targeter := func(t *vegeta.Target) error {
		seq := sent.Add(1)
		if n > 0 && seq > int64(n) {
			return vegeta.ErrNoTargets
		}
		mode := spec.Mode
		if mode == ModeWarm && spec.ColdEvery > 0 && seq%int64(spec.ColdEvery) == 0 {
			mode = ModeCold
		}
		t.Method = http.MethodPost
		t.URL = spec.URL
		t.Body = spec.Query.Body(spec.System, time.Now(), spec.Fleet)
		t.Header = http.Header{"Content-Type": []string{"application/json"}}
		switch mode {
		case ModeWarm:
			t.Header.Set("Authorization", "Bearer "+spec.Token)
		case ModeCold:
			tok, err := spec.Tokens.Next(ctx)
			if err != nil {
				targetErr.Store(err)
				return err
			}
			t.Header.Set("Authorization", "Bearer "+tok)
		}
		return nil
	}
	c := uint64(spec.Concurrency)
	atk := vegeta.NewAttacker(vegeta.Workers(c), vegeta.MaxWorkers(c), vegeta.Connections(spec.Concurrency),
		vegeta.Timeout(spec.Timeout), vegeta.KeepAlive(true), vegeta.HTTP2(false), vegeta.Redirects(vegeta.NoFollow))
	stop := context.AfterFunc(ctx, func() { atk.Stop() })
	defer stop()

	var (
		lat       []time.Duration
		bytesIn   uint64
		failures  int
		firstErr  string
		first     time.Time
		last      time.Time
		noTargets = vegeta.ErrNoTargets.Error()
	)
	for r := range atk.Attack(vegeta.Targeter(targeter), vegeta.Rate{Freq: 0}, du, spec.Scenario) {
		if r.Error == noTargets {
			continue // the targeter said "no more": not a request
		}
		if first.IsZero() || r.Timestamp.Before(first) {
			first = r.Timestamp
		}
		if e := r.End(); e.After(last) {
			last = e
		}
		lat = append(lat, r.Latency)
		bytesIn += r.BytesIn
		if msg := failure(r); msg != "" {
			failures++
			if firstErr == "" {
				firstErr = msg
			}
		}
	}
	if err, _ := targetErr.Load().(error); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if m == nil {
		return nil
	}
	m.Requests, m.Failures, m.FirstError = len(lat), failures, firstErr
	if len(lat) == 0 {
		return errors.New("no request completed")
	}
	window := last.Sub(first)
	m.Seconds = window.Seconds()
	m.ReqPerSec = float64(len(lat)-failures) / window.Seconds()
	slices.Sort(lat)
	var sum time.Duration
	for _, l := range lat {
		sum += l
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	m.P50ms, m.P95ms, m.P99ms = ms(quantile(lat, 0.50)), ms(quantile(lat, 0.95)), ms(quantile(lat, 0.99))
	m.MeanMs = ms(sum / time.Duration(len(lat)))
	m.BytesPerReq = float64(bytesIn) / float64(len(lat))
	return nil
}

// failure says why a result is not a clean answer ("" when it is).
func failure(r *vegeta.Result) string {
	switch {
	case r.Error != "":
		return r.Error
	case r.Code != http.StatusOK:
		return fmt.Sprintf("HTTP %d: %.300s", r.Code, r.Body)
	case bytes.Contains(r.Body, []byte(`"errors":`)):
		return fmt.Sprintf("GraphQL errors: %.300s", r.Body)
	case !bytes.Contains(r.Body, []byte(`"data":`)):
		return fmt.Sprintf("no data: %.300s", r.Body)
	}
	return ""
}

// quantile is the nearest-rank quantile of sorted.
func quantile(sorted []time.Duration, q float64) time.Duration {
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// TokenPool hands out distinct simulator-minted bearers, minted ahead of
// use so that minting is not inside the measured latency. It mints only up
// to a target level (raised by Fill, or by Next finding it empty), so that
// it does not compete for the CPU during runs that need no tokens.
type TokenPool struct {
	simURL string
	ch     chan string
	target atomic.Int64
	client *http.Client
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewTokenPool starts a pool of at most size tokens; Close stops it.
func NewTokenPool(simURL string, size int) *TokenPool {
	ctx, cancel := context.WithCancel(context.Background())
	p := &TokenPool{simURL: simURL, ch: make(chan string, size), client: &http.Client{Timeout: 10 * time.Second}, cancel: cancel}
	p.wg.Go(func() {
		for ctx.Err() == nil {
			if int64(len(p.ch)) >= p.target.Load() {
				select {
				case <-ctx.Done():
				case <-time.After(5 * time.Millisecond):
				}
				continue
			}
			tok, err := MintToken(ctx, p.client, simURL)
			if err != nil {
				select {
				case <-ctx.Done():
				case <-time.After(100 * time.Millisecond):
				}
				continue
			}
			select {
			case p.ch <- tok:
			case <-ctx.Done():
			}
		}
	})
	return p
}

func (p *TokenPool) raise(n int) {
	n = min(n, cap(p.ch))
	for {
		cur := p.target.Load()
		if int64(n) <= cur || p.target.CompareAndSwap(cur, int64(n)) {
			return
		}
	}
}

// Fill keeps n tokens in stock from now on, and waits until they are.
func (p *TokenPool) Fill(ctx context.Context, n int) error {
	p.raise(n)
	n = min(n, cap(p.ch))
	for len(p.ch) < n {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

// Hold stops minting until the next Fill or Next: for runs that need no
// tokens, so that minting does not compete with them for the CPU.
func (p *TokenPool) Hold() { p.target.Store(0) }

// Next returns a token never handed out before.
func (p *TokenPool) Next(ctx context.Context) (string, error) {
	select {
	case tok := <-p.ch:
		return tok, nil
	default:
	}
	p.raise(256) // used without Fill: keep some in stock
	select {
	case tok := <-p.ch:
		return tok, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// Close stops minting.
func (p *TokenPool) Close() {
	p.cancel()
	p.wg.Wait()
	p.client.CloseIdleConnections()
}
