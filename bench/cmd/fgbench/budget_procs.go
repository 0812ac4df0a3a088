package main

// The processes fgbench budget runs and reads: the gateway replicas and
// their budget metrics, the simulator's limit and counters, and an
// observer of what is left of the shared budget.

import (
	"bytes"
	"context"
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
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/fleetgraph/fleetgraph/bench/harness"
)

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
	st, err := harness.ReadSimStats(ctx, simURL)
	if err != nil {
		return err
	}
	if st.RateLimitPerMinute != perMinute {
		return fmt.Errorf("the simulator's limit is %d a minute after POST /_sim/faults, want %d", st.RateLimitPerMinute, perMinute)
	}
	return nil
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
			if st, err := harness.ReadSimStats(ctx, simURL); err == nil {
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
