package cache

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// The race fence. A read that starts before a write and stores what it
// fetched after the write's invalidation would leave the pre-write answer in
// the cache for its whole TTL, on every replica. So every key carries the
// generation of its backend and kind ("rpools:runai-a:<gen>:svc:"), read
// (once per operation) before the key is read or written, and a write gives
// the kinds it changes new generations: a read that started before the
// write read the old generation, and can only store into a key no later
// read asks for. It needs no multi-key transaction (the generations are one
// hash per backend, read in a round trip of their own before the data keys,
// so the order of commands in a pipeline split across Cluster nodes never
// matters), and it covers every credential scope of the backend at once.
//
// Generations are random, never counters: a lost hash (a restart without
// persistence, a failover that lost it) starts from values no entry was ever
// written under, so neither Redis nor any replica's local layer can serve
// what was cached before. Entries of dead generations are never read again
// and expire by their TTL.

// genKey is the hash of backend's generations, one field per kind.
func genKey(backend string) string { return "gen:" + backend }

// genTTL bounds the life of a generation hash (renewed by every write and
// every re-creation): a backend that is never written gets a cold cache once
// a week, which costs what one TTL's expiry costs.
const genTTL = 7 * 24 * time.Hour

// newGeneration is a value no generation had before.
func newGeneration() string {
	return strconv.FormatInt(time.Now().UnixNano(), 36) + "-" + strconv.FormatUint(rand.Uint64(), 36)
}

// Generations implements Store: one HMGET per hash, split by master like
// every operation; a second round trip only when a field of Fields has no
// value yet (HSETNX, so concurrent readers agree on one value, then HMGET
// again: the same key, so the same node, in order).
func (r *Redis) Generations(ctx context.Context, reads []GenRead, init string) ([][]string, error) {
	out := make([][]string, len(reads))
	if len(reads) == 0 {
		return out, nil
	}
	keys := make([]string, len(reads))
	for i, g := range reads {
		keys[i] = g.Key
	}
	parts, err := perShard(ctx, r, "fence", keys, func(ctx context.Context, idx []int) ([][]string, error) {
		read := func(p redis.Pipeliner) []*redis.SliceCmd {
			cmds := make([]*redis.SliceCmd, len(idx))
			for j, i := range idx {
				cmds[j] = p.HMGet(ctx, r.key(keys[i]), append(slices.Clip(reads[i].Fields), reads[i].Refine...)...)
			}
			return cmds
		}
		var cmds []*redis.SliceCmd
		if _, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error { cmds = read(p); return nil }); err != nil {
			return nil, err
		}
		vals, missing := genValues(cmds, reads, idx)
		if !missing {
			return vals, nil
		}
		_, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for j, i := range idx {
				for f, name := range reads[i].Fields {
					if vals[j][f] == "" {
						p.HSetNX(ctx, r.key(keys[i]), name, init)
					}
				}
				p.PExpire(ctx, r.key(keys[i]), genTTL)
			}
			cmds = read(p)
			return nil
		})
		if err != nil {
			return nil, err
		}
		if vals, missing = genValues(cmds, reads, idx); missing {
			return nil, errors.New("generation missing right after it was set")
		}
		return vals, nil
	})
	for _, p := range parts {
		if p.ok {
			for j, i := range p.idx {
				out[i] = p.val[j]
			}
		}
	}
	return out, err
}

// genValues reads HMGET answers; missing says a field of Fields (not of
// Refine) had no value.
func genValues(cmds []*redis.SliceCmd, reads []GenRead, idx []int) (vals [][]string, missing bool) {
	vals = make([][]string, len(cmds))
	for j, c := range cmds {
		vs := c.Val()
		vals[j] = make([]string, len(vs))
		for f, v := range vs {
			s, _ := v.(string)
			vals[j][f] = s
			missing = missing || (s == "" && f < len(reads[idx[j]].Fields))
		}
	}
	return vals, missing
}

// Advance implements Store: one HSET and its expiry, on one key.
func (r *Redis) Advance(ctx context.Context, key string, gens map[string]string) error {
	_, err := perShard(ctx, r, "fence", []string{key}, func(ctx context.Context, _ []int) (struct{}, error) {
		_, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.HSet(ctx, r.key(key), gens)
			p.PExpire(ctx, r.key(key), genTTL)
			return nil
		})
		return struct{}{}, err
	})
	return err
}

// generations returns the generation of each key (of kind, in backendOf[i],
// keyOf[i]): its kind's, and for a kind fenced key by key its key's too;
// "" when it could not be read (the key is then neither read nor written).
// A request reads each backend's hash once for its kinds (see genMemo),
// asking for every kind the cache has seen so that later batches need no
// round trip; a batch of a kind fenced by key asks for its keys' fields.
func (c *Layered) generations(ctx context.Context, r *Request, kind string, backendOf, keyOf []string, nowMs int64) []string {
	byKey := c.isKeyed(kind)
	memo := r.memo()
	got := map[[2]string]string{} // (backend, field) -> generation
	known := func(b, field string) bool {
		if _, ok := got[[2]string{b, field}]; ok {
			return true
		}
		g, ok := memo.get(b, field, nowMs)
		if ok {
			got[[2]string{b, field}] = g
		}
		return ok
	}
	var reads []GenRead
	at := map[string]int{} // backend -> index in reads
	for i, b := range backendOf {
		okKind, okKey := known(b, kind), !byKey || known(b, kind+":"+keyOf[i])
		if okKind && okKey {
			continue
		}
		j, ok := at[b]
		if !ok {
			j, at[b] = len(reads), len(reads)
			reads = append(reads, GenRead{Key: genKey(b)})
		}
		if !okKind && reads[j].Fields == nil {
			reads[j].Fields = c.kinds.with(kind)
		}
		if f := kind + ":" + keyOf[i]; !okKey && !slices.Contains(reads[j].Refine, f) {
			reads[j].Refine = append(reads[j].Refine, f)
		}
	}
	if len(reads) > 0 {
		vals, err := c.store.Generations(ctx, reads, newGeneration())
		if err != nil {
			slog.DebugContext(ctx, "cache generations unavailable: those keys go upstream", "err", err)
		}
		for b, j := range at {
			g, v := reads[j], vals[j]
			if v == nil {
				continue
			}
			for f, name := range append(slices.Clip(g.Fields), g.Refine...) {
				got[[2]string{b, name}] = v[f]
				memo.set(b, name, v[f], nowMs)
			}
		}
	}
	out := make([]string, len(backendOf))
	for i, b := range backendOf {
		g, ok := got[[2]string{b, kind}]
		if !ok {
			continue
		}
		if byKey {
			kg, ok := got[[2]string{b, kind + ":" + keyOf[i]}]
			if !ok {
				continue
			}
			g += "." + kg // "" until the first write of that key
		}
		out[i] = g
	}
	return out
}

// FenceByKey names, once, the kinds that writes invalidate key by key
// ("rnodes:<cluster>"): each of their keys also carries a generation of its
// own, so that a write to one cluster's nodes leaves the other clusters'
// cached. Every replica must name the same kinds (they run the same code);
// calls after the first are ignored.
func (c *Layered) FenceByKey(kinds func() []string) {
	if c.keyed.Load() != nil {
		return
	}
	m := map[string]bool{}
	for _, k := range kinds() {
		m[k] = true
	}
	c.keyed.CompareAndSwap(nil, &m)
}

func (c *Layered) isKeyed(kind string) bool {
	m := c.keyed.Load()
	return m != nil && (*m)[kind]
}

// kindSet is the kinds a cache has been asked for, so far.
type kindSet struct {
	mu    sync.Mutex
	kinds []string // sorted
}

// with adds kind and returns a copy of the set.
func (s *kindSet) with(kind string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i, found := slices.BinarySearch(s.kinds, kind); !found {
		s.kinds = slices.Insert(s.kinds, i, kind)
	}
	return slices.Clone(s.kinds)
}

// Invalidate gives what kindKeys name ("kind:key": the key of a kind fenced
// by key, else the whole kind) new generations after a write to backend, for every credential scope and every replica at once;
// r (may be nil) is the operation's state, whose later reads see the new
// generations. When Redis cannot take them, Invalidate returns the error
// and keeps trying in the background, for as long as an entry written
// before could still be served (see retryAdvance).
func (c *Layered) Invalidate(ctx context.Context, r *Request, backend string, kindKeys ...string) error {
	var fields []string
	for _, kk := range kindKeys {
		field, key, _ := strings.Cut(kk, ":")
		if key != "" && c.isKeyed(field) {
			field += ":" + key
		}
		if !slices.Contains(fields, field) {
			fields = append(fields, field)
		}
	}
	if len(fields) == 0 {
		return nil
	}
	gens := advanceOf(fields)
	if err := c.store.Advance(ctx, genKey(backend), gens); err != nil {
		go c.retryAdvance(backend, fields)
		return err
	}
	nowMs := c.now().UnixMilli()
	for f, g := range gens {
		r.memo().set(backend, f, g, nowMs)
	}
	return nil
}

func advanceOf(fields []string) map[string]string {
	g := newGeneration()
	gens := make(map[string]string, len(fields))
	for _, f := range fields {
		gens[f] = g
	}
	return gens
}

// retryAdvance tries again to fence what a write changed, until it succeeds
// or no entry written before it can be served any more: the longest list
// TTL plus StaleFor. Until then readers may see the old answer; the write
// has logged that.
func (c *Layered) retryAdvance(backend string, fields []string) {
	p := c.policy
	deadline := time.Now().Add(max(p.Clusters, p.NodePools, p.Nodes) + p.StaleFor)
	wait := 100 * time.Millisecond
	for time.Now().Before(deadline) {
		t := time.NewTimer(wait)
		<-t.C
		wait = min(2*wait, 5*time.Second)
		if c.store.Advance(context.Background(), genKey(backend), advanceOf(fields)) == nil {
			slog.Info("cache invalidation done on retry", "backend", backend, "fields", fields)
			return
		}
	}
	slog.Warn("cache invalidation given up: what it meant to fence has expired", "backend", backend, "fields", fields)
}
