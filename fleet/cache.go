package fleet

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"

	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/cache"
	"github.com/fleetgraph/fleetgraph/graph/model"
	"github.com/fleetgraph/fleetgraph/internal/metrics"
)

// The cache policy (envelope, stale-if-error, the local layer, generations)
// lives in cache.Layered; fleet supplies what only it knows: the credential
// scope of a backend (its source's credential, its pass-through setting)
// and which errors are the vendor failing.

// CachePolicy says how long each kind of result lives in the shared cache
// (see cache.Policy).
type CachePolicy = cache.Policy

// DefaultCachePolicy returns the defaults documented on cache.Policy.
func DefaultCachePolicy() CachePolicy { return cache.DefaultPolicy() }

// Cache is the shared cache under the loaders.
type Cache = cache.Layered

// NewCache returns a cache over store (cache.Noop{} to switch caching off).
// m may be nil.
func NewCache(store cache.Store, policy CachePolicy, m *metrics.Metrics) *Cache {
	return cache.NewLayered(store, policy, m)
}

// StaleEntry is a value served past its freshness because the vendor failed.
type StaleEntry = cache.StaleEntry

// StaleEntries lists what the request was served from stale cache entries.
func StaleEntries(ctx context.Context) []StaleEntry {
	l, ok := ctx.Value(loadersKey{}).(*Loaders)
	if !ok {
		return nil
	}
	return l.req.Stale()
}

// CacheRequest is the cache state of the operation ctx runs (nil without
// loaders), for the whole-response cache.
func CacheRequest(ctx context.Context) *cache.Request { return requestOf(ctx) }

// requestOf is the cache state of the operation ctx runs (nil without
// loaders).
func requestOf(ctx context.Context) *cache.Request {
	if l, ok := ctx.Value(loadersKey{}).(*Loaders); ok {
		return l.req
	}
	return nil
}

// CredentialScope is the caller's credential scope over every backend (the
// scope of each, in configuration order), for keys of answers that may hold
// data of any of them.
func (r *Registry) CredentialScope(ctx context.Context) string {
	var b strings.Builder
	for _, src := range r.sources {
		for _, name := range src.Backends() {
			b.WriteString(scope(ctx, r, name))
			b.WriteByte(',')
		}
	}
	return b.String()
}

// scope is the credential scope of backend's cache keys for the caller.
func scope(ctx context.Context, reg *Registry, backend string) string {
	if !reg.passThrough[backend] {
		return "svc"
	}
	creds, _ := backends.CredentialsFrom(ctx)
	var cred string
	if s := reg.byName[backend]; s != nil {
		cred = s.Credential(creds)
	}
	return cache.Scope(backend, true, cred)
}

// staleEligible says whether err is the vendor failing (serve the last good
// value) rather than the caller's fault or a missing object (do not).
func staleEligible(err error) bool {
	var tr *backends.TransportError
	return errors.As(err, &tr) || errors.Is(err, backends.ErrUnavailable) ||
		errors.Is(err, backends.ErrUpstream) || errors.Is(err, backends.ErrRateLimited)
}

// Invalidate fences backend's cached entries of the kinds of kindKeys
// ("kind:key"), after a write: every credential scope, on every replica
// (see cache.Layered.Invalidate).
func Invalidate(ctx context.Context, c *Cache, reg *Registry, backend string, kindKeys ...string) error {
	c.FenceByKey(keyedKinds(reg))
	return c.Invalidate(ctx, requestOf(ctx), backend, kindKeys...)
}

// keyedKinds lists the kinds that sources invalidate key by key (their
// Invalidates names a key: "rnodes:<cluster>"), for cache.FenceByKey. Only
// the shape of the answer matters, so any cluster and pool do.
func keyedKinds(reg *Registry) func() []string {
	return func() []string {
		var out []string
		for _, s := range reg.Sources() {
			for _, kk := range s.Invalidates("c", "p") {
				if kind, key, _ := strings.Cut(kk, ":"); key != "" {
					out = append(out, kind)
				}
			}
		}
		return out
	}
}

// transitional says whether a cached answer holds a node pool or a node in
// a phase the vendor ends on its own (Creating, Updating, Deleting,
// Checking): such answers get the short cache.Policy.Transitional TTL, so
// that "CREATING" is not shown for a minute after the pool became ready.
func transitional(v any) bool {
	switch v := v.(type) {
	case []*model.NodePool:
		return slices.ContainsFunc(v, func(p *model.NodePool) bool {
			return p != nil && (p.Phase == model.NodePoolPhaseCreating || p.Phase == model.NodePoolPhaseUpdating || p.Phase == model.NodePoolPhaseDeleting)
		})
	case []*model.Node:
		return slices.ContainsFunc(v, transitionalNode)
	}
	// Listings split by cluster (map[string][]*model.Node under a type of
	// the adapter's own).
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Map && rv.Type().Elem() == reflect.TypeFor[[]*model.Node]() {
		for it := rv.MapRange(); it.Next(); {
			if slices.ContainsFunc(it.Value().Interface().([]*model.Node), transitionalNode) {
				return true
			}
		}
	}
	return false
}

func transitionalNode(n *model.Node) bool {
	return n != nil && (n.Status == model.NodeStatusCreating || n.Status == model.NodeStatusDeleting || n.Status == model.NodeStatusChecking)
}
