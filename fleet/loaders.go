package fleet

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/graph-gophers/dataloader/v7"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/cache"
	"github.com/fleetgraph/fleetgraph/graph/model"
)

// batchWait is how long a loader collects keys before it calls upstream. The
// dataloader default (16 ms) would add latency at every level of a query;
// gqlgen starts the resolvers of a level within a fraction of a millisecond,
// and 250 µs (instead of 1 ms) took 1.5 ms off a warm dashboard and 6 ms off
// a cold one (fgbench load, one client). A late key only makes one more
// batch (another cache round trip), never another upstream call.
// Correctness never depends on it: identical keys are deduplicated by the
// per-request loader cache, and the metrics fields of one node are merged by
// reading the query (see Service.NodeMetrics), not by timing.
const batchWait = 250 * time.Microsecond

// ClusterKey names one cluster of a backend: the key of per-cluster listings.
type ClusterKey struct{ Backend, Cluster string }

// BackendOf and KeyOf are a ClusterKey's Kind functions.
func (k ClusterKey) BackendOf() string { return k.Backend }
func (k ClusterKey) KeyOf() string     { return k.Cluster }

// MetricsKey names one metrics call: a node (Target = the vendor's node id)
// or a node pool (Target = its cluster, Pool = its name), a range, a sample
// count and the whole set of types.
type MetricsKey struct {
	Backend, Target, Pool string
	Start, End            int64
	Samples               int
	Types                 MetricTypes
	Group                 string // MetricsRequest.GroupBy; "" for none
}

// BackendOf and KeyOf are a MetricsKey's Kind functions.
func (k MetricsKey) BackendOf() string { return k.Backend }
func (k MetricsKey) KeyOf() string {
	key := fmt.Sprintf("%s/%s/%d/%d/%d/%s", k.Target, k.Pool, k.Start, k.End, k.Samples, k.Types.String())
	if k.Group != "" {
		key += "/by=" + k.Group // ungrouped keys stay as they were
	}
	return key
}

// Range returns the key's (aligned) range.
func (k MetricsKey) Range() (time.Time, time.Time) {
	return time.Unix(0, k.Start).UTC(), time.Unix(0, k.End).UTC()
}

// MetricsResult is what one metrics call answered: its series, and on a
// partial answer what is missing.
type MetricsResult struct {
	Series  []*model.MetricSeries  `json:"s"`
	Partial *backends.PartialError `json:"p,omitempty"`
}

// Kind is one cached, batched listing an adapter declares (once, not per
// request): the request's loaders make its dataloader on first use.
type Kind[K comparable, V any] struct {
	// Name is the cache kind, the first field of its cache keys ("rpools").
	Name    string
	Backend func(K) string
	// Key is the vendor identity of k within its backend and kind.
	Key   func(K) string
	TTL   func(CachePolicy, K) time.Duration
	Fetch func(context.Context, K) (V, error)
	// OneCall: Fetch makes one vendor call (a metrics answer, not a paged
	// listing); see cache.Spec.OneCall.
	OneCall bool
}

// Fixed is a Kind TTL that depends only on the policy.
func Fixed[K any](pick func(CachePolicy) time.Duration) func(CachePolicy, K) time.Duration {
	return func(p CachePolicy, _ K) time.Duration { return pick(p) }
}

// MetricsTTL is the TTL of a metrics answer: short for a range ending near
// now, long for one that no longer changes.
func MetricsTTL(p CachePolicy, k MetricsKey) time.Duration {
	if time.Unix(0, k.End).Before(time.Now().Add(-p.RecentWindow)) {
		return p.MetricsPast
	}
	return p.MetricsRecent
}

// Load queues key on the request's loader of kind and returns the pending
// value.
func Load[K comparable, V any](ctx context.Context, kind *Kind[K, V], key K) Thunk[V] {
	return Thunk[V](loaderOf(loadersFor(ctx), kind).Load(ctx, key))
}

func loaderOf[K comparable, V any](l *Loaders, kind *Kind[K, V]) *dataloader.Loader[K, V] {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ld, ok := l.byKind[kind]; ok {
		return ld.(*dataloader.Loader[K, V])
	}
	p, reg := l.policy, l.reg
	if l.cache != nil {
		l.cache.FenceByKey(keyedKinds(reg))
	}
	ld := newLoader(l, cache.Spec[K, V]{
		Kind: kind.Name, Backend: kind.Backend, Key: kind.Key,
		TTL:          func(k K) time.Duration { return kind.TTL(p, k) },
		Fetch:        kind.Fetch,
		Scope:        func(ctx context.Context, backend string) string { return scope(ctx, reg, backend) },
		StaleOK:      staleEligible,
		Transitional: func(v V) bool { return transitional(v) },
		OneCall:      kind.OneCall,
	})
	l.byKind[kind] = ld
	return ld
}

// Loaders are the per-operation dataloaders. Build a set for each GraphQL
// operation (the gateway does it in an operation interceptor: a websocket
// carries many operations in one HTTP request) and reach them through the
// context: never share them between operations.
type Loaders struct {
	reg    *Registry
	cache  *Cache
	policy CachePolicy
	mu     sync.Mutex
	byKind map[any]any    // *Kind[K, V] -> *dataloader.Loader[K, V]
	req    *cache.Request // the operation's state in the cache
	memo   sync.Map
}

// Memo returns what compute returned for key the first time the request
// (its loaders) asked, so that work every element of a list would repeat is
// done once, e.g. reading a field's siblings in the query. Without loaders
// it just computes.
func Memo[T any](ctx context.Context, key any, compute func() T) T {
	l, ok := ctx.Value(loadersKey{}).(*Loaders)
	if !ok {
		return compute()
	}
	if v, ok := l.memo.Load(key); ok {
		return v.(T)
	}
	v, _ := l.memo.LoadOrStore(key, compute())
	return v.(T)
}

type loadersKey struct{}

// NewLoaders builds a fresh set of loaders over reg. With a non-nil cache,
// every loader reads through it.
func NewLoaders(reg *Registry, c *Cache) *Loaders {
	p := DefaultCachePolicy()
	if c != nil {
		p = c.Policy()
	}
	return &Loaders{reg: reg, cache: c, policy: p, byKind: map[any]any{}, req: &cache.Request{}}
}

// WithLoaders returns ctx carrying l.
func WithLoaders(ctx context.Context, l *Loaders) context.Context {
	return context.WithValue(ctx, loadersKey{}, l)
}

// loadersFor returns the request's loaders. A context without them is a
// wiring bug, not a user error.
func loadersFor(ctx context.Context) *Loaders {
	l, ok := ctx.Value(loadersKey{}).(*Loaders)
	if !ok {
		panic("fleet: no loaders in context (does every operation get WithLoaders?)")
	}
	return l
}

// newLoader builds a loader whose batch answers every key concurrently,
// through the shared cache when there is one, in key order.
//
// Failures stay memoised for the rest of the operation on purpose: the
// loaders live for one operation, and re-calling a failing backend once per
// field (a hundred nodes asking for their cluster) is the load a failing
// vendor needs least. Only a cancelled context is not memoised.
//
// Fetches run concurrently, on at most cache.MaxFanOut goroutines per batch
// (here or in cache.Load): a panic in one fails its key, not the process
// (safeFetch).
func newLoader[K comparable, V any](l *Loaders, spec cache.Spec[K, V]) *dataloader.Loader[K, V] {
	spec.Fetch = safeFetch(spec.Kind, spec.Fetch)
	c, req := l.cache, l.req
	batch := func(ctx context.Context, keys []K) []*dataloader.Result[V] {
		var vals []V
		var errs []error
		if c != nil {
			vals, errs = cache.Load(ctx, c, req, spec, keys)
		} else {
			vals, errs = make([]V, len(keys)), make([]error, len(keys))
			cache.FanOut(len(keys), func(i int) { vals[i], errs[i] = spec.Fetch(ctx, keys[i]) })
		}
		results := make([]*dataloader.Result[V], len(keys))
		for i := range keys {
			err := errs[i]
			if err != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
				// The request's own end, while the cache waited on a call:
				// tied to the call's backend, as the call's own error is.
				b := spec.Backend(keys[i])
				if s := l.reg.Source(b); s != nil {
					err = Wrap(backends.Provider(s.Provider()), b, err)
				}
				err = dataloader.NewSkipCacheError(err)
			}
			results[i] = &dataloader.Result[V]{Data: vals[i], Error: err}
		}
		return results
	}
	return dataloader.NewBatchedLoader(batch, dataloader.WithWait[K, V](batchWait),
		dataloader.WithTracer[K, V](batchTracer[K, V]{kind: spec.Kind}))
}

// UnknownBackend is the error of a fetch for a backend its source does not
// have (a wiring bug, or an ID of a backend no longer configured).
func UnknownBackend(name string) error { return &NotFoundError{What: "backend", Name: name} }

// batchTracer puts a span around each dataloader batch ("dataloader
// rnodes", with the number of keys). It takes its tracer from the span in
// the batch's context, so it records only when the gateway traces (a
// request without a recording span costs nothing) and needs no global
// provider. Single loads are not traced: one span per field would drown
// the batches that matter.
type batchTracer[K comparable, V any] struct{ kind string }

func (batchTracer[K, V]) TraceLoad(ctx context.Context, _ K) (context.Context, dataloader.TraceLoadFinishFunc[V]) {
	return ctx, func(dataloader.Thunk[V]) {}
}

func (batchTracer[K, V]) TraceLoadMany(ctx context.Context, _ []K) (context.Context, dataloader.TraceLoadManyFinishFunc[V]) {
	return ctx, func(dataloader.ThunkMany[V]) {}
}

func (t batchTracer[K, V]) TraceBatch(ctx context.Context, keys []K) (context.Context, dataloader.TraceBatchFinishFunc[V]) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return ctx, func([]*dataloader.Result[V]) {}
	}
	ctx, span := parent.TracerProvider().Tracer("github.com/fleetgraph/fleetgraph/fleet").Start(ctx, "dataloader "+t.kind,
		trace.WithAttributes(attribute.String("dataloader.kind", t.kind), attribute.Int("dataloader.keys", len(keys))))
	return ctx, func([]*dataloader.Result[V]) { span.End() }
}
