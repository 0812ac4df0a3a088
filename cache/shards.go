package cache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"
)

// A Redis Cluster is several masters, each with its own slots: one of them
// down must cost only its own keys. So every operation is split by the
// master that holds each key, each part runs through that master's own
// breaker under the per-operation timeout, concurrently, and a failed part
// makes its keys misses while the others still answer. A standalone or
// Sentinel client is one part (one node, one breaker).

// unknownShard groups the keys whose master the cluster client cannot name
// (its slot map could not be loaded): they share one breaker.
const unknownShard = "?"

// shardPart is one master's share of an operation: the indexes of its keys
// in the caller's slice, and what it answered.
type shardPart[T any] struct {
	shard string
	idx   []int
	val   T
	ok    bool
}

// shardsOf splits the indexes of keys by the master holding each (its
// address); one part for a client that is not a cluster.
func (r *Redis) shardsOf(ctx context.Context, keys []string) map[string][]int {
	if r.cluster == nil {
		idx := make([]int, len(keys))
		for i := range idx {
			idx[i] = i
		}
		return map[string][]int{"": idx}
	}
	// MasterForKey reads the client's slot map; it loads it (a round trip)
	// only while it has none, which the per-operation timeout bounds.
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	parts := map[string][]int{}
	for i, k := range keys {
		shard := unknownShard
		if c, err := r.cluster.MasterForKey(ctx, r.key(k)); err == nil {
			shard = c.Options().Addr
		}
		parts[shard] = append(parts[shard], i)
	}
	return parts
}

// perShard runs fn once per master holding some of keys, concurrently, each
// through that master's breaker under the per-operation timeout. A part
// that failed is returned with ok false; err joins the failures (each
// wraps ErrUnavailable).
func perShard[T any](ctx context.Context, r *Redis, op string, keys []string, fn func(ctx context.Context, idx []int) (T, error)) ([]shardPart[T], error) {
	parts := r.shardsOf(ctx, keys)
	out := make([]shardPart[T], 0, len(parts))
	for shard, idx := range parts {
		out = append(out, shardPart[T]{shard: shard, idx: idx})
	}
	errs := make([]error, len(out))
	run := func(i int) {
		p := &out[i]
		p.val, errs[i] = do(ctx, r, p.shard, op, len(p.idx), func(ctx context.Context) (T, error) { return fn(ctx, p.idx) })
		p.ok = errs[i] == nil
	}
	if len(out) == 1 {
		run(0)
		return out, errs[0]
	}
	var wg sync.WaitGroup
	for i := range out {
		wg.Go(func() { run(i) })
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// breakerFor returns shard's breaker, made on first use.
func (r *Redis) breakerFor(shard string) *gobreaker.CircuitBreaker[struct{}] {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, ok := r.breakers[shard]
	if !ok {
		b = newBreaker(shard, r.breakerOpts)
		r.breakers[shard] = b
	}
	return b
}

func newBreaker(shard string, o BreakerOptions) *gobreaker.CircuitBreaker[struct{}] {
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
		Name:         "cache-redis " + shard,
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
		st.OnStateChange = func(_ string, from, to gobreaker.State) { o.OnStateChange(shard, from, to) }
	}
	return gobreaker.NewCircuitBreaker[struct{}](st)
}

// do runs one Redis operation on shard through its breaker under the
// per-operation timeout, reports error and bypass results for n keys, logs
// failures (rate-limited) and wraps every failure in ErrUnavailable.
func do[T any](ctx context.Context, r *Redis, shard, op string, n int, fn func(context.Context) (T, error)) (T, error) {
	var val T
	if err := ctx.Err(); err != nil {
		// The caller gave up already: no point in asking Redis.
		r.results(op, "error", n)
		return val, fmt.Errorf("%w: redis %s: %w", ErrUnavailable, op, err)
	}
	_, err := r.breakerFor(shard).Execute(func() (struct{}, error) {
		v, err := bounded(ctx, r.timeout, fn)
		if err != nil && ctx.Err() != nil {
			err = fmt.Errorf("%w: %w", errCallerDone, err)
		}
		val = v
		return struct{}{}, err
	})
	switch {
	case err == nil:
		return val, nil
	case errors.Is(err, gobreaker.ErrOpenState), errors.Is(err, gobreaker.ErrTooManyRequests):
		r.results(op, "bypass", n)
	default:
		r.results(op, "error", n)
		if !errors.Is(err, errCallerDone) {
			r.failures.log(ctx, shard, op, err)
		}
	}
	var zero T
	return zero, fmt.Errorf("%w: redis %s: %w", ErrUnavailable, op, err)
}

// bounded runs fn and returns when it does or when timeout (or the caller's
// context) ends, whichever comes first. The context alone is not enough:
// with ContextTimeoutEnabled off (the go-redis default) the client ignores
// context deadlines on the socket and waits for its ReadTimeout (3s by
// default). fn keeps running in the background when abandoned; what it
// returns then is dropped, so it must only return state of its own.
func bounded[T any](ctx context.Context, timeout time.Duration, fn func(context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1) // buffered: an abandoned fn must not block forever
	go func() {
		// Its own goroutine: a panic here would end the process, and a
		// broken cache must only make requests slower.
		var res result
		defer func() {
			if p := recover(); p != nil {
				res.err = fmt.Errorf("%w: redis: panic: %v", ErrUnavailable, p)
			}
			done <- res
		}()
		res.v, res.err = fn(ctx)
	}()
	select {
	case res := <-done:
		return res.v, res.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

func (r *Redis) results(op, result string, n int) {
	for range n {
		r.onResult(op, result)
	}
}

// failureLog logs Redis failures at warn with their reason, at most once
// per node every `every`, saying how many it left out: a dead master fails
// every request, and a line per request would bury everything else.
type failureLog struct {
	logger *slog.Logger // nil: slog.Default()
	every  time.Duration
	mu     sync.Mutex
	last   map[string]time.Time
	quiet  map[string]int
}

func (l *failureLog) log(ctx context.Context, shard, op string, err error) {
	now := time.Now()
	l.mu.Lock()
	if now.Sub(l.last[shard]) < l.every {
		l.quiet[shard]++
		l.mu.Unlock()
		return
	}
	left := l.quiet[shard]
	l.last[shard], l.quiet[shard] = now, 0
	l.mu.Unlock()
	lg := l.logger
	if lg == nil {
		lg = slog.Default()
	}
	attrs := []any{"op", op, "err", err, "leftOut", left}
	if shard != "" {
		attrs = append(attrs, "node", shard)
	}
	lg.WarnContext(ctx, "redis operation failed; its keys go upstream", attrs...)
}
