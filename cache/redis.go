package cache

import (
	"context"
	"errors"
	"fmt"
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
	//	hit, miss  get only
	//	ok         set and delete succeeded
	//	error      Redis failed or timed out, or the caller's context ended
	//	bypass     breaker open: Redis was not called
	//
	// It is called synchronously on the query path, from many goroutines at
	// once: keep it cheap (a metrics counter) and safe for concurrent use.
	OnResult func(op, result string)
}

// BreakerOptions configures the circuit breaker that NewRedis puts in front of
// Redis. The zero value gives the defaults.
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

	// OnStateChange, if set, is called when the breaker changes state, e.g.
	// to log "cache breaker open". It runs under the breaker's lock: it must
	// not call back into the Redis store.
	OnStateChange func(from, to gobreaker.State)
}

// Redis is the Store over Redis. It holds a redis.UniversalClient that the
// caller owns and closes, so standalone, Sentinel and Cluster deployments all
// fit. Create it with NewRedis; it is safe for concurrent use.
type Redis struct {
	client   redis.UniversalClient
	prefix   string
	timeout  time.Duration
	breaker  *gobreaker.CircuitBreaker[struct{}]
	onResult func(op, result string)
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
		client:   client,
		prefix:   opts.Prefix,
		timeout:  opts.Timeout,
		onResult: opts.OnResult,
	}
	if r.prefix == "" {
		r.prefix = DefaultPrefix
	}
	r.prefix += ":" + schemaVersion + ":"
	if r.timeout <= 0 {
		r.timeout = DefaultTimeout
	}
	if r.onResult == nil {
		r.onResult = func(string, string) {}
	}
	r.breaker = newBreaker(opts.Breaker)
	return r
}

func newBreaker(o BreakerOptions) *gobreaker.CircuitBreaker[struct{}] {
	failures := o.FailuresToOpen
	if failures == 0 {
		failures = DefaultFailuresToOpen
	}
	openFor := o.OpenFor
	if openFor <= 0 {
		openFor = DefaultOpenFor
	}
	window := o.Window
	if window <= 0 {
		window = DefaultWindow
	}
	st := gobreaker.Settings{
		Name:         "cache-redis",
		Timeout:      openFor,
		Interval:     window,
		BucketPeriod: window / 10,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.ConsecutiveFailures >= failures
		},
		IsExcluded: func(err error) bool {
			return errors.Is(err, context.Canceled) || errors.Is(err, errCallerDone)
		},
	}
	if o.OnStateChange != nil {
		st.OnStateChange = func(_ string, from, to gobreaker.State) { o.OnStateChange(from, to) }
	}
	return gobreaker.NewCircuitBreaker[struct{}](st)
}

func (r *Redis) key(k string) string { return r.prefix + k }

// GetMany returns the hits among keys; a miss (redis.Nil) is absent from the
// map. On any failure it returns an empty map and an error wrapping
// ErrUnavailable: callers treat that as "all misses".
//
// One pipeline with one GET per key, not MGET: MGET fails with CROSSSLOT on
// a Redis Cluster as soon as two keys hash to different slots, while a
// cluster client splits a pipeline by node on its own.
func (r *Redis) GetMany(ctx context.Context, keys []string) (map[string][]byte, error) {
	if len(keys) == 0 {
		return map[string][]byte{}, nil
	}
	var hits map[string][]byte // written by the pipeline goroutine, read only after it reported success
	err := r.do(ctx, "get", len(keys), func(ctx context.Context) error {
		cmds := make([]*redis.StringCmd, len(keys))
		_, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, k := range keys {
				cmds[i] = p.Get(ctx, r.key(k))
			}
			return nil
		})
		// Exec reports the first failed command, and a miss is a failed
		// command (redis.Nil): look at each one instead.
		if err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		found := make(map[string][]byte, len(keys))
		for i, c := range cmds {
			b, err := c.Bytes()
			switch {
			case errors.Is(err, redis.Nil):
			case err != nil:
				return err
			default:
				found[keys[i]] = b
			}
		}
		hits = found
		return nil
	})
	if err != nil {
		return map[string][]byte{}, err
	}
	for _, k := range keys {
		if _, ok := hits[k]; ok {
			r.onResult("get", "hit")
		} else {
			r.onResult("get", "miss")
		}
	}
	return hits, nil
}

// SetMany writes every entry with its own TTL in one pipeline of SETs. An
// entry with TTL <= 0 fails the whole call with ErrInvalidEntry before
// anything is written. Redis failures wrap ErrUnavailable.
func (r *Redis) SetMany(ctx context.Context, entries []Entry) error {
	if err := validate(entries); err != nil {
		return err
	}
	if len(entries) == 0 {
		return nil
	}
	err := r.do(ctx, "set", len(entries), func(ctx context.Context) error {
		_, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, e := range entries {
				// go-redis sends PX (or EX for whole seconds); round
				// up so a sub-millisecond TTL is not truncated to 0.
				ttl := (e.TTL + time.Millisecond - 1).Truncate(time.Millisecond)
				p.Set(ctx, r.key(e.Key), e.Value, ttl)
			}
			return nil
		})
		return err
	})
	if err == nil {
		r.results("set", "ok", len(entries))
	}
	return err
}

// Delete removes keys in one pipeline, one UNLINK per key: a multi-key
// UNLINK would fail with CROSSSLOT on a cluster, and UNLINK frees memory
// off Redis's main thread. Redis failures wrap ErrUnavailable.
func (r *Redis) Delete(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	err := r.do(ctx, "delete", len(keys), func(ctx context.Context) error {
		_, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range keys {
				p.Unlink(ctx, r.key(k))
			}
			return nil
		})
		return err
	})
	if err == nil {
		r.results("delete", "ok", len(keys))
	}
	return err
}

// do runs one Redis operation through the breaker under the per-operation
// timeout, reports error and bypass results for n keys, and wraps every
// failure in ErrUnavailable.
func (r *Redis) do(ctx context.Context, op string, n int, fn func(context.Context) error) error {
	if err := ctx.Err(); err != nil {
		// The caller gave up already: no point in asking Redis.
		r.results(op, "error", n)
		return fmt.Errorf("%w: redis %s: %w", ErrUnavailable, op, err)
	}
	_, err := r.breaker.Execute(func() (struct{}, error) {
		err := r.bounded(ctx, fn)
		if err != nil && ctx.Err() != nil {
			err = fmt.Errorf("%w: %w", errCallerDone, err)
		}
		return struct{}{}, err
	})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gobreaker.ErrOpenState), errors.Is(err, gobreaker.ErrTooManyRequests):
		r.results(op, "bypass", n)
	default:
		r.results(op, "error", n)
	}
	return fmt.Errorf("%w: redis %s: %w", ErrUnavailable, op, err)
}

// bounded runs fn and returns when it does or when the per-operation timeout
// (or the caller's context) ends, whichever comes first. The context alone is
// not enough: with ContextTimeoutEnabled off (the go-redis default) the client
// ignores context deadlines on the socket and waits for its ReadTimeout
// (3s by default). fn keeps running in the background when abandoned; it must
// only write state the caller reads after bounded returned nil.
func (r *Redis) bounded(ctx context.Context, fn func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	done := make(chan error, 1) // buffered: an abandoned fn must not block forever
	go func() {
		// Its own goroutine: a panic here would end the process, and a
		// broken cache must only make requests slower.
		var err error
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("%w: redis: panic: %v", ErrUnavailable, p)
			}
			done <- err
		}()
		err = fn(ctx)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *Redis) results(op, result string, n int) {
	for range n {
		r.onResult(op, result)
	}
}
