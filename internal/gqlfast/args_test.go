package gqlfast

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// runOperation runs body inside ArgsMemo's interceptor, as gqlgen runs an
// operation.
func runOperation(body func(ctx context.Context)) {
	ArgsMemo{}.InterceptOperation(context.Background(), func(ctx context.Context) graphql.ResponseHandler {
		body(ctx)
		return nil
	})
}

// A field's arguments are computed once per operation and AST field, however
// many objects it is resolved on; another field, or another operation,
// computes its own; an error is not kept.
func TestArgsComputedOncePerOperationField(t *testing.T) {
	vars := map[string]any{"n": int64(3)}
	a := graphql.CollectedField{Field: &ast.Field{Name: "metrics",
		Arguments:  ast.ArgumentList{{Name: "samples", Value: &ast.Value{Kind: ast.Variable, Raw: "n"}}},
		Definition: &ast.FieldDefinition{Arguments: ast.ArgumentDefinitionList{{Name: "samples", Type: ast.NamedType("Int", nil)}}}}}
	b := graphql.CollectedField{Field: &ast.Field{Name: "metrics"}}
	calls := 0
	args := func(_ context.Context, raw map[string]any) (map[string]any, error) {
		calls++
		return map[string]any{"samples": raw["samples"]}, nil
	}
	for range 2 {
		runOperation(func(ctx context.Context) {
			for range 1000 { // one field on 1 000 nodes
				got, err := Args(ctx, vars, a, args)
				if err != nil || got["samples"] != int64(3) {
					t.Fatalf("args %v, %v", got, err)
				}
			}
			if _, err := Args(ctx, vars, b, args); err != nil {
				t.Fatal(err)
			}
		})
	}
	if calls != 4 {
		t.Errorf("2 operations x 2 fields: %d computations, want 4", calls)
	}

	calls = 0
	failing := func(context.Context, map[string]any) (map[string]any, error) {
		calls++
		return nil, errors.New("bad argument")
	}
	runOperation(func(ctx context.Context) {
		for range 3 {
			if _, err := Args(ctx, vars, a, failing); err == nil {
				t.Fatal("an argument error was not returned")
			}
		}
	})
	if calls != 3 {
		t.Errorf("a failing field: %d computations, want 3 (errors are not kept)", calls)
	}

	calls = 0
	for range 2 { // no memo in ctx: computed every time, as gqlgen does
		if _, err := Args(context.Background(), vars, a, args); err != nil {
			t.Fatal(err)
		}
	}
	if calls != 2 {
		t.Errorf("without the memo: %d computations, want 2", calls)
	}
}

// A query's payload is the bytes gqlgen writes; the second payload of the
// same operation is written into one buffer sized by the first.
func TestMarshalResponseSizedByTheLastPayload(t *testing.T) {
	data := graphql.MarshalString(strings.Repeat("x", 100000))
	first := MarshalResponse("{ a }", "", data)
	if want := gqlgen(t, data); string(first) != want {
		t.Fatalf("payload differs from gqlgen's")
	}
	second := MarshalResponse("{ a }", "", data)
	if string(second) != string(first) {
		t.Fatal("second payload differs")
	}
	if want := len(first) + len(first)/8; cap(second) != want {
		t.Errorf("second payload's buffer: cap %d, want %d (the first's size and an eighth)", cap(second), want)
	}
	if other := MarshalResponse("{ a }", "Other", data); cap(other) == cap(second) {
		t.Errorf("another operation name shares the size hint")
	}
}
