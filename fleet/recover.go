package fleet

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
)

// PanicError is a panic recovered in a goroutine the gateway started for a
// request (an upstream call, a poller): the request gets an error, the
// process lives on. It classifies as INTERNAL.
type PanicError struct {
	In    string
	Value any
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic in %s: %v", e.In, e.Value) }

// RecoverInto turns a panic of the calling goroutine into *err (logged with
// its stack). Use it deferred, first thing in the goroutine.
func RecoverInto(ctx context.Context, in string, err *error) {
	if p := recover(); p != nil {
		slog.ErrorContext(ctx, "panic recovered", "in", in, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		if err != nil {
			*err = &PanicError{In: in, Value: p}
		}
	}
}

// safeFetch wraps an upstream fetch so that a panic in it (a vendor answer
// no mapper expected) fails its keys instead of the process: fetches run in
// goroutines of their own, outside gqlgen's and the dataloader's recover.
func safeFetch[K comparable, V any](kind string, fetch func(context.Context, K) (V, error)) func(context.Context, K) (V, error) {
	return func(ctx context.Context, k K) (v V, err error) {
		defer RecoverInto(ctx, "fetch "+kind, &err)
		return fetch(ctx, k)
	}
}
