package backends

import (
	"context"
	"errors"
	"net"
	"syscall"
	"testing"
	"time"
)

type timeoutErr struct{}

func (timeoutErr) Error() string { return "i/o timeout" }
func (timeoutErr) Timeout() bool { return true }

func TestNewTransportError(t *testing.T) {
	t.Parallel()
	reset := &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	live := context.Background()
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancel2()

	for _, tc := range []struct {
		name    string
		ctx     context.Context
		err     error
		timeout bool
		is      []error
		msg     string
	}{
		{"live context, reset", live, reset, false, []error{syscall.ECONNRESET}, "read tcp: connection reset by peer"},
		{"live context, net timeout", live, timeoutErr{}, true, nil, "i/o timeout"},
		// The context's error leads, the cause stays matchable beside it.
		{"deadline passed", expired, reset, true, []error{context.DeadlineExceeded, syscall.ECONNRESET}, "context deadline exceeded: read tcp: connection reset by peer"},
		{"canceled", canceled, reset, false, []error{context.Canceled, syscall.ECONNRESET}, "context canceled: read tcp: connection reset by peer"},
		// Already the context's error: not doubled.
		{"ctx.Err itself", canceled, context.Canceled, false, []error{context.Canceled}, "context canceled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			te := NewTransportError(tc.ctx, RunAI, "runai-a", "/api/v1/clusters", tc.err)
			if te.Backend != "runai-a" || te.Provider != RunAI || te.Route != "/api/v1/clusters" {
				t.Errorf("names: %+v", te)
			}
			if te.Timeout != tc.timeout {
				t.Errorf("Timeout = %v, want %v", te.Timeout, tc.timeout)
			}
			for _, target := range tc.is {
				if !errors.Is(te, target) {
					t.Errorf("errors.Is(%v, %v) = false", te, target)
				}
			}
			if te.Err.Error() != tc.msg {
				t.Errorf("Err = %q, want %q", te.Err, tc.msg)
			}
		})
	}
}
