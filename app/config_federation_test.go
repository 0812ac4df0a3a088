package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFederationConfig: graphql.federation and graphql.cost are validated
// (and so refused by --check-config) naming the field.
func TestFederationConfig(t *testing.T) {
	t.Parallel()
	key := "auth:\n  apiKeys:\n    - {name: router, sha256: " + strings.Repeat("a", 64) + "}\n"
	for _, tt := range []struct{ name, yaml, want string }{
		{"serviceKeys while off", key + "graphql:\n  federation:\n    serviceKeys: [router]\n", "graphql.federation.serviceKeys: only with graphql.federation.enabled"},
		{"serviceKeys without API keys", "graphql:\n  federation: {enabled: true, serviceKeys: [router]}\n", "graphql.federation.serviceKeys names API keys, but auth.mode is none"},
		{"serviceKeys naming no key", key + "graphql:\n  federation: {enabled: true, serviceKeys: [router, grafana]}\n", "graphql.federation.serviceKeys[1]: no auth.apiKeys entry has this name"},
		{"unknown cost mode", "graphql:\n  cost: debug\n", `graphql.cost "debug": use header`},
		{"unknown federation key", "graphql:\n  federation: {enable: true}\n", "graphql.federation.enable: unknown key"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseConfigEnv([]byte(minimal+tt.yaml), nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
	c, err := ParseConfigEnv([]byte(minimal+key+"graphql:\n  federation: {enabled: true, serviceKeys: [router]}\n  cost: always\n"), nil)
	if err != nil || !c.GraphQL.Federation.Enabled || c.costMode() != CostAlways {
		t.Fatalf("a valid federation config: %v %+v", err, c)
	}
	if c, _ := ParseConfigEnv([]byte(minimal), nil); c.GraphQL.Federation.Enabled || c.costMode() != CostOnRequest {
		t.Errorf("defaults: federation %v, cost %s; want off, header", c.GraphQL.Federation.Enabled, c.costMode())
	}
}

// TestAllowListFormats: the allow-list reads Relay's map and Apollo's
// manifest, and refuses a manifest it cannot trust.
func TestAllowListFormats(t *testing.T) {
	t.Parallel()
	doc := "query A { backends { name } }"
	write := func(body string) string {
		p := filepath.Join(t.TempDir(), "ops.json")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	m, err := loadAllowList(write(`{"format": "apollo-persisted-query-manifest", "version": 1, "operations": [
	  {"id": "my-id-1", "body": "query A { backends { name } }", "name": "A", "type": "query"}]}`))
	if err != nil || m["my-id-1"] != doc || m[documentHash(doc)] != doc {
		t.Fatalf("manifest with a custom id: %v %v", m, err)
	}
	for body, want := range map[string]string{
		`{"format": "apollo-persisted-query-manifest", "version": 2, "operations": []}`:                                                                                         "version 2",
		`{"format": "relay", "version": 1}`:                                                                                                                                     "want {\"format\": \"apollo-persisted-query-manifest\"",
		`{"format": "apollo-persisted-query-manifest", "version": 1, "operations": []}`:                                                                                         "lists no operations",
		`{"format": "apollo-persisted-query-manifest", "version": 1, "operations": [{"id": "x", "type": "query"}]}`:                                                             "operations[0] needs an id and a body",
		`{"format": "apollo-persisted-query-manifest", "version": 1, "operations": [{"id": "x", "body": "{a}", "type": "q"}]}`:                                                  "operations[0].type",
		`{"format": "apollo-persisted-query-manifest", "version": 1, "operations": [{"id": "x", "body": "{a}", "type": "query"}, {"id": "X", "body": "{b}", "type": "query"}]}`: "operations[1]: id X… names two different documents",
		`{"` + strings.Repeat("0", 64) + `": "{ a }"}`:                                                                                                                          "is not the SHA-256 of its document",
	} {
		if _, err := loadAllowList(write(body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%.60s…: error %v, want %q", body, err, want)
		}
	}
}
