package cache

import (
	"context"
	"slices"
	"sync"
	"time"
)

// local is the in-process layer in front of the shared cache: decoded
// values, so that a hot key costs neither its transfer from Redis nor a JSON
// decode. An entry lives until the shared entry's freshness ends, and at
// most maxAge.
//
// Coherence between replicas goes through Redis: Invalidate writes a new
// generation for the backend (key "gen:<backend>") after deleting its keys,
// every local entry is tagged with the generation read with it, and a
// lookup reads the current generation in the same round trip as the keys it
// asks Redis for. An entry whose tag differs is not used. So a replica never
// serves what another replica's write invalidated, as with Redis alone; when
// Redis cannot be read, the local layer is not used either.
//
// Values are shared by every request that reads them: the fleet layer
// builds new slices and structs from loaded values and never writes to them.
type local struct {
	maxBytes int // budget, in encoded (JSON) bytes
	maxAge   time.Duration

	mu      sync.RWMutex
	entries map[string]localEntry
	bytes   int
	// drops counts drops. A value read before a drop may be older than what
	// the drop removed, so put refuses it when drops moved since the read.
	drops uint64
}

type localEntry struct {
	value any
	gen   string // the backend's generation when the value was read
	until int64  // unix ms: the shared entry's freshness, capped by maxAge
	size  int    // encoded size
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

// snapshot is the value to pass to put for values read from now on.
func (l *local) snapshot() uint64 {
	if l == nil {
		return 0
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.drops
}

// put keeps value (size bytes encoded, read under generation gen) under key
// until freshUntilMs, at most maxAge from nowMs, unless something was
// dropped since snapshot returned drops.
func (l *local) put(key string, value any, gen string, size int, freshUntilMs, nowMs int64, drops uint64) {
	if l == nil || size > l.maxBytes/8 {
		return
	}
	until := min(freshUntilMs, nowMs+l.maxAge.Milliseconds())
	if until <= nowMs {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.drops != drops {
		return
	}
	l.remove(key)
	if l.bytes+size > l.maxBytes {
		l.evict(nowMs, size)
	}
	l.entries[key] = localEntry{value: value, gen: gen, until: until, size: size}
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

func (l *local) drop(keys []string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.drops++
	for _, k := range keys {
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

// genKey is the shared key holding backend's generation (see local).
func genKey(backend string) string { return "gen:" + backend }

// genMemoFor is how long a request reuses a generation it read: one read
// serves all the batches of a request, and a long-lived connection (its
// loaders serve every poll of its subscriptions) reads again after that.
const genMemoFor = time.Second

// genMemo holds the generations a request read (Request.gens).
type genMemo struct {
	mu sync.Mutex
	m  map[string]memoGen
}

type memoGen struct {
	gen  string
	atMs int64
}

func (g *genMemo) get(backend string, nowMs int64) (string, bool) {
	if g == nil {
		return "", false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	e, ok := g.m[backend]
	return e.gen, ok && nowMs-e.atMs < genMemoFor.Milliseconds()
}

func (g *genMemo) set(backend, gen string, nowMs int64) {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.m == nil {
		g.m = map[string]memoGen{}
	}
	g.m[backend] = memoGen{gen: gen, atMs: nowMs}
}

// lookup reads ckeys (of backends[i]): from the local layer where it holds
// a value of the backend's current generation, from the shared store
// otherwise. It returns the local answers (found[i]), the store's hits, and
// the generations it read, to tag what the caller puts in the local layer.
// err is the store's: then nothing is answered.
func (c *Layered) lookup(ctx context.Context, r *Request, ckeys, backends []string, nowMs int64) (found []any, hits map[string][]byte, gens map[string]string, err error) {
	if c.local == nil {
		hits, err = c.store.GetMany(ctx, ckeys)
		return nil, hits, nil, err
	}
	found = make([]any, len(ckeys))
	cand := make([]localEntry, len(ckeys))
	has := make([]bool, len(ckeys))
	memo := r.memo()
	gens = map[string]string{}
	var req, unknown []string
	for _, b := range backends {
		if _, ok := gens[b]; ok || slices.Contains(unknown, b) {
			continue
		}
		if g, ok := memo.get(b, nowMs); ok {
			gens[b] = g
			continue
		}
		unknown = append(unknown, b)
		req = append(req, genKey(b))
	}
	for i, ck := range ckeys {
		if cand[i], has[i] = c.local.get(ck, nowMs); !has[i] {
			req = append(req, ck)
		}
	}
	hits = map[string][]byte{}
	if len(req) > 0 {
		if hits, err = c.store.GetMany(ctx, req); err != nil {
			return nil, nil, nil, err
		}
	}
	for _, b := range unknown {
		gens[b] = string(hits[genKey(b)])
		memo.set(b, gens[b], nowMs)
	}
	var recheck []string
	n := 0
	for i, ck := range ckeys {
		switch {
		case !has[i]:
		case cand[i].gen == gens[backends[i]]:
			found[i] = cand[i].value
			n++
		default:
			recheck = append(recheck, ck) // written under an older generation
		}
	}
	if n > 0 {
		c.countN("local", "hit", n)
		if c.onLocalHits != nil {
			c.onLocalHits(ctx, n)
		}
	}
	if len(recheck) > 0 {
		more, err := c.store.GetMany(ctx, recheck)
		if err != nil {
			return found, hits, gens, nil // those keys miss, like any other
		}
		for k, v := range more {
			hits[k] = v
		}
	}
	return found, hits, gens, nil
}
