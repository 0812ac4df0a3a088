package cache

import (
	"bytes"
	"context"
	"sync"
)

// respFlight is one operation answering a key while identical operations
// wait for its answer (Responses.Join).
type respFlight struct {
	done    chan struct{}
	waiting int       // operations waiting for it (under Responses.mu)
	group   string    // the answering operation's (Join)
	e       respEntry // the answer, once done; valid when ok
	ok      bool
	failed  bool // the answer has errors (finish's keep false)
}

// Join makes identical operations that miss at the same time execute
// once. When no operation is answering key, the caller is to answer it:
// Join returns served false and finish, which the caller must call exactly
// once with its answer: body nil when it has none to share (more than one
// payload, or the caller's own deadline or cancellation cut it short);
// keep false for an answer with errors, which is handed to the operations
// waiting but not kept (a vendor failing now may answer the next query).
// finish hands the answer to the operations that joined meanwhile and, when
// keep, keeps it (see seenFor; at most an eighth of the cache's budget per
// answer). Calls after the first do nothing. When another operation is
// answering key, Join waits for it (or for ctx) and returns its answer,
// served true, if that answer could be kept (entry's rules, or unread's for
// an answer that read nothing) and the generations it was built under are
// still current in Redis, as a hit's are; otherwise served false and a
// finish that does nothing: the caller executes on its own.
//
// An answer with errors is handed only to operations of the answering one's
// group (the caller's upstream budget class): its errors may be that
// class's own (a budget refusal), which an operation of another class
// would not get. Operations of another group execute on their own.
//
// A joined answer is not counted a second time by the admission rule of
// seenFor: concurrent identical requests are one answer, not the second
// one that would be kept.
func (s *Responses) Join(ctx context.Context, key, group string) (body []byte, extra any, served bool, finish func(body []byte, extra any, r *Request, keep bool)) {
	s.mu.Lock()
	f, ok := s.flights[key]
	if !ok {
		f = &respFlight{done: make(chan struct{}), group: group}
		s.flights[key] = f
		s.mu.Unlock()
		var once sync.Once
		return nil, nil, false, func(body []byte, extra any, r *Request, keep bool) {
			once.Do(func() { s.land(key, f, body, extra, r, keep) })
		}
	}
	f.waiting++
	s.mu.Unlock()
	select {
	case <-f.done:
	case <-ctx.Done():
		return nil, nil, false, noFinish
	}
	if !f.ok || (f.failed && f.group != group) || s.c.now().UnixMilli() >= f.e.until || !s.current(ctx, f.e) {
		s.c.count("response", "unshared")
		return nil, nil, false, noFinish
	}
	s.c.count("response", "shared")
	return f.e.body, f.e.extra, true, nil
}

// noFinish is the finish of an operation that answers on its own.
func noFinish([]byte, any, *Request, bool) {}

// land ends f, the flight of key, with its answer: handed to the
// operations waiting, and kept if keep and the key was answered before. An
// answer neither waited for nor kept is not copied.
func (s *Responses) land(key string, f *respFlight, body []byte, extra any, r *Request, keep bool) {
	nowMs := s.c.now().UnixMilli()
	s.mu.Lock()
	delete(s.flights, key)
	waiting := f.waiting
	admit := keep && body != nil && len(body) <= s.maxBytes/8 && s.seenBefore(key, nowMs)
	s.mu.Unlock()
	f.failed = !keep
	if body != nil && (waiting > 0 || admit) {
		f.e, f.ok = s.entry(body, extra, r)
		if !f.ok && !keep {
			f.e, f.ok = s.unread(body, extra, r)
		}
	}
	close(f.done)
	if f.ok && admit {
		s.store(key, f.e)
	}
}

// unread is what is shared of an answer with errors that read nothing
// through the cache (every backend it asked failed): nothing to fence, and
// nothing stale or unfenced in it. Never kept.
func (s *Responses) unread(body []byte, extra any, r *Request) (respEntry, bool) {
	if r == nil {
		return respEntry{}, false
	}
	r.reads.mu.Lock()
	unfenced, read := r.reads.unfenced, r.reads.any
	r.reads.mu.Unlock()
	if unfenced || read || len(r.Stale()) > 0 {
		return respEntry{}, false
	}
	return respEntry{body: bytes.Clone(body), extra: extra, until: s.c.now().UnixMilli() + s.ttl.Milliseconds()}, true
}
