package tests

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetgraph/fleetgraph/app"
	"github.com/fleetgraph/fleetgraph/fleet/runai"
)

// The gateway as an Apollo Federation v2 subgraph (graphql.federation).

func federated(c *app.Config) { c.GraphQL.Federation.Enabled = true }

// stats is both simulators' request counts by route.
func (e *env) stats() map[string]int64 {
	out := maps.Clone(e.ra.Control().Stats())
	for k, v := range e.ma.Control().Stats() {
		out["modelarts "+k] = v
	}
	return out
}

// warm fetches the Run:ai token, which every later request reuses, and
// zeroes the counters: what follows counts only listings.
func (e *env) warm(t *testing.T) {
	t.Helper()
	e.query(t, `{ clusters { id } }`, nil)
	e.resetCounters()
}

type entity struct {
	Typename string `json:"__typename"`
	ID, Name string
}

const entitiesQuery = `query($representations: [_Any!]!) { _entities(representations: $representations) {
  __typename ... on Node { id name status } ... on NodePool { id name } ... on Cluster { id name } } }`

func TestFederationIsOffByDefault(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	for _, q := range []string{`{ _service { sdl } }`, `{ _entities(representations: []) { __typename } }`} {
		if r := e.query(t, q, nil); len(r.Errors) == 0 || r.codes()[0] != "GRAPHQL_VALIDATION_FAILED" {
			t.Errorf("%s without graphql.federation: %+v, want GRAPHQL_VALIDATION_FAILED", q, r.Errors)
		}
	}
	var d struct {
		Schema struct {
			QueryType struct{ Fields []struct{ Name string } }
			Types     []struct{ Name string }
		} `json:"__schema"`
	}
	e.query(t, `{ __schema { queryType { fields { name } } types { name } } }`, nil).mustData(t, &d)
	for _, f := range d.Schema.QueryType.Fields {
		if strings.HasPrefix(f.Name, "_") {
			t.Errorf("Query.%s is served without graphql.federation", f.Name)
		}
	}
	for _, ty := range d.Schema.Types {
		if ty.Name == "_Any" || ty.Name == "_Entity" || ty.Name == "_Service" || ty.Name == "FieldSet" || strings.HasSuffix(ty.Name, "ByIDsInput") {
			t.Errorf("type %s is served without graphql.federation", ty.Name)
		}
	}
}

// TestEntitiesCostWhatTheListingsCost: a router resolving every node of
// the fleet by id makes the calls nodes(first: 200) makes, route by route
// (a node listing per cluster), never one per representation.
func TestEntitiesCostWhatTheListingsCost(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{configure: federated})
	e.warm(t)
	var list struct {
		Nodes struct {
			TotalCount int
			Edges      []struct{ Node struct{ ID, Name string } }
		}
	}
	e.query(t, `{ nodes(first: 200) { totalCount edges { node { id name } } } }`, nil).mustData(t, &list)
	byListing := e.stats()
	if len(list.Nodes.Edges) < 10 {
		t.Fatalf("the fleet has %d nodes: too few to tell batching from a call each", len(list.Nodes.Edges))
	}
	e.resetCounters()
	reps := make([]map[string]any, len(list.Nodes.Edges))
	for i, n := range list.Nodes.Edges {
		reps[i] = map[string]any{"__typename": "Node", "id": n.Node.ID}
	}
	var got struct {
		Entities []entity `json:"_entities"`
	}
	e.query(t, entitiesQuery, map[string]any{"representations": reps}).mustData(t, &got)
	if len(got.Entities) != len(reps) {
		t.Fatalf("%d entities for %d representations", len(got.Entities), len(reps))
	}
	for i, n := range got.Entities {
		if n.ID != list.Nodes.Edges[i].Node.ID || n.Name != list.Nodes.Edges[i].Node.Name {
			t.Errorf("_entities[%d] = %+v, want node %+v (in representation order)", i, n, list.Nodes.Edges[i].Node)
		}
	}
	byEntities := e.stats()
	// nodes() lists the clusters to find them; an ID names its cluster.
	t.Logf("%d node representations: %v", len(reps), byEntities)
	delete(byListing, "GET /api/v1/clusters")
	delete(byListing, "modelarts GET /v2/{project_id}/pools")
	if !maps.Equal(byEntities, byListing) {
		t.Errorf("%d node representations made %v, nodes(first: 200) made %v (without the cluster listing)", len(reps), byEntities, byListing)
	}

	// Node pools and clusters likewise: their listings, once.
	var pools struct {
		NodePools struct {
			Edges []struct{ Node struct{ ID string } }
		}
		Clusters []struct{ ID string }
	}
	e.resetCounters()
	e.query(t, `{ nodePools(first: 200) { edges { node { id } } } clusters { id } }`, nil).mustData(t, &pools)
	byListing = e.stats()
	e.resetCounters()
	reps = reps[:0]
	for _, p := range pools.NodePools.Edges {
		reps = append(reps, map[string]any{"__typename": "NodePool", "id": p.Node.ID})
	}
	for _, c := range pools.Clusters {
		reps = append(reps, map[string]any{"__typename": "Cluster", "id": c.ID})
	}
	var typed struct {
		Entities []entity `json:"_entities"`
	}
	e.query(t, entitiesQuery, map[string]any{"representations": reps}).mustData(t, &typed)
	for i, got := range typed.Entities {
		if got.ID != reps[i]["id"] || got.Typename != reps[i]["__typename"] {
			t.Errorf("_entities[%d] = %+v, want %v", i, got, reps[i])
		}
	}
	t.Logf("%d pool and cluster representations: %v", len(reps), byListing)
	if byEntities := e.stats(); !maps.Equal(byEntities, byListing) || len(typed.Entities) != len(reps) {
		t.Errorf("%d pool and cluster representations made %v, nodePools + clusters made %v", len(reps), byEntities, byListing)
	}
}

// TestEntitiesErrorsArePerRepresentation: malformed and unknown
// representations are an error each, at their index; the others resolve.
func TestEntitiesErrorsArePerRepresentation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{configure: federated})
	var list struct {
		Nodes struct {
			Edges []struct{ Node struct{ ID, Name string } }
		}
		Clusters []struct{ ID, Name, VendorID string }
	}
	e.query(t, `{ nodes(first: 2) { edges { node { id name } } } clusters(provider: RUNAI) { id name vendorId } }`, nil).mustData(t, &list)
	node, cluster := list.Nodes.Edges[0].Node, list.Clusters[0]
	gone := runai.NodeID{Backend: "runai-a", Cluster: cluster.VendorID, Node: "no-such-node"}.Encode()
	reps := []any{
		map[string]any{"__typename": "Node", "id": node.ID},
		map[string]any{"__typename": "Team", "id": "t1"},          // not an entity here
		map[string]any{"id": node.ID},                             // no __typename
		map[string]any{"__typename": "Node"},                      // no id
		map[string]any{"__typename": "Node", "id": 7},             // not a string
		map[string]any{"__typename": "Node", "id": "not-an-id"},   // does not decode
		map[string]any{"__typename": "Node", "id": cluster.ID},    // a cluster's id as a node's
		map[string]any{"__typename": "Cluster", "id": cluster.ID}, // fine
		map[string]any{"__typename": "Node", "id": gone},          // decodes, names no node
	}
	r := e.query(t, entitiesQuery, map[string]any{"representations": reps})
	var d struct {
		Entities []*entity `json:"_entities"`
	}
	if err := json.Unmarshal(r.Data, &d); err != nil || len(d.Entities) != len(reps) {
		t.Fatalf("data %s (%v): want %d entries", r.Data, err, len(reps))
	}
	if n := d.Entities[0]; n == nil || n.ID != node.ID || n.Name != node.Name {
		t.Errorf("_entities[0] = %+v, want node %+v", n, node)
	}
	if c := d.Entities[7]; c == nil || c.Typename != "Cluster" || c.Name != cluster.Name {
		t.Errorf("_entities[7] = %+v, want cluster %+v", c, cluster)
	}
	want := map[int]string{1: "BAD_USER_INPUT", 2: "BAD_USER_INPUT", 3: "BAD_USER_INPUT", 4: "BAD_USER_INPUT",
		5: "BAD_USER_INPUT", 6: "BAD_USER_INPUT", 8: "NOT_FOUND"}
	seen := map[int]string{}
	for _, er := range r.Errors {
		if len(er.Path) != 2 || er.Path[0] != "_entities" {
			t.Errorf("error without an _entities[i] path: %+v", er)
			continue
		}
		i := int(er.Path[1].(float64))
		seen[i], _ = er.Extensions["code"].(string)
	}
	if !maps.Equal(seen, want) {
		t.Errorf("error codes by representation %v, want %v (errors %+v)", seen, want, r.Errors)
	}
	for i := range want {
		if d.Entities[i] != nil {
			t.Errorf("_entities[%d] = %+v, want null beside its error", i, d.Entities[i])
		}
	}
}

// TestServiceSDLForTheRouter: _service answers with introspection off
// (gqlgen refuses it then), and with serviceKeys only to the router's key.
func TestServiceSDLForTheRouter(t *testing.T) {
	t.Parallel()
	off := false
	e := newEnv(t, envOptions{configure: func(c *app.Config) {
		federated(c)
		c.GraphQL.Introspection = &off
		c.Auth.APIKeys = []app.APIKeyConfig{{Name: "router", SHA256: sha256Hex("router-key")}, {Name: "grafana", SHA256: sha256Hex("grafana-key")}}
		c.GraphQL.Federation.ServiceKeys = []string{"router"}
	}})
	var d struct {
		Service struct{ SDL string } `json:"_service"`
	}
	e.query(t, `{ _service { sdl } }`, nil, "X-API-Key", "router-key").mustData(t, &d)
	for _, want := range []string{`@link(url: "https://specs.apollo.dev/federation/v2.9"`, `extend type Node @key(fields: "id")`, "directive @cost(weight: Int!)", "type Query {"} {
		if !strings.Contains(d.Service.SDL, want) {
			t.Errorf("the SDL lacks %q", want)
		}
	}
	if r := e.query(t, `{ _service { sdl } }`, nil, "X-API-Key", "grafana-key"); r.Data != nil && string(r.Data) != "null" || len(r.Errors) != 1 || r.codes()[0] != "FORBIDDEN" {
		t.Errorf("_service with another API key: %s %+v, want FORBIDDEN and no data", r.Data, r.Errors)
	}
	// Introspection stays off, for the router too, beside _service or not.
	for _, q := range []string{`{ __schema { queryType { name } } }`, `{ _service { sdl } __schema { queryType { name } } }`} {
		if r := e.query(t, q, nil, "X-API-Key", "router-key"); len(r.Errors) == 0 || r.codes()[0] != "GRAPHQL_VALIDATION_FAILED" {
			t.Errorf("%s with introspection off: %+v", q, r.Errors)
		}
	}
}

// TestCostExtension: on request, extensions.cost gives the directives'
// estimate beside the calls and cache hits the request really made.
func TestCostExtension(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.warm(t)
	end := time.Now().UTC().Truncate(time.Minute)
	q := `query($s: DateTime!, $e: DateTime!) { nodes(first: 50) { edges { node { name
	  metrics(types: [GPU_UTILIZATION], start: $s, end: $e, samples: 5) { type } } } } }`
	vars := map[string]any{"s": end.Add(-time.Hour).Format(time.RFC3339), "e": end.Format(time.RFC3339)}
	if r := e.post(t, q, vars); r.json["extensions"] != nil {
		t.Errorf("extensions without X-Fleetgraph-Cost: %v", r.json["extensions"])
	}
	e.resetCounters()
	r := e.post(t, q, vars, "X-Fleetgraph-Cost", "true")
	ext, _ := r.json["extensions"].(map[string]any)
	cost, _ := ext["cost"].(map[string]any)
	// nodes weighs 2 (clusters, a node listing per cluster), each of the 50
	// nodes' metrics 1 (on its types argument).
	if cost["estimatedUpstreamCalls"] != float64(2+50) || cost["upstreamCalls"] != float64(e.upstreamCalls()) || cost["cacheHits"] != float64(0) {
		t.Errorf("extensions.cost %v, want estimate 52, %d upstream calls (the simulators' count), 0 cache hits", cost, e.upstreamCalls())
	}
}

// TestAllowListReadsApolloManifest: the allow-list takes Apollo's
// persisted-query manifest; clients send an operation's id as its hash.
func TestAllowListReadsApolloManifest(t *testing.T) {
	t.Parallel()
	doc := `query Backends { backends { name } }`
	manifest := map[string]any{"format": "apollo-persisted-query-manifest", "version": 1,
		"operations": []any{map[string]any{"id": sha256Hex(doc), "body": doc, "name": "Backends", "type": "query"}}}
	raw, _ := json.Marshal(manifest)
	path := filepath.Join(t.TempDir(), "persisted-query-manifest.json")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, envOptions{configure: func(c *app.Config) { c.GraphQL.AllowList = path }})
	byID := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": sha256Hex(doc)}}
	r := e.do(t, "POST", "/graphql", strings.NewReader(mustJSON(map[string]any{"operationName": "Backends", "extensions": byID})), "Content-Type", "application/json")
	if r.status != 200 || !strings.Contains(string(r.body), `"backends":[`) {
		t.Errorf("manifest operation by id: %d %s", r.status, r.body)
	}
	if r := e.post(t, doc, nil); r.status != 200 || r.code() != "" {
		t.Errorf("manifest operation sent whole: %d %s", r.status, r.body)
	}
	if r := e.post(t, `{ clusters { id } }`, nil); r.code() != "OPERATION_NOT_ALLOWED" {
		t.Errorf("a document outside the manifest: %d %s", r.status, r.body)
	}
}
