package backends_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/fleetgraph/fleetgraph/backends"
)

func TestDropNullItems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		n        int
	}{
		{`{"a":null,"b":[1,2]}`, `{"a":null,"b":[1,2]}`, 0},
		{`[null]`, `[]`, 1},
		{`[ null , null ]`, `[]`, 2},
		{`{"items": [null, {"x": [null, "null", 1, null]}, null], "y": null}`, `{"items":[{"x":["null",1]}],"y":null}`, 4},
		{`[nullx]`, `[nullx]`, 0}, // not JSON: left for the decoder
		{`[null`, `[null`, 0},
		{`{"s":"a \" [null] \\"}`, `{"s":"a \" [null] \\"}`, 0},
		{`[[null],[[null,true]]]`, `[[],[[true]]]`, 2},
	}
	for _, tt := range tests {
		got, n := backends.DropNullItems([]byte(tt.in))
		if string(got) != tt.want || n != tt.n {
			t.Errorf("DropNullItems(%s) = %s, %d; want %s, %d", tt.in, got, n, tt.want, tt.n)
		}
	}
}

func TestRouteKind(t *testing.T) {
	t.Parallel()
	for route, want := range map[string]string{
		"/api/v1/clusters/{clusterUuid}/nodes": "nodes",
		"/api/v1/node-pools/{nodepoolId}":      "node-pools",
		"/v2/{project_id}/pools":               "pools",
		"/v2/{project_id}/pools/{pool_name}":   "pools",
		"/api/v1/nodes/{nodeId}/metrics":       "metrics",
		"":                                     "root",
	} {
		if got := backends.RouteKind(route); got != want {
			t.Errorf("RouteKind(%q) = %q, want %q", route, got, want)
		}
	}
}

// dropNulls is the reference: the same transformation on decoded values.
func dropNulls(v any) (any, int) {
	n := 0
	switch x := v.(type) {
	case []any:
		out := []any{}
		for _, e := range x {
			if e == nil {
				n++
				continue
			}
			e2, k := dropNulls(e)
			n += k
			out = append(out, e2)
		}
		return out, n
	case map[string]any:
		for k, e := range x {
			e2, m := dropNulls(e)
			n += m
			x[k] = e2
		}
	}
	return v, n
}

func FuzzDropNullItems(f *testing.F) {
	for _, s := range []string{`[null]`, `{"a":[null,{"b":null}]}`, `"x"`, `[1,[null,[]],{}]`, `{"a":"[null]"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var in any
		valid := json.Unmarshal(data, &in) == nil
		got, n := backends.DropNullItems(data)
		if !valid {
			return // unchanged or not, the decoder refuses it
		}
		want, wantN := dropNulls(in)
		var out any
		if err := json.Unmarshal(got, &out); err != nil {
			t.Fatalf("output %s of %s is not JSON: %v", got, data, err)
		}
		if n != wantN || (n > 0 && !reflect.DeepEqual(out, want)) {
			t.Fatalf("DropNullItems(%s) = %s, %d; want %v, %d", data, got, n, want, wantN)
		}
	})
}
