package app

import (
	"context"
	"fmt"
	"time"

	"github.com/99designs/gqlgen/complexity"
	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/fleetgraph/fleetgraph/graph"
	"github.com/fleetgraph/fleetgraph/graph/model"
	"github.com/fleetgraph/fleetgraph/internal/errcodes"
)

// operationLimits refuses, after validation and before execution, an
// operation that is too deep, has too many aliases or root fields, or costs
// more than MaxComplexity. It also refuses introspection when that is off.
//
// The walk expands fragments but stops as soon as a limit is passed, and
// counts every field it visits against MaxComplexity (each field costs at
// least 1), or maxExpandedFields if lower: a fragment bomb, which expands
// exponentially, is refused after that many steps instead of being
// expanded.
type operationLimits struct {
	limits        Limits
	introspection bool
	es            graphql.ExecutableSchema
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = (*operationLimits)(nil)

func (*operationLimits) ExtensionName() string { return "OperationLimits" }

func (l *operationLimits) Validate(es graphql.ExecutableSchema) error {
	l.es = es
	return nil
}

func limitError(limit string, maxValue int, format string, args ...any) *gqlerror.Error {
	return &gqlerror.Error{
		Message:    fmt.Sprintf(format, args...),
		Extensions: map[string]any{"code": errcodes.LimitExceeded, "limit": limit, "max": maxValue},
	}
}

func (l *operationLimits) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	op := oc.Operation
	if op == nil {
		return nil
	}
	w := walker{limits: l.limits}
	w.walk(op.SelectionSet, 1, true)
	switch {
	case w.err != nil:
		return w.err
	case w.introspects && !l.introspection:
		return &gqlerror.Error{
			Message:    "introspection is disabled on this gateway",
			Extensions: map[string]any{"code": errcodes.GraphQLValidationFailed},
		}
	}
	if c := complexity.Calculate(ctx, l.es, op, oc.Variables); c > l.limits.MaxComplexity {
		return limitError("complexity", l.limits.MaxComplexity,
			"operation costs %d, more than the limit of %d (list fields count once per item asked with `first`)", c, l.limits.MaxComplexity)
	}
	return nil
}

// maxExpandedFields stops the walk (and so the complexity count, which
// expands fragments the same way) well before limits.maxComplexity: each
// expanded field costs at least 1, but walking 5 000 000 of them took
// ~100 ms of an execution slot for a fragment bomb of a few hundred bytes.
// No real operation expands to 100 000 fields (the dashboard: ~60).
const maxExpandedFields = 100_000

type walker struct {
	limits      Limits
	visited     int
	aliases     int
	roots       int
	introspects bool
	err         *gqlerror.Error
}

func (w *walker) walk(set ast.SelectionSet, depth int, root bool) {
	for _, sel := range set {
		if w.err != nil {
			return
		}
		switch s := sel.(type) {
		case *ast.Field:
			w.field(s, depth, root)
		case *ast.InlineFragment:
			w.walk(s.SelectionSet, depth, root)
		case *ast.FragmentSpread:
			if s.Definition != nil {
				w.walk(s.Definition.SelectionSet, depth, root)
			}
		}
	}
}

func (w *walker) field(f *ast.Field, depth int, root bool) {
	// __typename counts like any field: `{ __typename __typename ... }`
	// costs the validator as much as any other.
	if f.Name == "__schema" || f.Name == "__type" {
		// Introspection is bounded by the schema (and gqlparser's own
		// introspection depth rule); GraphiQL's query is deeper than any
		// sensible data limit.
		w.introspects = true
		return
	}
	w.visited++
	if n := min(w.limits.MaxComplexity, maxExpandedFields); w.visited > n {
		w.err = limitError("complexity", n, "operation selects more than %d fields once fragments are expanded", n)
		return
	}
	if root {
		w.roots++
		if w.roots > w.limits.MaxRootFields {
			w.err = limitError("rootFields", w.limits.MaxRootFields, "operation has more than %d top-level fields", w.limits.MaxRootFields)
			return
		}
	}
	if f.Alias != "" && f.Alias != f.Name {
		w.aliases++
		if w.aliases > w.limits.MaxAliases {
			w.err = limitError("aliases", w.limits.MaxAliases, "operation has more than %d aliased fields", w.limits.MaxAliases)
			return
		}
	}
	if depth > w.limits.MaxDepth {
		w.err = limitError("depth", w.limits.MaxDepth, "operation nests fields deeper than the limit of %d levels", w.limits.MaxDepth)
		return
	}
	w.walk(f.SelectionSet, depth+1, false)
}

// The cost model, in graph.Config.Complexity: a field costs 1 plus its
// children (gqlgen's default); a connection costs its page size (`first`,
// 1..500, default 100) times its children; metrics cost their number of
// types times (children + samples).
const (
	defaultPageSize = 100
	maxPageSize     = 500
	defaultSamples  = 20
)

func pageCost(first *int, child int) int {
	n := defaultPageSize
	if first != nil {
		// Out-of-range values are refused as BAD_USER_INPUT by argument
		// validation; clamping keeps that error the one the client sees.
		n = min(max(*first, 1), maxPageSize)
	}
	return mul(n, child+1)
}

func metricsCost(types, child int, samples *int) int {
	s := defaultSamples
	if samples != nil {
		s = max(*samples, 0)
	}
	return mul(max(types, 1), child+s+1)
}

// mul is a saturating product, so no operation can overflow its way under
// the limit.
func mul(a, b int) int {
	const maxInt = int(^uint(0) >> 1)
	if a > 0 && b > maxInt/a {
		return maxInt
	}
	return a * b
}

// complexityRoot is the per-field cost of the fields whose default cost
// (1 + children) would underestimate them.
func complexityRoot() graph.ComplexityRoot {
	var c graph.ComplexityRoot
	c.Query.Nodes = func(child int, _ *model.NodeFilter, first *int, _ *string) int { return pageCost(first, child) }
	c.Query.NodePools = func(child int, _ *model.NodePoolFilter, first *int, _ *string) int { return pageCost(first, child) }
	c.Cluster.Nodes = func(child int, _ *model.NodeFilter, first *int, _ *string) int { return pageCost(first, child) }
	c.NodePool.Nodes = func(child int, _ *model.NodeFilter, first *int, _ *string) int { return pageCost(first, child) }
	c.Node.Metrics = func(child int, types []model.NodeMetricType, _, _ time.Time, samples *int) int {
		return metricsCost(len(types), child, samples)
	}
	c.NodePool.Metrics = func(child int, types []model.NodePoolMetricType, _, _ time.Time, samples *int) int {
		return metricsCost(len(types), child, samples)
	}
	return c
}
