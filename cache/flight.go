package cache

import "golang.org/x/sync/singleflight"

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
