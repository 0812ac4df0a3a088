package app

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// encodeResponse must write what json.Marshal(wireResponse) writes.
func TestEncodeResponseMatchesJSONMarshal(t *testing.T) {
	errs := gqlerror.List{{Message: "boom <&>", Path: ast.Path{ast.PathName("a"), ast.PathIndex(1)}, Extensions: map[string]any{"code": "UPSTREAM_ERROR"}}}
	ext := map[string]any{"stale": []any{map[string]any{"path": []any{"x"}}}}
	for name, resp := range map[string]*graphql.Response{
		"data":            {Data: json.RawMessage(`{"a":[1,2,{"b":"c"}]}`)},
		"null data":       {Data: json.RawMessage(`null`), Errors: errs},
		"no data":         {Errors: errs},
		"data and errors": {Data: json.RawMessage(`{"a":null}`), Errors: errs, Extensions: ext},
		"extensions":      {Data: json.RawMessage(`{}`), Extensions: ext},
	} {
		t.Run(name, func(t *testing.T) {
			want, err := json.Marshal(wireResponse{Errors: resp.Errors, Data: resp.Data, Extensions: resp.Extensions})
			if err != nil {
				t.Fatal(err)
			}
			parts, err := encodeResponse(resp)
			if err != nil {
				t.Fatal(err)
			}
			if got := bytes.Join(parts, nil); string(got) != string(want) {
				t.Fatalf("encodeResponse:\n got %s\nwant %s", got, want)
			}
		})
	}
}
