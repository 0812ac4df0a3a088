package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/formatter"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/fleetgraph/fleetgraph/backends/budget"
	"github.com/fleetgraph/fleetgraph/cache"
	"github.com/fleetgraph/fleetgraph/fleet"
)

// defaultResponseTTL is cache.responses.ttl's default.
const defaultResponseTTL = 5 * time.Second

// responseCache answers a query from the whole-response cache
// (cache.Responses) when the same document, operation name, variables,
// credential scope and extension headers were answered before and nothing
// the answer was built from has been written since; otherwise it runs the
// query and keeps the answer, unless it has errors, stale parts or more
// than one payload. Mutations and subscriptions pass through. It runs
// inside operationLoaders (a miss reads through the operation's loaders,
// whose cache state says what the answer was built from); a hit runs no
// resolver and none of the response handlers registered after it.
type responseCache struct {
	reg  *fleet.Registry
	resp *cache.Responses
	docs *lru.LRU[string] // raw document -> normalised document
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationInterceptor
} = responseCache{}

func newResponseCache(reg *fleet.Registry, resp *cache.Responses) responseCache {
	return responseCache{reg: reg, resp: resp, docs: lru.New[string](1000)}
}

func (responseCache) ExtensionName() string                   { return "ResponseCache" }
func (responseCache) Validate(graphql.ExecutableSchema) error { return nil }

// key is the operation's identity, "" when it is not to be cached.
func (rc responseCache) key(ctx context.Context, oc *graphql.OperationContext) string {
	if oc.Operation == nil || oc.Operation.Operation != ast.Query || oc.Doc == nil {
		return ""
	}
	doc, ok := rc.docs.Get(ctx, oc.RawQuery)
	if !ok {
		var b bytes.Buffer
		formatter.NewFormatter(&b).FormatQueryDocument(oc.Doc)
		doc = b.String()
		rc.docs.Add(ctx, oc.RawQuery, doc)
	}
	vars, err := json.Marshal(oc.Variables) // map keys sorted
	if err != nil {
		return ""
	}
	return cache.ResponseKey(doc, oc.OperationName, string(vars), rc.reg.CredentialScope(ctx),
		strings.ToLower(strings.TrimSpace(oc.Headers.Get(costHeader))))
}

func (rc responseCache) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	key := rc.key(ctx, oc)
	if key == "" {
		return next(ctx)
	}
	if data, ext, ok := rc.resp.Get(ctx, key); ok {
		return rc.answer(ctx, data, ext)
	}
	// Identical operations that miss at the same time execute once: the
	// others wait for this one's answer (cache.Responses.Join).
	data, ext, shared, finish := rc.resp.Join(ctx, key, budget.ClassOf(ctx).String())
	if shared {
		return rc.answer(ctx, data, ext)
	}
	// The operation may end without its handler being called (the client
	// went away): its waiters then execute on their own.
	stop := context.AfterFunc(ctx, func() { finish(nil, nil, nil, false) })
	handler := next(ctx)
	first := true
	return func(ctx context.Context) *graphql.Response {
		resp := handler(ctx)
		if first {
			first = false
			stop()
			switch {
			case resp == nil || resp.HasNext != nil || ctx.Err() != nil || resp.Extensions["stale"] != nil:
				// More than one payload, stale parts, or errors of this
				// operation's own deadline or cancellation (the waiters may
				// have time left).
				finish(nil, nil, nil, false)
			case len(resp.Errors) > 0:
				// Handed to the operations waiting (they would ask the failing
				// vendor again), not kept.
				finish(resp.Data, cachedAnswer{ext: maps.Clone(resp.Extensions), errs: copyErrors(resp.Errors)}, fleet.CacheRequest(ctx), false)
			default:
				// Its own extensions: the handlers around this one add theirs to the map.
				finish(resp.Data, cachedAnswer{ext: maps.Clone(resp.Extensions)}, fleet.CacheRequest(ctx), true)
			}
		}
		return resp
	}
}

// cachedAnswer is what an answer from the cache, or shared by the identical
// operation that executed, carries besides its data: the extensions it was
// answered with and, for a shared answer, its errors, as the handlers
// inside this one left them (the handlers around it edit them in place).
type cachedAnswer struct {
	ext  map[string]any
	errs gqlerror.List
}

// answer is the response handler of an answer from the cache.
func (responseCache) answer(ctx context.Context, data []byte, extra any) graphql.ResponseHandler {
	if st := statsFrom(ctx); st != nil {
		st.responseHit.Store(true)
	}
	sent := false
	return func(context.Context) *graphql.Response {
		if sent {
			return nil
		}
		sent = true
		a, _ := extra.(cachedAnswer)
		// Copies: the handlers around this one edit them, and others serve the same answer.
		return &graphql.Response{Data: data, Extensions: maps.Clone(a.ext), Errors: copyErrors(a.errs)}
	}
}

// copyErrors copies errs deep enough for a handler to edit one copy's
// errors (their extensions, paths, locations) without touching another's.
func copyErrors(errs gqlerror.List) gqlerror.List {
	if errs == nil {
		return nil
	}
	out := make(gqlerror.List, len(errs))
	for i, e := range errs {
		c := *e
		c.Path, c.Locations, c.Extensions = slices.Clone(e.Path), slices.Clone(e.Locations), maps.Clone(e.Extensions)
		out[i] = &c
	}
	return out
}

// validateResponseCache checks cache.responses: it needs the shared cache
// (its coherence is the generations in Redis) and keeps no answer longer
// than the shortest TTL of what an answer may hold.
func (c *Config) validateResponseCache() error {
	r := c.Cache.Responses
	if r.TTL < 0 || r.MaxBytes < 0 {
		return errors.New("config: cache.responses.ttl and cache.responses.maxBytes must not be negative")
	}
	if !r.Enabled {
		return nil
	}
	if c.Cache.Disabled || c.Redis.EffectiveMode() == "" {
		return errors.New("config: cache.responses.enabled needs the shared cache (redis: and cache.disabled: false): an answer is served only while the generations it was built under are unchanged in Redis")
	}
	p := cachePolicy(c)
	shortest := min(p.Clusters, p.NodePools, p.Nodes, p.MetricsRecent, p.MetricsPast, p.Transitional, p.PassThroughTrust)
	if ttl := r.TTL.or(defaultResponseTTL); ttl > shortest {
		return fmt.Errorf("config: cache.responses.ttl %s is longer than the shortest cache TTL (%s): an answer may not outlive what it holds", ttl, shortest)
	}
	return nil
}
