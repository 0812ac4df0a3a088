package cache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
	// Transitional caps the TTL of an answer that holds something in a
	// transitional phase (a node pool Creating, Updating or Deleting; see
	// Spec.Transitional), which the vendor will change on its own soon
	// (default 5s).
	Transitional time.Duration
	// PassThroughTrust bounds how long a caller's pass-through credential is
	// trusted without the vendor seeing it: what was fetched with it is
	// served from the cache at most this long after the fetch, and never
	// stale, so a revoked token reads cached data at most this long
	// (default 15s).
	PassThroughTrust time.Duration
	// CallTimeout is the longest one vendor call made for the cache is
	// expected to take: the longest backend timeout (default 10s). A request
	// with less time left than this waits for such a call only until its own
	// deadline (Flight.DoContext).
	CallTimeout time.Duration
}

// DefaultPolicy returns the defaults documented on Policy.
func DefaultPolicy() Policy {
	return Policy{
		Clusters: 60 * time.Second, NodePools: 60 * time.Second, Nodes: 15 * time.Second,
		MetricsRecent: 10 * time.Second, MetricsPast: time.Hour, RecentWindow: 5 * time.Minute,
		StaleFor: 10 * time.Minute, Transitional: 5 * time.Second, PassThroughTrust: 15 * time.Second,
		CallTimeout: 10 * time.Second,
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
	kinds       kindSet                         // every kind asked for: a request reads their generations together
	keyed       atomic.Pointer[map[string]bool] // kinds fenced key by key (FenceByKey)
	responses   *Responses                      // nil unless EnableResponses
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
		return "pt-anon"
	}
	sum := sha256.Sum256([]byte(backend + "\x00" + cred))
	return "pt-" + hex.EncodeToString(sum[:16])
}

// isPassThrough says whether scope is a caller's credential (see Scope).
func isPassThrough(scope string) bool { return strings.HasPrefix(scope, "pt-") }

// Policy returns the cache's policy.
func (c *Layered) Policy() Policy { return c.policy }

// Request is one operation's state in the cache: what it was served stale
// and the generations it read (see local). The operation's loaders hold
// one and pass it to every Load.
type Request struct {
	stale staleTracker
	gens  genMemo
	reads readTracker // for the whole-response cache (responses.go)
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
	// Transitional (may be nil) says whether v holds something in a
	// transitional phase: then it is cached at most Policy.Transitional.
	Transitional func(v V) bool
	// OneCall says Fetch makes one vendor call, which its client's timeout
	// (at most Policy.CallTimeout) bounds: a request with more time left
	// than that makes the call on its own goroutine. Otherwise (a paged
	// listing: one timeout per page) the call is made on a goroutine of its
	// own, and the request waits for it until its deadline.
	OneCall bool
}

// Load answers keys from the cache where fresh, and upstream otherwise; r
// (may be nil) is the operation's state.
func Load[K comparable, V any](ctx context.Context, c *Layered, r *Request, spec Spec[K, V], keys []K) ([]V, []error) {
	vals := make([]V, len(keys))
	errs := make([]error, len(keys))
	now := c.now()
	nowMs := now.UnixMilli()
	backendOf, keyOf, scopes := make([]string, len(keys)), make([]string, len(keys)), make([]string, len(keys))
	for i, k := range keys {
		backendOf[i], keyOf[i] = spec.Backend(k), spec.Key(k)
		scopes[i] = spec.Scope(ctx, backendOf[i])
	}
	// The generations first, in a round trip of their own: they are part
	// of every key (fence.go). A key whose generation could not be read is
	// neither read nor written ("" below): it goes upstream.
	gens := c.generations(ctx, r, spec.Kind, backendOf, keyOf, nowMs)
	ckeys := make([]string, len(keys))
	for i := range keys {
		if gens[i] != "" {
			ckeys[i] = spec.Kind + ":" + backendOf[i] + ":" + gens[i] + ":" + scopes[i] + ":" + keyOf[i]
		}
	}
	found, localUntil, hits, err := c.lookup(ctx, ckeys, nowMs)
	if err != nil {
		slog.DebugContext(ctx, "cache partly unavailable, those keys go upstream", "err", err)
	}
	stale := make([]*envelope, len(keys))
	var misses []int
	for i, ck := range ckeys {
		if found[i] != nil {
			vals[i] = found[i].(V)
			r.noteRead(localUntil[i])
			c.count("get", "hit") // "local" says which layer answered
			continue
		}
		if ck == "" {
			r.noteUnfenced()
			c.count("get", "error") // the generation could not be read
			misses = append(misses, i)
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
			r.noteRead(env.FreshUntil)
			c.count("get", "hit")
			c.local.put(ck, vals[i], len(env.Value), env.FreshUntil, nowMs)
			continue
		}
		if !isPassThrough(scopes[i]) { // a caller's credential is never trusted stale (Policy.PassThroughTrust)
			stale[i] = &env
		}
		misses = append(misses, i)
	}
	var (
		mu      sync.Mutex
		entries []Entry
	)
	FanOut(len(misses), func(m int) {
		i := misses[m]
		k := keys[i]
		raw, err := fetch(ctx, c, spec, k, ckeys[i], &vals[i], func(got V, raw []byte) {
			// This request is over (its deadline, or its client gone) by
			// the time the call it made answered: nobody else in it will
			// keep the value, so the call does.
			fresh, keep := ttls(c.policy, spec, k, got, scopes[i])
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lateStoreTimeout)
			defer cancel()
			entry := Entry{Key: ckeys[i], Value: encodeEnvelope(c.now().Add(fresh).UnixMilli(), raw), TTL: keep}
			if err := c.store.SetMany(sctx, []Entry{entry}); err != nil {
				slog.DebugContext(sctx, "cache write of a late answer failed", "err", err)
				return
			}
			c.count("set", "late")
		})
		if err != nil {
			if stale[i] != nil && c.policy.StaleFor > 0 && spec.StaleOK(err) && jsonx.Unmarshal(stale[i].Value, &vals[i]) == nil {
				c.count("get", "stale")
				age := now.Sub(time.UnixMilli(stale[i].FreshUntil).Add(-spec.TTL(k)))
				r.markStale(spec.Backend(k), spec.Kind, age, err)
				return
			}
			errs[i] = err
			return
		}
		if ckeys[i] == "" {
			return // no generation: not cached
		}
		fresh, keep := ttls(c.policy, spec, k, vals[i], scopes[i])
		// Not put in the local layer: a value enters it when it is read
		// back from Redis, i.e. asked for a second time. One-off keys (a
		// caller seen once, with pass-through credentials) never take
		// its memory.
		freshUntil := c.now().Add(fresh).UnixMilli()
		r.noteRead(freshUntil)
		env := encodeEnvelope(freshUntil, raw)
		mu.Lock()
		entries = append(entries, Entry{Key: ckeys[i], Value: env, TTL: keep})
		mu.Unlock()
	})
	if len(entries) > 0 {
		if err := c.store.SetMany(ctx, entries); err != nil {
			slog.DebugContext(ctx, "cache write failed", "err", err)
		}
	}
	return vals, errs
}

// fetch calls upstream for k into *v and returns its encoding. Identical
// misses in concurrent requests (the same key, generation included) share
// one call; it runs detached from this request's cancellation so the others
// are not failed by one client going away (the vendor client's own timeout
// still bounds it), but a request with less than Policy.CallTimeout left (any
// time left, for a fetch that is not Spec.OneCall)
// waits for it only until its own deadline: then it answers ctx's error
// (UPSTREAM_TIMEOUT), as a call made on its context would, and the call
// goes on for the others. A key without a generation (ckey "") is fetched alone
// and not encoded: it is not cached, and a shared call could have started
// before a write this read follows.
//
// late, when not nil, is called with the call's value when the call this
// request made answers after the request is over: whoever waits no longer
// keeps it (a value answered late, as most are past a deadline, is kept all
// the same: the next request finds it).
func fetch[K comparable, V any](ctx context.Context, c *Layered, spec Spec[K, V], k K, ckey string, v *V, late func(V, []byte)) ([]byte, error) {
	if ckey == "" {
		got, err := spec.Fetch(ctx, k)
		if err == nil {
			*v = got
		}
		return nil, err
	}
	var (
		fetched V
		led     bool // this request made the call: fetched is its own
	)
	inline := time.Duration(math.MaxInt64) // never: the fetch may outlast any one call's timeout
	if spec.OneCall {
		inline = c.policy.CallTimeout
	}
	raw, err, _ := c.flight.DoContext(ctx, ckey, inline, func() ([]byte, error) {
		got, err := spec.Fetch(context.WithoutCancel(ctx), k)
		if err != nil {
			return nil, err
		}
		raw, err := jsonx.MarshalFast(got)
		if err == nil && late != nil && ctx.Err() != nil {
			late(got, raw)
		}
		fetched, led = got, true
		return raw, err
	})
	if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		// Left before the call answered: fetched and led are the call's to
		// write, not this request's to read.
		return nil, err
	}
	switch {
	case err != nil && !led && ownFailure(err):
		// Another request's call, refused for that request: ours.
		var got V
		if got, err = spec.Fetch(context.WithoutCancel(ctx), k); err == nil {
			*v = got
			raw, err = jsonx.MarshalFast(got)
		}
	case err != nil:
	case led:
		*v = fetched
	default:
		// Another request's call: decode a copy of its own.
		err = jsonx.Unmarshal(raw, v)
	}
	return raw, err
}

// lateStoreTimeout bounds the write of a value whose request is over.
const lateStoreTimeout = time.Second

// ttls returns how long v (of k, in scope) is fresh and how long the shared
// cache keeps it (fresh, then stale-if-error).
func ttls[K comparable, V any](p Policy, spec Spec[K, V], k K, v V, scope string) (fresh, keep time.Duration) {
	fresh = spec.TTL(k)
	if p.Transitional > 0 && spec.Transitional != nil && spec.Transitional(v) {
		fresh = min(fresh, p.Transitional)
	}
	if isPassThrough(scope) {
		if p.PassThroughTrust > 0 {
			fresh = min(fresh, p.PassThroughTrust)
		}
		return fresh, fresh
	}
	return fresh, fresh + p.StaleFor
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
	r.stale.entries = append(r.stale.entries, StaleEntry{Backend: backend, Kind: kind, AgeSecs: age.Round(time.Second).Seconds(), Reason: staleReason(reason)})
}

// staleReason is a StaleEntry's reason: a short word when the failure has
// one (the upstream budget's refusal says "budget"), else the error's text.
func staleReason(err error) string {
	var r interface{ StaleReason() string }
	if errors.As(err, &r) {
		return r.StaleReason()
	}
	return err.Error()
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

// ownFailure says whether a failed call failed for a reason of the request
// that made it, not of the call: the upstream budget refused it for that
// request's class (backends/budget.Error), and a request of a higher class
// sharing the call makes its own instead of inheriting the refusal.
func ownFailure(err error) bool {
	var own interface{ OwnFailure() bool }
	return errors.As(err, &own) && own.OwnFailure()
}
