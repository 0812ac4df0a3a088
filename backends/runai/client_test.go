package runai_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/backends/runai"
	"github.com/fleetgraph/fleetgraph/backends/runai/runaisim"
	"github.com/fleetgraph/fleetgraph/backends/simctl"
	"github.com/fleetgraph/fleetgraph/internal/testutil"
)

// prefix is the base path the simulator is mounted under: a client that
// builds an absolute path instead of appending to BaseURL hits nothing.
const prefix = "/tenant-prefix"

// env is a client talking to a simulator over real HTTP.
type env struct {
	sim    *runaisim.Server
	srv    *httptest.Server
	rec    *testutil.Recorder
	client *runai.Client

	// validate: check every recorded exchange against the OpenAPI document
	// when the test ends. Tests that inject undeclared statuses or cut
	// exchanges short turn it off, or relax the exchanges concerned.
	validate bool

	mu    sync.Mutex
	rules []relaxRule
}

// relaxRule exempts the exchanges it matches from part of the validation.
type relaxRule struct {
	match        func(testutil.Exchange) bool
	skipRequest  bool // the request breaks the document on purpose
	skipResponse bool // the answer is one the document does not declare
}

// relax exempts matching exchanges: their request (skipRequest) or their
// answer (skipResponse) is not validated. Match on the exchange's content,
// never its position: the recorder may log an exchange after the client has
// its answer.
func (e *env) relax(match func(testutil.Exchange) bool, skipRequest, skipResponse bool) {
	e.mu.Lock()
	e.rules = append(e.rules, relaxRule{match: match, skipRequest: skipRequest, skipResponse: skipResponse})
	e.mu.Unlock()
}

// exchange matches method, path and status (0: any status).
func exchange(method, path string, status int) func(testutil.Exchange) bool {
	return func(ex testutil.Exchange) bool {
		return ex.Method == method && ex.Path == path && (status == 0 || ex.Status == status)
	}
}

// setup returns a client pointed at a fresh simulator under prefix. mod may
// adjust the client config.
func setup(t *testing.T, opts runaisim.Options, mod func(*runai.Config)) *env {
	t.Helper()
	sim := runaisim.New(opts)
	e := &env{sim: sim, validate: true}
	e.rec = &testutil.Recorder{Next: http.StripPrefix(prefix, sim.Handler()), StripPrefix: prefix}
	e.srv = httptest.NewServer(e.rec)
	t.Cleanup(e.srv.Close)
	cfg := runai.Config{
		Name:         "runai-test",
		BaseURL:      e.srv.URL + prefix,
		ClientID:     runaisim.DefaultClientID,
		ClientSecret: runaisim.DefaultClientSecret,
		HTTPClient:   e.srv.Client(),
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := runai.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.client = c
	spec := testutil.LoadSpec(t, "runai-openapi-2.22.json")
	t.Cleanup(func() {
		if !e.validate {
			return
		}
		e.mu.Lock()
		defer e.mu.Unlock()
		for i, ex := range e.rec.Exchanges() {
			for _, r := range e.rules {
				if r.match(ex) {
					ex.SkipRequest = ex.SkipRequest || r.skipRequest
					if r.skipResponse {
						ex.Status = 0 // Validate checks no answer without a status
					}
				}
			}
			if err := spec.Validate(ex); err != nil {
				t.Errorf("exchange %d breaks the OpenAPI document: %v", i, err)
			}
		}
	})
	return e
}

func (e *env) count(route string) int64 { return e.sim.Control().Count(route) }

// faultOn makes route answer status every time.
func faultOn(route string, status int) simctl.Faults {
	return simctl.Faults{ErrorRate: 1, ErrorStatus: status, Routes: []string{route}}
}

func faultDown() simctl.Faults { return simctl.Faults{Down: true} }

// slowRoute delays route by d.
func slowRoute(route string, d time.Duration) simctl.Faults {
	return simctl.Faults{LatencyMs: int(d / time.Millisecond), Routes: []string{route}}
}

const (
	routeToken    = "POST /api/v1/token"
	routeClusters = "GET /api/v1/clusters"
	routeNodes    = "GET /api/v1/clusters/{clusterUuid}/nodes"
)

// clock is a settable time source shared by a test, a client and a simulator.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	ok := runai.Config{Name: "r", BaseURL: "https://tenant.run.ai", ClientID: "id", ClientSecret: "s"}
	tests := []struct {
		name    string
		mod     func(*runai.Config)
		wantErr bool
	}{
		{"client credentials", func(*runai.Config) {}, false},
		{"pass-through", func(c *runai.Config) {
			*c = runai.Config{Name: "r", BaseURL: "http://127.0.0.1:9401/x/", PassThrough: true}
		}, false},
		{"no name", func(c *runai.Config) { c.Name = "" }, true},
		{"relative URL", func(c *runai.Config) { c.BaseURL = "/api" }, true},
		{"bad scheme", func(c *runai.Config) { c.BaseURL = "ftp://tenant.run.ai" }, true},
		{"query in URL", func(c *runai.Config) { c.BaseURL = "https://tenant.run.ai?x=1" }, true},
		{"unparsable URL", func(c *runai.Config) { c.BaseURL = "http://[::1" }, true},
		{"no secret", func(c *runai.Config) { c.ClientSecret = "" }, true},
		{"no credentials at all", func(c *runai.Config) { c.ClientID, c.ClientSecret = "", "" }, true},
		{"both modes", func(c *runai.Config) { c.PassThrough = true }, true},
		{"page too large", func(c *runai.Config) { c.PageSize = 501 }, true},
		{"negative timeout", func(c *runai.Config) { c.Timeout = -time.Second }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := ok
			tt.mod(&cfg)
			c, err := runai.New(cfg)
			if (err != nil) != tt.wantErr {
				t.Fatalf("New: err %v, want error %v", err, tt.wantErr)
			}
			if err == nil && c.Name() != "r" {
				t.Fatalf("Name() = %q", c.Name())
			}
			if err != nil && strings.Contains(err.Error(), "s\"") {
				t.Fatalf("the error quotes a secret: %v", err)
			}
		})
	}
}

func TestErrorMapping(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status   int
		sentinel error
		message  string
	}{
		{400, backends.ErrBadRequest, "Required parameter is missing"},
		{403, backends.ErrForbidden, "You do not have sufficient permissions."},
		{429, backends.ErrRateLimited, "Too Many Requests"},
		{500, backends.ErrUpstream, "Something went wrong."},
		{502, backends.ErrUnavailable, "Bad Gateway"},
		{503, backends.ErrUnavailable, "Please try again in few minutes."},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			t.Parallel()
			e := setup(t, runaisim.Options{}, nil)
			e.validate = false // the document does not declare 400, 429 or 502 on this route
			if err := e.sim.Control().SetFaults(faultOn(routeClusters, tt.status)); err != nil {
				t.Fatal(err)
			}
			_, err := e.client.ListClusters(t.Context())
			var apiErr *backends.APIError
			if !errors.As(err, &apiErr) || !errors.Is(err, tt.sentinel) {
				t.Fatalf("err %v, want an APIError matching %v", err, tt.sentinel)
			}
			want := backends.APIError{
				Backend: "runai-test", Provider: backends.RunAI, Method: "GET", Route: "/api/v1/clusters",
				Status: tt.status, Code: strconv.Itoa(tt.status), Message: tt.message,
			}
			if *apiErr != want {
				t.Fatalf("got %+v\nwant %+v", *apiErr, want)
			}
		})
	}

	t.Run("not found", func(t *testing.T) {
		t.Parallel()
		e := setup(t, runaisim.Options{}, nil)
		_, err := e.client.GetCluster(t.Context(), "00000000-0000-4000-8000-000000000000")
		var apiErr *backends.APIError
		if !errors.Is(err, backends.ErrNotFound) || !errors.As(err, &apiErr) {
			t.Fatalf("err %v, want ErrNotFound", err)
		}
		if apiErr.Route != "/api/v1/clusters/{clusterUuid}" || apiErr.Code != "404" || apiErr.Message != "Resource id not found." {
			t.Fatalf("got %+v", *apiErr)
		}
	})
}

func TestDownFault(t *testing.T) {
	t.Parallel()
	e := setup(t, runaisim.Options{}, nil)
	if _, err := e.client.ListClusters(t.Context()); err != nil { // a token in the cache
		t.Fatal(err)
	}
	if err := e.sim.Control().SetFaults(faultDown()); err != nil {
		t.Fatal(err)
	}
	_, err := e.client.ListNodes(t.Context(), e.sim.Fleet().Clusters[0].UUID, nil)
	var apiErr *backends.APIError
	if !errors.As(err, &apiErr) || !errors.Is(err, backends.ErrUnavailable) {
		t.Fatalf("err %v, want ErrUnavailable", err)
	}
	if apiErr.Status != 503 || apiErr.Code != "503" || apiErr.Message != "Please try again in few minutes." || apiErr.Route != "/api/v1/clusters/{clusterUuid}/nodes" {
		t.Fatalf("got %+v", *apiErr)
	}
}

func TestContextAndTimeout(t *testing.T) {
	t.Parallel()
	t.Run("caller cancels", func(t *testing.T) {
		t.Parallel()
		e := setup(t, runaisim.Options{}, nil)
		e.validate = false // the cut exchange has no answer to validate
		if err := e.sim.Control().SetFaults(slowRoute(routeClusters, 5*time.Second)); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(50*time.Millisecond, cancel)
		_, err := e.client.ListClusters(ctx)
		var te *backends.TransportError
		if !errors.Is(err, context.Canceled) || !errors.As(err, &te) || te.Timeout {
			t.Fatalf("err %v, want a TransportError wrapping context.Canceled", err)
		}
	})
	t.Run("client timeout", func(t *testing.T) {
		t.Parallel()
		e := setup(t, runaisim.Options{}, func(c *runai.Config) { c.Timeout = 100 * time.Millisecond })
		e.validate = false
		if _, err := e.client.ListClusters(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := e.sim.Control().SetFaults(slowRoute(routeClusters, 5*time.Second)); err != nil {
			t.Fatal(err)
		}
		_, err := e.client.ListClusters(t.Context())
		var te *backends.TransportError
		if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &te) || !te.Timeout || te.Route != "/api/v1/clusters" {
			t.Fatalf("err %v, want a timeout TransportError", err)
		}
	})
	t.Run("caller cancels while the token is fetched", func(t *testing.T) {
		t.Parallel()
		// The fetch outlives the caller (other callers may wait on it) but
		// not the client timeout.
		e := setup(t, runaisim.Options{}, func(c *runai.Config) { c.Timeout = 300 * time.Millisecond })
		e.validate = false
		if err := e.sim.Control().SetFaults(slowRoute(routeToken, 5*time.Second)); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		if _, err := e.client.ListClusters(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err %v, want context.DeadlineExceeded", err)
		}
	})
	t.Run("server gone", func(t *testing.T) {
		t.Parallel()
		e := setup(t, runaisim.Options{}, nil)
		e.srv.Close()
		_, err := e.client.ListClusters(t.Context())
		var te *backends.TransportError
		if !errors.As(err, &te) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err %v, want a TransportError not caused by the context", err)
		}
		if strings.Contains(err.Error(), "demo-secret") {
			t.Fatalf("the error leaks the client secret: %v", err)
		}
	})
}
