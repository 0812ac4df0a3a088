package cache

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Flight collapses concurrent identical misses inside one replica into one
// upstream call: while a call for a key is in flight, later callers for the
// same key wait for it and share its result instead of calling upstream again.
// Nothing is remembered after the call returns (that is the Store's job), and
// replicas do not coordinate. The zero value is ready to use; a Flight must
// not be copied after first use.
type Flight struct {
	mu    sync.Mutex
	calls map[string]*flightCall
}

type flightCall struct {
	done   chan struct{}
	val    []byte
	err    error
	dups   int  // callers that joined it (under Flight.mu)
	shared bool // dups > 0 when it ended; read after done
}

// Do calls fn for key unless a call for key is already in flight, in which
// case it waits for that call and returns its result. shared reports whether
// the result went to more than one caller; a shared slice must be treated as
// read-only. A panic in fn is every caller's error, not a crash.
//
// fn runs once for all waiting callers, so it should not depend on one
// caller's context: if the first caller is cancelled, everyone waiting on that
// flight gets its error. Use the backend's own timeout inside fn.
func (f *Flight) Do(key string, fn func() ([]byte, error)) (v []byte, err error, shared bool) {
	return f.DoContext(context.Background(), key, 0, fn)
}

// DoContext is Do for a caller that waits at most until ctx is done: then
// it returns ctx's error, and the call goes on for the others waiting on it
// (fn must not depend on ctx, as for Do). The caller that makes the call
// makes it on its own goroutine (no goroutine more per call) when ctx has
// more than inline left, the longest the call is expected to take (the
// vendor client's timeout): the call then ends, answered or timed out,
// before ctx does. With less time left it makes the call on a goroutine of
// its own and waits for it until ctx is done.
func (f *Flight) DoContext(ctx context.Context, key string, inline time.Duration, fn func() ([]byte, error)) (v []byte, err error, shared bool) {
	f.mu.Lock()
	if c, ok := f.calls[key]; ok {
		c.dups++
		f.mu.Unlock()
		select {
		case <-c.done:
			return c.val, c.err, true
		case <-ctx.Done():
			return nil, ctx.Err(), false
		}
	}
	if f.calls == nil {
		f.calls = map[string]*flightCall{}
	}
	c := &flightCall{done: make(chan struct{})}
	f.calls[key] = c
	f.mu.Unlock()
	run := func() {
		defer func() {
			if r := recover(); r != nil {
				c.val, c.err = nil, fmt.Errorf("cache: the call for %s panicked: %v", key, r)
			}
			f.mu.Lock()
			delete(f.calls, key)
			c.shared = c.dups > 0
			f.mu.Unlock()
			close(c.done)
		}()
		c.val, c.err = fn()
	}
	if deadline, ok := ctx.Deadline(); !ok || time.Until(deadline) > inline {
		run()
		return c.val, c.err, c.shared
	}
	go run()
	select {
	case <-c.done:
		return c.val, c.err, c.shared
	case <-ctx.Done():
		return nil, ctx.Err(), false
	}
}
