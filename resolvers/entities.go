package resolvers

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/fleetgraph/fleetgraph/fleet"
	"github.com/fleetgraph/fleetgraph/internal/ids"
)

// Federation entities. A router resolves Cluster, NodePool and Node
// representations through Query._entities, in one call per type with every
// representation of it (gqlgen's multi entity resolvers). Each lookup goes
// through the operation's loaders, the same as node(id:): the node listing
// of a cluster (or the tenant-wide listing on Run:ai 2.23+) is fetched once
// whatever the number of its nodes asked for, so 200 node representations
// cost what nodes(first: 200) costs, never a call each.

// maxEntityLookups bounds the lookups waiting at once: enough for the
// loaders to gather a batch, not a goroutine per representation of a
// megabyte of them. Later lookups find the listings already memoised.
const maxEntityLookups = 64

// findEntities resolves keys (the id of each representation, in order) of
// kind (a what: cluster, node pool, node) with find, which
// answers nil, nil for an object that does not exist. Every representation
// gets its value or its own error (graphql.BatchErrorList, reported at
// _entities[i]); none fails the batch.
func findEntities[T any](ctx context.Context, keys []string, kind ids.Kind, what string, find func(context.Context, ids.ID) (*T, error)) ([]*T, error) {
	out := make([]*T, len(keys))
	errs := make(graphql.BatchErrorList, len(keys))
	failed := false
	sem := make(chan struct{}, maxEntityLookups)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i, key := range keys {
		if msg, bad := strings.CutPrefix(key, badRepresentation); bad {
			errs[i], failed = inputErrorf("representations", "%s", msg), true
			continue
		}
		id, err := decodeID("representations", key, kind)
		if err != nil {
			errs[i], failed = err, true
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			var v *T
			var err error
			func() {
				defer fleet.RecoverInto(ctx, "entity lookup", &err)
				v, err = find(ctx, id)
			}()
			if err == nil && v == nil {
				err = &fleet.NotFoundError{What: what, Name: key}
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs[i], failed = err, true
				return
			}
			out[i] = v
		})
	}
	wg.Wait()
	if failed {
		return out, errs
	}
	return out, nil
}

// badRepresentation starts the key that EntityRepresentations puts in place
// of a representation gqlgen could not take apart; the rest is the reason.
// No ID starts with a NUL byte.
const badRepresentation = "\x00"

// entityTypes are the @key types of graph/schema/federation.graphqls.
var entityTypes = map[string]bool{"Cluster": true, "NodePool": true, "Node": true}

// EntityRepresentations makes each malformed representation of an
// _entities call its own error. gqlgen's generated code fails a whole type
// group when one representation has no string id (and skips one without a
// __typename, or of a type the subgraph does not have, with an error that
// names no index); here such a representation becomes a Node key carrying
// its reason, which findEntities reports at _entities[i] while the others
// resolve. Routers send representations as a variable, which is what this
// rewrites; a literal list is left to gqlgen.
type EntityRepresentations struct{}

var (
	_ graphql.HandlerExtension     = EntityRepresentations{}
	_ graphql.OperationInterceptor = EntityRepresentations{}
)

// ExtensionName implements graphql.HandlerExtension.
func (EntityRepresentations) ExtensionName() string { return "EntityRepresentations" }

// Validate implements graphql.HandlerExtension.
func (EntityRepresentations) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptOperation implements graphql.OperationInterceptor.
func (EntityRepresentations) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	if oc != nil && oc.Operation != nil && oc.Operation.Operation == ast.Query {
		for _, sel := range oc.Operation.SelectionSet {
			f, ok := sel.(*ast.Field)
			if !ok || f.Name != "_entities" {
				continue
			}
			if arg := f.Arguments.ForName("representations"); arg != nil && arg.Value != nil && arg.Value.Kind == ast.Variable {
				if reps, ok := oc.Variables[arg.Value.Raw].([]any); ok {
					checkRepresentations(reps)
				}
			}
		}
	}
	return next(ctx)
}

func checkRepresentations(reps []any) {
	for i, r := range reps {
		rep, ok := r.(map[string]any)
		if !ok {
			continue // not an object: variable coercion refuses the request
		}
		var why string
		typ, isString := rep["__typename"].(string)
		id, idOK := rep["id"].(string)
		switch {
		case !isString:
			why = fmt.Sprintf("representation %d has no __typename", i)
		case !entityTypes[typ]:
			why = fmt.Sprintf("representation %d: %s is not an entity of this subgraph (Cluster, NodePool, Node)", i, fleet.Clip(typ))
		case !idOK || id == "":
			why = fmt.Sprintf("representation %d (%s) has no id string: the key is @key(fields: \"id\")", i, typ)
		case strings.HasPrefix(id, badRepresentation):
			why = fmt.Sprintf("representation %d: malformed id", i)
		default:
			continue
		}
		reps[i] = map[string]any{"__typename": "Node", "id": badRepresentation + why}
	}
}
