package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator/rules"

	"github.com/fleetgraph/fleetgraph/internal/errcodes"
	"github.com/fleetgraph/fleetgraph/internal/overlap"
)

// Limits on the document as written that no real operation comes near;
// they bound validation work that the configurable limits do not.
const (
	// maxArguments on one field or directive: the validator compares
	// arguments pairwise (the schema's fields take at most 5).
	maxArguments = 32
	// maxInputDepth is the nesting of list and object values (the schema's
	// inputs nest 2 deep).
	maxInputDepth = 16
	// maxNesting of selection sets, inline fragments included (the rules
	// flatten nested inline fragments once per level). limits.maxDepth,
	// checked after validation, is lower for fields; introspection, which
	// it exempts, nests ~15 deep.
	maxNesting = 64
)

// documentLimits bounds the cost of validating a document before gqlgen
// validates it. gqlgen parses and validates in one step, after the
// operation-parameter mutators and before any other extension, and several
// of gqlparser's rules are quadratic or worse: 10 000 `__typename` tokens
// cost ~20 s of CPU in OverlappingFieldsCanBeMerged. So, for a document that
// is not in the document cache yet (a cached one passed already):
//
//  1. MutateOperationParameters parses it (with the token limit) and counts,
//     on the AST as written, selections (fields, __typename included,
//     fragment spreads and inline fragments), directives, operations,
//     fragments, variables per operation, arguments per field and the
//     nesting of input values: linear work, refused with LIMIT_EXCEEDED and
//     extensions.limit before any rule runs.
//  2. validationRules replaces OverlappingFieldsCanBeMerged with a copy that
//     stops after limits.maxFieldComparisons comparisons (internal/overlap):
//     what passes the counts still cannot compare n² fields.
//  3. InterceptResponse turns that rule's refusal into LIMIT_EXCEEDED, and
//     keeps at most limits.maxErrors errors in any response.
//
// The document is parsed twice on a cache miss (here, then by gqlgen): the
// parse is linear and bounded by the token limit (~1 ms at 10 000 tokens).
type documentLimits struct {
	limits Limits
	cache  graphql.Cache[*ast.QueryDocument]
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
	graphql.ResponseInterceptor
} = documentLimits{}

func (documentLimits) ExtensionName() string                   { return "DocumentLimits" }
func (documentLimits) Validate(graphql.ExecutableSchema) error { return nil }

func (d documentLimits) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	if p.Query == "" {
		return nil // gqlgen answers it
	}
	if d.cache != nil {
		if _, ok := d.cache.Get(ctx, p.Query); ok {
			return nil
		}
	}
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: p.Query}, d.limits.MaxTokens)
	if err != nil {
		// The error gqlgen's own parse would give.
		var gqlErr *gqlerror.Error
		if !errors.As(err, &gqlErr) {
			gqlErr = gqlerror.Errorf("%s", err)
		}
		errcode.Set(gqlErr, errcodes.GraphQLParseFailed)
		return gqlErr
	}
	c := docCounter{limits: d.limits}
	c.document(doc)
	return c.err
}

// validationRules are gqlparser's default rules with the budgeted
// OverlappingFieldsCanBeMerged (gqlgen then swaps its suggestion variants).
func validationRules(l Limits) func() *rules.Rules {
	return func() *rules.Rules {
		r := rules.NewDefaultRules()
		r.ReplaceRule(overlap.Name, overlap.WithBudget(l.MaxFieldComparisons).RuleFunc)
		return r
	}
}

func (d documentLimits) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if resp == nil {
		return nil
	}
	for _, e := range resp.Errors {
		if e.Rule == overlap.Name && e.Message == overlap.BudgetExceeded {
			*e = *limitError("fieldComparisons", d.limits.MaxFieldComparisons,
				"%s: validation stopped after %d comparisons (fields that share a response name, fragments spread together)",
				overlap.BudgetExceeded, d.limits.MaxFieldComparisons)
		}
	}
	resp.Errors = capErrors(resp.Errors, d.limits.MaxErrors)
	return resp
}

// capErrors keeps the first maxErrors errors and one that counts the rest,
// so that a request cannot make an answer much larger than itself (2 000
// repeated directives: one error each, a 15 KB request got 1.46 MB).
func capErrors(errs gqlerror.List, maxErrors int) gqlerror.List {
	if maxErrors <= 0 || len(errs) <= maxErrors {
		return errs
	}
	dropped := len(errs) - maxErrors
	kept := append(gqlerror.List(nil), errs[:maxErrors]...)
	return append(kept, &gqlerror.Error{
		Message:    fmt.Sprintf("%d more errors were left out of this response (at most %d are listed)", dropped, maxErrors),
		Extensions: map[string]any{"code": errcodes.ErrorsTruncated, "limit": "errors", "max": maxErrors, "dropped": dropped},
	})
}

// docCounter walks a document as written (fragments not expanded) and
// stops at the first limit passed.
type docCounter struct {
	limits     Limits
	selections int
	directives int
	err        *gqlerror.Error
}

func (c *docCounter) fail(limit string, maxValue int, format string) {
	if c.err == nil {
		c.err = limitError(limit, maxValue, format, maxValue)
	}
}

func (c *docCounter) document(doc *ast.QueryDocument) {
	if len(doc.Operations) > c.limits.MaxOperations {
		c.fail("operations", c.limits.MaxOperations, "the document defines more than %d operations")
		return
	}
	if len(doc.Fragments) > c.limits.MaxFragments {
		c.fail("fragments", c.limits.MaxFragments, "the document defines more than %d fragments")
		return
	}
	for _, op := range doc.Operations {
		if len(op.VariableDefinitions) > c.limits.MaxVariables {
			c.fail("variables", c.limits.MaxVariables, "an operation declares more than %d variables")
			return
		}
		c.directiveList(op.Directives)
		for _, v := range op.VariableDefinitions {
			c.directiveList(v.Directives)
			c.value(v.DefaultValue, 1)
		}
		c.selectionSet(op.SelectionSet, 1)
	}
	for _, f := range doc.Fragments {
		c.directiveList(f.Directives)
		c.selectionSet(f.SelectionSet, 1)
	}
}

func (c *docCounter) selectionSet(set ast.SelectionSet, depth int) {
	if len(set) > 0 && depth > maxNesting {
		c.fail("nesting", maxNesting, "selection sets (inline fragments included) nest deeper than %d levels")
		return
	}
	for _, sel := range set {
		if c.err != nil {
			return
		}
		c.selections++
		if c.selections > c.limits.MaxSelections {
			c.fail("selections", c.limits.MaxSelections,
				"the document has more than %d selections (fields, __typename included, fragment spreads and inline fragments, as written)")
			return
		}
		switch s := sel.(type) {
		case *ast.Field:
			c.arguments(s.Arguments)
			c.directiveList(s.Directives)
			c.selectionSet(s.SelectionSet, depth+1)
		case *ast.InlineFragment:
			c.directiveList(s.Directives)
			c.selectionSet(s.SelectionSet, depth+1)
		case *ast.FragmentSpread:
			c.directiveList(s.Directives)
		}
	}
}

func (c *docCounter) directiveList(list ast.DirectiveList) {
	c.directives += len(list)
	if c.directives > c.limits.MaxDirectives {
		c.fail("directives", c.limits.MaxDirectives, "the document uses more than %d directives")
		return
	}
	for _, d := range list {
		c.arguments(d.Arguments)
	}
}

func (c *docCounter) arguments(args ast.ArgumentList) {
	if len(args) > maxArguments {
		c.fail("arguments", maxArguments, "a field or directive has more than %d arguments")
		return
	}
	for _, a := range args {
		c.value(a.Value, 1)
	}
}

func (c *docCounter) value(v *ast.Value, depth int) {
	if v == nil || c.err != nil {
		return
	}
	if depth > maxInputDepth {
		c.fail("inputDepth", maxInputDepth, "an argument value nests lists or objects deeper than %d levels")
		return
	}
	for _, child := range v.Children {
		c.value(child.Value, depth+1)
	}
}
