package app

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fleetgraph/fleetgraph/backends/modelarts/aom"
)

const minimal = `
runai:
  - name: runai-a
    baseURL: https://runai.example
    clientID: id
    clientSecret: s
`

var exampleEnv = []string{"RUNAI_CLIENT_SECRET=rs", "HW_ACCESS_KEY=ak", "HW_SECRET_KEY=sk"}

func TestExampleConfigIsValidAndDocumentsTheDefaults(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../fleetgraph.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseConfigEnv(raw, exampleEnv)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.EffectiveLimits(); got != DefaultLimits {
		t.Errorf("example limits %+v, defaults %+v", got, DefaultLimits)
	}
	// What the example writes out is what an empty section means.
	empty := &Config{}
	for name, pair := range map[string][2]time.Duration{
		"requestTimeout":             {c.requestTimeout(), empty.requestTimeout()},
		"server.readHeaderTimeout":   {time.Duration(c.Server.ReadHeaderTimeout), 10 * time.Second},
		"server.readTimeout":         {time.Duration(c.Server.ReadTimeout), 30 * time.Second},
		"server.writeTimeout":        {time.Duration(c.Server.WriteTimeout), empty.requestTimeout() + 10*time.Second},
		"server.idleTimeout":         {time.Duration(c.Server.IdleTimeout), 120 * time.Second},
		"server.shutdownTimeout":     {time.Duration(c.Server.ShutdownTimeout), 30 * time.Second},
		"cors.maxAge":                {time.Duration(c.CORS.MaxAge), 10 * time.Minute},
		"graphql.websocketKeepAlive": {time.Duration(c.GraphQL.WebsocketKeepAlive), 15 * time.Second},
	} {
		if pair[0] != pair[1] {
			t.Errorf("%s: example %v, default %v", name, pair[0], pair[1])
		}
	}
	if !c.introspection() || !c.graphiql() || c.GraphQL.APQ.CacheSize != 1000 || *c.Tracing.SampleRatio != 1 || c.Log.Format != "json" {
		t.Errorf("example graphql/tracing/log %+v %+v %+v", c.GraphQL, c.Tracing, c.Log)
	}
	if a := c.ModelArts[0].AOM; a == nil || a.NodeLabel != aom.DefaultNodeLabel || time.Duration(a.Timeout) != 10*time.Second || len(a.Queries) != 0 {
		t.Errorf("example aom: %+v, want the defaults (nodeLabel %s, timeout 10s, no query overrides)", a, aom.DefaultNodeLabel)
	}
	if len(c.RunAI) != 2 || len(c.ModelArts) != 1 || c.AuthMode() != AuthAPIKey {
		t.Errorf("example backends/auth: %d %d %s", len(c.RunAI), len(c.ModelArts), c.AuthMode())
	}
	// Every field of Config appears in the example.
	for env, path := range EnvVariables() {
		if !strings.Contains(string(raw), lastKey(path)+":") {
			t.Errorf("%s (%s) is not in the example", path, env)
		}
	}
}

func lastKey(path string) string {
	if i := strings.LastIndex(path, "."); i >= 0 {
		return path[i+1:]
	}
	return path
}

// TestConfigErrorsNameTheField: every refusal names the field at fault.
func TestConfigErrorsNameTheField(t *testing.T) {
	t.Parallel()
	withBackend := func(extra string) string { return minimal + extra }
	tests := []struct {
		name string
		yaml string
		env  []string
		want string
	}{
		{"no backends", "listen: x", nil, "no backends"},
		{"unknown top-level key", withBackend("lisen: x\n"), nil, "lisen: unknown key (line"},
		{"unknown nested key", withBackend("limits:\n  maxDepht: 3\n"), nil, "limits.maxDepht: unknown key"},
		{"unknown key in a list item", "runai:\n  - name: a\n    baseUrl: https://x\n", nil, "runai[0].baseUrl: unknown key"},
		{"wrong type", withBackend("limits:\n  maxDepth: deep\n"), nil, "limits.maxDepth:"},
		{"bad duration", withBackend("requestTimeout: soon\n"), nil, "requestTimeout:"},
		{"bad duration nested", withBackend("server:\n  idleTimeout: 5 minutes\n"), nil, "server.idleTimeout:"},
		{"unset variable", "runai:\n  - name: a\n    baseURL: https://x\n    clientID: i\n    clientSecret: ${NOPE_SECRET}\n", nil, "runai[0].clientSecret: environment variable NOPE_SECRET is not set"},
		{"missing baseURL", "runai:\n  - name: a\n    clientID: i\n    clientSecret: s\n", nil, "runai[0].baseURL is required"},
		{"relative baseURL", "runai:\n  - name: a\n    baseURL: runai.example\n    passThrough: true\n", nil, "runai[0].baseURL"},
		{"unknown Run:ai API version", "runai:\n  - name: a\n    baseURL: https://x\n    passThrough: true\n    apiVersion: \"2.25\"\n", nil, "runai[0].apiVersion must be \"2.22\", \"2.23\" or \"2.24\""},
		{"Run:ai API version as a number", "runai:\n  - name: a\n    baseURL: https://x\n    passThrough: true\n    apiVersion: 2.3\n", nil, "runai[0].apiVersion must be"},
		{"both auth modes", "runai:\n  - name: a\n    baseURL: https://x\n    clientID: i\n    clientSecret: s\n    passThrough: true\n", nil, "runai[0]: set clientID and clientSecret, or passThrough"},
		{"a rate limit of 0", "runai:\n  - name: a\n    baseURL: https://x\n    passThrough: true\n    rateLimit: {perSecond: 0}\n", nil, "runai[0].rateLimit.perSecond must be a rate above 0"},
		{"a negative burst", withBackend("modelarts:\n  - name: m\n    endpoint: https://m\n    projectID: p\n    token: t\n    rateLimit: {perSecond: 2, burst: -1}\n"), nil, "modelarts[0].rateLimit.burst must be within 0..1000000"},
		{"duplicate name", withBackend("modelarts:\n  - name: runai-a\n    endpoint: https://m\n    projectID: p\n    token: t\n"), nil, "modelarts[0].name \"runai-a\" is already used by runai[0]"},
		{"two ModelArts modes", withBackend("modelarts:\n  - name: m\n    endpoint: https://m\n    projectID: p\n    token: t\n    passThrough: true\n"), nil, "modelarts[0]: set exactly one"},
		{"IAM without password", withBackend("modelarts:\n  - name: m\n    endpoint: https://m\n    projectID: p\n    iam: {endpoint: https://iam, username: u, domain: d}\n"), nil, "modelarts[0].iam.password is required"},
		{"bad auth mode", withBackend("auth:\n  mode: open\n"), nil, "auth.mode \"open\""},
		{"passThrough mode over service credentials", withBackend("auth:\n  mode: passThrough\n"), nil, "auth.mode passThrough: runai[0] uses service credentials"},
		{"apiKey mode without keys", withBackend("auth:\n  mode: apiKey\n"), nil, "auth.apiKeys: mode apiKey needs at least one key"},
		{"a key instead of its hash", withBackend("auth:\n  apiKeys:\n    - name: g\n      sha256: my-secret-key\n"), nil, "auth.apiKeys[0].sha256 must be 64 hex digits"},
		{"key without name", withBackend("auth:\n  apiKeys:\n    - sha256: " + strings.Repeat("a", 64) + "\n"), nil, "auth.apiKeys[0].name is required"},
		{"keys with mode none", withBackend("auth:\n  mode: none\n  apiKeys:\n    - name: g\n      sha256: " + strings.Repeat("a", 64) + "\n"), nil, "auth.apiKeys are only used with mode apiKey"},
		{"negative limit", withBackend("limits:\n  maxDepth: -1\n"), nil, "limits.maxDepth must not be negative"},
		{"negative stream limit", withBackend("subscriptions:\n  maxStreamsPerClient: -1\n"), nil, "subscriptions.maxStreamsPerClient must not be negative"},
		{"write timeout under request timeout", withBackend("requestTimeout: 30s\nserver:\n  writeTimeout: 20s\n"), nil, "server.writeTimeout (20s) must exceed requestTimeout"},
		{"origin with a path", withBackend("cors:\n  allowedOrigins: [https://a.example/app]\n"), nil, "cors.allowedOrigins[0]"},
		{"origin without scheme", withBackend("cors:\n  allowedOrigins: [a.example]\n"), nil, "cors.allowedOrigins[0]"},
		{"tracing endpoint", withBackend("tracing:\n  endpoint: collector:4318\n"), nil, "tracing.endpoint"},
		{"sample ratio", withBackend("tracing:\n  endpoint: http://c:4318\n  sampleRatio: 2\n"), nil, "tracing.sampleRatio 2 must be within 0..1"},
		{"log format", withBackend("log:\n  format: xml\n"), nil, "log.format \"xml\""},
		{"log level", withBackend("log:\n  level: loud\n"), nil, "log.level \"loud\""},
		{"backend transport", withBackend("resilience:\n  transport: curl\n"), nil, "resilience.transport \"curl\""},
		{"redis url and addrs", withBackend("redis:\n  url: redis://r:6379\n  addrs: [r:6379]\n"), nil, "redis: set url or addrs, not both"},
		{"redis url", withBackend("redis:\n  url: http://r\n"), nil, "redis.url"},
		{"redis mode unknown", withBackend("redis:\n  mode: shard\n  addrs: [r:6379]\n"), nil, `redis.mode "shard": use cluster, sentinel or standalone`},
		{"redis cluster with a url", withBackend("redis:\n  mode: cluster\n  url: redis://r:6379\n"), nil, "redis.mode cluster: list the seed nodes in redis.addrs"},
		{"redis sentinel without masterName", withBackend("redis:\n  mode: sentinel\n  addrs: [s:26379]\n"), nil, "redis.mode sentinel: set redis.masterName"},
		{"redis standalone with two servers", withBackend("redis:\n  mode: standalone\n  addrs: [a:6379, b:6379]\n"), nil, "redis.mode standalone takes one server"},
		{"response cache without redis", withBackend("cache:\n  responses:\n    enabled: true\n"), nil, "cache.responses.enabled needs the shared cache"},
		{"response cache outliving a TTL", withBackend("redis:\n  url: redis://r:6379\ncache:\n  responses:\n    enabled: true\n    ttl: 20s\n"), nil, "cache.responses.ttl 20s is longer than the shortest cache TTL (5s)"},
		{"negative response cache budget", withBackend("cache:\n  responses:\n    maxBytes: -1\n"), nil, "cache.responses.ttl and cache.responses.maxBytes must not be negative"},
		{"missing allow-list", withBackend("graphql:\n  allowList: /no/such/operations.json\n"), nil, "graphql.allowList"},
		{"missing secret file", "runai:\n  - name: a\n    baseURL: https://x\n    clientID: i\n    clientSecretFile: /no/such/secret\n", nil, "runai[0].clientSecretFile"},
		{"env override of an unknown field", minimal, []string{"FLEETGRAPH_LIMITS_MAXDEPHT=3"}, "FLEETGRAPH_LIMITS_MAXDEPHT names no configuration field"},
		{"env override of the wrong type", minimal, []string{"FLEETGRAPH_LIMITS_MAXDEPTH=deep"}, "limits.maxDepth"},
		{"env override that breaks validation", minimal, []string{"FLEETGRAPH_AUTH_MODE=passThrough"}, "auth.mode passThrough: runai[0]"},
		{"not a mapping", "- a\n- b\n", nil, "must be a mapping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseConfigEnv([]byte(tt.yaml), tt.env)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestEnvironmentOverrides(t *testing.T) {
	t.Parallel()
	c, err := ParseConfigEnv([]byte(minimal+"limits:\n  maxDepth: 5\n"), []string{
		"FLEETGRAPH_LISTEN=0.0.0.0:9000",
		"FLEETGRAPH_LIMITS_MAXDEPTH=8",
		"FLEETGRAPH_REQUESTTIMEOUT=5s",
		"FLEETGRAPH_GRAPHQL_INTROSPECTION=false",
		"FLEETGRAPH_CORS_ALLOWEDORIGINS=https://a.example, https://b.example",
		"FLEETGRAPH_TRACING_SAMPLERATIO=0.25",
		"FLEETGRAPH_TRACING_ENDPOINT=http://otel:4318",
		"FLEETGRAPH_REDIS_URL=redis://redis:6379/0",
		"FLEETGRAPH_MUTATIONS_DISABLED=true",
		"OTHER_VARIABLE=ignored",
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "0.0.0.0:9000" || c.Limits.MaxDepth != 8 || c.requestTimeout() != 5*time.Second || c.introspection() ||
		!reflect.DeepEqual(c.CORS.AllowedOrigins, []string{"https://a.example", "https://b.example"}) ||
		*c.Tracing.SampleRatio != 0.25 || c.Redis.URL != "redis://redis:6379/0" || !c.Mutations.Disabled {
		t.Fatalf("overrides not applied: %+v", c)
	}
	// Demo mode: overrides on a configuration built in code.
	demo := &Config{Listen: "127.0.0.1:8080", Limits: LimitsConfig{MaxAliases: 3}}
	if err := demo.ApplyEnv([]string{"FLEETGRAPH_LOG_FORMAT=text", "FLEETGRAPH_LIMITS_MAXDEPTH=4"}); err != nil {
		t.Fatal(err)
	}
	if demo.Log.Format != "text" || demo.Limits.MaxDepth != 4 || demo.Limits.MaxAliases != 3 || demo.Listen != "127.0.0.1:8080" {
		t.Fatalf("demo overrides: %+v", demo)
	}
	vars := EnvVariables()
	if vars["FLEETGRAPH_LIMITS_MAXDEPTH"] != "limits.maxDepth" || vars["FLEETGRAPH_SERVER_SHUTDOWNDELAY"] != "server.shutdownDelay" {
		t.Fatalf("EnvVariables: %v", vars)
	}
	for k := range vars {
		if strings.HasPrefix(k, "FLEETGRAPH_RUNAI") || strings.HasPrefix(k, "FLEETGRAPH_AUTH_APIKEYS") {
			t.Fatalf("%s: lists of structs have no overrides", k)
		}
	}
}

func TestSecretsFromFilesAndComments(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	rs, sk, pw, tok := write("rs", "runai-secret\n"), write("sk", "hw-secret-key\r\n"), write("pw", "iam-pass"), write("tok", "static-token\n")
	c, err := ParseConfigEnv([]byte(`
# ${NOT_SET_BUT_ONLY_IN_A_COMMENT}
runai:
  - name: r
    baseURL: https://r.example
    clientID: id
    clientSecretFile: `+rs+`
modelarts:
  - name: m1
    endpoint: https://m.example
    projectID: p
    accessKey: AK
    secretKeyFile: `+sk+`
  - name: m2
    endpoint: https://m.example
    projectID: p
    iam: {endpoint: https://iam.example, username: u, passwordFile: `+pw+`, domain: d, project: pr}
  - name: m3
    endpoint: https://m.example
    projectID: p
    tokenFile: `+tok+`
redis:
  url: redis://r:6379
  passwordFile: `+pw+`
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.RunAI[0].ClientSecret != "runai-secret" || c.ModelArts[0].SecretKey != "hw-secret-key" || c.ModelArts[1].IAM.Password != "iam-pass" ||
		c.ModelArts[2].Token != "static-token" || c.Redis.Password != "iam-pass" {
		t.Fatalf("secrets not read: %+v %+v", c.RunAI, c.ModelArts)
	}
	_, err = ParseConfigEnv([]byte("runai:\n  - name: r\n    baseURL: https://r\n    clientID: i\n    clientSecret: s\n    clientSecretFile: "+rs+"\n"), nil)
	if err == nil || !strings.Contains(err.Error(), "runai[0].clientSecretFile: set the secret or its file, not both") {
		t.Fatalf("both: %v", err)
	}
	empty := write("empty", "\n")
	_, err = ParseConfigEnv([]byte("runai:\n  - name: r\n    baseURL: https://r\n    clientID: i\n    clientSecretFile: "+empty+"\n"), nil)
	if err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Fatalf("empty secret file: %v", err)
	}
}

func TestAuthModeDefaults(t *testing.T) {
	t.Parallel()
	service := Config{RunAI: []RunAIConfig{{PassThrough: false}}}
	pass := Config{RunAI: []RunAIConfig{{PassThrough: true}}, ModelArts: []ModelArtsConfig{{PassThrough: true}}}
	keys := Config{RunAI: []RunAIConfig{{}}, Auth: AuthConfig{APIKeys: []APIKeyConfig{{Name: "k"}}}}
	for c, want := range map[*Config]string{&service: AuthNone, &pass: AuthPassThrough, &keys: AuthAPIKey} {
		if got := c.AuthMode(); got != want {
			t.Errorf("%+v: %s, want %s", c, got, want)
		}
	}
}

func TestNegotiate(t *testing.T) {
	t.Parallel()
	for accept, want := range map[string]string{
		"":                                  mediaGraphQLResponse,
		"*/*":                               mediaGraphQLResponse,
		"application/*":                     mediaGraphQLResponse,
		"application/json":                  mediaJSON,
		"application/json, */*;q=0.5":       mediaJSON,
		"application/graphql-response+json": mediaGraphQLResponse,
		"application/graphql-response+json;q=0.9, application/json": mediaJSON,
		"application/json, application/graphql-response+json":       mediaGraphQLResponse,
		"text/html, */*;q=0":                         "",
		"*/*, application/graphql-response+json;q=0": mediaJSON,
		"application/json;q=bogus":                   "",
		"text/event-stream":                          "",
	} {
		var header []string
		if accept != "" {
			header = []string{accept}
		}
		if got := negotiate(header); got != want {
			t.Errorf("Accept %q: %q, want %q", accept, got, want)
		}
	}
}

func TestComplexityCosts(t *testing.T) {
	t.Parallel()
	n := func(v int) *int { return &v }
	for _, tt := range []struct{ got, want int }{
		{pageCost(nil, 3), 100 * 4},
		{pageCost(n(500), 3), 500 * 4},
		{pageCost(n(100000), 3), 500 * 4}, // out of range: refused by argument validation instead
		{pageCost(n(-5), 3), 4},
		{metricsCost(2, 3, nil), 2 * (3 + 20 + 1)},
		{metricsCost(0, 3, n(10)), 14},
		{mul(1<<62, 8), int(^uint(0) >> 1)},
	} {
		if tt.got != tt.want {
			t.Errorf("cost %d, want %d", tt.got, tt.want)
		}
	}
}
