package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// HivePackages are the npm packages of the comparison, pinned (bench/hive/package.json).
var HivePackages = map[string]string{
	"@graphql-hive/gateway":               "2.15.1",
	"@graphql-hive/gateway-runtime":       "2.12.1",
	"@graphql-mesh/plugin-response-cache": "0.107.2",
	"@graphql-mesh/cache-redis":           "0.108.1",
	"@graphql-mesh/compose-cli":           "1.8.2",
	"@omnigraph/openapi":                  "0.112.4",
	"graphql":                             "16",
}

// Hive is the Hive Gateway installation in dir (bench/hive): its
// package.json and mesh.config.mjs are in the repository, node_modules/ is
// installed by EnsureHive and ignored by git.
type Hive struct {
	Dir string // absolute
	// Fork is Hive Gateway's --fork (worker processes); 0 keeps its default.
	Fork int
	// ResponseCacheRedis, when set (host:port), starts Hive Gateway with
	// its response cache (responseCaching) on that Redis:
	// gateway.cached.config.mjs.
	ResponseCacheRedis string
	// ResponseCacheTTL is the response cache's TTL.
	ResponseCacheTTL time.Duration
}

// Cached is h with its response cache on the Redis at addr, entries kept ttl.
func (h Hive) Cached(addr string, ttl time.Duration) Hive {
	h.ResponseCacheRedis, h.ResponseCacheTTL = addr, ttl
	return h
}

// NewHive is the installation in dir.
func NewHive(dir string) (Hive, error) {
	abs, err := filepath.Abs(dir)
	return Hive{Dir: abs}, err
}

// InstalledVersion returns the version of an installed package, "" when absent.
func (h Hive) InstalledVersion(pkg string) string {
	b, err := os.ReadFile(filepath.Join(h.Dir, "node_modules", pkg, "package.json"))
	if err != nil {
		return ""
	}
	var p struct {
		Version string `json:"version"`
	}
	_ = json.Unmarshal(b, &p)
	return p.Version
}

// Ensure installs the pinned packages with npm unless they already are.
func (h Hive) Ensure(logf func(string, ...any)) error {
	ok := true
	for pkg, want := range HivePackages {
		got := h.InstalledVersion(pkg)
		if got == "" || (len(want) > 2 && got != want) || (len(want) <= 2 && got[:len(want)] != want) {
			ok = false
		}
	}
	if ok {
		return nil
	}
	logf("npm install into %s/node_modules (once)", h.Dir)
	cmd := exec.Command("npm", "install", "--no-audit", "--no-fund", "--no-package-lock", "--loglevel=error")
	cmd.Dir = h.Dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("npm install: %v\n%s", err, out)
	}
	return nil
}

// Compose writes the supergraph of Run:ai's OpenAPI document openapi, with
// the simulator at simURL as its endpoint, to out.
func (h Hive) Compose(openapi, simURL, out string) error {
	abs, err := filepath.Abs(openapi)
	if err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(h.Dir, "node_modules", ".bin", "mesh-compose"), "-c", "mesh.config.mjs", "-o", out)
	cmd.Dir = h.Dir
	cmd.Env = append(os.Environ(), "RUNAI_OPENAPI="+abs, "RUNAI_URL="+simURL)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("mesh-compose: %v\n%s", err, b)
	}
	return nil
}

// Start starts Hive Gateway on the supergraph, on loopback only, sending
// token as the static bearer on every upstream call.
func (h Hive) Start(supergraph, logDir, token, label string) (*Gateway, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	args := []string{"supergraph", supergraph, "--host", "127.0.0.1", "--port", strconv.Itoa(port)}
	if h.Fork > 0 {
		args = append(args, "--fork", strconv.Itoa(h.Fork))
	}
	env := []string{"RUNAI_TOKEN=" + token, "NODE_ENV=production"}
	if h.ResponseCacheRedis != "" {
		args = append(args, "--config-path", filepath.Join(h.Dir, "gateway.cached.config.mjs"))
		env = append(env, "REDIS_URL=redis://"+h.ResponseCacheRedis+"/0",
			"RESPONSE_CACHE_TTL_MS="+strconv.FormatInt(h.ResponseCacheTTL.Milliseconds(), 10))
	}
	p, err := Start(logDir, "hive-"+label, env,
		filepath.Join(h.Dir, "node_modules", ".bin", "hive-gateway"), args...)
	if err != nil {
		return nil, err
	}
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	g := &Gateway{System: SystemHive, Proc: p, URL: base + "/graphql"}
	ready := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := postGraphQL(ctx, g.URL, []byte(`{"query":"{ __typename }"}`), nil)
		return err
	}
	if err := p.WaitReady(60*time.Second, ready); err != nil {
		p.Stop(2 * time.Second)
		return nil, err
	}
	return g, nil
}

// NodeVersion is `node --version`.
func NodeVersion() string {
	out, err := exec.Command("node", "--version").Output()
	if err != nil {
		return "?"
	}
	return string(trimNL(out))
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
