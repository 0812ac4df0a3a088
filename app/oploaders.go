package app

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/fleetgraph/fleetgraph/fleet"
)

// operationLoaders gives every GraphQL operation its own dataloaders (and
// so its own per-request memos, see fleet.Memo), whatever carries it. A
// plain HTTP request is one operation, so nothing changes there; a
// websocket carries any number of them, and loaders built per HTTP request
// were shared by all of them for the life of the connection: data read
// before a write was served after it, a vendor error stayed memoised after
// the vendor recovered, and the memo grew with every distinct query.
//
// A subscription's resolver (which looks its target up) runs with the
// operation's set; each event it sends gets a fresh one, so an hour-long
// subscription holds no memo of its past events.
type operationLoaders struct {
	reg   *fleet.Registry
	cache *fleet.Cache // nil: no shared cache
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationInterceptor
} = operationLoaders{}

func (operationLoaders) ExtensionName() string                   { return "OperationLoaders" }
func (operationLoaders) Validate(graphql.ExecutableSchema) error { return nil }

func (o operationLoaders) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	l := fleet.NewLoaders(o.reg, o.cache)
	handler := next(fleet.WithLoaders(ctx, l))
	op := graphql.GetOperationContext(ctx).Operation
	perEvent := op != nil && op.Operation == ast.Subscription
	// gqlgen calls the response handler with the transport's context, not
	// the one given to next: the loaders go on it again.
	return func(ctx context.Context) *graphql.Response {
		if perEvent {
			return handler(fleet.WithLoaders(ctx, fleet.NewLoaders(o.reg, o.cache)))
		}
		return handler(fleet.WithLoaders(ctx, l))
	}
}
