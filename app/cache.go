package app

import (
	"cmp"
	"context"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/cache"
	"github.com/fleetgraph/fleetgraph/fleet"
	"github.com/fleetgraph/fleetgraph/internal/metrics"
)

// newCache builds the shared cache of cfg; nil (and no client) when no Redis
// is configured or caching is off. logger hears Redis failures.
func newCache(cfg *Config, m *metrics.Metrics, tel *telemetry, logger *slog.Logger) (*fleet.Cache, redis.UniversalClient, error) {
	if cfg.Cache.Disabled || cfg.Redis.EffectiveMode() == "" {
		return nil, nil, nil
	}
	timeout := time.Duration(cfg.Cache.Timeout)
	if timeout == 0 {
		timeout = cache.DefaultTimeout
	}
	client, err := newRedisClient(cfg.Redis, timeout)
	if err != nil {
		return nil, nil, err
	}
	setRedisLogger.Do(func() { redis.SetLogger(&goRedisLog) })
	store := cache.NewRedis(client, cache.RedisOptions{
		Timeout: timeout, Logger: logger,
		Breaker: cache.BreakerOptions{
			OpenFor: time.Duration(cfg.Cache.BreakerOpenFor),
			OnStateChange: func(node string, from, to gobreaker.State) {
				logger.Warn("cache breaker state changed", "node", node, "from", from.String(), "to", to.String())
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
	p := cachePolicy(cfg)
	fc := fleet.NewCache(observedStore{next: store, tel: tel}, p, m)
	if l := cfg.Cache.Local; !l.Disabled {
		fc.EnableLocal(cmp.Or(l.MaxBytes, 16<<20), l.MaxAge.or(5*time.Second), func(ctx context.Context, n int) {
			if st := statsFrom(ctx); st != nil {
				st.cacheHits.Add(int64(n))
			}
		})
	}
	if r := cfg.Cache.Responses; r.Enabled {
		fc.EnableResponses(cmp.Or(r.MaxBytes, defaultResponseBytes(cfg)), r.TTL.or(defaultResponseTTL))
	}
	return fc, client, nil
}

// cachePolicy is cfg's cache TTLs, the defaults filled in.
func cachePolicy(cfg *Config) fleet.CachePolicy {
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
	set(&p.Transitional, cfg.Cache.Transitional)
	set(&p.PassThroughTrust, cfg.Cache.PassThroughTrust)
	// The longest one call may take: the longest backend timeout, each
	// backend's default (10 s) where it sets none. Not the policy's default
	// as well: backends that all answer within 2 s have a 2 s bound.
	var longest time.Duration
	call := func(d Duration) { longest = max(longest, cmp.Or(time.Duration(d), backends.DefaultTimeout)) }
	for _, b := range cfg.RunAI {
		call(b.Timeout)
	}
	for _, b := range cfg.ModelArts {
		call(b.Timeout)
		if b.AOM != nil {
			call(b.AOM.Timeout)
		}
	}
	if longest > 0 {
		p.CallTimeout = longest
	}
	return p
}

// observedStore counts each request's cache hits and misses (for its log
// line) and, with tracing on, puts a span around every Redis round trip.
type observedStore struct {
	next cache.Store
	tel  *telemetry
}

func (s observedStore) span(ctx context.Context, name string, n int) (context.Context, trace.Span) {
	if !s.tel.on {
		return ctx, trace.SpanFromContext(ctx)
	}
	return s.tel.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system", "redis"), attribute.Int("cache.keys", n)))
}

func (s observedStore) end(span trace.Span, err error) {
	if !s.tel.on {
		return
	}
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

func (s observedStore) GetMany(ctx context.Context, keys []string) (map[string][]byte, error) {
	ctx, span := s.span(ctx, "cache get", len(keys))
	hits, err := s.next.GetMany(ctx, keys)
	if st := statsFrom(ctx); st != nil {
		st.cacheHits.Add(int64(len(hits)))
		st.cacheMisses.Add(int64(len(keys) - len(hits)))
	}
	if s.tel.on {
		span.SetAttributes(attribute.Int("cache.hits", len(hits)))
	}
	s.end(span, err)
	return hits, err
}

func (s observedStore) SetMany(ctx context.Context, entries []cache.Entry) error {
	ctx, span := s.span(ctx, "cache set", len(entries))
	err := s.next.SetMany(ctx, entries)
	s.end(span, err)
	return err
}

// Generations and Advance are the race fence's round trips: not lookups,
// so not in the request's hit and miss counts.
func (s observedStore) Generations(ctx context.Context, reads []cache.GenRead, init string) ([][]string, error) {
	ctx, span := s.span(ctx, "cache generations", len(reads))
	gens, err := s.next.Generations(ctx, reads, init)
	s.end(span, err)
	return gens, err
}

func (s observedStore) Advance(ctx context.Context, key string, gens map[string]string) error {
	ctx, span := s.span(ctx, "cache advance", 1)
	err := s.next.Advance(ctx, key, gens)
	s.end(span, err)
	return err
}

func (s observedStore) Delete(ctx context.Context, keys ...string) error {
	ctx, span := s.span(ctx, "cache delete", len(keys))
	err := s.next.Delete(ctx, keys...)
	s.end(span, err)
	return err
}

// defaultResponseBytes is cache.responses.maxBytes when it is not set:
// 32 MiB, or a tenth of the Go memory limit when that is lower (a 80 MiB
// limit leaves 8 MiB), so that the whole-response cache does not take the
// heap the limit was sized for (a 200-client soak under an 80 MiB limit
// peaked at 128 MB with 32 MiB of cached answers: concurrent identical
// requests are a key's second answer, and their answers are kept).
func defaultResponseBytes(cfg *Config) int {
	const most = 32 << 20
	if n, _, err := cfg.memoryLimit(); err == nil && n > 0 {
		return int(min(most, n/10))
	}
	return most
}
