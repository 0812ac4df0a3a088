package app

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/backends/modelarts"
	"github.com/fleetgraph/fleetgraph/backends/runai"
	"github.com/fleetgraph/fleetgraph/fleet"
	"github.com/fleetgraph/fleetgraph/graph"
	"github.com/fleetgraph/fleetgraph/resolvers"
	"github.com/fleetgraph/fleetgraph/web"
)

// Gateway is a built gateway: its backends and its HTTP handler.
type Gateway struct {
	Registry *fleet.Registry
	Handler  http.Handler
}

// Build creates the vendor clients of cfg and the gateway's HTTP handler:
//
//	POST/GET /graphql  the graph
//	GET /              GraphiQL, from embedded assets
//	GET /assets/...    GraphiQL's files
//	GET /healthz       liveness
func Build(cfg *Config) (*Gateway, error) {
	var ra []*runai.Client
	for _, r := range cfg.RunAI {
		c, err := runai.New(runai.Config{
			Name: r.Name, BaseURL: r.BaseURL, ClientID: r.ClientID, ClientSecret: r.ClientSecret,
			PassThrough: r.PassThrough, Timeout: time.Duration(r.Timeout),
		})
		if err != nil {
			return nil, fmt.Errorf("runai backend %q: %w", r.Name, err)
		}
		ra = append(ra, c)
	}
	var ma []*modelarts.Client
	for _, m := range cfg.ModelArts {
		mc := modelarts.Config{
			Name: m.Name, Endpoint: m.Endpoint, ProjectID: m.ProjectID, Token: m.Token,
			AccessKey: m.AccessKey, SecretKey: m.SecretKey, PassThrough: m.PassThrough, Timeout: time.Duration(m.Timeout),
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
	return &Gateway{Registry: reg, Handler: newHandler(reg)}, nil
}

func newHandler(reg *fleet.Registry) http.Handler {
	schema := graph.NewExecutableSchema(graph.Config{Resolvers: &resolvers.Resolver{Fleet: fleet.NewService(reg)}})
	srv := handler.New(schema)
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.Use(extension.Introspection{})
	srv.Use(resolvers.ValidateArguments{})
	srv.SetErrorPresenter(resolvers.ErrorPresenter)
	srv.AroundResponses(resolvers.UserInputCodes)

	gql := callerCredentials(fleet.Middleware(reg, srv))
	mux := http.NewServeMux()
	mux.Handle("/graphql", gql)
	mux.Handle("GET /{$}", web.GraphiQL("fleetgraph", "/graphql"))
	mux.Handle(web.AssetsPath, web.Assets())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	return mux
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
		next.ServeHTTP(w, r.WithContext(backends.WithCredentials(r.Context(), c)))
	})
}
