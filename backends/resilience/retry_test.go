package resilience_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/backends/resilience"
)

func TestRetry503Then200(t *testing.T) {
	t.Parallel()
	e := setup(t, sequence(503, 200), nil)
	code, body, err := e.do(t.Context(), http.MethodGet, nil)
	if err != nil || code != 200 || body != "OK" {
		t.Fatalf("got %d %q %v, want 200 OK", code, body, err)
	}
	expectHits(t, e, 2)
	if got := e.requests("503"); got != 1 {
		t.Errorf("requests{503} = %v, want 1", got)
	}
	if got := e.requests("200"); got != 1 {
		t.Errorf("requests{200} = %v, want 1", got)
	}
	if got := e.retries("503"); got != 1 {
		t.Errorf("retries{503} = %v, want 1", got)
	}
	if n, series := gather(e.m, "fleetgraph_upstream_request_duration_seconds", "route", route); n != 2 || series != 1 {
		t.Errorf("duration: %v observations in %d series, want 2 in 1 (one per attempt)", n, series)
	}
}

func TestRetryableStatuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		code  int
		hits  int64
		final int
	}{
		{500, 2, 200}, {502, 2, 200}, {503, 2, 200}, {504, 2, 200}, {429, 2, 200},
		{501, 1, 501}, {400, 1, 400}, {401, 1, 401}, {404, 1, 404}, {409, 1, 409},
	} {
		t.Run(http.StatusText(tc.code), func(t *testing.T) {
			t.Parallel()
			e := setup(t, sequence(tc.code, 200), nil)
			code, err := e.get(t)
			if err != nil || code != tc.final {
				t.Fatalf("got %d %v, want %d", code, err, tc.final)
			}
			expectHits(t, e, tc.hits)
		})
	}
}

func TestRetryGivesUpAfterMaxAttempts(t *testing.T) {
	t.Parallel()
	e := setup(t, status(503), func(o *resilience.Options) { o.Breaker.Disabled = true })
	code, body, err := e.do(t.Context(), http.MethodGet, nil)
	// The last answer is handed on intact: the client builds its APIError
	// from the body.
	if err != nil || code != 503 || body != "Service Unavailable" {
		t.Fatalf("got %d %q %v, want the last 503 and its body", code, body, err)
	}
	expectHits(t, e, 3)
	if got := e.retries("503"); got != 2 {
		t.Errorf("retries{503} = %v, want 2", got)
	}
}

func TestDiscardedAnswersFreeTheirConnection(t *testing.T) {
	t.Parallel()
	e := setup(t, sequence(503, 503, 200), nil)
	if code, err := e.get(t); err != nil || code != 200 {
		t.Fatalf("got %d %v", code, err)
	}
	// Each discarded 503 was drained and closed, so its connection went
	// back to the pool and carried the next attempt.
	if n := e.conns.Load(); n != 1 {
		t.Errorf("%d connections for 3 attempts, want 1", n)
	}
}

func TestRetryHEAD(t *testing.T) {
	t.Parallel()
	e := setup(t, sequence(502, 200), nil)
	code, _, err := e.do(t.Context(), http.MethodHead, nil)
	if err != nil || code != 200 {
		t.Fatalf("got %d %v", code, err)
	}
	expectHits(t, e, 2)
}

func TestRetryAfterCappedAtMaxDelay(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	e := setup(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			status(429, "Retry-After", "1")(w, r)
			return
		}
		status(200)(w, r)
	}, func(o *resilience.Options) { o.Retry.MaxDelay = 50 * time.Millisecond })
	start := time.Now()
	code, err := e.get(t)
	elapsed := time.Since(start)
	if err != nil || code != 200 {
		t.Fatalf("got %d %v", code, err)
	}
	expectHits(t, e, 2)
	// Retry-After is honoured (no jitter below it) but capped at MaxDelay,
	// far below the second the server asked for.
	if elapsed < 45*time.Millisecond || elapsed > 500*time.Millisecond {
		t.Errorf("took %v, want about 50ms", elapsed)
	}
	if got := e.retries("429"); got != 1 {
		t.Errorf("retries{429} = %v, want 1", got)
	}
}

func TestMutationsAreNeverRetried(t *testing.T) {
	t.Parallel()
	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		t.Run(method, func(t *testing.T) {
			t.Parallel()
			e := setup(t, status(503), nil)
			// strings.Reader: GetBody is set, so the body could be replayed;
			// the method alone forbids it.
			code, body, err := e.do(t.Context(), method, strings.NewReader(`{"a":1}`))
			if err != nil || code != 503 || body != "Service Unavailable" {
				t.Fatalf("got %d %q %v, want the 503", code, body, err)
			}
			expectHits(t, e, 1)
			if _, got := gather(e.m, "fleetgraph_upstream_retries_total"); got != 0 {
				t.Errorf("%d retry series recorded, want none", got)
			}
		})
	}
}

func TestGETBodyRetriedOnlyWhenReplayable(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var bodies []string
	h := func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		status(503)(w, r)
	}
	e := setup(t, h, func(o *resilience.Options) { o.Breaker.Disabled = true })
	if _, _, err := e.do(t.Context(), http.MethodGet, bytes.NewReader([]byte("q"))); err != nil {
		t.Fatal(err)
	}
	expectHits(t, e, 3)
	mu.Lock()
	if strings.Join(bodies, ",") != "q,q,q" {
		t.Errorf("bodies %q, want the body on every attempt", bodies)
	}
	mu.Unlock()

	// No GetBody: the body cannot be sent twice.
	e2 := setup(t, status(503), nil)
	if _, _, err := e2.do(t.Context(), http.MethodGet, io.NopCloser(strings.NewReader("q"))); err != nil {
		t.Fatal(err)
	}
	expectHits(t, e2, 1)
}

func TestNotFoundIsNotRetriedAndKeepsBreakerClosed(t *testing.T) {
	t.Parallel()
	e := setup(t, status(404), nil)
	for range 20 {
		if code, err := e.get(t); err != nil || code != 404 {
			t.Fatalf("got %d %v", code, err)
		}
	}
	expectHits(t, e, 20)
	if s := e.tr.State(); s.String() != "closed" {
		t.Errorf("breaker %v after 20 404s, want closed", s)
	}
	if got := e.requests("404"); got != 20 {
		t.Errorf("requests{404} = %v, want 20", got)
	}
	if _, got := gather(e.m, "fleetgraph_upstream_retries_total"); got != 0 {
		t.Errorf("%d retry series recorded, want none", got)
	}
}

func TestDeadlineShorterThanRetryAfter(t *testing.T) {
	t.Parallel()
	e := setup(t, status(503, "Retry-After", "1"), func(o *resilience.Options) { o.Retry.MaxDelay = 5 * time.Second })
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	code, body, err := e.do(ctx, http.MethodGet, nil)
	if err != nil || code != 503 || body != "Service Unavailable" {
		t.Fatalf("got %d %q %v, want the 503 at once", code, body, err)
	}
	if elapsed := time.Since(start); elapsed > 200*time.Millisecond {
		t.Errorf("took %v: it waited for a retry the deadline could not fit", elapsed)
	}
	expectHits(t, e, 1)
}

func TestDeadlineShorterThanBackoff(t *testing.T) {
	t.Parallel()
	e := setup(t, status(500), func(o *resilience.Options) {
		o.Retry.BaseDelay, o.Retry.MaxDelay = time.Hour, time.Hour
	})
	resilience.SetJitter(e.tr, func(n int64) int64 { return n - 1 })
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	start := time.Now()
	if code, _, err := e.do(ctx, http.MethodGet, nil); err != nil || code != 500 {
		t.Fatalf("got %d %v", code, err)
	}
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("took %v", elapsed)
	}
	expectHits(t, e, 1)
}

func TestCancelDuringBackoff(t *testing.T) {
	t.Parallel()
	e := setup(t, status(503, "Retry-After", "10"), func(o *resilience.Options) { o.Retry.MaxDelay = 10 * time.Second })
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(30*time.Millisecond, cancel)
	start := time.Now()
	_, _, err := e.do(ctx, http.MethodGet, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("took %v after the cancel", elapsed)
	}
	expectHits(t, e, 1)
}

func TestTransportErrorsAreRetried(t *testing.T) {
	t.Parallel()
	e := setup(t, status(200), func(o *resilience.Options) { o.Breaker.Disabled = true })
	e.srv.Close() // connection refused from now on
	_, err := e.get(t)
	if err == nil {
		t.Fatal("want an error from a closed server")
	}
	var te *backends.TransportError
	if errors.As(err, &te) {
		t.Errorf("a base transport error came back wrapped: %v", err)
	}
	if got := e.requests("transport_error"); got != 3 {
		t.Errorf("requests{transport_error} = %v, want 3", got)
	}
	if got := e.retries("transport_error"); got != 2 {
		t.Errorf("retries{transport_error} = %v, want 2", got)
	}
}

func TestRetryBudget(t *testing.T) {
	t.Parallel()
	var clock atomic.Int64 // nanoseconds after t0
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e := setup(t, status(503), func(o *resilience.Options) {
		o.Breaker.Disabled = true
		o.Retry.BudgetMin = 2
		o.Retry.BudgetRatio = 0.25 // exact in binary: the counts below are exact
		o.Now = func() time.Time { return t0.Add(time.Duration(clock.Load())) }
	})
	for range 5 {
		if code, err := e.get(t); err != nil || code != 503 {
			t.Fatalf("got %d %v", code, err)
		}
	}
	// Tokens: 2 to start, +0.25 per request, -1 per retry. Request 1
	// retries twice (2.25 -> 0.25); requests 2 and 3 cannot; request 4
	// brings the budget to 1 and retries once; request 5 cannot.
	expectHits(t, e, 3+1+1+2+1)
	if got := e.retries("503"); got != 3 {
		t.Errorf("retries{503} = %v, want 3", got)
	}

	// A budget window later BudgetMin more tokens have trickled in.
	clock.Add(int64(10 * time.Second))
	if _, err := e.get(t); err != nil {
		t.Fatal(err)
	}
	expectHits(t, e, 8+3)
}

func TestRetryDisabled(t *testing.T) {
	t.Parallel()
	e := setup(t, status(503), func(o *resilience.Options) { o.Retry.Disabled = true })
	if code, err := e.get(t); err != nil || code != 503 {
		t.Fatalf("got %d %v", code, err)
	}
	expectHits(t, e, 1)
}

func TestNilMetrics(t *testing.T) {
	t.Parallel()
	e := setup(t, sequence(503, 200), func(o *resilience.Options) { o.Metrics = nil })
	if code, err := e.get(t); err != nil || code != 200 {
		t.Fatalf("got %d %v", code, err)
	}
	expectHits(t, e, 2)
}

func TestRouteDefaultsToOther(t *testing.T) {
	t.Parallel()
	e := setup(t, status(200), nil)
	resp, err := e.client.Get(e.srv.URL + "/x") // no backends.WithRoute
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got, _ := gather(e.m, "fleetgraph_upstream_requests_total", "route", "other", "code", "200"); got != 1 {
		t.Errorf("requests{route=other} = %v, want 1", got)
	}
}

func TestDefaultBase(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(status(200))
	t.Cleanup(srv.Close)
	tr := resilience.New(nil, resilience.Options{Backend: "b", Provider: backends.ModelArts})
	c := &http.Client{Transport: tr}
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	c.CloseIdleConnections()
}
