package app

import (
	"context"
	"maps"
	"slices"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/fleetgraph/fleetgraph/graph"
	"github.com/fleetgraph/fleetgraph/internal/errcodes"
)

// The gateway as an Apollo Federation v2 subgraph (graphql.federation).
// gqlgen's federation plugin generates _service, _entities and their types
// into the one executable schema; with federation off (the default) the
// gateway serves that schema without them, so they neither validate nor
// show in introspection.

// servedSchema is the schema the gateway serves: nil (gqlgen's whole
// schema) with graphql.federation.enabled, else the schema without it.
func servedSchema(cfg *Config) *ast.Schema {
	if cfg.GraphQL.Federation.Enabled {
		return nil
	}
	return withoutFederation(graph.NewExecutableSchema(graph.Config{}).Schema())
}

// fromFederation reports whether a definition is one gqlgen's federation
// plugin injected (its directives, _Any, _Entity, _Service, the entity
// resolver inputs).
func fromFederation(pos *ast.Position) bool {
	return pos != nil && pos.Src != nil && strings.HasPrefix(pos.Src.Name, "../federation/")
}

// withoutFederation returns a copy of s without what the federation plugin
// adds; s itself (gqlgen's parsed schema) is left as it is.
func withoutFederation(s *ast.Schema) *ast.Schema {
	out := *s
	out.Types = maps.Clone(s.Types)
	maps.DeleteFunc(out.Types, func(_ string, d *ast.Definition) bool { return fromFederation(d.Position) })
	out.Directives = maps.Clone(s.Directives)
	maps.DeleteFunc(out.Directives, func(_ string, d *ast.DirectiveDefinition) bool { return fromFederation(d.Position) })
	query := *s.Query
	query.Fields = slices.DeleteFunc(slices.Clone(s.Query.Fields), func(f *ast.FieldDefinition) bool {
		return f.Name == "_entities" || f.Name == "_service"
	})
	out.Query = &query
	out.Types[query.Name] = &query
	out.PossibleTypes = maps.Clone(s.PossibleTypes)
	out.Implements = maps.Clone(s.Implements)
	for name := range s.PossibleTypes {
		if out.Types[name] == nil {
			delete(out.PossibleTypes, name)
		}
	}
	for name, list := range s.Implements {
		out.Implements[name] = slices.DeleteFunc(slices.Clone(list), func(d *ast.Definition) bool { return out.Types[d.Name] == nil })
	}
	return &out
}

// serviceSDL lets a router read _service { sdl } when introspection is off
// for clients (gqlgen's generated resolver refuses it then), and only with
// one of keys (API key names) when keys are listed. An operation that
// asks for anything besides _service and __typename is left as it is:
// introspection stays off for it.
type serviceSDL struct{ keys []string }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = serviceSDL{}

func (serviceSDL) ExtensionName() string                   { return "FederationServiceSDL" }
func (serviceSDL) Validate(graphql.ExecutableSchema) error { return nil }

func (s serviceSDL) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil || oc.Operation.Operation != ast.Query {
		return nil
	}
	asks, only := false, true
	for _, f := range graphql.CollectFields(oc, oc.Operation.SelectionSet, []string{"Query"}) {
		switch f.Name {
		case "_service":
			asks = true
		case "__typename":
		default:
			only = false
		}
	}
	if !asks {
		return nil
	}
	if len(s.keys) > 0 && !slices.Contains(s.keys, Principal(ctx)) {
		return &gqlerror.Error{
			Message:    "_service is served to the router only (graphql.federation.serviceKeys): authenticate with its API key",
			Extensions: map[string]any{"code": errcodes.Forbidden},
		}
	}
	if only {
		oc.DisableIntrospection = false
	}
	return nil
}
