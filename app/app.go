package app

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/redis/go-redis/v9"

	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/backends/modelarts"
	"github.com/fleetgraph/fleetgraph/backends/resilience"
	"github.com/fleetgraph/fleetgraph/backends/runai"
	"github.com/fleetgraph/fleetgraph/fleet"
	"github.com/fleetgraph/fleetgraph/graph"
	"github.com/fleetgraph/fleetgraph/internal/metrics"
	"github.com/fleetgraph/fleetgraph/resolvers"
	"github.com/fleetgraph/fleetgraph/web"
)

// Gateway is a built gateway: its backends and its HTTP handler.
type Gateway struct {
	Registry *fleet.Registry
	Handler  http.Handler
	Metrics  *metrics.Metrics
	redis    redis.UniversalClient
}

// Close releases the gateway's Redis client.
func (g *Gateway) Close() error {
	if g.redis != nil {
		return g.redis.Close()
	}
	return nil
}

// Build creates the vendor clients of cfg and the gateway's HTTP handler:
//
//	POST/GET /graphql  the graph
//	GET /              GraphiQL, from embedded assets
//	GET /assets/...    GraphiQL's files
//	GET /healthz       liveness
//	GET /metrics       Prometheus metrics
func Build(cfg *Config) (*Gateway, error) {
	m := metrics.New()
	var ra []*runai.Client
	for _, r := range cfg.RunAI {
		c, err := runai.New(runai.Config{
			Name: r.Name, BaseURL: r.BaseURL, ClientID: r.ClientID, ClientSecret: r.ClientSecret,
			PassThrough: r.PassThrough, Timeout: time.Duration(r.Timeout),
			HTTPClient: resilientClient(cfg, m, r.Name, backends.RunAI),
		})
		if err != nil {
			return nil, fmt.Errorf("runai backend %q: %w", r.Name, err)
		}
		ra = append(ra, c)
	}
	var ma []*modelarts.Client
	metrics := m
	for _, m := range cfg.ModelArts {
		mc := modelarts.Config{
			Name: m.Name, Endpoint: m.Endpoint, ProjectID: m.ProjectID, Token: m.Token,
			AccessKey: m.AccessKey, SecretKey: m.SecretKey, PassThrough: m.PassThrough, Timeout: time.Duration(m.Timeout),
			HTTPClient: resilientClient(cfg, metrics, m.Name, backends.ModelArts),
		}
		if m.IAM != nil {
			mc.IAM = &modelarts.IAMConfig{Endpoint: m.IAM.Endpoint, Username: m.IAM.Username, Password: m.IAM.Password, Domain: m.IAM.Domain, Project: m.IAM.Project}
		}
		c, err := modelarts.New(mc)
		if err != nil {
			return nil, fmt.Errorf("modelarts backend %q: %w", m.Name, err)
		}
		ma = append(ma, c)
	}
	reg, err := fleet.NewRegistry(ra, ma)
	if err != nil {
		return nil, err
	}
	for _, r := range cfg.RunAI {
		if r.PassThrough {
			reg.SetPassThrough(r.Name)
		}
		if r.LegacyNodePoolAPI {
			reg.SetLegacyNodePools(r.Name)
		}
	}
	for _, m := range cfg.ModelArts {
		if m.PassThrough {
			reg.SetPassThrough(m.Name)
		}
	}
	fc, rc, err := newCache(cfg, m)
	if err != nil {
		return nil, err
	}
	timeout := time.Duration(cfg.RequestTimeout)
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	svc := fleet.NewService(reg, fleet.ServiceOptions{Cache: fc, ReadOnly: cfg.Mutations.Disabled})
	return &Gateway{Registry: reg, Handler: newHandler(reg, svc, fc, m, timeout), Metrics: m, redis: rc}, nil
}

func init() {
	// A call its breaker refused was never sent: a write refused so is not
	// of unknown outcome.
	fleet.ErrBreakerOpenSentinel = resilience.ErrBreakerOpen
}

func newHandler(reg *fleet.Registry, svc *fleet.Service, fc *fleet.Cache, m *metrics.Metrics, timeout time.Duration) http.Handler {
	schema := graph.NewExecutableSchema(graph.Config{Resolvers: &resolvers.Resolver{Fleet: svc}})
	srv := handler.New(schema)
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.Use(extension.Introspection{})
	srv.Use(resolvers.ValidateArguments{})
	srv.SetErrorPresenter(resolvers.ErrorPresenter)
	srv.AroundResponses(resolvers.UserInputCodes)
	srv.AroundResponses(staleExtension)

	gql := deadline(timeout, callerCredentials(fleet.Middleware(reg, fc, srv)))
	mux := http.NewServeMux()
	mux.Handle("/graphql", gql)
	mux.Handle("GET /{$}", web.GraphiQL("fleetgraph", "/graphql"))
	mux.Handle(web.AssetsPath, web.Assets())
	mux.Handle("GET /metrics", m.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	return mux
}

// resilientClient is the HTTP client of one backend: its own circuit breaker,
// retries of idempotent GETs, and upstream metrics. Redirects are not
// followed: they would carry credentials to another host.
func resilientClient(cfg *Config, m *metrics.Metrics, backend string, p backends.Provider) *http.Client {
	rc := cfg.Resilience
	return &http.Client{
		Transport: resilience.New(nil, resilience.Options{
			Backend: backend, Provider: p, Metrics: m,
			Breaker: resilience.BreakerOptions{
				Disabled: rc.Breaker.Disabled, FailureRatio: rc.Breaker.FailureRatio, MinRequests: rc.Breaker.MinRequests,
				ConsecutiveFailures: rc.Breaker.ConsecutiveFailures, Window: time.Duration(rc.Breaker.Window),
				OpenFor: time.Duration(rc.Breaker.OpenFor),
			},
			Retry: resilience.RetryOptions{
				Disabled: rc.Retry.Disabled, MaxAttempts: rc.Retry.MaxAttempts,
				BaseDelay: time.Duration(rc.Retry.BaseDelay), MaxDelay: time.Duration(rc.Retry.MaxDelay),
			},
		}),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// staleExtension says, in the response's extensions, which parts of the data
// were served from the cache past their freshness because a vendor failed.
func staleExtension(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if resp == nil {
		return resp
	}
	if stale := fleet.StaleEntries(ctx); len(stale) > 0 {
		if resp.Extensions == nil {
			resp.Extensions = map[string]any{}
		}
		resp.Extensions["stale"] = stale
	}
	return resp
}

// deadline bounds a whole request: upstream calls still running at the
// deadline are cancelled, and their fields answer UPSTREAM_TIMEOUT.
func deadline(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// callerCredentials puts what the caller presented into the context. Only
// pass-through backends read it, each only its own vendor's header.
func callerCredentials(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var c backends.Credentials
		if auth := r.Header.Get("Authorization"); len(auth) > 7 && strings.EqualFold(auth[:7], "bearer ") {
			c.RunAIBearer = strings.TrimSpace(auth[7:])
		}
		c.ModelArtsAuthToken = strings.TrimSpace(r.Header.Get("X-Auth-Token"))
		ctx := backends.WithCredentials(r.Context(), c)
		next.ServeHTTP(w, r.WithContext(fleet.WithCaller(ctx, r)))
	})
}
