package backends

import (
	"context"
	"errors"
	"fmt"
)

// NewTransportError wraps err, a failure to reach backend (of provider) on
// route, as a *TransportError.
//
// When ctx is done its error leads the chain ("context deadline exceeded:
// read tcp ...: connection reset"): it says more than "connection reset",
// callers test it with errors.Is, and the network cause stays matchable
// beside it. Timeout is then whether ctx's deadline passed; otherwise whether
// err itself is a timeout (net.Error).
func NewTransportError(ctx context.Context, provider Provider, backend, route string, err error) *TransportError {
	te := &TransportError{Backend: backend, Provider: provider, Route: route, Err: err}
	if cerr := ctx.Err(); cerr != nil {
		if !errors.Is(err, cerr) {
			te.Err = fmt.Errorf("%w: %w", cerr, err)
		}
		te.Timeout = errors.Is(cerr, context.DeadlineExceeded)
		return te
	}
	var ne interface{ Timeout() bool }
	te.Timeout = errors.As(err, &ne) && ne.Timeout()
	return te
}
