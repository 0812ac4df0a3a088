package gqlfast

import (
	"context"
	"sync"

	"github.com/99designs/gqlgen/graphql"
)

// ArgsMemo is an operation interceptor that lets Args compute a field's
// arguments once per operation. Without it, Args computes them every time.
type ArgsMemo struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationInterceptor
} = ArgsMemo{}

type argsKey struct{}

func (ArgsMemo) ExtensionName() string                   { return "ArgsMemo" }
func (ArgsMemo) Validate(graphql.ExecutableSchema) error { return nil }

func (ArgsMemo) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	return next(context.WithValue(ctx, argsKey{}, new(sync.Map)))
}

// Args is what gqlgen's generated code does for a field with arguments,
// args(ctx, field.ArgumentMap(vars)), computed once per field of the
// operation (its AST field: the same arguments under the same variables)
// when ctx carries ArgsMemo's memo. A field of every node of a list (a
// dashboard's metrics(types, start, end, samples) on 1 000 nodes) otherwise
// evaluates its argument values and parses its DateTimes once per node.
// Errors are not kept: each field reports its own. The map returned is
// shared by the field's executions; gqlgen and the resolvers only read it.
func Args(ctx context.Context, vars map[string]any, field graphql.CollectedField,
	args func(context.Context, map[string]any) (map[string]any, error)) (map[string]any, error) {
	memo, _ := ctx.Value(argsKey{}).(*sync.Map)
	if memo == nil || field.Field == nil {
		return args(ctx, field.ArgumentMap(vars))
	}
	if a, ok := memo.Load(field.Field); ok {
		return a.(map[string]any), nil
	}
	a, err := args(ctx, field.ArgumentMap(vars))
	if err == nil {
		memo.Store(field.Field, a)
	}
	return a, err
}
