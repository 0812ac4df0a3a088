package cache

import (
	"context"
	"sync"
	"time"
)

// local is the in-process layer in front of the shared cache: decoded
// values, so that a hot key costs neither its transfer from Redis nor a JSON
// decode. An entry lives until the shared entry's freshness ends, and at
// most maxAge. It carries that freshness too: maxAge bounds how long this
// copy is kept, not how long the value is fresh, and a whole answer built
// from it (responses.go) may live by the value's freshness.
//
// Coherence between replicas goes through Redis: local keys are the shared
// keys, generation included (see fence.go), and the generations are read
// from Redis once per operation. A write anywhere gives its kinds new
// generations, after which no replica asks for the old keys, here or in
// Redis; when the generations cannot be read, the local layer is not used
// either.
//
// Values are shared by every request that reads them: the fleet layer
// builds new slices and structs from loaded values and never writes to them.
type local struct {
	maxBytes int // budget, in encoded (JSON) bytes
	maxAge   time.Duration

	mu      sync.RWMutex
	entries map[string]localEntry
	bytes   int
}

type localEntry struct {
	value any
	until int64 // unix ms: the shared entry's freshness, capped by maxAge
	fresh int64 // unix ms: the shared entry's freshness
	size  int   // encoded size
}

func newLocal(maxBytes int, maxAge time.Duration) *local {
	return &local{maxBytes: maxBytes, maxAge: maxAge, entries: make(map[string]localEntry)}
}

func (l *local) get(key string, nowMs int64) (localEntry, bool) {
	l.mu.RLock()
	e, ok := l.entries[key]
	l.mu.RUnlock()
	if !ok || nowMs >= e.until {
		return localEntry{}, false
	}
	return e, true
}

// put keeps value (size bytes encoded) under key until freshUntilMs, at
// most maxAge from nowMs.
func (l *local) put(key string, value any, size int, freshUntilMs, nowMs int64) {
	if l == nil || size > l.maxBytes/8 {
		return
	}
	until := min(freshUntilMs, nowMs+l.maxAge.Milliseconds())
	if until <= nowMs {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.remove(key)
	if l.bytes+size > l.maxBytes {
		l.evict(nowMs, size)
	}
	l.entries[key] = localEntry{value: value, until: until, fresh: freshUntilMs, size: size}
	l.bytes += size
}

func (l *local) remove(key string) {
	if e, ok := l.entries[key]; ok {
		l.bytes -= e.size
		delete(l.entries, key)
	}
}

// evict makes room for size bytes: expired entries first, then, if that is
// not enough, random ones (map order is random) down to 90% of the budget.
// l.mu is held.
func (l *local) evict(nowMs int64, size int) {
	for k, e := range l.entries {
		if nowMs >= e.until {
			l.remove(k)
		}
	}
	for k := range l.entries {
		if l.bytes+size <= l.maxBytes*9/10 {
			break
		}
		l.remove(k)
	}
}

// EnableLocal puts an in-process layer of decoded values in front of the
// shared cache: at most maxBytes of them (counted by their encoded size; a
// decoded value takes a few times that), each kept at most maxAge. onHits
// (may be nil) hears how many lookups of a request the layer answered: the
// shared store's own counting never sees them.
func (c *Layered) EnableLocal(maxBytes int, maxAge time.Duration, onHits func(context.Context, int)) {
	if maxBytes <= 0 || maxAge <= 0 {
		return
	}
	c.local, c.onLocalHits = newLocal(maxBytes, maxAge), onHits
}

// genMemoFor is how long a request reuses a generation it read: one read
// serves all the batches of a request, and a long-lived connection (its
// loaders serve every poll of its subscriptions) reads again after that.
const genMemoFor = time.Second

// genMemo holds the generations a request read (Request.gens), by backend
// and kind.
type genMemo struct {
	mu sync.Mutex
	m  map[[2]string]memoGen
}

type memoGen struct {
	gen  string
	atMs int64
}

func (g *genMemo) get(backend, kind string, nowMs int64) (string, bool) {
	if g == nil {
		return "", false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	e, ok := g.m[[2]string{backend, kind}]
	return e.gen, ok && nowMs-e.atMs < genMemoFor.Milliseconds()
}

func (g *genMemo) set(backend, kind, gen string, nowMs int64) {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.m == nil {
		g.m = map[[2]string]memoGen{}
	}
	g.m[[2]string{backend, kind}] = memoGen{gen: gen, atMs: nowMs}
}

// lookup reads ckeys ("" for a key not to be read: its generation is
// unknown): from the local layer where it holds the key, from the shared
// store otherwise. It returns the local answers (found[i]) and the store's
// hits, and until which each local answer is fresh (unix ms: the shared
// entry's freshness, not the end of the local copy's maxAge); err is the
// store's, for the keys it could not read (they miss).
func (c *Layered) lookup(ctx context.Context, ckeys []string, nowMs int64) (found []any, until []int64, hits map[string][]byte, err error) {
	found, until = make([]any, len(ckeys)), make([]int64, len(ckeys))
	var req []string
	n := 0
	for i, ck := range ckeys {
		if ck == "" {
			continue
		}
		if c.local != nil {
			if e, ok := c.local.get(ck, nowMs); ok {
				found[i], until[i] = e.value, e.fresh
				n++
				continue
			}
		}
		req = append(req, ck)
	}
	if n > 0 {
		c.countN("local", "hit", n)
		if c.onLocalHits != nil {
			c.onLocalHits(ctx, n)
		}
	}
	hits = map[string][]byte{}
	if len(req) > 0 {
		hits, err = c.store.GetMany(ctx, req)
	}
	return found, until, hits, err
}
