package cache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"sync"
	"time"
)

// Responses is the whole-response cache: an operation's encoded answer,
// kept in this process under a key of its normalised document, operation
// name, variables and credential scope (the caller builds it), for a
// dashboard that sends the same variables again and again. It is coherent
// with the race fence (fence.go): an entry records every generation the
// operation read, of every backend, and is served only while Redis still
// holds those same generations (one HMGET per backend, in one round trip,
// on every hit), so a write on any replica makes every replica's entries
// miss at once. An entry lives no longer than the shortest freshness of
// what it holds (a pass-through credential's values included, so
// Policy.PassThroughTrust still bounds them), and at most the configured
// TTL. Never cached: an operation that was served anything stale, or read
// anything whose generation could not be read (it went upstream unfenced).
// What the answer holds in errors is the caller's to check.
type Responses struct {
	c        *Layered
	ttl      time.Duration
	maxBytes int

	mu      sync.Mutex
	entries map[string]respEntry
	bytes   int
	seen    map[string]int64       // key -> unix ms: answered once, not kept (see seenFor)
	flights map[string]*respFlight // key -> the operation answering it now (see Join)
}

// Admission: an answer is kept the second time its key is answered within
// seenFor, as the local layer keeps a value on its second read. A sliding
// window (new variables on every request) or a caller seen once then costs
// a key in seen, never a copy of its answer; at most maxSeen keys are
// remembered (about 100 bytes each).
const (
	seenFor = time.Minute
	maxSeen = 10000
)

type respEntry struct {
	body  []byte
	extra any        // the caller's, kept with body (not counted in maxBytes)
	gens  []GenRead  // per backend: Refine names every field read
	want  [][]string // want[i][j]: the generation of gens[i].Refine[j]
	until int64      // unix ms
}

// EnableResponses gives c a response cache over its store: at most maxBytes
// of encoded answers, each kept at most ttl (see Responses).
func (c *Layered) EnableResponses(maxBytes int, ttl time.Duration) {
	if maxBytes > 0 && ttl > 0 {
		c.responses = &Responses{c: c, ttl: ttl, maxBytes: maxBytes, entries: map[string]respEntry{}, seen: map[string]int64{},
			flights: map[string]*respFlight{}}
	}
}

// Responses is c's response cache, nil unless enabled.
func (c *Layered) Responses() *Responses {
	if c == nil {
		return nil
	}
	return c.responses
}

// ResponseKey hashes the parts of a response's identity into a key.
func ResponseKey(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Get returns the answer cached under key while it is fresh and every
// generation it was built under is still current in Redis. A Redis failure
// is a miss.
func (s *Responses) Get(ctx context.Context, key string) ([]byte, any, bool) {
	nowMs := s.c.now().UnixMilli()
	s.mu.Lock()
	e, ok := s.entries[key]
	if ok && nowMs >= e.until {
		s.remove(key)
		ok = false
	}
	s.mu.Unlock()
	if !ok {
		s.c.count("response", "miss")
		return nil, nil, false
	}
	if !s.current(ctx, e) {
		s.mu.Lock()
		if cur, ok := s.entries[key]; ok && cur.until == e.until {
			s.remove(key)
		}
		s.mu.Unlock()
		s.c.count("response", "fenced")
		return nil, nil, false
	}
	s.c.count("response", "hit")
	return e.body, e.extra, true
}

// entry is what is kept and shared of body (and extra), built by the
// operation whose cache state is r: false when r was served anything stale
// or unfenced, or read nothing through the cache.
func (s *Responses) entry(body []byte, extra any, r *Request) (respEntry, bool) {
	if r == nil {
		return respEntry{}, false
	}
	nowMs := s.c.now().UnixMilli()
	r.reads.mu.Lock()
	until, unfenced, read := r.reads.until, r.reads.unfenced, r.reads.any
	r.reads.mu.Unlock()
	if unfenced || !read || len(r.Stale()) > 0 {
		return respEntry{}, false
	}
	until = min(until, nowMs+s.ttl.Milliseconds())
	if until <= nowMs {
		return respEntry{}, false
	}
	e := respEntry{body: bytes.Clone(body), extra: extra, until: until} // its own bytes: body may share a larger buffer
	byBackend := r.gens.snapshot()
	for _, b := range slices.Sorted(maps.Keys(byBackend)) {
		fields := byBackend[b]
		g := GenRead{Key: genKey(b)}
		var want []string
		for _, f := range slices.Sorted(maps.Keys(fields)) {
			g.Refine = append(g.Refine, f)
			want = append(want, fields[f])
		}
		e.gens, e.want = append(e.gens, g), append(e.want, want)
	}
	if len(e.gens) == 0 {
		return respEntry{}, false // nothing fenced it: not cached
	}
	return e, true
}

// store puts e under key, evicting what its budget needs.
func (s *Responses) store(key string, e respEntry) {
	nowMs := s.c.now().UnixMilli()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.remove(key)
	if s.bytes+len(e.body) > s.maxBytes {
		for k, old := range s.entries { // expired first, then any (map order is random)
			if nowMs >= old.until || s.bytes+len(e.body) > s.maxBytes*9/10 {
				s.remove(k)
			}
		}
	}
	s.entries[key] = e
	s.bytes += len(e.body)
}

// current says whether every generation e was built under is still the
// one in Redis (one HMGET per backend, in one round trip). A Redis failure
// says no.
func (s *Responses) current(ctx context.Context, e respEntry) bool {
	if len(e.gens) == 0 {
		return true
	}
	got, err := s.c.store.Generations(ctx, e.gens, "")
	return err == nil && slices.EqualFunc(got, e.want, slices.Equal)
}

// seenBefore says whether key was answered within seenFor, and remembers
// that it is now. s.mu is held.
func (s *Responses) seenBefore(key string, nowMs int64) bool {
	if at, ok := s.seen[key]; ok && nowMs-at < seenFor.Milliseconds() {
		s.seen[key] = nowMs // kept again at once when this entry expires
		return true
	}
	if len(s.seen) >= maxSeen {
		for k, at := range s.seen { // expired first, then any (map order is random)
			if nowMs-at >= seenFor.Milliseconds() || len(s.seen) >= maxSeen*9/10 {
				delete(s.seen, k)
			}
		}
	}
	s.seen[key] = nowMs
	return false
}

func (s *Responses) remove(key string) {
	if e, ok := s.entries[key]; ok {
		s.bytes -= len(e.body)
		delete(s.entries, key)
	}
}

// readTracker is what a Request read through the cache, for Responses.entry.
type readTracker struct {
	mu       sync.Mutex
	any      bool
	unfenced bool  // a key had no generation: it went upstream unfenced
	until    int64 // unix ms: the earliest end of freshness of a value read
}

// noteRead records a value fresh until untilMs (unix ms).
func (r *Request) noteRead(untilMs int64) {
	if r == nil {
		return
	}
	r.reads.mu.Lock()
	defer r.reads.mu.Unlock()
	if !r.reads.any || untilMs < r.reads.until {
		r.reads.until = untilMs
	}
	r.reads.any = true
}

func (r *Request) noteUnfenced() {
	if r == nil {
		return
	}
	r.reads.mu.Lock()
	r.reads.unfenced = true
	r.reads.mu.Unlock()
}

// snapshot returns the generations read, by backend and field.
func (g *genMemo) snapshot() map[string]map[string]string {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := map[string]map[string]string{}
	for k, v := range g.m {
		if out[k[0]] == nil {
			out[k[0]] = map[string]string{}
		}
		out[k[0]][k[1]] = v.gen
	}
	return out
}
