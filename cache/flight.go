package cache

import (
	"context"

	"golang.org/x/sync/singleflight"
)

// Flight collapses concurrent identical misses inside one replica into one
// upstream call: while a call for a key is in flight, later callers for the
// same key wait for it and share its result instead of calling upstream again.
// Nothing is remembered after the call returns (that is the Store's job), and
// replicas do not coordinate. The zero value is ready to use; a Flight must
// not be copied after first use.
type Flight struct {
	g singleflight.Group
}

// Do calls fn for key unless a call for key is already in flight, in which
// case it waits for that call and returns its result. shared reports whether
// the result went to more than one caller; a shared slice must be treated as
// read-only. The result order mirrors singleflight.Group.Do.
//
// fn runs once for all waiting callers, so it should not depend on one
// caller's context: if the first caller is cancelled, everyone waiting on that
// flight gets its error. Use the backend's own timeout inside fn.
func (f *Flight) Do(key string, fn func() ([]byte, error)) (v []byte, err error, shared bool) {
	res, err, shared := f.g.Do(key, func() (any, error) { return fn() })
	b, _ := res.([]byte)
	return b, err, shared
}

// DoContext is Do for a caller that waits at most until ctx is done: then
// it returns ctx's error, and the call goes on for the others waiting on
// it (fn must not depend on ctx, as for Do).
func (f *Flight) DoContext(ctx context.Context, key string, fn func() ([]byte, error)) (v []byte, err error, shared bool) {
	ch := f.g.DoChan(key, func() (any, error) { return fn() })
	select {
	case res := <-ch:
		b, _ := res.Val.([]byte)
		return b, res.Err, res.Shared
	case <-ctx.Done():
		return nil, ctx.Err(), false
	}
}
