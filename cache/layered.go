package cache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fleetgraph/fleetgraph/internal/jsonx"
	"github.com/fleetgraph/fleetgraph/internal/metrics"
)

// Policy says how long each kind of result lives in the shared cache.
type Policy struct {
	Clusters  time.Duration // clusters and resource pools (default 60s)
	NodePools time.Duration // node-pool lists (default 60s)
	Nodes     time.Duration // node lists and GPU allocation (default 15s)
	// MetricsRecent is for ranges ending near now (default 10s);
	// MetricsPast for ranges ending more than RecentWindow ago, which no
	// longer change (default 1h).
	MetricsRecent time.Duration
	MetricsPast   time.Duration
	RecentWindow  time.Duration // default 5m
	// StaleFor keeps the last good value this long past its TTL, to be served
	// when the vendor fails or its breaker is open (default 10m; 0 = never stale).
	StaleFor time.Duration
}

// DefaultPolicy returns the defaults documented on Policy.
func DefaultPolicy() Policy {
	return Policy{
		Clusters: 60 * time.Second, NodePools: 60 * time.Second, Nodes: 15 * time.Second,
		MetricsRecent: 10 * time.Second, MetricsPast: time.Hour, RecentWindow: 5 * time.Minute,
		StaleFor: 10 * time.Minute,
	}
}

// Layered puts the shared Store under the dataloaders: batch -> GetMany ->
// upstream for the misses (identical concurrent misses collapsed into one
// call) -> SetMany. Values carry the time they stop being fresh; Redis keeps
// them StaleFor longer, so that the last good value can be served when the
// vendor is down.
type Layered struct {
	store   Store
	policy  Policy
	metrics *metrics.Metrics
	flight  Flight
	now     func() time.Time

	local       *local // nil unless EnableLocal
	onLocalHits func(context.Context, int)
}

// NewLayered returns a cache over store (Noop{} to switch caching off).
// m may be nil.
func NewLayered(store Store, policy Policy, m *metrics.Metrics) *Layered {
	return &Layered{store: store, policy: policy, metrics: m, now: time.Now}
}

// envelope is what is stored: the value and the end of its freshness.
type envelope struct {
	FreshUntil int64           `json:"f"` // unix ms
	Value      json.RawMessage `json:"v"`
}

// encodeEnvelope writes json.Marshal(envelope{...}) without validating and
// compacting value again: json.Marshal wrote it a moment ago.
func encodeEnvelope(freshUntil int64, value []byte) []byte {
	b := make([]byte, 0, len(value)+24)
	b = append(b, `{"f":`...)
	b = strconv.AppendInt(b, freshUntil, 10)
	b = append(b, `,"v":`...)
	b = append(b, value...)
	return append(b, '}')
}

// decodeEnvelope reads what encodeEnvelope wrote without a second pass over
// the value (json.Unmarshal into a RawMessage validates it, and the value's
// own decode does that again). Anything else goes through json.Unmarshal.
func decodeEnvelope(raw []byte) (envelope, bool) {
	var env envelope
	rest, ok := bytes.CutPrefix(raw, []byte(`{"f":`))
	if ok {
		i := bytes.IndexByte(rest, ',')
		if i > 0 && bytes.HasPrefix(rest[i:], []byte(`,"v":`)) && bytes.HasSuffix(rest, []byte("}")) {
			if f, err := strconv.ParseInt(string(rest[:i]), 10, 64); err == nil {
				env.FreshUntil, env.Value = f, rest[i+len(`,"v":`):len(rest)-1]
				return env, true
			}
		}
	}
	return env, json.Unmarshal(raw, &env) == nil
}

func (c *Layered) count(op, result string) { c.countN(op, result, 1) }

func (c *Layered) countN(op, result string, n int) {
	if c.metrics != nil {
		c.metrics.CacheOperations.WithLabelValues(op, result).Add(float64(n))
	}
}

// Scope is the credential scope of a cache key: "svc" for the gateway's own
// service credentials; for a pass-through backend a hash of the caller's
// credential cred (never the credential itself), so that data fetched with
// one caller's token is never served to another.
func Scope(backend string, passThrough bool, cred string) string {
	if !passThrough {
		return "svc"
	}
	if cred == "" {
		return "anon"
	}
	sum := sha256.Sum256([]byte(backend + "\x00" + cred))
	return "pt-" + hex.EncodeToString(sum[:16])
}

// Policy returns the cache's policy.
func (c *Layered) Policy() Policy { return c.policy }

// Request is one operation's state in the cache: what it was served stale
// and the generations it read (see local). The operation's loaders hold
// one and pass it to every Load.
type Request struct {
	stale staleTracker
	gens  genMemo
}

func (r *Request) memo() *genMemo {
	if r == nil {
		return nil
	}
	return &r.gens
}

// Spec describes one cached loader.
type Spec[K comparable, V any] struct {
	Kind    string
	Backend func(K) string
	// Key is the vendor identity of k within its backend and kind.
	Key   func(K) string
	TTL   func(K) time.Duration
	Fetch func(context.Context, K) (V, error)
	// Scope is the credential scope of backend's keys for the caller (see
	// Scope).
	Scope func(ctx context.Context, backend string) string
	// StaleOK says whether a fetch error is the vendor failing, so that the
	// last good value may be served (not the caller's fault, not a missing
	// object).
	StaleOK func(error) bool
}

// Load answers keys from the cache where fresh, and upstream otherwise; r
// (may be nil) is the operation's state.
func Load[K comparable, V any](ctx context.Context, c *Layered, r *Request, spec Spec[K, V], keys []K) ([]V, []error) {
	vals := make([]V, len(keys))
	errs := make([]error, len(keys))
	ckeys, backendOf := make([]string, len(keys)), make([]string, len(keys))
	for i, k := range keys {
		backendOf[i] = spec.Backend(k)
		ckeys[i] = spec.Kind + ":" + backendOf[i] + ":" + spec.Scope(ctx, backendOf[i]) + ":" + spec.Key(k)
	}
	now := c.now()
	nowMs, drops := now.UnixMilli(), c.local.snapshot()
	found, hits, gens, err := c.lookup(ctx, r, ckeys, backendOf, nowMs)
	if err != nil {
		slog.DebugContext(ctx, "cache unavailable, going upstream", "err", err)
		found, hits = nil, nil
	}
	stale := make([]*envelope, len(keys))
	var misses []int
	for i, ck := range ckeys {
		if found != nil && found[i] != nil {
			vals[i] = found[i].(V)
			c.count("get", "hit") // "local" says which layer answered
			continue
		}
		raw, ok := hits[ck]
		if !ok {
			c.count("get", "miss")
			misses = append(misses, i)
			continue
		}
		env, ok := decodeEnvelope(raw)
		if !ok || jsonx.Unmarshal(env.Value, &vals[i]) != nil {
			c.count("get", "error")
			misses = append(misses, i)
			continue
		}
		if nowMs < env.FreshUntil {
			c.count("get", "hit")
			c.local.put(ck, vals[i], gens[backendOf[i]], len(env.Value), env.FreshUntil, nowMs, drops)
			continue
		}
		stale[i] = &env
		misses = append(misses, i)
	}
	var (
		mu      sync.Mutex
		entries []Entry
		wg      sync.WaitGroup
	)
	for _, i := range misses {
		wg.Go(func() {
			k := keys[i]
			ttl := spec.TTL(k)
			// Identical misses in concurrent requests share one upstream
			// call; it runs detached from this request's cancellation so the
			// others are not failed by one client going away (the vendor
			// client's own timeout still bounds it).
			var (
				fetched V
				led     bool // this request made the call: fetched is its own
			)
			raw, err, _ := c.flight.Do(ckeys[i], func() ([]byte, error) {
				v, err := spec.Fetch(context.WithoutCancel(ctx), k)
				if err != nil {
					return nil, err
				}
				fetched, led = v, true
				return jsonx.Marshal(v)
			})
			switch {
			case err == nil && led:
				vals[i] = fetched
			case err == nil:
				// Another request's call: decode a copy of its own.
				err = jsonx.Unmarshal(raw, &vals[i])
			}
			if err != nil {
				if stale[i] != nil && c.policy.StaleFor > 0 && spec.StaleOK(err) && jsonx.Unmarshal(stale[i].Value, &vals[i]) == nil {
					c.count("get", "stale")
					age := now.Sub(time.UnixMilli(stale[i].FreshUntil).Add(-ttl))
					r.markStale(spec.Backend(k), spec.Kind, age, err)
					return
				}
				errs[i] = err
				return
			}
			// Not put in the local layer: a value enters it when it is read
			// back from Redis, i.e. asked for a second time. One-off keys (a
			// caller seen once, with pass-through credentials) never take
			// its memory.
			env := encodeEnvelope(c.now().Add(ttl).UnixMilli(), raw)
			mu.Lock()
			entries = append(entries, Entry{Key: ckeys[i], Value: env, TTL: ttl + c.policy.StaleFor})
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(entries) > 0 {
		if err := c.store.SetMany(ctx, entries); err != nil {
			slog.DebugContext(ctx, "cache write failed", "err", err)
		}
	}
	return vals, errs
}

// Invalidate drops cached entries ("kind:key") of backend for the service
// scope and the caller's scope (after a mutation); r (may be nil) is the
// operation's state.
func (c *Layered) Invalidate(ctx context.Context, r *Request, backend, scope string, kindKeys ...string) error {
	keys := make([]string, 0, 2*len(kindKeys))
	scopes := []string{"svc"}
	if s := scope; s != "svc" {
		scopes = append(scopes, s)
	}
	for _, kk := range kindKeys {
		kind, key, _ := strings.Cut(kk, ":")
		for _, s := range scopes {
			keys = append(keys, kind+":"+backend+":"+s+":"+key)
		}
	}
	c.local.drop(keys)
	if err := c.store.Delete(ctx, keys...); err != nil {
		return err
	}
	// A new generation, after the deletes: every replica's local copies of
	// this backend stop being used (see local). Bumped whether or not this
	// replica has a local layer: another replica sharing the Redis may.
	gen := strconv.FormatInt(c.now().UnixNano(), 36) + "-" + strconv.FormatUint(rand.Uint64(), 36)
	if err := c.store.SetMany(ctx, []Entry{{Key: genKey(backend), Value: []byte(gen), TTL: 24 * time.Hour}}); err != nil {
		return err
	}
	r.memo().set(backend, gen, c.now().UnixMilli())
	return nil
}

// StaleEntry is a value served past its freshness because the vendor failed.
type StaleEntry struct {
	Backend string  `json:"backend"`
	Kind    string  `json:"kind"`
	AgeSecs float64 `json:"ageSeconds"`
	Reason  string  `json:"reason"`
}

type staleTracker struct {
	mu      sync.Mutex
	entries []StaleEntry
}

func (r *Request) markStale(backend, kind string, age time.Duration, reason error) {
	if r == nil {
		return
	}
	r.stale.mu.Lock()
	defer r.stale.mu.Unlock()
	r.stale.entries = append(r.stale.entries, StaleEntry{Backend: backend, Kind: kind, AgeSecs: age.Round(time.Second).Seconds(), Reason: reason.Error()})
}

// Stale lists what the operation was served from stale entries.
func (r *Request) Stale() []StaleEntry {
	if r == nil {
		return nil
	}
	r.stale.mu.Lock()
	defer r.stale.mu.Unlock()
	return append([]StaleEntry(nil), r.stale.entries...)
}
