package tests

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetgraph/fleetgraph/app"
	"github.com/fleetgraph/fleetgraph/internal/errcodes"
)

func persisted(hash string) map[string]any {
	return map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}
}

func (e *env) postBody(t *testing.T, body map[string]any, header ...string) httpResult {
	t.Helper()
	return e.do(t, "POST", "/graphql", strings.NewReader(mustJSON(body)), append([]string{"Content-Type", "application/json"}, header...)...)
}

func TestAutomaticPersistedQueries(t *testing.T) {
	t.Parallel()
	e := newProdEnv(t, prodOptions{})
	const q = `query Backends { backends { name provider } }`
	hash := sha256Hex(q)
	// Unknown hash: the client is told to send the document (200 under
	// application/json, which Apollo's link expects).
	r := e.postBody(t, map[string]any{"extensions": persisted(hash)}, "Accept", appJSON)
	if r.status != 200 || r.code() != "PERSISTED_QUERY_NOT_FOUND" || r.hasData() {
		t.Fatalf("%d %s", r.status, r.body)
	}
	r = e.postBody(t, map[string]any{"query": q, "extensions": persisted(hash)})
	if r.status != 200 || !r.hasData() {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	// Now the hash alone runs it, by POST and by (cacheable) GET.
	if r = e.postBody(t, map[string]any{"extensions": persisted(hash)}); r.status != 200 || !strings.Contains(string(r.body), "runai-a") {
		t.Fatalf("by hash: %d %s", r.status, r.body)
	}
	ext, _ := json.Marshal(persisted(hash))
	if r = e.do(t, "GET", "/graphql?"+url.Values{"extensions": {string(ext)}}.Encode(), nil); r.status != 200 || !strings.Contains(string(r.body), "runai-a") {
		t.Fatalf("GET by hash: %d %s", r.status, r.body)
	}
	// A hash that does not match its document is refused.
	r = e.postBody(t, map[string]any{"query": `{ clusters { name } }`, "extensions": persisted(hash)})
	if r.status != 400 || r.code() != "BAD_REQUEST" {
		t.Fatalf("mismatched hash: %d %s", r.status, r.body)
	}
}

func writeAllowList(t *testing.T, docs ...string) string {
	t.Helper()
	m := map[string]string{}
	for _, d := range docs {
		m[sha256Hex(d)] = d
	}
	path := filepath.Join(t.TempDir(), "operations.json")
	if err := os.WriteFile(path, []byte(mustJSON(m)), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestAllowListMode(t *testing.T) {
	t.Parallel()
	const allowed = `query Clusters { clusters { name provider } }`
	list := writeAllowList(t, allowed)
	e := newProdEnv(t, prodOptions{envOptions: envOptions{configure: func(c *app.Config) { c.GraphQL.AllowList = list }}})

	if r := e.postBody(t, map[string]any{"query": allowed}); r.status != 200 || !r.hasData() || r.code() != "" {
		t.Fatalf("allowed document: %d %s", r.status, r.body)
	}
	if r := e.postBody(t, map[string]any{"extensions": persisted(sha256Hex(allowed))}); r.status != 200 || !r.hasData() {
		t.Fatalf("allowed by hash: %d %s", r.status, r.body)
	}
	before := e.upstreamCalls()
	const other = `{ nodes { totalCount } }`
	for _, tt := range []struct {
		name   string
		body   map[string]any
		accept string
		status int
	}{
		{"another document", map[string]any{"query": other}, gqlResponseJSON, http.StatusForbidden},
		{"another document, json", map[string]any{"query": other}, appJSON, http.StatusOK},
		{"the allowed document with one more space", map[string]any{"query": allowed + " "}, gqlResponseJSON, http.StatusForbidden},
		{"an unknown hash", map[string]any{"extensions": persisted(sha256Hex(other))}, gqlResponseJSON, http.StatusForbidden},
		{"registering through APQ", map[string]any{"query": other, "extensions": persisted(sha256Hex(other))}, gqlResponseJSON, http.StatusForbidden},
	} {
		r := e.postBody(t, tt.body, "Accept", tt.accept)
		if r.status != tt.status || r.code() != errcodes.OperationNotAllowed || r.hasData() {
			t.Fatalf("%s: %d %s", tt.name, r.status, r.body)
		}
	}
	if r := e.postBody(t, map[string]any{"extensions": persisted(sha256Hex(other))}); r.code() != errcodes.OperationNotAllowed {
		t.Fatalf("APQ registration slipped past the allow-list: %s", r.body)
	}
	if n := e.upstreamCalls() - before; n != 0 {
		t.Fatalf("%d upstream calls for refused operations", n)
	}
}

func TestIntrospectionAndGraphiQLOff(t *testing.T) {
	t.Parallel()
	off := false
	e := newProdEnv(t, prodOptions{envOptions: envOptions{configure: func(c *app.Config) {
		c.GraphQL.Introspection, c.GraphQL.GraphiQL = &off, &off
	}}})
	for _, q := range []string{`{ __schema { types { name } } }`, `{ __type(name: "Node") { name } }`, `{ backends { name } ...F } fragment F on Query { __schema { queryType { name } } }`} {
		r := e.post(t, q, nil)
		if r.status != 400 || r.code() != "GRAPHQL_VALIDATION_FAILED" || r.hasData() {
			t.Fatalf("%s: %d %s", q, r.status, r.body)
		}
	}
	if r := e.post(t, `{ __typename backends { __typename name } }`, nil); r.status != 200 {
		t.Fatalf("__typename: %d %s", r.status, r.body)
	}
	if r := e.do(t, "GET", "/", nil); r.status != http.StatusNotFound {
		t.Fatalf("GraphiQL still served: %d", r.status)
	}
	// On by default.
	on := newProdEnv(t, prodOptions{})
	if r := on.post(t, `{ __schema { queryType { name } } }`, nil); r.status != 200 {
		t.Fatalf("introspection on: %d %s", r.status, r.body)
	}
	if r := on.do(t, "GET", "/", nil); r.status != 200 {
		t.Fatalf("GraphiQL on: %d", r.status)
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	e := newProdEnv(t, prodOptions{envOptions: envOptions{configure: func(c *app.Config) {
		c.CORS.AllowedOrigins = []string{"https://grafana.example.com", "https://*.dash.example.com"}
	}}})
	preflight := func(origin string) httpResult {
		return e.do(t, "OPTIONS", "/graphql", nil, "Origin", origin, "Access-Control-Request-Method", "POST",
			"Access-Control-Request-Headers", "content-type, x-api-key")
	}
	for _, origin := range []string{"https://grafana.example.com", "https://ops.dash.example.com"} {
		r := preflight(origin)
		h := r.header
		if r.status != 204 || h.Get("Access-Control-Allow-Origin") != origin || !strings.Contains(h.Get("Access-Control-Allow-Headers"), "X-API-Key") ||
			!strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") || h.Get("Access-Control-Max-Age") != "600" {
			t.Fatalf("preflight from %s: %d %v", origin, r.status, h)
		}
		q := e.post(t, `{ backends { name } }`, nil, "Origin", origin)
		if q.status != 200 || q.header.Get("Access-Control-Allow-Origin") != origin || !strings.Contains(strings.Join(q.header.Values("Vary"), ","), "Origin") {
			t.Fatalf("POST from %s: %d %v", origin, q.status, q.header)
		}
	}
	before := e.upstreamCalls()
	for _, origin := range []string{"https://evil.example.com", "http://grafana.example.com", "https://grafana.example.com.evil.io", "null"} {
		if r := preflight(origin); r.status != 403 || r.header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("preflight from %s: %d %v", origin, r.status, r.header)
		}
		if r := e.post(t, `{ clusters { name } }`, nil, "Origin", origin); r.status != 403 || r.header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("POST from %s: %d", origin, r.status)
		}
	}
	if n := e.upstreamCalls() - before; n != 0 {
		t.Fatalf("%d upstream calls from refused origins", n)
	}
	// The page GraphiQL is served from is always allowed.
	if r := e.post(t, `{ backends { name } }`, nil, "Origin", e.gw.URL); r.status != 200 {
		t.Fatalf("same origin: %d %s", r.status, r.body)
	}
}
