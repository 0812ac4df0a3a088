package fleet

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/graph-gophers/dataloader/v7"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/backends/runai"
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

type clusterKey struct{ Backend, Cluster string }

type nodePoolKey struct{ Backend, Pool, NodePool string }

// metricsKey names one Run:ai metrics call: a node (Target = node UUID) or a
// node pool (Target = cluster UUID, Pool = pool name), a range, a sample count
// and the whole set of types, sorted and comma-joined.
type metricsKey struct {
	Backend, Target, Pool string
	Start, End            int64
	Samples               int
	Types                 string
}

type metricsResult struct {
	Series  []*model.MetricSeries  `json:"s"`
	Partial *backends.PartialError `json:"p,omitempty"`
}

// Loaders are the per-operation dataloaders. Build a set for each GraphQL
// operation (the gateway does it in an operation interceptor: a websocket
// carries many operations in one HTTP request) and reach them through the
// context: never share them between operations.
type Loaders struct {
	clusters        *dataloader.Loader[string, []*model.Cluster]
	runaiPools      *dataloader.Loader[string, []*model.NodePool]
	maNodePools     *dataloader.Loader[clusterKey, []*model.NodePool]
	runaiNodes      *dataloader.Loader[clusterKey, []*model.Node]
	maPoolNodes     *dataloader.Loader[clusterKey, []*model.Node]
	maNodePoolNodes *dataloader.Loader[nodePoolKey, []*model.Node]
	nodeMetrics     *dataloader.Loader[metricsKey, metricsResult]
	poolMetrics     *dataloader.Loader[metricsKey, metricsResult]
	allocated       *dataloader.Loader[string, map[string]int]
	stale           *staleTracker
	gens            genMemo
	memo            sync.Map
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
		p = c.policy
	}
	fixed := func(d time.Duration) func(any) time.Duration { return func(any) time.Duration { return d } }
	self := func(b string) string { return b }
	l := &Loaders{stale: &staleTracker{}}
	l.clusters = newLoader(c, reg, cachedSpec[string, []*model.Cluster]{
		kind: "clusters", backend: self, key: func(string) string { return "" }, ttl: ttlOf[string](fixed(p.Clusters)),
		fetch: func(ctx context.Context, b string) ([]*model.Cluster, error) { return fetchClusters(ctx, reg, b) },
	})
	l.runaiPools = newLoader(c, reg, cachedSpec[string, []*model.NodePool]{
		kind: "rpools", backend: self, key: func(string) string { return "" }, ttl: ttlOf[string](fixed(p.NodePools)),
		fetch: func(ctx context.Context, b string) ([]*model.NodePool, error) { return fetchRunAIPools(ctx, reg, b) },
	})
	l.maNodePools = newLoader(c, reg, cachedSpec[clusterKey, []*model.NodePool]{
		kind: "mpools", backend: clusterKey.backend, key: clusterKey.key, ttl: ttlOf[clusterKey](fixed(p.NodePools)),
		fetch: func(ctx context.Context, k clusterKey) ([]*model.NodePool, error) {
			return fetchMANodePools(ctx, reg, k)
		},
	})
	l.runaiNodes = newLoader(c, reg, cachedSpec[clusterKey, []*model.Node]{
		kind: "rnodes", backend: clusterKey.backend, key: clusterKey.key, ttl: ttlOf[clusterKey](fixed(p.Nodes)),
		fetch: func(ctx context.Context, k clusterKey) ([]*model.Node, error) { return fetchRunAINodes(ctx, reg, k) },
	})
	l.maPoolNodes = newLoader(c, reg, cachedSpec[clusterKey, []*model.Node]{
		kind: "mnodes", backend: clusterKey.backend, key: clusterKey.key, ttl: ttlOf[clusterKey](fixed(p.Nodes)),
		fetch: func(ctx context.Context, k clusterKey) ([]*model.Node, error) { return fetchMAPoolNodes(ctx, reg, k) },
	})
	l.maNodePoolNodes = newLoader(c, reg, cachedSpec[nodePoolKey, []*model.Node]{
		kind: "mnpnodes", backend: func(k nodePoolKey) string { return k.Backend }, key: func(k nodePoolKey) string { return k.Pool + "/" + k.NodePool },
		ttl: ttlOf[nodePoolKey](fixed(p.Nodes)),
		fetch: func(ctx context.Context, k nodePoolKey) ([]*model.Node, error) {
			return fetchMANodePoolNodes(ctx, reg, k)
		},
	})
	metricsTTL := func(k metricsKey) time.Duration {
		if time.Unix(0, k.End).Before(time.Now().Add(-p.RecentWindow)) {
			return p.MetricsPast
		}
		return p.MetricsRecent
	}
	l.nodeMetrics = newLoader(c, reg, cachedSpec[metricsKey, metricsResult]{
		kind: "nmetrics", backend: metricsKey.backend, key: metricsKey.key, ttl: metricsTTL,
		fetch: func(ctx context.Context, k metricsKey) (metricsResult, error) { return fetchNodeMetrics(ctx, reg, k) },
	})
	l.poolMetrics = newLoader(c, reg, cachedSpec[metricsKey, metricsResult]{
		kind: "pmetrics", backend: metricsKey.backend, key: metricsKey.key, ttl: metricsTTL,
		fetch: func(ctx context.Context, k metricsKey) (metricsResult, error) { return fetchPoolMetrics(ctx, reg, k) },
	})
	l.allocated = newLoader(c, reg, cachedSpec[string, map[string]int]{
		kind: "alloc", backend: self, key: func(string) string { return "" }, ttl: ttlOf[string](fixed(p.Nodes)),
		fetch: func(ctx context.Context, b string) (map[string]int, error) { return fetchAllocated(ctx, reg, b) },
	})
	return l
}

func ttlOf[K any](f func(any) time.Duration) func(K) time.Duration {
	return func(k K) time.Duration { return f(k) }
}

func (k clusterKey) backend() string { return k.Backend }
func (k clusterKey) key() string     { return k.Cluster }
func (k metricsKey) backend() string { return k.Backend }
func (k metricsKey) key() string {
	return fmt.Sprintf("%s/%s/%d/%d/%d/%s", k.Target, k.Pool, k.Start, k.End, k.Samples, k.Types)
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
// Every fetch runs in a goroutine of its own (here or in cachedLoad): a
// panic in one fails its key, not the process (safeFetch).
func newLoader[K comparable, V any](c *Cache, reg *Registry, spec cachedSpec[K, V]) *dataloader.Loader[K, V] {
	spec.fetch = safeFetch(spec.kind, spec.fetch)
	batch := func(ctx context.Context, keys []K) []*dataloader.Result[V] {
		var vals []V
		var errs []error
		if c != nil {
			vals, errs = cachedLoad(ctx, c, reg, spec, keys)
		} else {
			vals, errs = make([]V, len(keys)), make([]error, len(keys))
			var wg sync.WaitGroup
			for i, k := range keys {
				wg.Go(func() { vals[i], errs[i] = spec.fetch(ctx, k) })
			}
			wg.Wait()
		}
		results := make([]*dataloader.Result[V], len(keys))
		for i := range keys {
			err := errs[i]
			if err != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
				err = dataloader.NewSkipCacheError(err)
			}
			results[i] = &dataloader.Result[V]{Data: vals[i], Error: err}
		}
		return results
	}
	return dataloader.NewBatchedLoader(batch, dataloader.WithWait[K, V](batchWait),
		dataloader.WithTracer[K, V](batchTracer[K, V]{kind: spec.kind}))
}

func unknownBackend(name string) error { return &NotFoundError{What: "backend", Name: name} }

func fetchClusters(ctx context.Context, reg *Registry, backend string) ([]*model.Cluster, error) {
	if c := reg.RunAI(backend); c != nil {
		list, err := c.ListClusters(ctx)
		if err != nil {
			return nil, wrap(backends.RunAI, backend, err)
		}
		out := make([]*model.Cluster, len(list))
		for i := range list {
			out[i] = runaiCluster(backend, &list[i])
		}
		return out, nil
	}
	if c := reg.ModelArts(backend); c != nil {
		list, err := c.ListPools(ctx)
		if err != nil {
			return nil, wrap(backends.ModelArts, backend, err)
		}
		out := make([]*model.Cluster, len(list))
		for i := range list {
			out[i] = modelartsCluster(backend, &list[i])
		}
		return out, nil
	}
	return nil, unknownBackend(backend)
}

func fetchRunAIPools(ctx context.Context, reg *Registry, backend string) ([]*model.NodePool, error) {
	c := reg.RunAI(backend)
	if c == nil {
		return nil, unknownBackend(backend)
	}
	if reg.legacy[backend] {
		return fetchRunAILegacyPools(ctx, c, backend)
	}
	list, err := c.ListNodePools(ctx, nil)
	if err != nil {
		return nil, wrap(backends.RunAI, backend, err)
	}
	out := make([]*model.NodePool, len(list))
	for i := range list {
		out[i] = runaiNodePool(backend, &list[i])
	}
	return out, nil
}

// fetchRunAILegacyPools lists pools through the deprecated API, which is
// per cluster: one listing per cluster instead of one per backend.
func fetchRunAILegacyPools(ctx context.Context, c *runai.Client, backend string) ([]*model.NodePool, error) {
	clusters, err := c.ListClusters(ctx)
	if err != nil {
		return nil, wrap(backends.RunAI, backend, err)
	}
	var out []*model.NodePool
	for _, cl := range clusters {
		list, err := c.LegacyListNodePools(ctx, cl.UUID)
		if err != nil {
			return nil, wrap(backends.RunAI, backend, err)
		}
		for i := range list {
			out = append(out, runaiLegacyNodePool(backend, cl.UUID, &list[i]))
		}
	}
	return out, nil
}

func fetchMANodePools(ctx context.Context, reg *Registry, k clusterKey) ([]*model.NodePool, error) {
	c := reg.ModelArts(k.Backend)
	if c == nil {
		return nil, unknownBackend(k.Backend)
	}
	list, err := c.ListNodePools(ctx, k.Cluster)
	if err != nil {
		return nil, wrap(backends.ModelArts, k.Backend, err)
	}
	out := make([]*model.NodePool, len(list))
	for i := range list {
		out[i] = modelartsNodePool(k.Backend, k.Cluster, &list[i])
	}
	return out, nil
}

func fetchRunAINodes(ctx context.Context, reg *Registry, k clusterKey) ([]*model.Node, error) {
	c := reg.RunAI(k.Backend)
	if c == nil {
		return nil, unknownBackend(k.Backend)
	}
	list, err := c.ListNodes(ctx, k.Cluster, nil)
	if err != nil {
		return nil, wrap(backends.RunAI, k.Backend, err)
	}
	out := make([]*model.Node, len(list))
	for i := range list {
		out[i] = runaiNode(k.Backend, k.Cluster, &list[i])
	}
	return out, nil
}

func fetchMAPoolNodes(ctx context.Context, reg *Registry, k clusterKey) ([]*model.Node, error) {
	c := reg.ModelArts(k.Backend)
	if c == nil {
		return nil, unknownBackend(k.Backend)
	}
	list, err := c.ListPoolNodes(ctx, k.Cluster)
	if err != nil {
		return nil, wrap(backends.ModelArts, k.Backend, err)
	}
	out := make([]*model.Node, len(list))
	for i := range list {
		out[i] = modelartsNode(k.Backend, k.Cluster, "", &list[i])
	}
	return out, nil
}

func fetchMANodePoolNodes(ctx context.Context, reg *Registry, k nodePoolKey) ([]*model.Node, error) {
	c := reg.ModelArts(k.Backend)
	if c == nil {
		return nil, unknownBackend(k.Backend)
	}
	list, err := c.ListNodePoolNodes(ctx, k.Pool, k.NodePool)
	if err != nil {
		return nil, wrap(backends.ModelArts, k.Backend, err)
	}
	out := make([]*model.Node, len(list))
	for i := range list {
		out[i] = modelartsNode(k.Backend, k.Pool, k.NodePool, &list[i])
	}
	return out, nil
}

func metricsOptions(k metricsKey) runai.MetricsOptions {
	return runai.MetricsOptions{
		Types:   strings.Split(k.Types, ","),
		Start:   time.Unix(0, k.Start).UTC(),
		End:     time.Unix(0, k.End).UTC(),
		Samples: k.Samples,
	}
}

// metricsAnswer keeps the data of a 207 partial answer and reports what is
// missing beside it.
func metricsAnswer(backend string, resp *runai.MetricsResponse, err error) (metricsResult, error) {
	var partial *backends.PartialError
	if err != nil && !errors.As(err, &partial) {
		return metricsResult{}, wrap(backends.RunAI, backend, err)
	}
	if resp == nil {
		return metricsResult{Partial: partial}, nil
	}
	return metricsResult{Series: runaiSeries(resp.Measurements), Partial: partial}, nil
}

func fetchNodeMetrics(ctx context.Context, reg *Registry, k metricsKey) (metricsResult, error) {
	c := reg.RunAI(k.Backend)
	if c == nil {
		return metricsResult{}, unknownBackend(k.Backend)
	}
	resp, err := c.NodeMetrics(ctx, k.Target, metricsOptions(k))
	return metricsAnswer(k.Backend, resp, err)
}

func fetchPoolMetrics(ctx context.Context, reg *Registry, k metricsKey) (metricsResult, error) {
	c := reg.RunAI(k.Backend)
	if c == nil {
		return metricsResult{}, unknownBackend(k.Backend)
	}
	resp, err := c.NodePoolMetrics(ctx, k.Target, k.Pool, metricsOptions(k))
	return metricsAnswer(k.Backend, resp, err)
}

// fetchAllocated asks Run:ai telemetry for ALLOCATED_GPUS grouped by cluster
// and node: one call per backend answers for every node of the tenant.
func fetchAllocated(ctx context.Context, reg *Registry, backend string) (map[string]int, error) {
	c := reg.RunAI(backend)
	if c == nil {
		return nil, unknownBackend(backend)
	}
	resp, err := c.NodeTelemetry(ctx, runai.TelemetryOptions{Type: "ALLOCATED_GPUS", GroupBy: []string{"ClusterId", "Node"}})
	if err != nil {
		return nil, wrap(backends.RunAI, backend, err)
	}
	out := map[string]int{}
	for _, v := range resp.Values {
		var cluster, node string
		for _, g := range v.Groups {
			switch g.Key {
			case "ClusterId":
				cluster = g.Value
			case "Node":
				node = g.Value
			}
		}
		out[cluster+"/"+node] = int(v.Value + 0.5)
	}
	return out, nil
}

// sortedTypes returns the distinct types, sorted, comma-joined: the canonical
// form used in metrics keys.
func sortedTypes[T ~string](types []T) string {
	set := map[string]bool{}
	for _, t := range types {
		set[string(t)] = true
	}
	out := make([]string, 0, len(set))
	for t := range set {
		out = append(out, t)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

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
