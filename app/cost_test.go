package app

import (
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/fleetgraph/fleetgraph/graph"
)

// TestEveryObjectTypeHasACost keeps the schema priced in vendor calls: an
// object type without @cost weighs 1 in every router's demand control (and
// in extensions.cost), as if reading it from a listing were a vendor call
// per object. A new type gets `extend type X @cost(weight: 0)` in
// graph/schema/federation.graphqls, or the weight of the calls it makes.
func TestEveryObjectTypeHasACost(t *testing.T) {
	t.Parallel()
	s := graph.NewExecutableSchema(graph.Config{}).Schema()
	for name, def := range s.Types {
		if def.Kind != ast.Object || def.BuiltIn || strings.HasPrefix(name, "_") || fromFederation(def.Position) ||
			name == s.Query.Name || name == s.Mutation.Name || name == s.Subscription.Name {
			continue
		}
		if def.Directives.ForName("cost") == nil {
			t.Errorf("type %s has no @cost: add `extend type %s @cost(weight: 0)` to graph/schema/federation.graphqls (or the vendor calls it costs)", name, name)
		}
	}
}
