package overlap

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
	"github.com/vektah/gqlparser/v2/validator/core"
	"github.com/vektah/gqlparser/v2/validator/rules"
)

var schema = gqlparser.MustLoadSchema(&ast.Source{Input: `
type Query { dog: Dog, cat: Cat, pets: [Pet] }
interface Pet { name: String }
type Dog implements Pet { name: String, barks(loud: Boolean): Boolean, owner: Dog }
type Cat implements Pet { name: String, meows: Int, owner: Dog }`})

func validate(t *testing.T, budget int, query string) []string {
	t.Helper()
	doc, err := parser.ParseQuery(&ast.Source{Input: query})
	if err != nil {
		t.Fatal(err)
	}
	r := rules.NewDefaultRules()
	r.ReplaceRule(Name, WithBudget(budget).RuleFunc)
	var msgs []string
	for _, e := range validator.ValidateWithRules(schema, doc, r) {
		msgs = append(msgs, e.Rule+": "+e.Message)
	}
	return msgs
}

// The copy finds the conflicts gqlparser's rule finds, within budget.
func TestConflictsAreStillFound(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ query, want string }{
		{`{ dog { name: barks name } }`, `Fields "name" conflict because "barks" and "name" are different fields`},
		{`{ dog { barks(loud: true) barks(loud: false) } }`, `Fields "barks" conflict because they have differing arguments`},
		{`{ dog { ...A ...B } } fragment A on Dog { x: name } fragment B on Dog { x: barks }`, `Fields "x" conflict`},
		{`{ dog { owner { name } owner { name: barks } } }`, `subfields "name" conflict`},
		{`{ pets { ... on Dog { x: barks } ... on Cat { x: meows } } }`, `they return conflicting types`},
	} {
		got := strings.Join(validate(t, 1000, tt.query), "\n")
		if !strings.HasPrefix(got, Name+": ") || !strings.Contains(got, tt.want) {
			t.Errorf("%s: errors %q, want %q", tt.query, got, tt.want)
		}
	}
	for _, ok := range []string{
		`{ dog { name name ...A ...A } } fragment A on Dog { name }`,
		`{ pets { ... on Dog { x: name } ... on Cat { x: name } } }`,
		`{ dog { owner { name } owner { barks } } }`,
	} {
		if got := validate(t, 1000, ok); len(got) != 0 {
			t.Errorf("%s: errors %q, want none", ok, got)
		}
	}
}

// Past its budget the rule reports once and stops.
func TestBudget(t *testing.T) {
	t.Parallel()
	q := "{ dog { " + strings.Repeat("name ", 100) + "} }"
	if got := validate(t, 100*99/2+10, q); len(got) != 0 {
		t.Fatalf("within budget: %q", got)
	}
	got := validate(t, 100, q)
	if len(got) != 1 || got[0] != Name+": "+BudgetExceeded {
		t.Fatalf("over budget: %q, want one error", got)
	}
	frags := "{ dog { ...A ...B ...C } } fragment A on Dog { name } fragment B on Dog { name } fragment C on Dog { name }"
	if got := validate(t, 2, frags); len(got) != 1 || got[0] != Name+": "+BudgetExceeded {
		t.Fatalf("fragment pairs over budget: %q", got)
	}
}

// TestSameErrorsAsUpstream runs gqlparser's own spec cases for the rule
// (testdata: validator/imported/spec of gqlparser v2.5.37, MIT) through
// both rules, gqlparser's and this copy with a budget no case reaches:
// every case gets the same errors.
func TestSameErrorsAsUpstream(t *testing.T) {
	t.Parallel()
	var rawSchemas []string
	readYAML(t, "testdata/schemas.yml", &rawSchemas)
	schemas := make([]*ast.Schema, len(rawSchemas))
	for i, s := range rawSchemas {
		schemas[i] = gqlparser.MustLoadSchema(&ast.Source{Input: s})
	}
	var specs []struct {
		Name   string
		Schema int
		Query  string
	}
	readYAML(t, "testdata/OverlappingFieldsCanBeMergedRule.spec.yml", &specs)
	if len(specs) < 40 {
		t.Fatalf("%d cases read", len(specs))
	}
	errorsOf := func(schema *ast.Schema, query string, rule core.Rule) []string {
		doc, err := parser.ParseQuery(&ast.Source{Input: query})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range validator.ValidateWithRules(schema, doc, rules.NewRules(rule)) {
			out = append(out, fmt.Sprintf("%s %v", e.Message, e.Locations))
		}
		return out
	}
	for _, spec := range specs {
		want := errorsOf(schemas[spec.Schema], spec.Query, rules.OverlappingFieldsCanBeMergedRule)
		got := errorsOf(schemas[spec.Schema], spec.Query, WithBudget(1_000_000))
		if !slices.Equal(got, want) {
			t.Errorf("%s: errors %q, gqlparser's rule %q", spec.Name, got, want)
		}
	}
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, v); err != nil {
		t.Fatal(err)
	}
}
