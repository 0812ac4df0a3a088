package tests

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fleetgraph/fleetgraph/app"
	modelartssource "github.com/fleetgraph/fleetgraph/fleet/modelarts"
	runaisource "github.com/fleetgraph/fleetgraph/fleet/runai"
)

// nest wraps inner in n levels of `nodes { edges { node { cluster { ... } } } }`.
func nest(n int, inner string) string {
	q := inner
	for range n {
		q = "nodes { edges { node { cluster { " + q + " } } } }"
	}
	return "{ " + q + " }"
}

func aliases(n int, field string) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "a%d: %s ", i, field)
	}
	return b.String()
}

// fragmentBomb doubles its selection at each of n levels: 2^n fields once
// expanded, in a document of a few hundred bytes.
func fragmentBomb(n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "{ backends { ...F%d } } fragment F0 on Backend { name provider }", n)
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, " fragment F%d on Backend { ...F%d ...F%d }", i, i-1, i-1)
	}
	return b.String()
}

var allNodeMetricTypes = `[GPU_UTILIZATION_PER_GPU GPU_UTILIZATION GPU_MEMORY_UTILIZATION_PER_GPU GPU_MEMORY_UTILIZATION
	GPU_MEMORY_USAGE_BYTES_PER_GPU GPU_MEMORY_USAGE_BYTES CPU_USAGE_CORES CPU_UTILIZATION CPU_MEMORY_USAGE_BYTES
	CPU_MEMORY_UTILIZATION GPU_OOMKILL_BURST_COUNT_PER_GPU GPU_OOMKILL_IDLE_COUNT_PER_GPU]`

// TestHostileRequests is the corpus of hostile requests: each gets a clear
// error with a stable code, none panics, none reaches a vendor, and the
// gateway answers normally afterwards.
func TestHostileRequests(t *testing.T) {
	t.Parallel()
	e := newProdEnv(t, prodOptions{})
	deepJSON := `{"query":"{ backends { name } }","variables":{"x":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}}`
	manyTokens := "{ " + strings.Repeat("backends { name } ", 4000) + "}"
	deepDoc := "{ " + strings.Repeat("backends { ", 6000) + strings.Repeat("} ", 6000) + "}"
	hugeTypes := make([]string, 40000)
	for i := range hugeTypes {
		hugeTypes[i] = "GPU_UTILIZATION"
	}
	hugeTypesBody, _ := json.Marshal(map[string]any{
		"query":     `query($t: [NodeMetricType!]!) { nodes(first: 10) { edges { node { metrics(types: $t, start: "2026-11-25T10:00:00Z", end: "2026-11-25T11:00:00Z") { type } } } } }`,
		"variables": map[string]any{"t": hugeTypes},
	})
	tests := []struct {
		name   string
		body   string
		status int
		code   string
		limit  string // extensions.limit, for LIMIT_EXCEEDED
	}{
		{"malformed JSON", `{"query": "{ backends `, 400, "BAD_REQUEST", ""},
		{"JSON nested 20000 deep in variables", deepJSON, 400, "BAD_REQUEST", ""},
		{"invalid UTF-8", "{\"query\":\"{ backends { name \xff } }\"}", 400, "GRAPHQL_PARSE_FAILED", ""},
		{"NUL in the document", `{"query":"{ backends { name \u0000 } }"}`, 400, "GRAPHQL_PARSE_FAILED", ""},
		{"too many tokens", mustJSON(map[string]any{"query": manyTokens}), 400, "GRAPHQL_PARSE_FAILED", ""},
		{"document nested 6000 deep", mustJSON(map[string]any{"query": deepDoc}), 400, "GRAPHQL_PARSE_FAILED", ""},
		{"deep nesting", mustJSON(map[string]any{"query": nest(4, "name")}), 400, "LIMIT_EXCEEDED", "depth"},
		{"deep nesting through fragments", mustJSON(map[string]any{"query": "{ nodes { edges { node { ...N } } } } fragment N on Node { " +
			strings.Repeat("cluster { nodes { edges { node { ", 3) + "name" + strings.Repeat(" } } } }", 3) + " }"}), 400, "LIMIT_EXCEEDED", "depth"},
		{"alias bomb at the root", mustJSON(map[string]any{"query": "{ " + aliases(100, "nodes(first: 500) { totalCount }") + "}"}), 400, "LIMIT_EXCEEDED", "rootFields"},
		{"alias bomb in a field", mustJSON(map[string]any{"query": "{ backends { " + aliases(31, "name") + "} }"}), 400, "LIMIT_EXCEEDED", "aliases"},
		{"too many root fields", mustJSON(map[string]any{"query": "{ " + strings.Repeat("backends { name } ", 1) + aliases(20, "clusters { name }") + "}"}), 400, "LIMIT_EXCEEDED", "rootFields"},
		{"nested pages", mustJSON(map[string]any{"query": `{ nodes(first: 500) { edges { node { cluster { nodes(first: 500) { edges { node {
			cluster { nodes(first: 500) { totalCount } } } } } } } } } }`}), 400, "LIMIT_EXCEEDED", "complexity"},
		{"metrics bomb", mustJSON(map[string]any{"query": `{ nodes(first: 500) { edges { node { metrics(types: ` + allNodeMetricTypes +
			`, start: "2026-11-25T10:00:00Z", end: "2026-11-25T11:00:00Z", samples: 1000) { type points { timestamp value } } } } } }`}), 400, "LIMIT_EXCEEDED", "complexity"},
		{"huge list variable", string(hugeTypesBody), 400, "LIMIT_EXCEEDED", "complexity"},
		{"fragment bomb", mustJSON(map[string]any{"query": fragmentBomb(40)}), 400, "LIMIT_EXCEEDED", "complexity"},
		{"malformed ID", `{"query":"{ node(id: \"\") { name } }"}`, 400, "BAD_USER_INPUT", ""},
		{"ID of another kind", `{"query":"{ nodePool(id: \"bm9kZQ\") { name } }"}`, 400, "BAD_USER_INPUT", ""},
		{"unknown enum", `{"query":"{ clusters(provider: AWS) { name } }"}`, 400, "BAD_USER_INPUT", ""},
		{"unknown enum in a variable", `{"query":"query($p: Provider) { clusters(provider: $p) { name } }","variables":{"p":"AWS"}}`, 400, "BAD_USER_INPUT", ""},
		{"page size out of range", `{"query":"{ nodes(first: 100000) { totalCount } }"}`, 400, "BAD_USER_INPUT", ""},
		{"negative page size", `{"query":"{ nodes(first: -1) { totalCount } }"}`, 400, "BAD_USER_INPUT", ""},
		{"Int overflow", `{"query":"{ nodes(first: 99999999999999999999) { totalCount } }"}`, 400, "BAD_USER_INPUT", ""},
		{"samples out of range", `{"query":"query($id: ID!) { node(id: $id) { metrics(types: [GPU_UTILIZATION], start: \"2026-11-25T10:00:00Z\", end: \"2026-11-25T11:00:00Z\", samples: 5000) { type } } }","variables":{"id":"x"}}`, 400, "BAD_USER_INPUT", ""},
		{"range backwards", `{"query":"{ nodes { edges { node { metrics(types: [GPU_UTILIZATION], start: \"2026-11-25T11:00:00Z\", end: \"2026-11-25T10:00:00Z\") { type } } } } }"}`, 400, "BAD_USER_INPUT", ""},
		{"bad cursor", `{"query":"{ nodes(after: \"%%%\") { totalCount } }"}`, 400, "BAD_USER_INPUT", ""},
		{"missing required variable", `{"query":"query($id: ID!) { node(id: $id) { name } }"}`, 400, "BAD_USER_INPUT", ""},
		{"variable of the wrong type", `{"query":"query($id: ID!) { node(id: $id) { name } }","variables":{"id":{"$gt":""}}}`, 400, "BAD_USER_INPUT", ""},
		{"unknown APQ hash", `{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"` + strings.Repeat("0", 64) + `"}}}`, 400, "PERSISTED_QUERY_NOT_FOUND", ""},
	}
	// IDs whose vendor parts are well encoded but break the vendor's rules:
	// each part would reach a vendor path ("." and ".." survive escaping).
	uuid := e.ra.Fleet().Clusters[0].UUID
	const maPool = "lite-pool-1-0123456789abcdef0123456789abcdef"
	huge := strings.Repeat("a", 50_000)
	for _, c := range []struct{ name, query, id string }{
		{"delete of Run:ai pool id ..", "mutation($id: ID!) { deleteNodePool(id: $id) { accepted } }", runaisource.PoolID{Backend: "runai-a", Cluster: uuid, PoolID: "..", Name: "v100"}.Encode()},
		{"delete of Run:ai pool id .", "mutation($id: ID!) { deleteNodePool(id: $id) { accepted } }", runaisource.PoolID{Backend: "runai-a", Cluster: uuid, PoolID: ".", Name: "v100"}.Encode()},
		{"patch of Run:ai pool id 5/../6", "mutation($id: ID!) { patchNodePool(id: $id, input: {labelValue: \"x\"}) { id } }", runaisource.PoolID{Backend: "runai-a", Cluster: uuid, PoolID: "5/../6", Name: "v100"}.Encode()},
		{"update of Run:ai pool name ..", "mutation($id: ID!) { updateNodePool(id: $id, input: {labelValue: \"x\"}) { id } }", runaisource.PoolID{Backend: "runai-a", Cluster: uuid, PoolID: "5", Name: ".."}.Encode()},
		{"delete of ModelArts node pool ..", "mutation($id: ID!) { deleteNodePool(id: $id) { accepted } }", modelartssource.NodePoolID{Backend: "modelarts-a", Pool: maPool, NodePool: ".."}.Encode()},
		{"delete in ModelArts pool ..", "mutation($id: ID!) { deleteNodePool(id: $id) { accepted } }", modelartssource.NodePoolID{Backend: "modelarts-a", Pool: "..", NodePool: "nodepool-1"}.Encode()},
		{"create in Run:ai cluster ..", "mutation($id: ID!) { createNodePool(input: {clusterId: $id, name: \"x\", labelKey: \"k\", labelValue: \"v\"}) { id } }", runaisource.ClusterID{Backend: "runai-a", Cluster: ".."}.Encode()},
		{"Run:ai cluster ..", "query($id: ID!) { cluster(id: $id) { name } }", runaisource.ClusterID{Backend: "runai-a", Cluster: ".."}.Encode()},
		{"Run:ai pool name with CRLF", "query($id: ID!) { nodePool(id: $id) { name } }", runaisource.PoolID{Backend: "runai-a", Cluster: uuid, PoolID: "5", Name: "a\r\nb"}.Encode()},
		{"ModelArts node ..", "query($id: ID!) { node(id: $id) { name } }", modelartssource.NodeID{Backend: "modelarts-a", Pool: maPool, Node: ".."}.Encode()},
		{"nodes of Run:ai cluster ..", "query($id: ID!) { nodes(filter: {clusterId: $id}) { totalCount } }", runaisource.ClusterID{Backend: "runai-a", Cluster: ".."}.Encode()},
		{"telemetry of node pool ..", "query($id: String) { nodeTelemetry(type: READY_GPUS, nodePoolName: $id) { value } }", ".."},
		{"telemetry of a 50 KB node pool", "query($id: String) { nodeTelemetry(type: READY_GPUS, nodePoolName: $id) { value } }", huge},
	} {
		tests = append(tests, struct {
			name   string
			body   string
			status int
			code   string
			limit  string
		}{c.name, mustJSON(map[string]any{"query": c.query, "variables": map[string]any{"id": c.id}}), 400, "BAD_USER_INPUT", ""})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.upstreamCalls()
			// How long a refusal takes is measured by BenchmarkHostileValidation
			// (app/), not timed here.
			r := e.do(t, "POST", "/graphql", strings.NewReader(tt.body), "Content-Type", "application/json")
			if r.status != tt.status || r.code() != tt.code || r.hasData() {
				t.Fatalf("status %d code %q data %v, want %d %s and no data: %.300s", r.status, r.code(), r.hasData(), tt.status, tt.code, r.body)
			}
			if tt.limit != "" {
				ext := r.json["errors"].([]any)[0].(map[string]any)["extensions"].(map[string]any)
				if ext["limit"] != tt.limit || ext["max"] == nil {
					t.Fatalf("extensions %v, want limit %s with max", ext, tt.limit)
				}
			}
			if got := e.upstreamCalls() - before; got != 0 {
				t.Fatalf("%d upstream calls for a refused request", got)
			}
			if len(r.body) > 16<<10 {
				t.Fatalf("a %d-byte answer to a refused request", len(r.body))
			}
			if h := e.do(t, "GET", "/healthz", nil); h.status != 200 {
				t.Fatalf("/healthz %d after the request", h.status)
			}
		})
	}
	var data struct{ Clusters []cluster }
	e.query(t, `{ clusters { name } }`, nil).mustData(t, &data)
	if len(data.Clusters) != 4 {
		t.Fatal("the gateway does not answer normally after the corpus")
	}
	if strings.Contains(e.log.String(), "panic") {
		t.Fatal("a panic was logged")
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// TestDefaultLimitsAdmitRealQueries: the README's dashboard queries, a
// heavy dashboard and GraphiQL's introspection pass the default limits.
func TestDefaultLimitsAdmitRealQueries(t *testing.T) {
	t.Parallel()
	e := newProdEnv(t, prodOptions{})
	node := firstRunAINode(t, e.env, true)
	now := time.Now().UTC().Truncate(time.Minute)
	vars := map[string]any{"id": node, "from": now.Add(-time.Hour).Format(time.RFC3339), "to": now.Format(time.RFC3339)}
	for name, q := range map[string]string{
		"fleet at a glance": `{ fleetSummary { nodes readyNodes gpus readyGpus allocatedGpus
			byProvider { key nodes gpus allocatedGpus } byGpuType { key nodes gpus } } }`,
		"every pool with its nodes": `{ nodePools(first: 100) { totalCount edges { node { name provider phase cluster { name }
			nodes(first: 500) { totalCount edges { node { name status gpuType gpuCount } } } } } } }`,
		"one node's utilisation": `query($id: ID!, $from: DateTime!, $to: DateTime!) { node(id: $id) { name
			gpu: metrics(types: [GPU_UTILIZATION_PER_GPU], start: $from, end: $to, samples: 60) { type labels { key value } points { timestamp value } }
			cpu: metrics(types: [CPU_UTILIZATION, CPU_MEMORY_UTILIZATION], start: $from, end: $to, samples: 60) { type points { timestamp value } } } }`,
		"telemetry":     `{ nodeTelemetry(type: READY_GPUS, groupBy: [CLUSTER_ID, NODEPOOL]) { backend value groups { key value name } } }`,
		"dashboard":     dashboard,
		"introspection": introspectionQuery,
	} {
		r := e.post(t, q, vars)
		if r.status != 200 || !r.hasData() {
			t.Errorf("%s: status %d: %.300s", name, r.status, r.body)
		}
		errs, _ := r.json["errors"].([]any)
		for _, err := range errs {
			if c := err.(map[string]any)["extensions"].(map[string]any)["code"]; c == "LIMIT_EXCEEDED" {
				t.Errorf("%s refused by a default limit: %v", name, err)
			}
		}
	}
}

// TestLimitsAreConfigurable: tighter limits bite where the defaults do not.
func TestLimitsAreConfigurable(t *testing.T) {
	t.Parallel()
	e := newProdEnv(t, prodOptions{envOptions: envOptions{configure: func(c *app.Config) {
		c.Limits = app.LimitsConfig{MaxDepth: 3, MaxComplexity: 50, MaxAliases: 1, MaxRootFields: 2, MaxTokens: 40}
	}}})
	for _, tt := range []struct{ query, code, limit string }{
		{`{ nodes { edges { node { name } } } }`, "LIMIT_EXCEEDED", "depth"},
		{`{ nodes(first: 60) { totalCount } }`, "LIMIT_EXCEEDED", "complexity"},
		{`{ backends { a: name b: name } }`, "LIMIT_EXCEEDED", "aliases"},
		{`{ backends { name } clusters { name } x: clusters { name } }`, "LIMIT_EXCEEDED", "rootFields"},
		{"{ " + strings.Repeat("backends { name } ", 10) + "}", "GRAPHQL_PARSE_FAILED", ""},
	} {
		r := e.post(t, tt.query, nil)
		if r.code() != tt.code {
			t.Fatalf("%s: code %q, want %s: %s", tt.query, r.code(), tt.code, r.body)
		}
		if tt.limit != "" && !strings.Contains(string(r.body), `"limit":"`+tt.limit+`"`) {
			t.Fatalf("%s: %s, want limit %s", tt.query, r.body, tt.limit)
		}
	}
	if r := e.post(t, `{ nodes(first: 10) { totalCount } }`, nil); r.status != 200 || r.code() != "" {
		t.Fatalf("a query within the limits: %d %s", r.status, r.body)
	}
}

const introspectionQuery = `query IntrospectionQuery { __schema { queryType { name } mutationType { name } subscriptionType { name }
  types { ...FullType } directives { name description locations args { ...InputValue } } } }
fragment FullType on __Type { kind name description
  fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields { ...InputValue } interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason } possibleTypes { ...TypeRef } }
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } } }`
