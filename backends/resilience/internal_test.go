package resilience

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	t.Parallel()
	tr := New(nil, Options{Retry: RetryOptions{BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second}})
	tr.jitter = func(n int64) int64 { return n } // the ceiling itself
	for n, want := range map[int]time.Duration{
		1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 400 * time.Millisecond,
		4: 800 * time.Millisecond, 5: time.Second, 70: time.Second,
	} {
		if got := tr.backoff(n, nil); got != want {
			t.Errorf("backoff(%d) = %v, want %v", n, got, want)
		}
	}
	resp := &http.Response{Header: http.Header{"Retry-After": {"30"}}}
	if got := tr.backoff(1, resp); got != time.Second {
		t.Errorf("backoff with Retry-After 30 = %v, want MaxDelay", got)
	}
	tr.jitter = jitter
	for range 1000 {
		if d := tr.backoff(2, nil); d < 0 || d >= 200*time.Millisecond {
			t.Fatalf("jittered backoff %v outside [0, 200ms)", d)
		}
	}
}

func TestIdempotent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		method string
		body   string // "", "replayable" (GetBody set) or "once"
		want   bool
	}{
		{http.MethodGet, "", true}, {http.MethodHead, "", true}, {http.MethodGet, "replayable", true},
		{http.MethodGet, "once", false},
		{http.MethodPost, "", false}, {http.MethodPut, "replayable", false},
		{http.MethodPatch, "", false}, {http.MethodDelete, "", false}, {http.MethodOptions, "", false},
	} {
		var body io.Reader
		switch tc.body {
		case "replayable":
			body = strings.NewReader("x")
		case "once":
			body = io.NopCloser(strings.NewReader("x"))
		}
		req, _ := http.NewRequest(tc.method, "http://x.invalid/", body)
		if got := idempotent(req); got != tc.want {
			t.Errorf("idempotent(%s, body %q) = %v, want %v", tc.method, tc.body, got, tc.want)
		}
	}
}

func TestCallerEnded(t *testing.T) {
	t.Parallel()
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancel2()
	caused, cancel3 := context.WithDeadlineCause(context.Background(), time.Unix(0, 0), context.Canceled)
	defer cancel3()
	for name, tc := range map[string]struct {
		ctx  context.Context
		want bool
	}{
		"live": {context.Background(), false}, "canceled": {canceled, true},
		"caller deadline": {expired, true}, "deadline with a cause": {caused, false},
	} {
		if got := callerEnded(tc.ctx); got != tc.want {
			t.Errorf("%s: callerEnded = %v, want %v", name, got, tc.want)
		}
	}
}

func TestDefaultBaseTransport(t *testing.T) {
	t.Parallel()
	tr := New(nil, Options{})
	ht, ok := tr.base.(*http.Transport)
	if !ok || ht.MaxIdleConnsPerHost != 1024 || ht.MaxIdleConns != 1024 {
		t.Fatalf("default base %T, want *http.Transport keeping 1024 idle connections (per host and in all)", tr.base)
	}
	if ht.MaxConnsPerHost != 1024 {
		t.Errorf("default base opens up to %d connections per host (0: no bound), want 1024", ht.MaxConnsPerHost)
	}
	if ht == http.DefaultTransport {
		t.Error("default base is http.DefaultTransport itself, not a clone")
	}
}
