package tests

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/fleetgraph/fleetgraph/app"
)

const grafanaKey = "fg_test_7d1c0e5b9a2f4e3d8c6b"

// withAPIKeys switches the gateway to apiKey mode with one key, stored as
// its hash.
func withAPIKeys(c *app.Config) {
	c.Auth.APIKeys = []app.APIKeyConfig{{Name: "grafana", SHA256: sha256Hex(grafanaKey)}}
}

func withPassThrough(c *app.Config) {
	c.RunAI[0].ClientID, c.RunAI[0].ClientSecret, c.RunAI[0].PassThrough = "", "", true
	c.ModelArts[0].AccessKey, c.ModelArts[0].SecretKey, c.ModelArts[0].PassThrough = "", "", true
}

func TestAPIKeyMode(t *testing.T) {
	t.Parallel()
	e := newProdEnv(t, prodOptions{envOptions: envOptions{configure: withAPIKeys}})
	const q = `{ clusters { name } }`
	refused := []struct {
		name   string
		header []string
	}{
		{"no key", nil},
		{"no key, json", []string{"Accept", appJSON}},
		{"wrong key", []string{"X-API-Key", "fg_guess"}},
		{"wrong key in Authorization", []string{"Authorization", "ApiKey fg_guess"}},
		{"the hash instead of the key", []string{"X-API-Key", sha256Hex(grafanaKey)}},
		{"a bearer is not an API key", []string{"Authorization", "Bearer " + grafanaKey}},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			r := e.post(t, q, nil, tt.header...)
			if r.status != http.StatusUnauthorized || r.code() != "UNAUTHENTICATED" || r.hasData() {
				t.Fatalf("status %d code %q: %s", r.status, r.code(), r.body)
			}
			if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "ApiKey") {
				t.Fatalf("WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
			}
		})
	}
	if n := e.upstreamCalls(); n != 0 {
		t.Fatalf("%d upstream calls without a valid key, want 0", n)
	}
	// GET is refused too, and so is a refused request's GraphQL work: even a
	// parse error is not reported to an unauthenticated caller.
	if r := e.do(t, "GET", "/graphql?"+url.Values{"query": {"{"}}.Encode(), nil); r.status != 401 {
		t.Fatalf("GET without key: %d", r.status)
	}

	for _, header := range [][]string{{"X-API-Key", grafanaKey}, {"Authorization", "ApiKey " + grafanaKey}, {"authorization", "apikey " + grafanaKey}} {
		var data struct{ Clusters []cluster }
		r := e.query(t, q, nil, header...)
		r.mustData(t, &data)
		if len(data.Clusters) != 4 {
			t.Fatalf("%v: %d clusters", header, len(data.Clusters))
		}
	}
	// The key names the caller in the log, and never appears anywhere.
	var named bool
	for _, l := range e.log.lines(t) {
		if l["msg"] == "request" && l["caller"] == "grafana" {
			named = true
		}
	}
	if !named {
		t.Fatal("no request line names the caller grafana")
	}
	if strings.Contains(e.log.String(), grafanaKey) {
		t.Fatal("the API key was logged")
	}
	if e.raSeen.anyContains(grafanaKey) || e.maSeen.anyContains(grafanaKey) {
		t.Fatal("the API key reached a vendor")
	}
	// Health and metrics stay open: probes carry no key.
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		if r := e.do(t, "GET", p, nil); r.status != 200 {
			t.Fatalf("%s: %d", p, r.status)
		}
	}
}

// TestCredentialsReachOnlyTheirBackend proves, with what the simulators
// received, that each caller credential goes to its own vendor only, and
// that the API key goes to none.
func TestCredentialsReachOnlyTheirBackend(t *testing.T) {
	t.Parallel()
	e := newProdEnv(t, prodOptions{envOptions: envOptions{configure: func(c *app.Config) { withPassThrough(c); withAPIKeys(c) }}})
	raToken, maToken := e.ra.IssueToken(), e.ma.IssueToken()
	var data struct{ Clusters []cluster }
	e.query(t, `{ clusters { name provider } nodes(first: 500) { totalCount } }`, nil,
		"X-API-Key", grafanaKey, "Authorization", "Bearer "+raToken, "X-Auth-Token", maToken).mustData(t, &data)
	if len(data.Clusters) != 4 {
		t.Fatalf("%d clusters", len(data.Clusters))
	}
	if !slices.Contains(e.raSeen.header("Authorization"), "Bearer "+raToken) {
		t.Fatal("Run:ai did not receive the caller's bearer")
	}
	if !slices.Contains(e.maSeen.header("X-Auth-Token"), maToken) {
		t.Fatal("ModelArts did not receive the caller's token")
	}
	if e.raSeen.anyContains(maToken) {
		t.Fatal("the ModelArts token reached Run:ai")
	}
	if e.maSeen.anyContains(raToken) {
		t.Fatal("the Run:ai bearer reached ModelArts")
	}
	if e.raSeen.anyContains(grafanaKey) || e.maSeen.anyContains(grafanaKey) {
		t.Fatal("the API key reached a vendor")
	}
}

// TestServiceModeKeepsCallerCredentialsHome: with service credentials,
// whatever a caller sends stays in the gateway.
func TestServiceModeKeepsCallerCredentialsHome(t *testing.T) {
	t.Parallel()
	e := newProdEnv(t, prodOptions{envOptions: envOptions{configure: withAPIKeys}})
	var data struct{ Clusters []cluster }
	e.query(t, `{ clusters { name } }`, nil, "X-API-Key", grafanaKey,
		"Authorization", "Bearer caller-bearer-123", "X-Auth-Token", "caller-token-456").mustData(t, &data)
	if len(data.Clusters) != 4 {
		t.Fatalf("%d clusters", len(data.Clusters))
	}
	for _, s := range []string{"caller-bearer-123", "caller-token-456", grafanaKey} {
		if e.raSeen.anyContains(s) || e.maSeen.anyContains(s) {
			t.Fatalf("%q reached a vendor in service mode", s)
		}
	}
	// And the gateway's own secrets are never logged.
	for _, s := range []string{"demo-secret", secretKey} {
		if strings.Contains(e.log.String(), s) {
			t.Fatalf("secret %q in the log", s)
		}
	}
}

// TestPassThroughModeWithoutAnyCredential: each backend answers
// UNAUTHENTICATED for its fields, before any upstream call.
func TestPassThroughModeWithoutAnyCredential(t *testing.T) {
	t.Parallel()
	e := newProdEnv(t, prodOptions{envOptions: envOptions{configure: withPassThrough}})
	if m := e.gateway; m == nil {
		t.Fatal("no gateway")
	}
	r := e.post(t, `{ clusters { name } nodes { totalCount } }`, nil)
	if r.code() != "UNAUTHENTICATED" {
		t.Fatalf("code %q: %s", r.code(), r.body)
	}
	if n := e.upstreamCalls(); n != 0 {
		t.Fatalf("%d upstream calls without credentials", n)
	}
	if r := e.do(t, "GET", "/readyz", nil); !strings.Contains(string(r.body), `"auth":"passThrough"`) {
		t.Fatalf("readyz: %s", r.body)
	}
}
