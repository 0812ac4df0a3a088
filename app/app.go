package app

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"

	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/backends/budget"
	"github.com/fleetgraph/fleetgraph/backends/fasttransport"
	"github.com/fleetgraph/fleetgraph/backends/resilience"
	"github.com/fleetgraph/fleetgraph/fleet"
	"github.com/fleetgraph/fleetgraph/internal/metrics"
)

// Gateway is a built gateway: its backends and its HTTP handler.
type Gateway struct {
	Registry *fleet.Registry
	Handler  http.Handler
	Metrics  *metrics.Metrics
	// Service is the fleet service behind the graph.
	Service *fleet.Service

	cfg         *Config
	logger      *slog.Logger
	redis       redis.UniversalClient
	tel         *telemetry
	upstreams   []upstream
	budgets     []*budget.Budget // shared through Redis once the cache is built
	authMode    string
	draining    atomic.Bool
	streamsCtx  context.Context
	stopStreams context.CancelFunc
}

// Options are what a configuration file cannot hold.
type Options struct {
	// Logger receives request lines and the gateway's logs (default
	// slog.Default()). Build it with NewLogger so secrets are redacted.
	Logger *slog.Logger
	// TracerProvider turns tracing on with this provider (tests use an
	// in-memory exporter); nil: tracing follows cfg.Tracing.
	TracerProvider trace.TracerProvider
	// Demo says cfg is demo mode's (embedded simulators): no
	// authentication is then logged as demo mode, not warned about as a
	// production configuration would be.
	Demo bool
}

// Close releases the gateway's Redis client and flushes its traces.
func (g *Gateway) Close() error {
	g.stopStreams()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var errs []error
	if g.redis != nil {
		errs = append(errs, g.redis.Close())
	}
	errs = append(errs, g.tel.shutdown(ctx))
	return errors.Join(errs...)
}

// Draining reports whether Serve has begun shutting down.
func (g *Gateway) Draining() bool { return g.draining.Load() }

// Build creates the vendor clients of cfg and the gateway's HTTP handler
// (see BuildWith).
func Build(cfg *Config) (*Gateway, error) { return BuildWith(cfg, Options{}) }

// BuildWith creates the vendor clients of cfg and the gateway's HTTP handler:
//
//	POST/GET /graphql  the graph (websocket and SSE for subscriptions)
//	GET /              GraphiQL, from embedded assets (graphql.graphiql)
//	GET /assets/...    GraphiQL's files
//	GET /healthz       liveness: the process answers
//	GET /readyz        readiness: config loaded, breakers, Redis (503 when draining)
//	GET /metrics       Prometheus metrics
func BuildWith(cfg *Config, o Options) (*Gateway, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	tel, err := newTelemetry(cfg.Tracing, o.TracerProvider)
	if err != nil {
		return nil, err
	}
	m := metrics.New()
	g := &Gateway{cfg: cfg, logger: o.Logger, tel: tel, Metrics: m, authMode: cfg.AuthMode()}
	g.streamsCtx, g.stopStreams = context.WithCancel(context.Background())
	reg, err := g.registry(cfg)
	if err != nil {
		return nil, err
	}
	fc, rc, err := newCache(cfg, m, tel, o.Logger)
	if err != nil {
		return nil, err
	}
	g.Registry, g.redis = reg, rc
	for _, b := range g.budgets {
		b.UseRedis(rc) // nil (no Redis): each replica budgets alone
	}
	g.Service = fleet.NewService(reg, fleet.ServiceOptions{Cache: fc, ReadOnly: cfg.Mutations.Disabled, Live: fleet.LiveOptions{
		MinInterval: time.Duration(cfg.Subscriptions.MinInterval), MaxInterval: time.Duration(cfg.Subscriptions.MaxInterval),
		DefaultInterval: time.Duration(cfg.Subscriptions.DefaultInterval), MaxPerConnection: cfg.Subscriptions.MaxPerConnection,
		MaxTotal: cfg.Subscriptions.MaxTotal,
	}})
	if g.Handler, err = g.newHandler(fc); err != nil {
		_ = g.Close()
		return nil, err
	}
	switch {
	case g.authMode != AuthNone:
	case o.Demo:
		o.Logger.Info("demo mode: no authentication: anyone who reaches the gateway reads and changes the simulated fleet; use --config with auth.apiKeys for real backends")
	case cfg.Auth.Mode == AuthNone:
		o.Logger.Info("auth.mode none, as configured: anyone who can reach the gateway queries the backends with its service credentials")
	default:
		o.Logger.Warn("auth.mode is none: anyone who can reach the gateway queries the backends with its service credentials; set auth.apiKeys (or auth.mode: none to say so on purpose)")
	}
	return g, nil
}

// backendClient is the HTTP client of one backend: its own circuit breaker,
// retries of idempotent GETs and upstream metrics (resilience), the
// per-request call count, and with tracing a client span per call that
// carries the trace to the vendor; with rl, the upstream budget of the
// backend's account (backends/budget). Redirects are not followed: they
// would carry credentials to another host.
func (g *Gateway) backendClient(backend string, p backends.Provider, rl *RateLimitConfig) *http.Client {
	rc := g.cfg.Resilience
	var ub *budget.Budget
	if lim := rl.limit(); lim != nil {
		ub = budget.New(budget.Options{Backend: backend, Provider: p, Limit: *lim, Observer: g.Metrics, Logger: g.logger,
			RedisTimeout: time.Duration(g.cfg.Cache.Timeout)}) // 0: the budget's default, as the cache's
		g.budgets = append(g.budgets, ub)
	}
	var base http.RoundTripper // nil: resilience's net/http transport
	if rc.Transport != TransportNetHTTP {
		base = fasttransport.New(fasttransport.Options{})
	}
	tr := resilience.New(base, resilience.Options{
		Backend: backend, Provider: p, Metrics: g.Metrics, Budget: ub,
		Breaker: resilience.BreakerOptions{
			Disabled: rc.Breaker.Disabled, FailureRatio: rc.Breaker.FailureRatio, MinRequests: rc.Breaker.MinRequests,
			ConsecutiveFailures: rc.Breaker.ConsecutiveFailures, Window: time.Duration(rc.Breaker.Window),
			OpenFor: time.Duration(rc.Breaker.OpenFor),
		},
		Retry: resilience.RetryOptions{
			Disabled: rc.Retry.Disabled, MaxAttempts: rc.Retry.MaxAttempts,
			BaseDelay: time.Duration(rc.Retry.BaseDelay), MaxDelay: time.Duration(rc.Retry.MaxDelay),
		},
	})
	g.upstreams = append(g.upstreams, upstream{name: backend, provider: p, transport: tr})
	return &http.Client{
		Transport:     g.tel.upstream(countingTransport{next: tr}, backend, p),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
