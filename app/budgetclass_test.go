package app

import (
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"

	"github.com/fleetgraph/fleetgraph/backends/budget"
	"github.com/fleetgraph/fleetgraph/graph"
)

func TestUpstreamClassOfOperations(t *testing.T) {
	t.Parallel()
	schema := graph.NewExecutableSchema(graph.Config{}).Schema()
	tests := []struct {
		doc, asked string
		want       budget.Class
	}{
		{`mutation { deleteNodePool(id: "x") { id } }`, "background", budget.Critical},
		{`subscription { fleetSummary { at } }`, "interactive", budget.Background},
		{`{ node(id: "x") { name } }`, "", budget.Interactive},
		{`{ node(id: "x") { name } cluster(id: "y") { name } __typename }`, "", budget.Interactive},
		{`{ nodes(first: 10) { totalCount } }`, "", budget.Dashboard},
		{`{ node(id: "x") { name } nodes(first: 10) { totalCount } }`, "", budget.Dashboard},
		{`{ a: nodePool(id: "1") { name } b: nodePool(id: "2") { name } c: nodePool(id: "3") { name } d: nodePool(id: "4") { name } }`, "", budget.Dashboard},
		{`{ nodes(first: 10) { totalCount } }`, "interactive", budget.Interactive},
		{`{ node(id: "x") { name } }`, "background", budget.Background},
		{`{ node(id: "x") { name } }`, "urgent", budget.Interactive}, // an unknown value is ignored
		{`query Q { ...F } fragment F on Query { backends { name } }`, "", budget.Interactive},
	}
	for _, tc := range tests {
		doc, err := gqlparser.LoadQuery(schema, tc.doc)
		if err != nil {
			t.Fatalf("%s: %v", tc.doc, err)
		}
		oc := &graphql.OperationContext{Doc: doc, Operation: doc.Operations[0]}
		if got := classOf(oc, tc.asked); got != tc.want {
			t.Errorf("%s (asked %q): %s, want %s", tc.doc, tc.asked, got, tc.want)
		}
	}
}
