package fleet

import (
	"context"
	"errors"

	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/cache"
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

// requestOf is the cache state of the operation ctx runs (nil without
// loaders).
func requestOf(ctx context.Context) *cache.Request {
	if l, ok := ctx.Value(loadersKey{}).(*Loaders); ok {
		return l.req
	}
	return nil
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

// Invalidate drops backend's cached entries ("kind:key") for the service
// scope and the caller's, after a write.
func Invalidate(ctx context.Context, c *Cache, reg *Registry, backend string, kindKeys ...string) error {
	return c.Invalidate(ctx, requestOf(ctx), backend, scope(ctx, reg, backend), kindKeys...)
}
