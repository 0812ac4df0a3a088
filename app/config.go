// Package app turns a configuration into a running gateway: it builds the
// vendor clients, the fleet service and the HTTP handler (auth, limits,
// GraphQL-over-HTTP, telemetry), serves it with graceful shutdown, and in
// demo mode starts the embedded simulators and Redis. server.go only parses
// flags and calls it.
package app

import (
	"fmt"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the YAML configuration file. ${VAR} references anywhere in the
// file are replaced from the environment before parsing, FLEETGRAPH_* variables
// override single fields (see ApplyEnv), and every secret can be read from a
// file instead (the *File fields). Unknown keys are errors. The defaults of
// every field are in fleetgraph.example.yaml.
type Config struct {
	// Listen is the gateway's address (default 127.0.0.1:8080; --addr overrides it).
	Listen    string            `yaml:"listen"`
	RunAI     []RunAIConfig     `yaml:"runai"`
	ModelArts []ModelArtsConfig `yaml:"modelarts"`
	Redis     RedisConfig       `yaml:"redis"`
	Cache     CacheConfig       `yaml:"cache"`
	// RequestTimeout bounds a whole GraphQL request (default 30s).
	RequestTimeout Duration         `yaml:"requestTimeout"`
	Resilience     ResilienceConfig `yaml:"resilience"`
	Mutations      struct {
		// Disabled makes a read-only gateway: every mutation is FORBIDDEN.
		Disabled bool `yaml:"disabled"`
	} `yaml:"mutations"`
	Subscriptions SubscriptionsConfig `yaml:"subscriptions"`
	Server        ServerConfig        `yaml:"server"`
	Auth          AuthConfig          `yaml:"auth"`
	Limits        LimitsConfig        `yaml:"limits"`
	GraphQL       GraphQLConfig       `yaml:"graphql"`
	CORS          CORSConfig          `yaml:"cors"`
	Tracing       TracingConfig       `yaml:"tracing"`
	Log           LogConfig           `yaml:"log"`
}

// ServerConfig holds the HTTP server's timeouts and its shutdown.
type ServerConfig struct {
	ReadHeaderTimeout Duration `yaml:"readHeaderTimeout"` // default 10s
	ReadTimeout       Duration `yaml:"readTimeout"`       // whole request incl. body, default 30s
	// WriteTimeout must exceed requestTimeout (default requestTimeout + 10s).
	// Websocket and SSE streams are exempt.
	WriteTimeout Duration `yaml:"writeTimeout"`
	IdleTimeout  Duration `yaml:"idleTimeout"` // keep-alive, default 120s
	// ShutdownDelay keeps serving, with /readyz answering 503, this long after
	// SIGTERM so load balancers stop sending first (default 0; 5s in Kubernetes).
	ShutdownDelay Duration `yaml:"shutdownDelay"`
	// ShutdownTimeout bounds the drain of in-flight requests (default 30s).
	ShutdownTimeout Duration `yaml:"shutdownTimeout"`
	// MemoryLimit is the Go runtime's soft memory limit, a Kubernetes-style
	// size ("100Mi", "1Gi"): near it the garbage collector works harder
	// instead of letting the heap double under load. Default: GOMEMLIMIT if
	// set, else 90% of the container's memory limit (cgroup v2), else none.
	MemoryLimit string `yaml:"memoryLimit"`
}

// Auth modes.
const (
	AuthNone        = "none"        // anyone who reaches the gateway may call it
	AuthPassThrough = "passThrough" // callers bring vendor credentials; every backend is passThrough
	AuthAPIKey      = "apiKey"      // callers present an API key listed in apiKeys
)

// AuthConfig says who may call the gateway. Mode defaults to apiKey when
// apiKeys are listed, to passThrough when every backend is passThrough, and
// to none otherwise (logged as a warning at start-up).
type AuthConfig struct {
	Mode    string         `yaml:"mode"`
	APIKeys []APIKeyConfig `yaml:"apiKeys"`
}

// APIKeyConfig is one accepted API key, stored as the hex SHA-256 of the key
// (`printf %s "$KEY" | sha256sum`): the key itself is never in the file.
type APIKeyConfig struct {
	Name   string `yaml:"name"` // who holds it; logged with each request
	SHA256 string `yaml:"sha256"`
}

// LimitsConfig bounds what one request may cost. Zero means the default.
type LimitsConfig struct {
	MaxBodyBytes  int64 `yaml:"maxBodyBytes"`  // request body, default 1 MiB (413 above)
	MaxDepth      int   `yaml:"maxDepth"`      // field nesting, default 12 (introspection exempt)
	MaxComplexity int   `yaml:"maxComplexity"` // fields weighted by `first`, default 5000000
	MaxAliases    int   `yaml:"maxAliases"`    // aliased fields, default 30
	MaxRootFields int   `yaml:"maxRootFields"` // top-level fields, default 20
	MaxTokens     int   `yaml:"maxTokens"`     // lexer tokens of the document, default 10000
	// Checked on the parsed document before validation (validators are
	// quadratic in some shapes): selections as written (fields, __typename
	// included, fragment spreads, inline fragments), default 2000;
	// directives, default 50; operations, default 50; fragments, default
	// 100; variables of one operation, default 100.
	MaxSelections int `yaml:"maxSelections"`
	MaxDirectives int `yaml:"maxDirectives"`
	MaxOperations int `yaml:"maxOperations"`
	MaxFragments  int `yaml:"maxFragments"`
	MaxVariables  int `yaml:"maxVariables"`
	// MaxFieldComparisons budgets the overlapping-fields validation rule
	// (pairs of fields sharing a response name, pairs of fragments spread
	// together), default 2000 (GraphiQL's introspection query needs 8).
	MaxFieldComparisons int `yaml:"maxFieldComparisons"`
	// MaxErrors is how many errors one response lists, default 50; one more
	// (ERRORS_TRUNCATED) counts the others.
	MaxErrors int `yaml:"maxErrors"`
	// MaxConcurrentRequests is how many GraphQL requests execute at once
	// (default 8); the others wait for a slot, each costing only its
	// goroutine. A request holds a few MB while it executes, so this bounds
	// memory under load; 8 keeps 2 cores busy, because a request spends a
	// few to tens of ms of CPU and mostly waits 20-100 ms on vendors (200
	// dashboard clients: 161 req/s with 8 or 16, RSS ~84 vs ~95 MB).
	// Websocket and SSE streams take no slot.
	MaxConcurrentRequests int `yaml:"maxConcurrentRequests"`
	// QueueTimeout is how long a request may wait for a slot before a 503
	// OVERLOADED (default 10s; requestTimeout bounds the wait too).
	QueueTimeout Duration `yaml:"queueTimeout"`
}

// GraphQLConfig switches GraphQL features.
type GraphQLConfig struct {
	// Introspection (default true) and GraphiQL at / (default true): set
	// false in production to hide the schema.
	Introspection *bool `yaml:"introspection"`
	GraphiQL      *bool `yaml:"graphiql"`
	APQ           struct {
		Disabled  bool `yaml:"disabled"`
		CacheSize int  `yaml:"cacheSize"` // documents kept, default 1000
	} `yaml:"apq"`
	// AllowList is a JSON file {"<sha256 of document>": "<document>"}; when
	// set, only those documents run (sent whole or by hash).
	AllowList string `yaml:"allowList"`
	// WebsocketKeepAlive is the graphql-ws keep-alive interval (default 15s).
	WebsocketKeepAlive Duration `yaml:"websocketKeepAlive"`
	// Federation serves the gateway as an Apollo Federation v2 subgraph
	// (app/config_federation.go; default off).
	Federation FederationConfig `yaml:"federation"`
	// Cost says when a response carries extensions.cost {estimatedUpstreamCalls,
	// upstreamCalls, cacheHits}: header (default: with X-Fleetgraph-Cost: true),
	// always, never.
	Cost string `yaml:"cost"`
}

// CORSConfig lists the browser origins that may call the gateway
// ("https://grafana.example.com"; path.Match patterns such as
// "https://*.example.com"; "*" for any). The same list admits websocket
// origins; same-origin requests are always allowed. Empty: no cross-origin
// access.
type CORSConfig struct {
	AllowedOrigins []string `yaml:"allowedOrigins"`
	MaxAge         Duration `yaml:"maxAge"` // preflight cache, default 10m
}

// TracingConfig turns on OpenTelemetry tracing, exported over OTLP/HTTP.
type TracingConfig struct {
	// Endpoint of the collector, e.g. http://otel-collector:4318 (empty: off).
	Endpoint string `yaml:"endpoint"`
	// SampleRatio of new traces to record (default 1; parent-based:
	// a caller's sampled traceparent is always followed).
	SampleRatio *float64 `yaml:"sampleRatio"`
	ServiceName string   `yaml:"serviceName"` // default fleetgraph
}

// LogConfig selects the log format and level.
type LogConfig struct {
	Format string `yaml:"format"` // json (default) or text
	Level  string `yaml:"level"`  // debug, info (default), warn, error
}

// CacheConfig tunes the shared cache (used when redis: is set).
type CacheConfig struct {
	// Disabled switches the shared cache off even when Redis is configured.
	Disabled bool `yaml:"disabled"`
	// TTLs per kind; zero means the default.
	Clusters      Duration `yaml:"clusters"`      // default 60s
	NodePools     Duration `yaml:"nodePools"`     // default 60s
	Nodes         Duration `yaml:"nodes"`         // default 15s
	MetricsRecent Duration `yaml:"metricsRecent"` // ranges ending within 5m of now, default 10s
	MetricsPast   Duration `yaml:"metricsPast"`   // older ranges, default 1h
	// StaleFor keeps the last good value this long past its TTL, served when a
	// vendor fails (default 10m).
	StaleFor Duration `yaml:"staleFor"`
	// Timeout bounds each Redis operation (default 200ms).
	Timeout Duration `yaml:"timeout"`
	// BreakerOpenFor is how long the cache is bypassed after Redis failed
	// 5 times in a row, before a probe (default 5s). A Redis Cluster has a
	// breaker per master: one master down costs only its own keys.
	BreakerOpenFor Duration `yaml:"breakerOpenFor"`
	// Transitional caps the TTL of an answer holding a node pool or node in
	// a transitional phase (Creating, Updating, Deleting, Checking; default
	// 5s).
	Transitional Duration `yaml:"transitional"`
	// PassThroughTrust bounds how long a pass-through caller's credential is
	// trusted without the vendor seeing it: what was fetched with it is
	// cached at most this long and never served stale, so a revoked token
	// reads cached data at most this long (default 15s).
	PassThroughTrust Duration `yaml:"passThroughTrust"`
	// Local is the in-process layer in front of Redis: decoded values of
	// hot keys, so that they cost neither a Redis round trip nor a decode.
	// A write on any replica fences every replica's copies (the generation
	// in every key, read from Redis once per operation); without Redis the
	// layer is not used.
	Local LocalCacheConfig `yaml:"local"`
	// Responses is the whole-response cache (off by default): a query's
	// encoded answer, per document, operation, variables and credential
	// scope, served while every backend generation it read is unchanged.
	Responses ResponseCacheConfig `yaml:"responses"`
}

// ResponseCacheConfig sizes the whole-response cache (app/respcache.go).
type ResponseCacheConfig struct {
	Enabled bool `yaml:"enabled"`
	// TTL bounds how long an answer is kept (default 5s); never longer than
	// the shortest of the cache TTLs above (an answer also expires when the
	// first value it holds would).
	TTL Duration `yaml:"ttl"`
	// MaxBytes budgets the cached answers per replica (default 32 MiB, or a
	// tenth of the Go memory limit when lower: defaultResponseBytes).
	MaxBytes int `yaml:"maxBytes"`
}

// LocalCacheConfig sizes the in-process cache layer.
type LocalCacheConfig struct {
	Disabled bool `yaml:"disabled"`
	// MaxBytes budgets the layer by the encoded size of its values (default
	// 16 MiB; decoded, they take about 2-3 times that).
	MaxBytes int `yaml:"maxBytes"`
	// MaxAge bounds how long a value is kept (default 5s), below its
	// freshness in Redis.
	MaxAge Duration `yaml:"maxAge"`
}

// ResilienceConfig tunes the per-backend circuit breakers and retries.
type ResilienceConfig struct {
	Breaker struct {
		Disabled            bool     `yaml:"disabled"`
		FailureRatio        float64  `yaml:"failureRatio"`        // default 0.5
		MinRequests         uint32   `yaml:"minRequests"`         // default 10
		ConsecutiveFailures uint32   `yaml:"consecutiveFailures"` // default 5
		Window              Duration `yaml:"window"`              // default 30s
		OpenFor             Duration `yaml:"openFor"`             // default 10s
	} `yaml:"breaker"`
	Retry struct {
		Disabled    bool     `yaml:"disabled"`
		MaxAttempts int      `yaml:"maxAttempts"` // default 3 (GETs only)
		BaseDelay   Duration `yaml:"baseDelay"`   // default 100ms
		MaxDelay    Duration `yaml:"maxDelay"`    // default 2s
	} `yaml:"retry"`
	// Transport is the HTTP client under every backend: "fasthttp" (the
	// default; backends/fasttransport: reads through fasthttp, less CPU per
	// call, writes through net/http) or "net/http" (Go's own transport for
	// everything, with HTTP/2).
	Transport string `yaml:"transport"`
}

// Backend transports (ResilienceConfig.Transport).
const (
	TransportFastHTTP = "fasthttp"
	TransportNetHTTP  = "net/http"
)

// RunAIConfig is one Run:ai control plane.
type RunAIConfig struct {
	Name         string `yaml:"name"`
	BaseURL      string `yaml:"baseURL"`
	ClientID     string `yaml:"clientID"`
	ClientSecret string `yaml:"clientSecret"`
	// ClientSecretFile reads clientSecret from a file (a mounted secret).
	ClientSecretFile string `yaml:"clientSecretFile"`
	// PassThrough forwards each caller's "Authorization: Bearer" instead of
	// using service credentials.
	PassThrough bool     `yaml:"passThrough"`
	Timeout     Duration `yaml:"timeout"`
	// LegacyNodePoolAPI uses the deprecated /v1/k8s/clusters/{id}/node-pools
	// API for node pools (control planes older than /api/v1/node-pools).
	LegacyNodePoolAPI bool `yaml:"legacyNodePoolAPI"`
	// APIVersion is the control plane's API release: "2.22", "2.23" or
	// "2.24". From 2.23 nodes are listed once per control plane instead of
	// once per cluster, and the NVLink totals and WORKLOADS_COUNT metric
	// types are served. Unset (the default): probed on first use with one
	// GET /api/v1/nodes/count (200: 2.23 or later, 404: 2.22); a probe that
	// fails is logged, 2.22 is assumed and the probe tried again a minute
	// later. A probe cannot tell 2.24 from 2.23, so the NVLink totals need
	// a configured version.
	APIVersion string `yaml:"apiVersion"`
	// RateLimit is the account's upstream budget (config_budget.go).
	RateLimit *RateLimitConfig `yaml:"rateLimit"`
}

// ModelArtsConfig is one ModelArts project in one region. Exactly one of
// token, iam, accessKey/secretKey or passThrough. Each secret has a *File
// twin that reads it from a file.
type ModelArtsConfig struct {
	Name      string `yaml:"name"`
	Endpoint  string `yaml:"endpoint"`
	ProjectID string `yaml:"projectID"`
	Token     string `yaml:"token"`
	TokenFile string `yaml:"tokenFile"`
	IAM       *struct {
		Endpoint     string `yaml:"endpoint"`
		Username     string `yaml:"username"`
		Password     string `yaml:"password"`
		PasswordFile string `yaml:"passwordFile"`
		Domain       string `yaml:"domain"`
		Project      string `yaml:"project"`
	} `yaml:"iam"`
	AccessKey     string `yaml:"accessKey"`
	SecretKey     string `yaml:"secretKey"`
	SecretKeyFile string `yaml:"secretKeyFile"`
	// PassThrough forwards each caller's "X-Auth-Token".
	PassThrough bool     `yaml:"passThrough"`
	Timeout     Duration `yaml:"timeout"`
	// AOM is where the backend's node time series live (Node.metrics and
	// NodePool.metrics); without it those fields answer [] with
	// METRICS_NOT_CONFIGURED.
	AOM *AOMConfig `yaml:"aom"`
	// RateLimit is the account's upstream budget (config_budget.go); AOM
	// calls are not counted in it.
	RateLimit *RateLimitConfig `yaml:"rateLimit"`
}

// AOMConfig is a ModelArts backend's AOM (Prometheus-compatible query API):
// same project and same credentials as the backend, its own circuit
// breaker and retries (resilience:), so that a failing AOM leaves the
// ModelArts breaker closed.
type AOMConfig struct {
	// Endpoint is the AOM root, https://aom.{region}.myhuaweicloud.com.
	// Required.
	Endpoint string `yaml:"endpoint"`
	// NodeLabel is the series label whose value is a node's private IP
	// (default node_ip; check with GET /v1/{project_id}/aom/api/v1/labels).
	NodeLabel string `yaml:"nodeLabel"`
	// Queries replace the default PromQL of metric types (keys: the
	// NodeMetricType values ModelArts serves). Each must yield one series
	// per node labelled $node_label and select the nodes by
	// $node_label=~"$nodes"; the unit stays the type's (percent 0..100 or
	// bytes).
	Queries map[string]string `yaml:"queries"`
	// Timeout bounds each AOM call (default 10s).
	Timeout Duration `yaml:"timeout"`
}

// RedisConfig selects the shared cache. Empty URL and Addrs: no shared
// cache. url is a redis:// or rediss:// URL (standalone); addrs is a list of
// host:port: the seed nodes of a Cluster, the sentinels of a Sentinel set,
// or the one server.
type RedisConfig struct {
	// Mode is cluster, sentinel or standalone. Empty infers it as before:
	// masterName set is Sentinel, several addrs a Cluster, else standalone.
	// Set it for one configuration endpoint of a Cluster (a Kubernetes
	// Service, a managed Cluster's address): inferred, that is standalone,
	// and /readyz reports the mismatch.
	Mode         string   `yaml:"mode"`
	URL          string   `yaml:"url"`
	Addrs        []string `yaml:"addrs"`
	MasterName   string   `yaml:"masterName"`
	Password     string   `yaml:"password"`
	PasswordFile string   `yaml:"passwordFile"`
}

// Duration is a time.Duration written as "10s" in YAML.
type Duration time.Duration

// UnmarshalYAML parses a Go duration string. A bad one is a yaml.TypeError,
// so the decode goes on and reports it with the file's other problems; it
// never quotes the value (a secret may have landed in the wrong field).
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		got := yamlTagWords(n.Tag)
		if n.Tag == "!!int" || n.Tag == "!!float" {
			got = "a number without a unit"
		}
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: wants a duration (write e.g. 10s or 500ms), got %s", n.Line, got)}}
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as "10s".
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// or returns d, or def when d is zero.
func (d Duration) or(def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return time.Duration(d)
}

// SubscriptionsConfig bounds the polling behind subscriptions, and the
// streams (websocket and SSE connections) that carry them. Zero means the
// default.
type SubscriptionsConfig struct {
	MinInterval      Duration `yaml:"minInterval"`      // default 5s: no sub-second polling of a vendor
	MaxInterval      Duration `yaml:"maxInterval"`      // default 300s
	DefaultInterval  Duration `yaml:"defaultInterval"`  // default 15s
	MaxPerConnection int      `yaml:"maxPerConnection"` // default 20 (SUBSCRIPTION_LIMIT above)
	// MaxTotal bounds the open subscriptions of the whole gateway, every
	// connection together (default 1000; SUBSCRIPTION_LIMIT above): each
	// may poll a vendor.
	MaxTotal int `yaml:"maxTotal"`
	// MaxStreams bounds the open websocket and SSE connections of the whole
	// gateway (default 1000), MaxStreamsPerClient those of one client: its
	// API key, else its remote IP (default 50; behind a proxy every client
	// has the proxy's IP: use API keys or raise it). Above either, a new
	// stream is refused (429 or 503 STREAM_LIMIT) before any GraphQL work.
	MaxStreams          int `yaml:"maxStreams"`
	MaxStreamsPerClient int `yaml:"maxStreamsPerClient"`
}

// Stream limits when the configuration leaves them 0.
const (
	DefaultMaxStreams          = 1000
	DefaultMaxStreamsPerClient = 50
)
