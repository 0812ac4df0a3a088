package app

import (
	"context"
	"net/http"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/fleetgraph/fleetgraph/backends/budget"
)

// PriorityHeader lets a client say what its query is for:
// "interactive", "dashboard" or "background". It applies to queries only
// (a mutation is always first, a subscription's polls always last), and
// only within the caller's own account in pass-through mode; with service
// credentials every caller shares the account, so a gateway operator who
// does not want clients to pick may strip the header at the ingress.
const PriorityHeader = "X-Fleetgraph-Priority"

// upstreamClass gives each operation its upstream budget class
// (backends/budget): mutations Critical; subscriptions Background (their
// pollers keep the class); a query whose root fields are all single-object
// lookups or introspection Interactive; other queries Dashboard, unless
// the request's X-Fleetgraph-Priority says otherwise.
type upstreamClass struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationInterceptor
} = upstreamClass{}

func (upstreamClass) ExtensionName() string                   { return "UpstreamClass" }
func (upstreamClass) Validate(graphql.ExecutableSchema) error { return nil }
func (upstreamClass) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	return next(budget.WithClass(ctx, classOf(oc, priorityOf(ctx))))
}

// lookups are the root fields that read one object (or a short list of
// configuration) rather than a fleet.
var lookups = map[string]bool{"node": true, "nodePool": true, "cluster": true, "backends": true,
	"__schema": true, "__type": true, "__typename": true}

var priorities = map[string]budget.Class{"interactive": budget.Interactive, "dashboard": budget.Dashboard, "background": budget.Background}

func classOf(oc *graphql.OperationContext, asked string) budget.Class {
	if oc == nil || oc.Operation == nil {
		return budget.Dashboard
	}
	switch oc.Operation.Operation {
	case ast.Mutation:
		return budget.Critical
	case ast.Subscription:
		return budget.Background
	}
	if c, ok := priorities[asked]; ok {
		return c
	}
	fields := graphql.CollectFields(oc, oc.Operation.SelectionSet, []string{"Query"})
	if len(fields) > maxInteractiveLookups {
		return budget.Dashboard // many aliased lookups: a dashboard's panel per pool
	}
	for _, f := range fields {
		if !lookups[f.Name] {
			return budget.Dashboard
		}
	}
	return budget.Interactive
}

// maxInteractiveLookups is the most root lookups a query may hold and
// still be a person's (GraphiQL: a node, its pool and cluster).
const maxInteractiveLookups = 3

type priorityKey struct{}

// withPriority keeps the request's X-Fleetgraph-Priority for upstreamClass.
func withPriority(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.Header.Get(PriorityHeader); p != "" {
			r = r.WithContext(context.WithValue(r.Context(), priorityKey{}, strings.ToLower(strings.TrimSpace(p))))
		}
		next.ServeHTTP(w, r)
	})
}

func priorityOf(ctx context.Context) string {
	p, _ := ctx.Value(priorityKey{}).(string)
	return p
}
