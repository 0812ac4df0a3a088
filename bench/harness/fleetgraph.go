package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// Fleet is the shape of a simulated Run:ai tenant.
type Fleet struct {
	Clusters, PoolsPerCluster, NodesPerPool int
}

// Nodes is the fleet's node count.
func (f Fleet) Nodes() int { return f.Clusters * f.PoolsPerCluster * f.NodesPerPool }

// Pools is the fleet's node-pool count.
func (f Fleet) Pools() int { return f.Clusters * f.PoolsPerCluster }

func (f Fleet) String() string {
	return fmt.Sprintf("%d nodes (%d clusters x %d pools x %d nodes)", f.Nodes(), f.Clusters, f.PoolsPerCluster, f.NodesPerPool)
}

// Sim is a running `fleetgraph sim` process (both vendor simulators; the
// benchmarks use its Run:ai side).
type Sim struct {
	Proc     *Proc
	RunAIURL string
	Fleet    Fleet
	Latency  time.Duration
	// Version is the Run:ai API it serves ("" or "2.22": `fleetgraph sim`'s
	// default; "2.23": tenant-wide node listing).
	Version string
}

// StartSim starts the simulators as a separate process of binary, serving
// Run:ai API version ("" for the simulator's default, 2.22).
func StartSim(binary, logDir string, f Fleet, latency time.Duration, version string) (*Sim, error) {
	ra, err := FreePort()
	if err != nil {
		return nil, err
	}
	ma, err := FreePort()
	if err != nil {
		return nil, err
	}
	args := []string{"sim",
		"--runai-addr", "127.0.0.1:" + strconv.Itoa(ra), "--modelarts-addr", "127.0.0.1:" + strconv.Itoa(ma),
		"--clusters", strconv.Itoa(f.Clusters), "--pools", strconv.Itoa(f.PoolsPerCluster),
		"--nodes-per-pool", strconv.Itoa(f.NodesPerPool), "--latency", latency.String()}
	label := fmt.Sprintf("sim-%dn", f.Nodes())
	if version != "" {
		args = append(args, "--runai-version", version)
		label += "-" + version
	}
	p, err := Start(logDir, label, nil, binary, args...)
	if err != nil {
		return nil, err
	}
	s := &Sim{Proc: p, RunAIURL: "http://127.0.0.1:" + strconv.Itoa(ra), Fleet: f, Latency: latency, Version: version}
	if err := p.WaitReady(20*time.Second, httpOK(s.RunAIURL+"/_sim/stats")); err != nil {
		p.Stop(2 * time.Second)
		return nil, err
	}
	return s, nil
}

// Stop ends the simulator process.
func (s *Sim) Stop() {
	if s != nil {
		s.Proc.Stop(5 * time.Second)
	}
}

// SimStats is the Run:ai simulator's request counters (GET /_sim/stats):
// calls per route, throttled answers and the per-account limit in force.
type SimStats struct {
	Requests           map[string]int64 `json:"requests"`
	Total              int64            `json:"total"`
	Throttled          int64            `json:"throttled"`
	RateLimitPerMinute int              `json:"rateLimitPerMinute"` // 0: none
}

// Sub returns s - prev per route (the limit is s's).
func (s SimStats) Sub(prev SimStats) SimStats {
	out := SimStats{Requests: map[string]int64{}, Total: s.Total - prev.Total, Throttled: s.Throttled - prev.Throttled,
		RateLimitPerMinute: s.RateLimitPerMinute}
	for k, v := range s.Requests {
		if d := v - prev.Requests[k]; d != 0 {
			out.Requests[k] = d
		}
	}
	return out
}

// ReadSimStats reads the counters of the simulator at baseURL.
func ReadSimStats(ctx context.Context, baseURL string) (SimStats, error) {
	var s SimStats
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/_sim/stats", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("GET /_sim/stats: %s", resp.Status)
	}
	return s, json.NewDecoder(resp.Body).Decode(&s)
}

// MintToken asks the Run:ai simulator for a fresh, valid bearer
// (POST /_sim/token; every token is distinct). c nil is http.DefaultClient.
func MintToken(ctx context.Context, c *http.Client, baseURL string) (string, error) {
	if c == nil {
		c = http.DefaultClient
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/_sim/token", nil)
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"accessToken"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.AccessToken == "" {
		return "", fmt.Errorf("POST /_sim/token: %s: %v", resp.Status, err)
	}
	return body.AccessToken, nil
}

// Redis is the shared cache of the warm scenarios: a redis-server process
// when one is installed (its CPU is then measured apart from the gateway's),
// else miniredis inside the harness.
type Redis struct {
	Proc *Proc // nil for miniredis
	Addr string
	Kind string // "redis-server 7.0.15" or "miniredis (in the harness process)"
	mini *miniredis.Miniredis
	cli  *redis.Client
}

// StartRedis starts redis-server on a free loopback port (no persistence),
// or miniredis when redis-server is not installed.
func StartRedis(logDir string) (*Redis, error) {
	if path, err := exec.LookPath("redis-server"); err == nil {
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		p, err := Start(logDir, "redis", nil, path, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--protected-mode", "yes")
		if err != nil {
			return nil, err
		}
		r := &Redis{Proc: p, Addr: "127.0.0.1:" + strconv.Itoa(port), Kind: "redis-server " + redisVersion(path)}
		r.cli = redis.NewClient(&redis.Options{Addr: r.Addr})
		if err := p.WaitReady(10*time.Second, func() error { return r.cli.Ping(context.Background()).Err() }); err != nil {
			r.Stop()
			return nil, err
		}
		return r, nil
	}
	mr := miniredis.NewMiniRedis()
	if err := mr.StartAddr("127.0.0.1:0"); err != nil {
		return nil, err
	}
	return &Redis{Addr: mr.Addr(), Kind: "miniredis (in the harness process: redis-server not installed)", mini: mr,
		cli: redis.NewClient(&redis.Options{Addr: mr.Addr()})}, nil
}

func redisVersion(path string) string {
	out, err := exec.Command(path, "--version").Output()
	if err != nil {
		return "?"
	}
	for f := range strings.FieldsSeq(string(out)) {
		if v, ok := strings.CutPrefix(f, "v="); ok {
			return v
		}
	}
	return "?"
}

// PID is redis-server's PID; 0 for miniredis.
func (r *Redis) PID() int {
	if r == nil || r.Proc == nil {
		return 0
	}
	return r.Proc.PID()
}

// Flush empties the cache (between scenarios).
func (r *Redis) Flush(ctx context.Context) error { return r.cli.FlushAll(ctx).Err() }

// Stop ends redis.
func (r *Redis) Stop() {
	if r == nil {
		return
	}
	_ = r.cli.Close()
	if r.mini != nil {
		r.mini.Close()
	}
	if r.Proc != nil {
		r.Proc.Stop(5 * time.Second)
	}
}

// Gateway is a running gateway process: fleetgraph or Hive Gateway.
type Gateway struct {
	System string // SystemFleetgraph or SystemHive
	Proc   *Proc
	URL    string // the GraphQL endpoint
}

// Systems compared.
const (
	SystemFleetgraph = "fleetgraph"
	SystemHive       = "hive"
)

// Stop ends the gateway.
func (g *Gateway) Stop() {
	if g != nil {
		g.Proc.Stop(5 * time.Second)
	}
}

// StartFleetgraph starts the gateway binary over the simulator's Run:ai API
// in pass-through mode (each caller's bearer goes upstream, and keys the
// cache) with redisAddr as its cache ("" for none). extra are more
// arguments for binary after --config.
func StartFleetgraph(binary, workDir string, sim *Sim, redisAddr, label string, extra ...string) (*Gateway, error) {
	return StartFleetgraphEnv(binary, workDir, sim, redisAddr, label, nil, extra...)
}

// StartFleetgraphEnv is StartFleetgraph with extra environment variables
// (FLEETGRAPH_* overrides of the configuration).
func StartFleetgraphEnv(binary, workDir string, sim *Sim, redisAddr, label string, env []string, extra ...string) (*Gateway, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	path := filepath.Join(workDir, "fleetgraph-"+label+".yaml")
	if err := writeConfig(binary, path, port, sim.RunAIURL, sim.Version, redisAddr); err != nil {
		return nil, err
	}
	p, err := Start(filepath.Join(workDir, "logs"), "fleetgraph-"+label, env, binary, append([]string{"--config", path}, extra...)...)
	if err != nil {
		return nil, err
	}
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	if err := p.WaitReady(20*time.Second, httpOK(base+"/healthz")); err != nil {
		p.Stop(2 * time.Second)
		return nil, err
	}
	return &Gateway{System: SystemFleetgraph, Proc: p, URL: base + "/graphql"}, nil
}

// benchLimits raises the operation-cost limit: one dashboard over 10 000
// nodes weighs more than the default 500 000 (list fields count once per
// item asked with first), and the scale scenario asks for all of them in
// one query. A gateway without a limits section is configured without it.
const benchLimits = "limits:\n  maxComplexity: 100000000\n"

// benchVersion tells the gateway the API the simulator serves (`fleetgraph
// sim` defaults to 2.22), so that no version probe is counted in the
// upstream calls: the minimum the report states has none.
func benchVersion(version string) string {
	if version == "" {
		version = "2.22"
	}
	return "    apiVersion: \"" + version + "\"\n"
}

// writeConfig writes the gateway's configuration to path, checked by the
// binary itself (--check-config).
func writeConfig(binary, path string, port int, runaiURL, version, redisAddr string) error {
	cfg := fmt.Sprintf(`# written by bench/harness: fleetgraph over the Run:ai simulator
listen: 127.0.0.1:%d
requestTimeout: 120s
runai:
  - name: runai-bench
    baseURL: %s
    passThrough: true
    timeout: 60s
@apiVersion@`, port, runaiURL)
	if redisAddr != "" {
		// The whole-response cache on, at its defaults (ttl 5s, 32 MiB).
		cfg += "redis:\n  url: redis://" + redisAddr + "/0\ncache:\n  responses:\n    enabled: true\n"
	}
	var out []byte
	// benchVersion first, then without it (a gateway older than apiVersion),
	// each with the limits and without them.
	bv := benchVersion(version)
	for _, variant := range [][2]string{{bv, benchLimits}, {bv, ""}, {"", benchLimits}, {"", ""}} {
		text := strings.Replace(cfg, "@apiVersion@", variant[0], 1) + variant[1]
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			return err
		}
		var err error
		if out, err = exec.Command(binary, "--config", path, "--check-config").CombinedOutput(); err == nil {
			return nil
		}
	}
	return fmt.Errorf("gateway configuration %s: %s", path, out)
}

// BuildFleetgraph builds the gateway binary into workDir.
func BuildFleetgraph(goBin, root, workDir string) (string, error) {
	return Build(goBin, root, workDir, "fleetgraph", ".")
}

// Build builds the Go package pkg of the repository at root into workDir/name.
func Build(goBin, root, workDir, name, pkg string) (string, error) {
	out, err := filepath.Abs(filepath.Join(workDir, name))
	if err != nil {
		return "", err
	}
	cmd := exec.Command(goBin, "build", "-o", out, pkg)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, b)
	}
	return out, nil
}

// postGraphQL sends one query and returns the body.
func postGraphQL(ctx context.Context, url string, body []byte, header http.Header) ([]byte, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return b, fmt.Errorf("%s: %.300s", resp.Status, b)
	}
	return b, nil
}
