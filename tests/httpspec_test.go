package tests

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/fleetgraph/fleetgraph/app"
	"github.com/fleetgraph/fleetgraph/backends/simctl"
)

const (
	gqlResponseJSON = "application/graphql-response+json"
	appJSON         = "application/json"
)

// TestGraphQLOverHTTP checks the GraphQL-over-HTTP spec, SHOULDs included,
// request by request: status, media type, and whether "data" is present.
// None of these requests may reach a vendor.
func TestGraphQLOverHTTP(t *testing.T) {
	t.Parallel()
	e := newProdEnv(t, prodOptions{})
	get := func(q url.Values) string { return "/graphql?" + q.Encode() }
	tests := []struct {
		name        string
		method      string
		path        string
		body        string
		header      []string
		status      int
		contentType string // media type of the answer; "" = not checked
		code        string // extensions.code of the first error; "" = no error
		data        bool   // the "data" key is present
	}{
		// Accept negotiation.
		{"no Accept means graphql-response+json", "POST", "/graphql", `{"query":"{ backends { name } }"}`, nil, 200, gqlResponseJSON, "", true},
		{"Accept graphql-response+json", "POST", "/graphql", `{"query":"{ backends { name } }"}`, []string{"Accept", gqlResponseJSON}, 200, gqlResponseJSON, "", true},
		{"Accept application/json", "POST", "/graphql", `{"query":"{ backends { name } }"}`, []string{"Accept", appJSON}, 200, appJSON, "", true},
		{"Accept */*", "POST", "/graphql", `{"query":"{ backends { name } }"}`, []string{"Accept", "*/*"}, 200, gqlResponseJSON, "", true},
		{"Accept as the spec recommends", "POST", "/graphql", `{"query":"{ backends { name } }"}`, []string{"Accept", "application/graphql-response+json; charset=utf-8, application/json; charset=utf-8"}, 200, gqlResponseJSON, "", true},
		{"Accept json named outright beats a wildcard", "POST", "/graphql", `{"query":"{ backends { name } }"}`, []string{"Accept", "application/json, text/plain, */*"}, 200, appJSON, "", true},
		{"Accept q-values", "POST", "/graphql", `{"query":"{ backends { name } }"}`, []string{"Accept", "application/graphql-response+json;q=0.5, application/json"}, 200, appJSON, "", true},
		{"Accept nothing we speak: 406", "POST", "/graphql", `{"query":"{ backends { name } }"}`, []string{"Accept", "text/html"}, 406, appJSON, "NOT_ACCEPTABLE", false},
		{"Accept json with q=0: 406", "POST", "/graphql", `{"query":"{ backends { name } }"}`, []string{"Accept", "application/json;q=0"}, 406, appJSON, "NOT_ACCEPTABLE", false},
		{"Accept another charset: 406", "POST", "/graphql", `{"query":"{ backends { name } }"}`, []string{"Accept", "application/json; charset=latin1"}, 406, appJSON, "NOT_ACCEPTABLE", false},

		// Document errors: no data; 400 under graphql-response+json, 200 under json.
		{"parse error, graphql-response+json", "POST", "/graphql", `{"query":"{"}`, []string{"Accept", gqlResponseJSON}, 400, gqlResponseJSON, "GRAPHQL_PARSE_FAILED", false},
		{"parse error, json", "POST", "/graphql", `{"query":"{"}`, []string{"Accept", appJSON}, 200, appJSON, "GRAPHQL_PARSE_FAILED", false},
		{"validation error, graphql-response+json", "POST", "/graphql", `{"query":"{ noSuchField }"}`, []string{"Accept", gqlResponseJSON}, 400, gqlResponseJSON, "GRAPHQL_VALIDATION_FAILED", false},
		{"validation error, json", "POST", "/graphql", `{"query":"{ noSuchField }"}`, []string{"Accept", appJSON}, 200, appJSON, "GRAPHQL_VALIDATION_FAILED", false},
		{"unknown operationName", "POST", "/graphql", `{"query":"query A { backends { name } }","operationName":"B"}`, []string{"Accept", gqlResponseJSON}, 400, gqlResponseJSON, "GRAPHQL_VALIDATION_FAILED", false},
		{"several operations, none named", "POST", "/graphql", `{"query":"query A { backends { name } } query B { backends { name } }"}`, []string{"Accept", gqlResponseJSON}, 400, gqlResponseJSON, "GRAPHQL_VALIDATION_FAILED", false},
		{"variable coercion failure", "POST", "/graphql", `{"query":"query($n: Int) { nodes(first: $n) { totalCount } }","variables":{"n":"many"}}`, []string{"Accept", gqlResponseJSON}, 400, gqlResponseJSON, "BAD_USER_INPUT", false},
		{"variable coercion failure, json", "POST", "/graphql", `{"query":"query($n: Int) { nodes(first: $n) { totalCount } }","variables":{"n":"many"}}`, []string{"Accept", appJSON}, 200, appJSON, "BAD_USER_INPUT", false},
		{"argument refused before execution", "POST", "/graphql", `{"query":"{ node(id: \"nope\") { name } }"}`, []string{"Accept", gqlResponseJSON}, 400, gqlResponseJSON, "BAD_USER_INPUT", false},
		{"subscription without a stream", "POST", "/graphql", `{"query":"subscription { fleetSummary { at } }"}`, []string{"Accept", gqlResponseJSON}, 400, gqlResponseJSON, "BAD_REQUEST", false},

		// Not a well-formed GraphQL-over-HTTP request: 400 whatever the media type.
		{"malformed JSON", "POST", "/graphql", `{"query":`, []string{"Accept", appJSON}, 400, appJSON, "BAD_REQUEST", false},
		{"not JSON at all", "POST", "/graphql", `NONSENSE`, nil, 400, gqlResponseJSON, "BAD_REQUEST", false},
		{"a batch (JSON array)", "POST", "/graphql", `[{"query":"{ backends { name } }"}]`, nil, 400, gqlResponseJSON, "BAD_REQUEST", false},
		{"query misspelt", "POST", "/graphql", `{"qeury":"{ backends { name } }"}`, []string{"Accept", appJSON}, 400, appJSON, "BAD_REQUEST", false},
		{"query is a number", "POST", "/graphql", `{"query":1}`, nil, 400, gqlResponseJSON, "BAD_REQUEST", false},
		{"query is an object", "POST", "/graphql", `{"query":{}}`, nil, 400, gqlResponseJSON, "BAD_REQUEST", false},
		{"operationName is a number", "POST", "/graphql", `{"query":"{ backends { name } }","operationName":7}`, nil, 400, gqlResponseJSON, "BAD_REQUEST", false},
		{"variables is an array", "POST", "/graphql", `{"query":"{ backends { name } }","variables":[7]}`, nil, 400, gqlResponseJSON, "BAD_REQUEST", false},
		{"extensions is a string", "POST", "/graphql", `{"query":"{ backends { name } }","extensions":"x"}`, nil, 400, gqlResponseJSON, "BAD_REQUEST", false},
		{"null parameters mean absent", "POST", "/graphql", `{"query":"{ backends { name } }","operationName":null,"variables":null,"extensions":null}`, nil, 200, gqlResponseJSON, "", true},
		{"trailing garbage", "POST", "/graphql", `{"query":"{ backends { name } }"} {}`, nil, 400, gqlResponseJSON, "BAD_REQUEST", false},

		// Content-Type of a POST.
		{"no Content-Type", "POST", "/graphql", `{"query":"{ backends { name } }"}`, []string{"Content-Type", ""}, 415, gqlResponseJSON, "UNSUPPORTED_MEDIA_TYPE", false},
		{"text/plain", "POST", "/graphql", `{"query":"{ backends { name } }"}`, []string{"Content-Type", "text/plain"}, 415, gqlResponseJSON, "UNSUPPORTED_MEDIA_TYPE", false},
		{"form encoded", "POST", "/graphql", `query=%7B%7D`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, gqlResponseJSON, "UNSUPPORTED_MEDIA_TYPE", false},
		{"another charset", "POST", "/graphql", `{"query":"{ backends { name } }"}`, []string{"Content-Type", "application/json; charset=latin1"}, 415, gqlResponseJSON, "UNSUPPORTED_MEDIA_TYPE", false},
		{"utf-8 spelt out", "POST", "/graphql", `{"query":"{ backends { name } }"}`, []string{"Content-Type", "application/json; charset=UTF-8"}, 200, gqlResponseJSON, "", true},

		// GET: queries only.
		{"GET a query", "GET", get(url.Values{"query": {"{ backends { name } }"}}), "", nil, 200, gqlResponseJSON, "", true},
		{"GET with variables", "GET", get(url.Values{"query": {"query($p: Provider) { clusters(provider: $p) { name } }"}, "variables": {`{"p":"RUNAI"}`}}), "", []string{"Accept", appJSON}, 200, appJSON, "", true},
		{"GET a mutation: 405", "GET", get(url.Values{"query": {`mutation { deleteNodePool(id: "x") { id } }`}}), "", nil, 405, gqlResponseJSON, "METHOD_NOT_ALLOWED", false},
		{"GET the mutation of a mixed document", "GET", get(url.Values{"query": {`query Q { backends { name } } mutation M { deleteNodePool(id: "x") { id } }`}, "operationName": {"M"}}), "", nil, 405, gqlResponseJSON, "METHOD_NOT_ALLOWED", false},
		{"GET the query of a mixed document", "GET", get(url.Values{"query": {`query Q { backends { name } } mutation M { deleteNodePool(id: "x") { id } }`}, "operationName": {"Q"}}), "", nil, 200, gqlResponseJSON, "", true},
		{"GET without query", "GET", "/graphql", "", nil, 400, gqlResponseJSON, "BAD_REQUEST", false},
		{"GET with malformed variables", "GET", get(url.Values{"query": {"{ backends { name } }"}, "variables": {"{"}}), "", nil, 400, gqlResponseJSON, "BAD_REQUEST", false},

		// Other methods.
		{"PUT", "PUT", "/graphql", `{"query":"{ backends { name } }"}`, nil, 405, gqlResponseJSON, "METHOD_NOT_ALLOWED", false},
		{"DELETE", "DELETE", "/graphql", "", nil, 405, gqlResponseJSON, "METHOD_NOT_ALLOWED", false},
		{"OPTIONS without CORS", "OPTIONS", "/graphql", "", nil, 204, "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			header := append([]string{"Content-Type", "application/json"}, tt.header...)
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			before := e.upstreamCalls()
			r := e.do(t, tt.method, tt.path, body, header...)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			if tt.contentType != "" {
				if ct := r.header.Get("Content-Type"); ct != tt.contentType+"; charset=utf-8" {
					t.Fatalf("Content-Type %q, want %s; charset=utf-8", ct, tt.contentType)
				}
			}
			if tt.status != 204 && r.json == nil {
				t.Fatalf("body is not a JSON object: %s", r.body)
			}
			if got := r.code(); got != tt.code {
				t.Fatalf("code %q, want %q: %s", got, tt.code, r.body)
			}
			if r.hasData() != tt.data {
				t.Fatalf("data present = %v, want %v: %s", r.hasData(), tt.data, r.body)
			}
			if tt.code != "" {
				if got := e.upstreamCalls() - before; got != 0 {
					t.Fatalf("%d upstream calls for a refused request", got)
				}
			}
			if tt.status == 405 && r.header.Get("Allow") == "" {
				t.Fatal("405 without Allow")
			}
		})
	}
}

// TestFieldErrorsAreTwoHundredWithData: a failing vendor is a field error,
// not a request error: 200 and data under both media types.
func TestFieldErrorsAreTwoHundredWithData(t *testing.T) {
	t.Parallel()
	e := newProdEnv(t, prodOptions{})
	if err := e.ma.Control().SetFaults(simctl.Faults{Down: true}); err != nil {
		t.Fatal(err)
	}
	for _, accept := range []string{gqlResponseJSON, appJSON} {
		r := e.post(t, `{ clusters { name provider } }`, nil, "Accept", accept)
		if r.status != 200 || !r.hasData() || r.code() != "UPSTREAM_UNAVAILABLE" {
			t.Fatalf("%s: status %d, data %v, code %q: %s", accept, r.status, r.hasData(), r.code(), r.body)
		}
	}
}

// TestBodyLimit: 413 for a body over limits.maxBodyBytes, whether it says
// its length or streams it, with no upstream call.
func TestBodyLimit(t *testing.T) {
	t.Parallel()
	e := newProdEnv(t, prodOptions{envOptions: envOptions{configure: func(c *app.Config) { c.Limits.MaxBodyBytes = 4096 }}})
	huge := `{"query":"{ backends { name } }","variables":{"pad":"` + strings.Repeat("x", 8192) + `"}}`
	r := e.do(t, "POST", "/graphql", strings.NewReader(huge), "Content-Type", "application/json")
	if r.status != http.StatusRequestEntityTooLarge || r.code() != "PAYLOAD_TOO_LARGE" {
		t.Fatalf("status %d code %q, want 413 PAYLOAD_TOO_LARGE", r.status, r.code())
	}
	// Chunked: no Content-Length, the limit bites while reading.
	req, _ := http.NewRequestWithContext(t.Context(), "POST", e.gw.URL+"/graphql", io.MultiReader(strings.NewReader(huge)))
	req.Header.Set("Content-Type", "application/json")
	req.ContentLength = -1
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("chunked: status %d, want 413", resp.StatusCode)
	}
	// Just under the limit is fine.
	ok := `{"query":"{ backends { name } }","variables":{"pad":"` + strings.Repeat("x", 3000) + `"}}`
	if r := e.do(t, "POST", "/graphql", bytes.NewReader([]byte(ok)), "Content-Type", "application/json"); r.status != 200 {
		t.Fatalf("status %d under the limit: %s", r.status, r.body)
	}
	if n := e.upstreamCalls(); n != 0 {
		t.Fatalf("%d upstream calls", n)
	}
}
