package app

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/fleetgraph/fleetgraph/backends/budget"
	"github.com/fleetgraph/fleetgraph/internal/errcodes"
	"github.com/fleetgraph/fleetgraph/resolvers"
)

// upstreamPlan refuses, before any call per object, a query that could
// never be answered within a backend's upstream budget: its plan
// (resolvers.PlanCalls: the metrics and telemetry calls of the objects it
// lists, sized by the real listings, cold) needs more calls of a backend
// than the account's budget gives one operation within the request's
// deadline (budget.Capacity). Without the refusal such a query drains the
// account for everyone, then answers mostly RATE_LIMITED errors.
//
// The plan lists what the query lists, through the operation's loaders,
// so the resolvers find those listings made; what planning cost and
// planned is added to extensions.cost (plannedUpstreamCalls). Mutations
// (a few calls each) and subscriptions (their polls wait for no one) are
// not planned.
type upstreamPlan struct {
	resolver *resolvers.Resolver
	budgets  map[string]*budget.Budget
	horizon  time.Duration
	refused  *prometheus.CounterVec // backend, class
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationInterceptor
} = upstreamPlan{}

func (upstreamPlan) ExtensionName() string                   { return "UpstreamPlan" }
func (upstreamPlan) Validate(graphql.ExecutableSchema) error { return nil }

func (p upstreamPlan) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	if oc == nil || oc.Operation == nil || oc.Operation.Operation != ast.Query {
		return next(ctx)
	}
	st := statsFrom(ctx)
	var before int64
	if st != nil {
		before = st.upstream.Load()
	}
	plan := p.resolver.PlanCalls(ctx, oc)
	total := 0
	for _, n := range plan {
		total += n
	}
	if st != nil {
		st.planned.Store(st.upstream.Load() - before + int64(total))
		st.wasPlanned.Store(true)
	}
	if err := p.check(ctx, plan); err != nil {
		return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{err}})
	}
	return next(ctx)
}

// check is the refusal of the first backend (by name) whose planned calls
// are over its capacity; nil when every one fits.
func (p upstreamPlan) check(ctx context.Context, plan map[string]int) *gqlerror.Error {
	names := make([]string, 0, len(plan))
	for b := range plan {
		names = append(names, b)
	}
	sort.Strings(names)
	for _, b := range names {
		ub := p.budgets[b]
		if ub == nil {
			continue
		}
		capacity, lim := ub.Capacity(ctx, p.horizon)
		if n := plan[b]; n > capacity {
			p.refused.WithLabelValues(b, budget.ClassOf(ctx).String()).Inc()
			return &gqlerror.Error{
				Message: fmt.Sprintf("upstream budget: this query needs about %d calls to backend %s (the metrics and telemetry of the objects it lists, "+
					"when not cached), and the backend's budget gives one query at most %d within the request timeout of %s (%d at once for a %s query, "+
					"then %.3g a second): ask for fewer objects (first, filter) or fewer metric windows, or raise the backend's rateLimit",
					n, b, capacity, p.horizon, capacity-int(lim.PerSecond*p.horizon.Seconds()), budget.ClassOf(ctx), lim.PerSecond),
				Extensions: map[string]any{"code": errcodes.LimitExceeded, "limit": "upstreamBudget", "max": capacity,
					"estimate": n, "backend": b},
			}
		}
	}
	return nil
}
