// Package app turns a configuration into a running gateway: it builds the
// vendor clients, the fleet service and the HTTP handler, and in demo mode
// starts the embedded simulators and Redis. server.go only parses flags and
// calls it.
package app

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the YAML configuration file. ${VAR} references anywhere in the
// file are replaced from the environment before parsing, so secrets need not
// be written into it. Unknown keys are errors.
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
	// Timeout bounds each Redis operation (default 50ms).
	Timeout Duration `yaml:"timeout"`
	// BreakerOpenFor is how long the cache is bypassed after Redis failed
	// 5 times in a row, before a probe (default 5s).
	BreakerOpenFor Duration `yaml:"breakerOpenFor"`
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
}

// RunAIConfig is one Run:ai control plane.
type RunAIConfig struct {
	Name         string `yaml:"name"`
	BaseURL      string `yaml:"baseURL"`
	ClientID     string `yaml:"clientID"`
	ClientSecret string `yaml:"clientSecret"`
	// PassThrough forwards each caller's "Authorization: Bearer" instead of
	// using service credentials.
	PassThrough bool     `yaml:"passThrough"`
	Timeout     Duration `yaml:"timeout"`
	// LegacyNodePoolAPI uses the deprecated /v1/k8s/clusters/{id}/node-pools
	// API for node pools (control planes older than /api/v1/node-pools).
	LegacyNodePoolAPI bool `yaml:"legacyNodePoolAPI"`
}

// ModelArtsConfig is one ModelArts project in one region. Exactly one of
// token, iam, accessKey/secretKey or passThrough.
type ModelArtsConfig struct {
	Name      string `yaml:"name"`
	Endpoint  string `yaml:"endpoint"`
	ProjectID string `yaml:"projectID"`
	Token     string `yaml:"token"`
	IAM       *struct {
		Endpoint string `yaml:"endpoint"`
		Username string `yaml:"username"`
		Password string `yaml:"password"`
		Domain   string `yaml:"domain"`
		Project  string `yaml:"project"`
	} `yaml:"iam"`
	AccessKey string `yaml:"accessKey"`
	SecretKey string `yaml:"secretKey"`
	// PassThrough forwards each caller's "X-Auth-Token".
	PassThrough bool     `yaml:"passThrough"`
	Timeout     Duration `yaml:"timeout"`
}

// RedisConfig selects the shared cache. Empty URL and Addrs: no shared
// cache. url is a redis:// or rediss:// URL (standalone); addrs is a list of
// host:port (one: standalone; several: Cluster; with masterName: Sentinel).
type RedisConfig struct {
	URL        string   `yaml:"url"`
	Addrs      []string `yaml:"addrs"`
	MasterName string   `yaml:"masterName"`
	Password   string   `yaml:"password"`
}

// Duration is a time.Duration written as "10s" in YAML.
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (write e.g. 10s or 500ms)", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// LoadConfig reads and validates a configuration file.
func LoadConfig(path string) (*Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return ParseConfig(raw)
}

// ParseConfig parses and validates YAML configuration.
func ParseConfig(raw []byte) (*Config, error) {
	dec := yaml.NewDecoder(bytes.NewReader([]byte(os.ExpandEnv(string(raw)))))
	dec.KnownFields(true)
	var c Config
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Validate reports the first field at fault, by its path in the file.
func (c *Config) Validate() error {
	if len(c.RunAI)+len(c.ModelArts) == 0 {
		return errors.New("config: no backends: add at least one entry under runai: or modelarts:")
	}
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
	for i, r := range c.RunAI {
		path := fmt.Sprintf("runai[%d]", i)
		if err := seen(path, r.Name); err != nil {
			return err
		}
		if r.BaseURL == "" {
			return fmt.Errorf("config: %s.baseURL is required (e.g. https://tenant.run.ai)", path)
		}
		hasCreds := r.ClientID != "" || r.ClientSecret != ""
		if hasCreds == r.PassThrough || (hasCreds && (r.ClientID == "" || r.ClientSecret == "")) {
			return fmt.Errorf("config: %s: set clientID and clientSecret, or passThrough: true (exactly one)", path)
		}
	}
	for i, m := range c.ModelArts {
		path := fmt.Sprintf("modelarts[%d]", i)
		if err := seen(path, m.Name); err != nil {
			return err
		}
		if m.Endpoint == "" {
			return fmt.Errorf("config: %s.endpoint is required (e.g. https://modelarts.cn-north-4.myhuaweicloud.com)", path)
		}
		if m.ProjectID == "" {
			return fmt.Errorf("config: %s.projectID is required", path)
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
	}
	return nil
}
