package resolvers

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/fleetgraph/fleetgraph/internal/errcodes"
	"github.com/fleetgraph/fleetgraph/internal/ids"
)

// ValidateArguments is a gqlgen extension that checks every argument of the
// whole operation (IDs, cursors, page sizes, metric ranges) before the first
// resolver runs, so a bad argument anywhere in a query costs no upstream
// call at all. Resolvers check again where they use a value; this pass only
// moves the refusal ahead of every fetch.
type ValidateArguments struct{}

var (
	_ graphql.HandlerExtension     = ValidateArguments{}
	_ graphql.OperationInterceptor = ValidateArguments{}
)

// ExtensionName implements graphql.HandlerExtension.
func (ValidateArguments) ExtensionName() string { return "ValidateArguments" }

// Validate implements graphql.HandlerExtension.
func (ValidateArguments) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptOperation implements graphql.OperationInterceptor.
func (ValidateArguments) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	if oc == nil || oc.Operation == nil {
		return next(ctx)
	}
	var errs gqlerror.List
	walkArguments(oc, oc.Operation.SelectionSet, nil, map[string]bool{}, &errs)
	if len(errs) == 0 {
		return next(ctx)
	}
	return graphql.OneShot(&graphql.Response{Errors: errs})
}

func walkArguments(oc *graphql.OperationContext, set ast.SelectionSet, path ast.Path, seen map[string]bool, errs *gqlerror.List) {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			fieldPath := append(append(ast.Path(nil), path...), ast.PathName(s.Alias))
			if s.Definition != nil && len(s.Arguments) > 0 {
				if err := checkArguments(s.Name, s.ArgumentMap(oc.Variables)); err != nil {
					var in *InputError
					errors.As(err, &in)
					*errs = append(*errs, &gqlerror.Error{
						Message:    fmt.Sprintf("%s: %s", fieldPath.String(), err.Error()),
						Path:       fieldPath,
						Extensions: map[string]any{"code": errcodes.BadUserInput, "field": in.Field},
					})
				}
			}
			walkArguments(oc, s.SelectionSet, fieldPath, seen, errs)
		case *ast.InlineFragment:
			walkArguments(oc, s.SelectionSet, path, seen, errs)
		case *ast.FragmentSpread:
			if seen[s.Name] || s.Definition == nil {
				continue
			}
			seen[s.Name] = true
			walkArguments(oc, s.Definition.SelectionSet, path, seen, errs)
			delete(seen, s.Name)
		}
	}
}

// idKinds says which kind of ID an argument or filter field holds, by the
// name of the field that takes it.
var idKinds = map[string]ids.Kind{
	"cluster":        ids.KindCluster,
	"nodePool":       ids.KindNodePool,
	"node":           ids.KindNode,
	"updateNodePool": ids.KindNodePool,
	"patchNodePool":  ids.KindNodePool,
	"deleteNodePool": ids.KindNodePool,
}

// checkArguments validates one field's arguments (variables already applied).
func checkArguments(field string, args map[string]any) error {
	if v, ok := args["id"].(string); ok {
		if kind, known := idKinds[field]; known {
			if _, err := decodeID("id", v, kind); err != nil {
				return err
			}
		}
	}
	for name, kind := range map[string]ids.Kind{"nodeId": ids.KindNode, "nodePoolId": ids.KindNodePool} {
		if v, ok := args[name].(string); ok {
			if _, err := decodeID(name, v, kind); err != nil {
				return err
			}
		}
	}
	if v, ok := args["clusterId"].(string); ok {
		if _, err := decodeID("clusterId", v, ids.KindCluster); err != nil {
			return err
		}
	}
	if v, ok := args["nodePoolName"].(string); ok && field == "nodeTelemetry" {
		if err := checkPoolName("nodePoolName", v); err != nil {
			return err
		}
	}
	if in, ok := args["input"].(map[string]any); ok {
		if v, ok := in["clusterId"].(string); ok {
			if _, err := decodeID("input.clusterId", v, ids.KindCluster); err != nil {
				return err
			}
		}
	}
	if f, ok := args["filter"].(map[string]any); ok {
		if v, ok := f["clusterId"].(string); ok {
			if _, err := decodeID("filter.clusterId", v, ids.KindCluster); err != nil {
				return err
			}
		}
		if v, ok := f["nodePoolId"].(string); ok {
			if _, err := decodeID("filter.nodePoolId", v, ids.KindNodePool); err != nil {
				return err
			}
		}
	}
	var first *int
	if v, ok := args["first"]; ok && v != nil {
		n, ok := intArg(v)
		if !ok {
			return inputErrorf("first", "must be an integer")
		}
		i := int(n)
		first = &i
	}
	var after *string
	if v, ok := args["after"].(string); ok {
		after = &v
	}
	if _, err := pageWindow(first, after); err != nil {
		return err
	}
	if list, ok := args["groupBy"].([]any); ok && len(list) > 2 {
		return inputErrorf("groupBy", "takes at most 2 fields, got %d", len(list))
	}
	if req, ok := args["request"].(map[string]any); ok && field == "placements" {
		if err := checkPlacementArgument(req); err != nil {
			return err
		}
	}
	if field == "metrics" {
		return checkMetricsArguments(args)
	}
	return nil
}

func checkMetricsArguments(args map[string]any) error {
	if list, ok := args["types"].([]any); ok && len(list) == 0 {
		return inputErrorf("types", "must name at least one metric type")
	}
	start, okS := timeArg(args["start"])
	end, okE := timeArg(args["end"])
	if !okS || !okE {
		return inputErrorf(strings.Join([]string{"start", "end"}, "/"), "must be RFC 3339 timestamps")
	}
	var samples *int
	if v, ok := args["samples"]; ok && v != nil {
		n, ok := intArg(v)
		if !ok {
			return inputErrorf("samples", "must be an integer")
		}
		i := int(n)
		samples = &i
	}
	_, err := checkRange(start, end, samples)
	return err
}
