package app

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"

	"github.com/fleetgraph/fleetgraph/cache"
	"github.com/fleetgraph/fleetgraph/fleet"
	"github.com/fleetgraph/fleetgraph/internal/metrics"
)

// newCache builds the shared cache of cfg; nil (and no client) when no Redis
// is configured or caching is off.
func newCache(cfg *Config, m *metrics.Metrics) (*fleet.Cache, redis.UniversalClient, error) {
	if cfg.Cache.Disabled || (cfg.Redis.URL == "" && len(cfg.Redis.Addrs) == 0) {
		return nil, nil, nil
	}
	timeout := time.Duration(cfg.Cache.Timeout)
	if timeout == 0 {
		timeout = cache.DefaultTimeout
	}
	opts := &redis.UniversalOptions{
		Addrs: cfg.Redis.Addrs, MasterName: cfg.Redis.MasterName, Password: cfg.Redis.Password,
		// Abandoned operations stop at the deadline too (see cache.RedisOptions.Timeout).
		ContextTimeoutEnabled: true,
		DialTimeout:           time.Second, ReadTimeout: timeout, WriteTimeout: timeout,
		MaxRetries: -1, // a cache miss is cheaper than a Redis retry storm
	}
	if cfg.Redis.URL != "" {
		u, err := redis.ParseURL(cfg.Redis.URL)
		if err != nil {
			return nil, nil, fmt.Errorf("config: redis.url: %w", err)
		}
		opts.Addrs, opts.Password, opts.DB, opts.Username, opts.TLSConfig = []string{u.Addr}, u.Password, u.DB, u.Username, u.TLSConfig
	}
	client := redis.NewUniversalClient(opts)
	store := cache.NewRedis(client, cache.RedisOptions{
		Timeout: timeout,
		Breaker: cache.BreakerOptions{
			OpenFor: time.Duration(cfg.Cache.BreakerOpenFor),
			OnStateChange: func(from, to gobreaker.State) {
				slog.Warn("cache breaker state changed", "from", from.String(), "to", to.String())
			},
		},
		// Hits and misses are counted by the fleet cache, per logical lookup;
		// the store adds what only it sees: Redis errors and breaker bypasses.
		OnResult: func(op, result string) {
			if result == "error" || result == "bypass" {
				m.CacheOperations.WithLabelValues(op, result).Inc()
			}
		},
	})
	p := fleet.DefaultCachePolicy()
	set := func(dst *time.Duration, d Duration) {
		if d > 0 {
			*dst = time.Duration(d)
		}
	}
	set(&p.Clusters, cfg.Cache.Clusters)
	set(&p.NodePools, cfg.Cache.NodePools)
	set(&p.Nodes, cfg.Cache.Nodes)
	set(&p.MetricsRecent, cfg.Cache.MetricsRecent)
	set(&p.MetricsPast, cfg.Cache.MetricsPast)
	set(&p.StaleFor, cfg.Cache.StaleFor)
	return fleet.NewCache(store, p, m), client, nil
}
