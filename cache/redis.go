package cache

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"
)

// schemaVersion is part of every key. Bump it when the encoding of cached
// values changes, so a rolling deploy never decodes the other version's bytes:
// old entries are simply never read again and expire by TTL.
const schemaVersion = "v1"

// Defaults for RedisOptions and BreakerOptions.
const (
	DefaultPrefix         = "fleetgraph"
	DefaultTimeout        = 200 * time.Millisecond
	DefaultFailuresToOpen = 5
	DefaultOpenFor        = 5 * time.Second
	DefaultWindow         = 10 * time.Second
	DefaultLogEvery       = 10 * time.Second
)

// RedisOptions configures NewRedis. The zero value gives the defaults.
type RedisOptions struct {
	// Prefix starts every key: keys are "<prefix>:v1:<key>", the "v1" being
	// the schema version. Default "fleetgraph".
	Prefix string

	// Timeout bounds each Redis operation (one pipeline). Default 200ms: a
	// slow Redis must not slow queries much, yet a gateway whose own CPU is
	// saturated (the pipeline's answer waits for a goroutine to run) should
	// not turn every cache read into a vendor call: the benchmarks saw 50ms
	// give up on a healthy Redis under load, costing 27 upstream calls per
	// warm dashboard. The bound holds whatever the
	// client's settings; set ContextTimeoutEnabled on the client so that an
	// abandoned operation also stops at the timeout instead of running on in
	// the background until the client's ReadTimeout.
	Timeout time.Duration

	// Breaker configures the circuit breaker in front of Redis.
	Breaker BreakerOptions

	// OnResult, if set, is called once per key (per entry for set) with
	// op "get", "set" or "delete" and result:
	//
	//	hit, miss  get only (op "fence" is the generation read)
	//	ok         set and delete succeeded
	//	error      Redis failed or timed out, or the caller's context ended
	//	bypass     breaker open: Redis was not called
	//
	// It is called synchronously on the query path, from many goroutines at
	// once: keep it cheap (a metrics counter) and safe for concurrent use.
	OnResult func(op, result string)

	// Logger hears Redis failures, at warn with their reason and node, at
	// most one line per node every LogEvery (default 10s) saying how many
	// it left out. Nil: slog.Default().
	Logger   *slog.Logger
	LogEvery time.Duration
}

// BreakerOptions configures the circuit breakers that NewRedis puts in front
// of Redis: one per master of a Redis Cluster, one for a standalone or
// Sentinel client. The zero value gives the defaults.
type BreakerOptions struct {
	// FailuresToOpen is how many consecutive failed Redis operations open
	// the breaker. Default 5.
	FailuresToOpen uint32

	// OpenFor is how long the breaker stays open, every call bypassing Redis
	// and returning ErrUnavailable at once. After it one probe goes through:
	// success closes the breaker, failure opens it for another OpenFor.
	// Default 5s.
	OpenFor time.Duration

	// Window is the rolling window (ten buckets) over which failures are
	// counted while closed, so old failures roll off. Default 10s.
	Window time.Duration

	// OnStateChange, if set, is called when a breaker changes state, e.g.
	// to log "cache breaker open"; node is the master's address ("" for a
	// client that is not a cluster). It runs under the breaker's lock: it
	// must not call back into the Redis store.
	OnStateChange func(node string, from, to gobreaker.State)
}

// Redis is the Store over Redis. It holds a redis.UniversalClient that the
// caller owns and closes, so standalone, Sentinel and Cluster deployments all
// fit. Create it with NewRedis; it is safe for concurrent use.
type Redis struct {
	client   redis.UniversalClient
	cluster  *redis.ClusterClient // client, when it is one: keys are split by master
	prefix   string
	timeout  time.Duration
	onResult func(op, result string)
	failures failureLog

	breakerOpts BreakerOptions
	mu          sync.Mutex
	breakers    map[string]*gobreaker.CircuitBreaker[struct{}] // by master address
}

var _ Store = (*Redis)(nil)

// errCallerDone marks a failure that happened because the caller's context
// ended (cancelled, or its own deadline passed): it says nothing about Redis,
// so the breaker ignores it.
var errCallerDone = errors.New("caller context done")

// NewRedis returns a Store over client. The caller owns client: NewRedis
// never closes it. client must not be nil.
func NewRedis(client redis.UniversalClient, opts RedisOptions) *Redis {
	if client == nil {
		panic("cache: NewRedis with nil client")
	}
	r := &Redis{
		client:      client,
		prefix:      opts.Prefix,
		timeout:     opts.Timeout,
		onResult:    opts.OnResult,
		breakerOpts: opts.Breaker,
		breakers:    map[string]*gobreaker.CircuitBreaker[struct{}]{},
		failures:    failureLog{logger: opts.Logger, every: opts.LogEvery, last: map[string]time.Time{}, quiet: map[string]int{}},
	}
	r.cluster, _ = client.(*redis.ClusterClient)
	if r.prefix == "" {
		r.prefix = DefaultPrefix
	}
	r.prefix += ":" + schemaVersion + ":"
	if r.timeout <= 0 {
		r.timeout = DefaultTimeout
	}
	if r.failures.every <= 0 {
		r.failures.every = DefaultLogEvery
	}
	if r.onResult == nil {
		r.onResult = func(string, string) {}
	}
	return r
}

func (r *Redis) key(k string) string { return r.prefix + k }

// GetMany returns the hits among keys; a miss (redis.Nil) is absent from the
// map. Keys on a master that failed (or whose breaker is open) are misses
// too, and the error wraps ErrUnavailable: the other masters' keys still hit.
//
// One pipeline with one GET per key, not MGET: MGET fails with CROSSSLOT on
// a Redis Cluster as soon as two keys hash to different slots.
func (r *Redis) GetMany(ctx context.Context, keys []string) (map[string][]byte, error) {
	hits := map[string][]byte{}
	if len(keys) == 0 {
		return hits, nil
	}
	parts, err := perShard(ctx, r, "get", keys, func(ctx context.Context, idx []int) ([][]byte, error) {
		cmds := make([]*redis.StringCmd, len(idx))
		_, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for j, i := range idx {
				cmds[j] = p.Get(ctx, r.key(keys[i]))
			}
			return nil
		})
		// Exec reports the first failed command, and a miss is a failed
		// command (redis.Nil): look at each one instead.
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, err
		}
		vals := make([][]byte, len(idx))
		for j, c := range cmds {
			b, err := c.Bytes()
			switch {
			case errors.Is(err, redis.Nil):
			case err != nil:
				return nil, err
			default:
				vals[j] = b
			}
		}
		return vals, nil
	})
	for _, p := range parts {
		if !p.ok {
			continue
		}
		for j, i := range p.idx {
			if v := p.val[j]; v != nil {
				hits[keys[i]] = v
				r.onResult("get", "hit")
			} else {
				r.onResult("get", "miss")
			}
		}
	}
	return hits, err
}

// SetMany writes every entry with its own TTL, one pipeline of SETs per
// master. An entry with TTL <= 0 fails the whole call with ErrInvalidEntry
// before anything is written. Redis failures wrap ErrUnavailable; the
// entries of the masters that answered are written.
func (r *Redis) SetMany(ctx context.Context, entries []Entry) error {
	if err := validate(entries); err != nil {
		return err
	}
	if len(entries) == 0 {
		return nil
	}
	keys := make([]string, len(entries))
	for i, e := range entries {
		keys[i] = e.Key
	}
	parts, err := perShard(ctx, r, "set", keys, func(ctx context.Context, idx []int) (struct{}, error) {
		_, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, i := range idx {
				// go-redis sends PX (or EX for whole seconds); round
				// up so a sub-millisecond TTL is not truncated to 0.
				ttl := (entries[i].TTL + time.Millisecond - 1).Truncate(time.Millisecond)
				p.Set(ctx, r.key(entries[i].Key), entries[i].Value, ttl)
			}
			return nil
		})
		return struct{}{}, err
	})
	r.okResults("set", parts)
	return err
}

// Delete removes keys, one UNLINK per key in a pipeline per master: a
// multi-key UNLINK would fail with CROSSSLOT on a cluster, and UNLINK frees
// memory off Redis's main thread. Redis failures wrap ErrUnavailable.
func (r *Redis) Delete(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	parts, err := perShard(ctx, r, "delete", keys, func(ctx context.Context, idx []int) (struct{}, error) {
		_, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, i := range idx {
				p.Unlink(ctx, r.key(keys[i]))
			}
			return nil
		})
		return struct{}{}, err
	})
	r.okResults("delete", parts)
	return err
}

func (r *Redis) okResults(op string, parts []shardPart[struct{}]) {
	for _, p := range parts {
		if p.ok {
			r.results(op, "ok", len(p.idx))
		}
	}
}
