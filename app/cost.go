package app

import (
	"context"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// Costs in vendor calls. The schema's IBM cost directives (@cost, @listSize;
// graph/schema/federation.graphqls says what a weight means) price an
// operation the way Apollo Router, Cosmo and Hive Gateway demand control
// do; on request the gateway puts that estimate beside what the operation
// really cost in its response:
//
//	"extensions": {"cost": {"estimatedUpstreamCalls": 202, "upstreamCalls": 5, "cacheHits": 0}}
//
// upstreamCalls and cacheHits are the request's counters of its log line
// (every vendor call, token requests included; Redis entries found). With
// an upstream budget configured, plannedUpstreamCalls is the plan the
// budget checked (budgetplan.go): the listing calls planning made plus
// the calls per object it counted.

// costHeader asks for extensions.cost (graphql.cost: header, the default).
const costHeader = "X-Fleetgraph-Cost"

// defaultListSize is the size of a list without @listSize, as a router's
// demand control assumes one (Apollo's list_size setting).
const defaultListSize = 10

// maxCostVisits bounds the walk like the operation limits bound theirs
// (maxExpandedFields): a document past it was refused before execution.
const maxCostVisits = maxExpandedFields

// estimateCalls is the cost of op by the schema's directives: per field,
// (its weight, or its type's, else 1 for an object and 0 for a scalar,
// plus its selections) times its list size, plus the weights of the
// arguments it is given. A list's size is its slicing argument (`first`),
// else its @listSize assumedSize, else defaultListSize; _entities' is the
// number of representations.
func estimateCalls(schema *ast.Schema, op *ast.OperationDefinition, vars map[string]any) int {
	if op == nil {
		return 0
	}
	e := &estimator{schema: schema, vars: vars}
	return e.set(op.SelectionSet, nil)
}

type estimator struct {
	schema *ast.Schema
	vars   map[string]any
	visits int
}

func (e *estimator) set(set ast.SelectionSet, sized map[string]int) int {
	total := 0
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			total += e.field(s, sized)
		case *ast.InlineFragment:
			total += e.set(s.SelectionSet, sized)
		case *ast.FragmentSpread:
			if s.Definition != nil {
				total += e.set(s.Definition.SelectionSet, sized)
			}
		}
	}
	return total
}

func (e *estimator) field(f *ast.Field, sized map[string]int) int {
	e.visits++
	def := f.Definition
	if def == nil || strings.HasPrefix(f.Name, "__") || e.visits > maxCostVisits {
		return 0
	}
	weight := 0
	if t := e.schema.Types[def.Type.Name()]; t != nil {
		if t.Kind == ast.Object || t.Kind == ast.Interface || t.Kind == ast.Union {
			weight = 1
		}
		if w, ok := costWeight(t.Directives); ok {
			weight = w
		}
	}
	if w, ok := costWeight(def.Directives); ok {
		weight = w
	}
	args := f.ArgumentMap(e.vars)
	argCost := 0
	for _, a := range f.Arguments {
		if ad := def.Arguments.ForName(a.Name); ad != nil {
			if w, ok := costWeight(ad.Directives); ok {
				argCost += w
			}
		}
	}
	size, childSized := 1, map[string]int(nil)
	if ls := def.Directives.ForName("listSize"); ls != nil {
		n, found := slicingSize(ls, args)
		if !found {
			n = intArg(ls, "assumedSize", defaultListSize)
		}
		if fields := ls.Arguments.ForName("sizedFields"); fields != nil && fields.Value != nil {
			childSized = map[string]int{}
			for _, c := range fields.Value.Children {
				childSized[c.Value.Raw] = n
			}
		} else {
			size = n
		}
	} else if n, ok := sized[f.Name]; ok {
		size = n
	} else if f.Name == "_entities" {
		reps, _ := args["representations"].([]any)
		size, weight = len(reps), 0 // an entity costs what its listing costs: see the @key types
	} else {
		size = defaultListSize
	}
	if def.Type.Elem == nil {
		size = 1
	}
	return size*(weight+e.set(f.SelectionSet, childSized)) + argCost
}

// costWeight is the weight of a @cost in ds.
func costWeight(ds ast.DirectiveList) (int, bool) {
	d := ds.ForName("cost")
	if d == nil {
		return 0, false
	}
	return intArg(d, "weight", 0), true
}

func intArg(d *ast.Directive, name string, def int) int {
	a := d.Arguments.ForName(name)
	if a == nil || a.Value == nil {
		return def
	}
	n, err := strconv.Atoi(a.Value.Raw)
	if err != nil {
		return def
	}
	return n
}

// slicingSize is the value of the first slicing argument given.
func slicingSize(ls *ast.Directive, args map[string]any) (int, bool) {
	names := ls.Arguments.ForName("slicingArguments")
	if names == nil || names.Value == nil {
		return 0, false
	}
	for _, c := range names.Value.Children {
		switch v := args[c.Value.Raw].(type) {
		case int64:
			return int(v), true
		case int:
			return v, true
		case float64:
			return int(v), true
		}
	}
	return 0, false
}

// costExtension adds extensions.cost to the answer of a query or mutation
// when mode says so.
func costExtension(mode string, es graphql.ExecutableSchema) graphql.ResponseMiddleware {
	return func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		resp := next(ctx)
		if resp == nil || mode == CostNever || !graphql.HasOperationContext(ctx) {
			return resp
		}
		oc := graphql.GetOperationContext(ctx)
		if oc.Operation == nil || oc.Operation.Operation == ast.Subscription ||
			(mode == CostOnRequest && !strings.EqualFold(strings.TrimSpace(oc.Headers.Get(costHeader)), "true")) {
			return resp
		}
		cost := map[string]any{"estimatedUpstreamCalls": estimateCalls(es.Schema(), oc.Operation, oc.Variables)}
		if st := statsFrom(ctx); st != nil {
			cost["upstreamCalls"], cost["cacheHits"] = st.upstream.Load(), st.cacheHits.Load()
			if st.wasPlanned.Load() {
				cost["plannedUpstreamCalls"] = st.planned.Load()
			}
		} else {
			cost["upstreamCalls"], cost["cacheHits"] = int64(0), int64(0)
		}
		if resp.Extensions == nil {
			resp.Extensions = map[string]any{}
		}
		resp.Extensions["cost"] = cost
		return resp
	}
}
