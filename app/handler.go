package app

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/fleetgraph/fleetgraph/backends/budget"
	"github.com/fleetgraph/fleetgraph/fleet"
	"github.com/fleetgraph/fleetgraph/graph"
	"github.com/fleetgraph/fleetgraph/internal/gqlfast"
	"github.com/fleetgraph/fleetgraph/resolvers"
	"github.com/fleetgraph/fleetgraph/web"
	"github.com/fleetgraph/fleetgraph/web/dashboard"
)

// newHandler builds the routes. A request to /graphql passes, in order:
//
//	request log (id, one line)  -> server span -> CORS / origin check
//	-> API key -> caller's vendor credentials -> HTTP gate (method, Accept,
//	Content-Type, body size) -> streams / request deadline -> admission
//	(limits.maxConcurrentRequests; streams exempt)
//	-> gqlgen: transports (websocket, SSE, GraphQL over HTTP), then
//	APQ or allow-list, parse (token limit), validate, limits, arguments,
//	admission of stream operations, dataloaders (one set per operation),
//	execution.
func (g *Gateway) newHandler(fc *fleet.Cache) (http.Handler, error) {
	cfg := g.cfg
	limits := cfg.EffectiveLimits()
	orig := newOrigins(cfg.CORS.AllowedOrigins)
	keys := newAPIKeys(cfg)

	schema := graph.NewExecutableSchema(graph.Config{
		Schema:     servedSchema(cfg),
		Resolvers:  &resolvers.Resolver{Fleet: g.Service},
		Complexity: complexityRoot(),
	})
	srv := handler.New(schema)
	keepAlive := cfg.GraphQL.WebsocketKeepAlive.or(15 * time.Second)
	srv.AddTransport(transport.Websocket{
		KeepAlivePingInterval: keepAlive,
		PingPongInterval:      keepAlive,
		InitTimeout:           10 * time.Second,
		InitFunc:              wsInit(keys),
		PayloadReadLimit:      &limits.MaxBodyBytes,
		Implementation: transport.CoderWebsocketImplementation{AcceptOptions: websocket.AcceptOptions{
			// The same allow-list as CORS, checked by cors() first; kept
			// here too so the upgrade never trusts a foreign origin.
			OriginPatterns:     orig.patterns,
			InsecureSkipVerify: orig.any,
		}},
	})
	srv.AddTransport(sseTransport{keepAlive: keepAlive, writeTimeout: g.writeTimeout(), logger: g.logger})
	srv.AddTransport(graphQLHTTP{})
	queryCache := lru.New[*ast.QueryDocument](1000)
	srv.SetQueryCache(queryCache)
	srv.SetParserTokenLimit(limits.MaxTokens)
	srv.SetValidationRulesFn(validationRules(limits))
	if cfg.GraphQL.AllowList != "" {
		docs, err := loadAllowList(cfg.GraphQL.AllowList)
		if err != nil {
			return nil, fmt.Errorf("config: graphql.allowList: %w", err)
		}
		srv.Use(allowList{docs: docs})
	} else if !cfg.GraphQL.APQ.Disabled {
		size := cfg.GraphQL.APQ.CacheSize
		if size == 0 {
			size = 1000
		}
		srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](size)})
	}
	// After APQ or the allow-list (they fill in the document), before
	// gqlgen parses and validates it. Its response handler caps the errors
	// (those registered later wrap it, and add none).
	srv.Use(documentLimits{limits: limits, cache: queryCache})
	if cfg.introspection() {
		srv.Use(extension.Introspection{})
	}
	srv.Use(&operationLimits{limits: limits, introspection: cfg.introspection()})
	if f := cfg.GraphQL.Federation; f.Enabled {
		srv.Use(serviceSDL{keys: f.ServiceKeys})
		srv.Use(resolvers.EntityRepresentations{})
	}
	srv.Use(operationSpans{t: g.tel})
	srv.Use(resolvers.ValidateArguments{})
	srv.SetErrorPresenter(resolvers.ErrorPresenter)
	srv.SetRecoverFunc(recoverResolver(g.logger))
	srv.AroundResponses(resolvers.UserInputCodes)
	srv.AroundResponses(g.staleExtension)
	srv.AroundResponses(costExtension(cfg.costMode(), schema))

	timeout := cfg.requestTimeout()
	adm, err := newAdmission(limits.MaxConcurrentRequests, limits.QueueTimeout, g.Metrics.Registry)
	if err != nil {
		return nil, err
	}
	// Queries and mutations sent over a websocket or SSE connection take a
	// slot per operation (after validation and limits: refused operations
	// take none); plain requests take theirs in adm.limit below.
	srv.Use(adm)
	// Inside admission: an operation waiting for a slot holds no loaders.
	srv.Use(operationLoaders{reg: g.Registry, cache: fc})
	srv.Use(gqlfast.ArgsMemo{}) // a field's arguments computed once per operation, not per object
	srv.Use(upstreamClass{})    // the operation's upstream budget class
	if r := fc.Responses(); r != nil {
		// Inside the loaders (a miss fills the cache from their state) and the
		// class (an answer with errors is shared only within its class).
		srv.Use(newResponseCache(g.Registry, r))
	}
	if len(g.budgets) > 0 {
		// Inside the class: the capacity is the class's.
		byBackend := make(map[string]*budget.Budget, len(g.budgets))
		for _, b := range g.budgets {
			byBackend[b.Backend()] = b
		}
		srv.Use(upstreamPlan{resolver: &resolvers.Resolver{Fleet: g.Service}, budgets: byBackend, horizon: timeout,
			refused: g.Metrics.Budget.PlanRefusals})
	}
	var gql http.Handler = srv
	// Inside the deadline, so time in the queue counts toward it.
	sl, err := newStreamLimits(cfg.Subscriptions, g.Metrics.Registry)
	if err != nil {
		return nil, err
	}
	gql = g.streams(sl, deadline(timeout, adm.limit(gql)), fleet.WithConnection)
	gql = httpGate(limits.MaxBodyBytes, gql)
	gql = callerCredentials(gql)
	gql = withPriority(gql)
	gql = keys.requireAPIKey(gql)
	gql = cors(orig, cfg.CORS.MaxAge.or(10*time.Minute), gql)
	gql = g.tel.serverHandler(requestLog(g.logger, gql))

	mux := http.NewServeMux()
	mux.Handle("/graphql", gql)
	if cfg.graphiql() {
		// GraphiQL opens on the README's examples, their variables filled in.
		mux.Handle("GET /{$}", web.GraphiQL("fleetgraph", "/graphql", web.WithDefaultTabs(web.Examples...)))
		mux.Handle(web.AssetsPath, web.Assets())
	}
	mux.Handle("/dashboard/", http.StripPrefix("/dashboard", dashboard.Handler("/graphql")))
	mux.Handle("GET /metrics", g.Metrics.Handler())
	mux.HandleFunc("GET /healthz", healthz)
	mux.HandleFunc("GET /readyz", g.readyz)
	return mux, nil
}

// staleExtension says, in the response's extensions, which parts of the data
// were served from the cache past their freshness because a vendor failed.
func (g *Gateway) staleExtension(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if resp == nil {
		return resp
	}
	if stale := fleet.StaleEntries(ctx); len(stale) > 0 {
		for _, e := range stale {
			if e.Reason == "budget" {
				g.Metrics.Budget.StaleAnswers.WithLabelValues(e.Backend).Inc()
			}
		}
		if resp.Extensions == nil {
			resp.Extensions = map[string]any{}
		}
		resp.Extensions["stale"] = stale
	}
	return resp
}

// deadline bounds a whole request: upstream calls still running at the
// deadline are cancelled, and their fields answer UPSTREAM_TIMEOUT.
// Streams (websocket, SSE) are not requests and have no deadline.
func deadline(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isUpgrade(r) || wantsEventStream(r) {
			next.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
