package modelarts_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/backends/modelarts"
	"github.com/fleetgraph/fleetgraph/backends/modelarts/modelartssim"
	"github.com/fleetgraph/fleetgraph/internal/testutil"
)

// basePath is where the simulator is mounted: an absolute-URL mistake in the
// client misses it and fails loudly.
const basePath = "/gw/modelarts"

// clock is a settable clock shared by a client and a simulator.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type env struct {
	sim      *modelartssim.Server
	rec      *testutil.Recorder
	endpoint string // server URL + basePath
	clock    *clock // the client's clock; also the simulator's unless opts.Now was set
	// adjust, when set, sees each recorded exchange before it is validated:
	// a test marks a deliberately invalid request (SkipRequest) or an answer
	// outside the document (Status 0) there.
	adjust func(*testutil.Exchange)
}

// setup starts the simulator under basePath and, unless noValidate, checks
// every recorded exchange against the OpenAPI document when the test ends.
func setup(t *testing.T, opts modelartssim.Options, noValidate ...bool) *env {
	t.Helper()
	clk := newClock()
	if opts.Now == nil {
		opts.Now = clk.Now
	}
	sim := modelartssim.New(opts)
	rec := &testutil.Recorder{Next: sim.Handler()}
	mux := http.NewServeMux()
	mux.Handle(basePath+"/", http.StripPrefix(basePath, rec))
	e := &env{sim: sim, rec: rec, clock: clk}
	if len(noValidate) == 0 || !noValidate[0] {
		spec := testutil.LoadSpec(t, "modelarts-openapi-v2.json")
		t.Cleanup(func() { e.validateExchanges(t, spec) })
	}
	// Registered after the validation so that it runs first: Close waits for
	// handlers still running (a delayed answer), so every exchange is recorded.
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	e.endpoint = srv.URL + basePath
	return e
}

// validateExchanges checks what the client sent and the simulator answered.
// Not in the document: the IAM route, /_sim, and the statuses of simctl
// faults (503 "down"; 502 FailAfterApply, whose request is still checked).
func (e *env) validateExchanges(t *testing.T, spec *testutil.Spec) {
	t.Helper()
	for _, ex := range e.rec.Exchanges() {
		if ex.Path == "/v3/auth/tokens" || strings.HasPrefix(ex.Path, "/_sim/") || ex.Status == http.StatusServiceUnavailable {
			continue
		}
		if ex.Status == http.StatusBadGateway {
			ex.Status = 0
		}
		if e.adjust != nil {
			e.adjust(&ex)
		}
		if err := spec.Validate(ex); err != nil {
			t.Errorf("OpenAPI: %v", err)
		}
	}
}

// client builds a client for e; unset Name, Endpoint and ProjectID are
// filled in.
func (e *env) client(t *testing.T, cfg modelarts.Config) *modelarts.Client {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "modelarts-test"
	}
	if cfg.Endpoint == "" {
		cfg.Endpoint = e.endpoint
	}
	if cfg.ProjectID == "" {
		cfg.ProjectID = e.sim.ProjectID()
	}
	c, err := modelarts.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	modelarts.SetClock(c, e.clock.Now)
	return c
}

func (e *env) iamConfig() *modelarts.IAMConfig {
	return &modelarts.IAMConfig{Endpoint: e.endpoint, Username: modelartssim.DefaultUsername,
		Password: modelartssim.DefaultPassword, Domain: modelartssim.DefaultDomain, Project: modelartssim.ProjectName}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	ok := modelarts.Config{Name: "m", Endpoint: "http://127.0.0.1:9402", ProjectID: "p", Token: "t"}
	tests := []struct {
		name string
		mod  func(*modelarts.Config)
	}{
		{"no name", func(c *modelarts.Config) { c.Name = "" }},
		{"no endpoint", func(c *modelarts.Config) { c.Endpoint = "" }},
		{"relative endpoint", func(c *modelarts.Config) { c.Endpoint = "/api" }},
		{"endpoint with query", func(c *modelarts.Config) { c.Endpoint = "http://h/?x=1" }},
		{"no project", func(c *modelarts.Config) { c.ProjectID = "" }},
		{"no auth", func(c *modelarts.Config) { c.Token = "" }},
		{"two auth modes", func(c *modelarts.Config) { c.PassThrough = true }},
		{"AK without SK", func(c *modelarts.Config) { c.Token = ""; c.AccessKey = "ak" }},
		{"IAM incomplete", func(c *modelarts.Config) {
			c.Token = ""
			c.IAM = &modelarts.IAMConfig{Endpoint: "http://iam", Username: "u", Password: "p", Domain: "d"}
		}},
		{"page limit above 500", func(c *modelarts.Config) { c.PageLimit = 501 }},
		{"negative timeout", func(c *modelarts.Config) { c.Timeout = -time.Second }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := ok
			tc.mod(&cfg)
			if _, err := modelarts.New(cfg); err == nil {
				t.Fatal("New accepted the config")
			}
		})
	}
	c, err := modelarts.New(ok)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name() != "m" || c.ProjectID() != "p" {
		t.Errorf("Name/ProjectID = %q/%q", c.Name(), c.ProjectID())
	}
}

// TestAuthModes reads the whole fleet through every auth mode and checks it
// against the simulator's own snapshot.
func TestAuthModes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  func(*env) modelarts.Config
		ctx  func(*env, context.Context) context.Context
		iam  int64 // IAM calls expected
	}{
		{name: "static token", cfg: func(e *env) modelarts.Config { return modelarts.Config{Token: e.sim.IssueToken()} }},
		{name: "IAM password token", cfg: func(e *env) modelarts.Config { return modelarts.Config{IAM: e.iamConfig()} }, iam: 1},
		{name: "AK/SK", cfg: func(*env) modelarts.Config {
			return modelarts.Config{AccessKey: modelartssim.DefaultAccessKey, SecretKey: modelartssim.DefaultSecretKey}
		}},
		{
			name: "pass-through", cfg: func(*env) modelarts.Config { return modelarts.Config{PassThrough: true} },
			ctx: func(e *env, ctx context.Context) context.Context {
				return backends.WithCredentials(ctx, backends.Credentials{ModelArtsAuthToken: e.sim.IssueToken()})
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, modelartssim.Options{Seed: 7})
			c := e.client(t, tc.cfg(e))
			ctx := t.Context()
			if tc.ctx != nil {
				ctx = tc.ctx(e, ctx)
			}
			want := e.sim.Fleet()
			checkFleet(t, ctx, c, want)
			if got := e.sim.Control().Count(modelartssim.RouteIAMTokens); got != tc.iam {
				t.Errorf("IAM calls = %d, want %d", got, tc.iam)
			}
		})
	}
}

func checkFleet(t *testing.T, ctx context.Context, c *modelarts.Client, want modelartssim.Fleet) {
	t.Helper()
	pools, err := c.ListPools(ctx)
	if err != nil {
		t.Fatalf("ListPools: %v", err)
	}
	if got, w := poolNames(pools), poolNames(want.Pools); !slices.Equal(got, w) {
		t.Fatalf("pools = %v, want %v", got, w)
	}
	for _, wp := range want.Pools {
		name := wp.Metadata.Name
		p, err := c.GetPool(ctx, name)
		if err != nil {
			t.Fatalf("GetPool: %v", err)
		}
		if p.Metadata.Name != name || p.Status.Phase != "Running" || len(p.Raw) == 0 || p.DisplayName() != wp.Metadata.Labels[modelarts.LabelPoolName] {
			t.Errorf("GetPool(%s) = name %q phase %q display %q raw %d bytes", name, p.Metadata.Name, p.Status.Phase, p.DisplayName(), len(p.Raw))
		}
		if got, w := p.Status.Resources.Available.Total()+p.Status.Resources.Abnormal.Total()+p.Status.Resources.Creating.Total(), len(want.Nodes[name]); got != w {
			t.Errorf("pool %s status.resources total = %d, want %d nodes", name, got, w)
		}
		nps, err := c.ListNodePools(ctx, name)
		if err != nil {
			t.Fatalf("ListNodePools: %v", err)
		}
		if len(nps) != len(want.NodePools[name]) {
			t.Fatalf("ListNodePools(%s) = %d, want %d", name, len(nps), len(want.NodePools[name]))
		}
		for i, np := range nps {
			wnp := want.NodePools[name][i]
			got, err := c.GetNodePool(ctx, name, np.Metadata.Name)
			if err != nil {
				t.Fatalf("GetNodePool: %v", err)
			}
			if got.Metadata.Name != wnp.Metadata.Name || got.Spec.Resources.Flavor != wnp.Spec.Resources.Flavor || len(got.Raw) == 0 {
				t.Errorf("GetNodePool = %+v, want %+v", got.Metadata, wnp.Metadata)
			}
			nodes, err := c.ListNodePoolNodes(ctx, name, np.Metadata.Name)
			if err != nil {
				t.Fatalf("ListNodePoolNodes: %v", err)
			}
			if len(nodes) != np.Spec.Resources.Count {
				t.Errorf("node pool %s: %d nodes, spec.count %d", np.Metadata.Name, len(nodes), np.Spec.Resources.Count)
			}
			for _, n := range nodes {
				if n.NodePoolName() != np.Metadata.Name {
					t.Errorf("node %s in node pool %s has label %q", n.Metadata.Name, np.Metadata.Name, n.NodePoolName())
				}
			}
		}
		nodes, err := c.ListPoolNodes(ctx, name)
		if err != nil {
			t.Fatalf("ListPoolNodes: %v", err)
		}
		if got, w := nodeNames(nodes), nodeNames(want.Nodes[name]); !slices.Equal(got, w) {
			t.Errorf("ListPoolNodes(%s) = %v, want %v", name, got, w)
		}
		for _, n := range nodes {
			if !strings.Contains(string(n.Raw), `"name":"`+n.Metadata.Name+`"`) || n.Status.Resources[modelarts.ResourceCPU] == "" {
				t.Errorf("node %s: raw %s, resources %v", n.Metadata.Name, n.Raw, n.Status.Resources)
			}
		}
	}
}

func poolNames(ps []modelarts.Pool) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Metadata.Name)
	}
	return out
}

func nodeNames(ns []modelarts.Node) []string {
	var out []string
	for _, n := range ns {
		out = append(out, n.Metadata.Name)
	}
	return out
}

func TestPassThroughWithoutCredentialMakesNoCall(t *testing.T) {
	t.Parallel()
	e := setup(t, modelartssim.Options{})
	c := e.client(t, modelarts.Config{PassThrough: true})
	tests := []struct {
		name string
		ctx  context.Context
	}{
		{"no credentials in ctx", t.Context()},
		{"credentials for another vendor only", backends.WithCredentials(t.Context(), backends.Credentials{RunAIBearer: "x"})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.ListPools(tc.ctx)
			if !errors.Is(err, backends.ErrNoCredentials) {
				t.Fatalf("err = %v, want ErrNoCredentials", err)
			}
		})
	}
	if n := e.sim.Control().Total(); n != 0 {
		t.Errorf("simulator saw %d requests, want 0", n)
	}
}

// TestRequestHeaders checks what goes on the wire for each auth mode.
func TestRequestHeaders(t *testing.T) {
	t.Parallel()
	e := setup(t, modelartssim.Options{})
	tok := e.sim.IssueToken()
	for _, cfg := range []modelarts.Config{
		{Token: tok},
		{AccessKey: modelartssim.DefaultAccessKey, SecretKey: modelartssim.DefaultSecretKey},
	} {
		if _, err := e.client(t, cfg).ListPools(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	ex := e.rec.Exchanges()
	if len(ex) != 2 {
		t.Fatalf("%d exchanges", len(ex))
	}
	for _, x := range ex {
		if x.Header.Get("User-Agent") != "fleetgraph" || x.Header.Get("Accept") != "application/json" {
			t.Errorf("headers %v", x.Header)
		}
	}
	if got := ex[0].Header.Get("X-Auth-Token"); got != tok {
		t.Errorf("X-Auth-Token = %q", got)
	}
	a, err := modelarts.ParseAuthorization(ex[1].Header.Get("Authorization"))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"host", "x-project-id", "x-sdk-date"}; !slices.Equal(a.SignedHeaders, want) {
		t.Errorf("SignedHeaders = %v, want %v", a.SignedHeaders, want)
	}
	if ex[1].Header.Get("X-Project-Id") != e.sim.ProjectID() || ex[1].Header.Get("X-Auth-Token") != "" {
		t.Errorf("AK/SK headers %v", ex[1].Header)
	}
}
