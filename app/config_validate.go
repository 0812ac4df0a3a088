package app

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fleetgraph/fleetgraph/backends/runai"
)

// Validate reports the first field at fault, by its path in the file.
func (c *Config) Validate() error {
	if len(c.RunAI)+len(c.ModelArts) == 0 {
		return errors.New("config: no backends: add at least one entry under runai: or modelarts:")
	}
	// Every section is checked, each backend on its own: one run reports
	// the first problem of each (config: N problems).
	var p problems
	for _, check := range []func() error{c.validateBackends, c.validateAuth, c.validateServer, c.validateGraphQL, c.validateFederation, c.validateTelemetry, c.validateRedis, c.validateResponseCache, c.validateSubscriptions} {
		p.add(check())
	}
	return p.err()
}

func (c *Config) validateBackends() error {
	names := map[string]string{}
	seen := func(path, name string) error {
		if name == "" {
			return fmt.Errorf("config: %s.name is required", path)
		}
		if prev, dup := names[name]; dup {
			return fmt.Errorf("config: %s.name %q is already used by %s: names must be unique", path, name, prev)
		}
		names[name] = path
		return nil
	}
	var p problems
	for i, r := range c.RunAI {
		path := fmt.Sprintf("runai[%d]", i)
		p.add(seen(path, r.Name), validateRunAI(path, r))
	}
	for i, m := range c.ModelArts {
		path := fmt.Sprintf("modelarts[%d]", i)
		p.add(seen(path, m.Name), validateModelArts(path, m))
	}
	return p.err()
}

// validateRunAI returns the first problem of one Run:ai backend (its name
// aside).
func validateRunAI(path string, r RunAIConfig) error {
	if r.BaseURL == "" {
		return fmt.Errorf("config: %s.baseURL is required (e.g. https://tenant.run.ai)", path)
	}
	if err := httpURL(r.BaseURL); err != nil {
		return fmt.Errorf("config: %s.baseURL: %w", path, err)
	}
	hasCreds := r.ClientID != "" || r.ClientSecret != ""
	if hasCreds == r.PassThrough || (hasCreds && (r.ClientID == "" || r.ClientSecret == "")) {
		return fmt.Errorf("config: %s: set clientID and clientSecret, or passThrough: true (exactly one)", path)
	}
	if r.Timeout < 0 {
		return fmt.Errorf("config: %s.timeout must not be negative", path)
	}
	if r.APIVersion != "" {
		if _, err := runai.ParseAPIVersion(r.APIVersion); err != nil {
			return fmt.Errorf("config: %s.apiVersion must be \"2.22\", \"2.23\" or \"2.24\" (or unset: probed on first use); the value set is none of them", path)
		}
	}
	if err := r.RateLimit.validate(path + ".rateLimit"); err != nil {
		return err
	}
	return nil
}

// validateModelArts returns the first problem of one ModelArts backend
// (its name aside).
func validateModelArts(path string, m ModelArtsConfig) error {
	if m.Endpoint == "" {
		return fmt.Errorf("config: %s.endpoint is required (e.g. https://modelarts.cn-north-4.myhuaweicloud.com)", path)
	}
	if err := httpURL(m.Endpoint); err != nil {
		return fmt.Errorf("config: %s.endpoint: %w", path, err)
	}
	if m.ProjectID == "" {
		return fmt.Errorf("config: %s.projectID is required", path)
	}
	if !isProjectID(m.ProjectID) {
		return fmt.Errorf("config: %s.projectID must be 1-64 letters, digits or '-' (the ModelArts project_id rule), got %d bytes", path, len(m.ProjectID))
	}
	modes := 0
	for _, set := range []bool{m.Token != "", m.IAM != nil, m.AccessKey != "" || m.SecretKey != "", m.PassThrough} {
		if set {
			modes++
		}
	}
	if modes != 1 {
		return fmt.Errorf("config: %s: set exactly one of token, iam, accessKey+secretKey, passThrough (found %d)", path, modes)
	}
	if (m.AccessKey == "") != (m.SecretKey == "") {
		return fmt.Errorf("config: %s: accessKey and secretKey go together", path)
	}
	if m.IAM != nil {
		for _, f := range []struct{ name, val string }{{"endpoint", m.IAM.Endpoint}, {"username", m.IAM.Username}, {"password", m.IAM.Password}, {"domain", m.IAM.Domain}, {"project", m.IAM.Project}} {
			if f.val == "" {
				return fmt.Errorf("config: %s.iam.%s is required", path, f.name)
			}
		}
		if err := httpURL(m.IAM.Endpoint); err != nil {
			return fmt.Errorf("config: %s.iam.endpoint: %w", path, err)
		}
	}
	if m.Timeout < 0 {
		return fmt.Errorf("config: %s.timeout must not be negative", path)
	}
	if err := m.AOM.validate(path + ".aom"); err != nil {
		return err
	}
	if err := m.RateLimit.validate(path + ".rateLimit"); err != nil {
		return err
	}
	return nil
}

// httpURL accepts what the vendor clients accept: an absolute http(s) URL
// without user info, query or fragment (the clients append paths and
// queries to it, and every transport error would quote them). The error
// never repeats the value: it may carry a credential.
func httpURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return errors.New("is not a valid URL (the value is not repeated here: it may hold a secret)")
	case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return errors.New("is not an absolute http(s) URL (write https://host[:port][/path])")
	case u.User != nil:
		return errors.New("must not carry user info: credentials have their own fields")
	case u.RawQuery != "" || u.ForceQuery:
		return errors.New("must not carry a query string")
	case u.Fragment != "":
		return errors.New("must not carry a fragment")
	}
	return nil
}

// AuthMode is the effective auth mode (see AuthConfig).
func (c *Config) AuthMode() string {
	if c.Auth.Mode != "" {
		return c.Auth.Mode
	}
	if len(c.Auth.APIKeys) > 0 {
		return AuthAPIKey
	}
	if c.allPassThrough() {
		return AuthPassThrough
	}
	return AuthNone
}

func (c *Config) allPassThrough() bool {
	for _, r := range c.RunAI {
		if !r.PassThrough {
			return false
		}
	}
	for _, m := range c.ModelArts {
		if !m.PassThrough {
			return false
		}
	}
	return len(c.RunAI)+len(c.ModelArts) > 0
}

func (c *Config) validateAuth() error {
	switch c.Auth.Mode {
	case "", AuthNone, AuthPassThrough, AuthAPIKey:
	default:
		return fmt.Errorf("config: auth.mode %q: use %s, %s or %s", c.Auth.Mode, AuthNone, AuthPassThrough, AuthAPIKey)
	}
	mode := c.AuthMode()
	if mode == AuthPassThrough && !c.allPassThrough() {
		for i, r := range c.RunAI {
			if !r.PassThrough {
				return fmt.Errorf("config: auth.mode passThrough: runai[%d] uses service credentials, which any caller could then use (set passThrough: true there, or use mode apiKey)", i)
			}
		}
		for i, m := range c.ModelArts {
			if !m.PassThrough {
				return fmt.Errorf("config: auth.mode passThrough: modelarts[%d] uses service credentials, which any caller could then use (set passThrough: true there, or use mode apiKey)", i)
			}
		}
	}
	if mode == AuthAPIKey && len(c.Auth.APIKeys) == 0 {
		return errors.New("config: auth.apiKeys: mode apiKey needs at least one key")
	}
	if mode != AuthAPIKey && len(c.Auth.APIKeys) > 0 {
		return fmt.Errorf("config: auth.apiKeys are only used with mode apiKey (mode is %s)", mode)
	}
	names := map[string]bool{}
	hashes := map[string]bool{}
	for i, k := range c.Auth.APIKeys {
		path := fmt.Sprintf("auth.apiKeys[%d]", i)
		if k.Name == "" {
			return fmt.Errorf("config: %s.name is required", path)
		}
		if names[k.Name] {
			return fmt.Errorf("config: %s.name %q is used twice", path, k.Name)
		}
		names[k.Name] = true
		if b, err := hex.DecodeString(k.SHA256); err != nil || len(b) != 32 {
			return fmt.Errorf("config: %s.sha256 must be 64 hex digits: the SHA-256 of the key (printf %%s \"$KEY\" | sha256sum), never the key itself", path)
		}
		if hashes[strings.ToLower(k.SHA256)] {
			return fmt.Errorf("config: %s.sha256 is listed twice", path)
		}
		hashes[strings.ToLower(k.SHA256)] = true
	}
	return nil
}

func (c *Config) validateServer() error {
	for _, d := range []struct {
		name string
		v    Duration
	}{
		{"requestTimeout", c.RequestTimeout}, {"server.readHeaderTimeout", c.Server.ReadHeaderTimeout},
		{"server.readTimeout", c.Server.ReadTimeout}, {"server.writeTimeout", c.Server.WriteTimeout},
		{"server.idleTimeout", c.Server.IdleTimeout}, {"server.shutdownDelay", c.Server.ShutdownDelay},
		{"server.shutdownTimeout", c.Server.ShutdownTimeout},
	} {
		if d.v < 0 {
			return fmt.Errorf("config: %s must not be negative", d.name)
		}
	}
	if _, _, err := c.memoryLimit(); err != nil {
		return err
	}
	if c.Server.WriteTimeout > 0 && time.Duration(c.Server.WriteTimeout) <= c.requestTimeout() {
		return fmt.Errorf("config: server.writeTimeout (%s) must exceed requestTimeout (%s), or answers are cut off", time.Duration(c.Server.WriteTimeout), c.requestTimeout())
	}
	l := c.Limits
	for _, v := range []struct {
		name string
		n    int64
	}{
		{"maxBodyBytes", l.MaxBodyBytes}, {"maxDepth", int64(l.MaxDepth)}, {"maxComplexity", int64(l.MaxComplexity)},
		{"maxAliases", int64(l.MaxAliases)}, {"maxRootFields", int64(l.MaxRootFields)}, {"maxTokens", int64(l.MaxTokens)},
		{"maxConcurrentRequests", int64(l.MaxConcurrentRequests)}, {"queueTimeout", int64(l.QueueTimeout)},
		{"maxSelections", int64(l.MaxSelections)}, {"maxDirectives", int64(l.MaxDirectives)}, {"maxOperations", int64(l.MaxOperations)},
		{"maxFragments", int64(l.MaxFragments)}, {"maxVariables", int64(l.MaxVariables)},
		{"maxFieldComparisons", int64(l.MaxFieldComparisons)}, {"maxErrors", int64(l.MaxErrors)},
	} {
		if v.n < 0 {
			return fmt.Errorf("config: limits.%s must not be negative (0 means the default)", v.name)
		}
	}
	return nil
}

func (c *Config) validateGraphQL() error {
	if c.GraphQL.APQ.CacheSize < 0 {
		return errors.New("config: graphql.apq.cacheSize must not be negative")
	}
	if c.GraphQL.WebsocketKeepAlive < 0 {
		return errors.New("config: graphql.websocketKeepAlive must not be negative")
	}
	for i, o := range c.CORS.AllowedOrigins {
		if o == "*" {
			continue
		}
		scheme, host, ok := strings.Cut(o, "://")
		if !ok || (scheme != "http" && scheme != "https") || host == "" || strings.ContainsAny(host, "/?#") {
			return fmt.Errorf("config: cors.allowedOrigins[%d] %q: write an origin such as https://grafana.example.com (a pattern like https://*.example.com, or \"*\")", i, o)
		}
		if _, err := path.Match(o, ""); err != nil {
			return fmt.Errorf("config: cors.allowedOrigins[%d] %q: %w", i, o, err)
		}
	}
	if c.CORS.MaxAge < 0 {
		return errors.New("config: cors.maxAge must not be negative")
	}
	return nil
}

func (c *Config) validateTelemetry() error {
	if c.Tracing.Endpoint != "" {
		if err := httpURL(c.Tracing.Endpoint); err != nil {
			return fmt.Errorf("config: tracing.endpoint: %w (the OTLP/HTTP endpoint, e.g. http://otel-collector:4318)", err)
		}
	}
	if r := c.Tracing.SampleRatio; r != nil && (*r < 0 || *r > 1) {
		return fmt.Errorf("config: tracing.sampleRatio %v must be within 0..1", *r)
	}
	switch c.Resilience.Transport {
	case "", TransportFastHTTP, TransportNetHTTP:
	default:
		return fmt.Errorf("config: resilience.transport %q: use %s (the default) or %s", c.Resilience.Transport, TransportFastHTTP, TransportNetHTTP)
	}
	switch c.Log.Format {
	case "", "json", "text":
	default:
		return fmt.Errorf("config: log.format %q: use json or text", c.Log.Format)
	}
	switch strings.ToLower(c.Log.Level) {
	case "", "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("config: log.level %q: use debug, info, warn or error", c.Log.Level)
	}
	return nil
}

func (c *Config) validateRedis() error {
	if c.Redis.URL != "" && len(c.Redis.Addrs) > 0 {
		return errors.New("config: redis: set url or addrs, not both")
	}
	switch c.Redis.Mode {
	case "", RedisStandalone:
	case RedisCluster:
		if c.Redis.URL != "" || c.Redis.MasterName != "" {
			return errors.New("config: redis.mode cluster: list the seed nodes in redis.addrs (one is enough: the client discovers the others), without url or masterName")
		}
	case RedisSentinel:
		if c.Redis.MasterName == "" || len(c.Redis.Addrs) == 0 {
			return errors.New("config: redis.mode sentinel: set redis.masterName and the sentinels in redis.addrs")
		}
	default:
		return fmt.Errorf("config: redis.mode %q: use cluster, sentinel or standalone", c.Redis.Mode)
	}
	if c.Redis.Mode == RedisStandalone && (len(c.Redis.Addrs) > 1 || c.Redis.MasterName != "") {
		return errors.New("config: redis.mode standalone takes one server (url, or one addr) and no masterName")
	}
	if c.Redis.URL != "" {
		if _, err := redis.ParseURL(c.Redis.URL); err != nil {
			// go-redis quotes the URL or its parts, password included.
			return errors.New("config: redis.url is not a valid Redis URL (redis://[user:password@]host:port[/db] or rediss://...; the value is not repeated here)")
		}
	}
	return nil
}

// requestTimeout is the effective request timeout.
func (c *Config) requestTimeout() time.Duration { return c.RequestTimeout.or(30 * time.Second) }

// Limits are the effective request limits: the configured ones, or the
// defaults documented on LimitsConfig.
type Limits struct {
	MaxBodyBytes  int64
	MaxDepth      int
	MaxComplexity int
	MaxAliases    int
	MaxRootFields int
	MaxTokens     int
	// Document limits, checked on the parsed document before validation
	// (see documentLimits), and the budget of the overlapping-fields rule.
	MaxSelections       int
	MaxDirectives       int
	MaxOperations       int
	MaxFragments        int
	MaxVariables        int
	MaxFieldComparisons int
	// MaxErrors is how many errors one response lists (then one that
	// counts the others).
	MaxErrors int
	// MaxConcurrentRequests and QueueTimeout admit plain GraphQL requests
	// (see admission).
	MaxConcurrentRequests int
	QueueTimeout          time.Duration
}

// DefaultLimits are the limits of an empty configuration.
var DefaultLimits = Limits{
	MaxBodyBytes: 1 << 20, MaxDepth: 12, MaxComplexity: 5_000_000, MaxAliases: 30, MaxRootFields: 20, MaxTokens: 10_000,
	MaxSelections: 2000, MaxDirectives: 50, MaxOperations: 50, MaxFragments: 100, MaxVariables: 100,
	MaxFieldComparisons: 2000, MaxErrors: 50,
	MaxConcurrentRequests: 8, QueueTimeout: 10 * time.Second,
}

// EffectiveLimits returns the limits in force.
func (c *Config) EffectiveLimits() Limits {
	l, d := c.Limits, DefaultLimits
	pick := func(v, def int) int {
		if v > 0 {
			return v
		}
		return def
	}
	out := Limits{
		MaxBodyBytes: l.MaxBodyBytes, MaxDepth: pick(l.MaxDepth, d.MaxDepth), MaxComplexity: pick(l.MaxComplexity, d.MaxComplexity),
		MaxAliases: pick(l.MaxAliases, d.MaxAliases), MaxRootFields: pick(l.MaxRootFields, d.MaxRootFields), MaxTokens: pick(l.MaxTokens, d.MaxTokens),
		MaxSelections: pick(l.MaxSelections, d.MaxSelections), MaxDirectives: pick(l.MaxDirectives, d.MaxDirectives),
		MaxOperations: pick(l.MaxOperations, d.MaxOperations), MaxFragments: pick(l.MaxFragments, d.MaxFragments),
		MaxVariables: pick(l.MaxVariables, d.MaxVariables), MaxFieldComparisons: pick(l.MaxFieldComparisons, d.MaxFieldComparisons),
		MaxErrors:             pick(l.MaxErrors, d.MaxErrors),
		MaxConcurrentRequests: pick(l.MaxConcurrentRequests, d.MaxConcurrentRequests), QueueTimeout: l.QueueTimeout.or(d.QueueTimeout),
	}
	if out.MaxBodyBytes <= 0 {
		out.MaxBodyBytes = d.MaxBodyBytes
	}
	return out
}

func (c *Config) introspection() bool {
	return c.GraphQL.Introspection == nil || *c.GraphQL.Introspection
}
func (c *Config) graphiql() bool { return c.GraphQL.GraphiQL == nil || *c.GraphQL.GraphiQL }

func (c *Config) validateSubscriptions() error {
	sc := c.Subscriptions
	for name, d := range map[string]Duration{"minInterval": sc.MinInterval, "maxInterval": sc.MaxInterval, "defaultInterval": sc.DefaultInterval} {
		if d < 0 {
			return fmt.Errorf("config: subscriptions.%s must not be negative", name)
		}
	}
	if sc.MinInterval > 0 && sc.MaxInterval > 0 && sc.MinInterval > sc.MaxInterval {
		return fmt.Errorf("config: subscriptions.minInterval (%s) is above maxInterval (%s)", time.Duration(sc.MinInterval), time.Duration(sc.MaxInterval))
	}
	for name, n := range map[string]int{"maxPerConnection": sc.MaxPerConnection, "maxTotal": sc.MaxTotal,
		"maxStreams": sc.MaxStreams, "maxStreamsPerClient": sc.MaxStreamsPerClient} {
		if n < 0 {
			return fmt.Errorf("config: subscriptions.%s must not be negative", name)
		}
	}
	return nil
}

// isProjectID applies the ModelArts project_id rule (^[A-Za-z0-9-]{1,64}$):
// the ID is in every vendor path.
func isProjectID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}
