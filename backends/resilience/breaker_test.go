package resilience_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/backends/resilience"
	"github.com/fleetgraph/fleetgraph/internal/metrics"
)

// fastBreaker: no retries (each call is one attempt, so counts are exact)
// and a 50ms open state.
func fastBreaker(o *resilience.Options) {
	o.Retry.Disabled = true
	o.Breaker.OpenFor = 50 * time.Millisecond
}

// openBreaker makes five 500s in a row, and checks that they opened it.
func openBreaker(t *testing.T, e *env) {
	t.Helper()
	for range 5 {
		if code, err := e.get(t); err != nil || code != 500 {
			t.Fatalf("got %d %v, want the 500 itself", code, err)
		}
	}
	if s := e.tr.State(); s != gobreaker.StateOpen {
		t.Fatalf("breaker %v after 5 consecutive 500s, want open", s)
	}
}

func expectBreakerOpen(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, resilience.ErrBreakerOpen) {
		t.Fatalf("err = %v, want ErrBreakerOpen", err)
	}
	var te *backends.TransportError
	if !errors.As(err, &te) || te.Backend != backendName || te.Provider != provider || te.Route != route {
		t.Errorf("err = %#v, want a TransportError naming backend, provider and route", te)
	}
}

func TestBreakerGaugeClosedAtConstruction(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	resilience.New(nil, resilience.Options{Backend: backendName, Provider: provider, Metrics: m})
	v, series := gather(m, "fleetgraph_breaker_state", "backend", backendName)
	if series != 1 || v != 0 {
		t.Errorf("breaker gauge %v in %d series, want 0 (closed) in 1", v, series)
	}
}

func TestBreakerOpensAndSendsNothing(t *testing.T) {
	t.Parallel()
	e := setup(t, status(500), fastBreaker)
	openBreaker(t, e)
	if g := e.gauge(); g != 2 {
		t.Errorf("gauge = %v, want 2 (open)", g)
	}
	_, err := e.get(t)
	expectBreakerOpen(t, err)
	expectHits(t, e, 5)
	if got := e.requests("breaker_open"); got != 1 {
		t.Errorf("requests{breaker_open} = %v, want 1", got)
	}
	if got := e.requests("500"); got != 5 {
		t.Errorf("requests{500} = %v, want 5", got)
	}
}

func TestBreakerOpenRequestBodyIsClosed(t *testing.T) {
	t.Parallel()
	e := setup(t, status(500), fastBreaker)
	openBreaker(t, e)
	body := &closeTracker{Reader: strings.NewReader("x")}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, e.srv.URL, body)
	if _, err := e.tr.RoundTrip(req); !errors.Is(err, resilience.ErrBreakerOpen) {
		t.Fatalf("err = %v", err)
	}
	if !body.closed.Load() {
		t.Error("the request body of a refused call was not closed")
	}
}

type closeTracker struct {
	io.Reader
	closed atomic.Bool
}

func (c *closeTracker) Close() error { c.closed.Store(true); return nil }

func TestBreakerProbeSuccessCloses(t *testing.T) {
	t.Parallel()
	var code atomic.Int64
	code.Store(500)
	e := setup(t, switchable(&code), fastBreaker)
	openBreaker(t, e)
	code.Store(200)
	waitState(t, e.tr, gobreaker.StateHalfOpen)
	if g := e.gauge(); g != 1 {
		t.Errorf("gauge = %v, want 1 (half-open)", g)
	}
	if c, err := e.get(t); err != nil || c != 200 {
		t.Fatalf("probe: got %d %v", c, err)
	}
	if s := e.tr.State(); s != gobreaker.StateClosed {
		t.Errorf("breaker %v after a good probe, want closed", s)
	}
	if g := e.gauge(); g != 0 {
		t.Errorf("gauge = %v, want 0", g)
	}
	expectHits(t, e, 6)
}

func TestBreakerFailedProbeReopens(t *testing.T) {
	t.Parallel()
	e := setup(t, status(500), fastBreaker)
	openBreaker(t, e)
	waitState(t, e.tr, gobreaker.StateHalfOpen)
	if c, err := e.get(t); err != nil || c != 500 {
		t.Fatalf("probe: got %d %v", c, err)
	}
	if s := e.tr.State(); s != gobreaker.StateOpen {
		t.Errorf("breaker %v after a failed probe, want open", s)
	}
	_, err := e.get(t)
	expectBreakerOpen(t, err)
	expectHits(t, e, 6)
}

func TestBreakerHalfOpenLetsOneProbeThrough(t *testing.T) {
	t.Parallel()
	var code atomic.Int64
	code.Store(500)
	arrived, release := make(chan struct{}), make(chan struct{})
	e := setup(t, func(w http.ResponseWriter, r *http.Request) {
		if c := int(code.Load()); c != 200 {
			status(c)(w, r)
			return
		}
		arrived <- struct{}{}
		<-release
		status(200)(w, r)
	}, fastBreaker)
	openBreaker(t, e)
	code.Store(200)
	waitState(t, e.tr, gobreaker.StateHalfOpen)

	probe := make(chan error, 1)
	go func() { _, err := e.get(t); probe <- err }()
	<-arrived
	_, err := e.get(t) // the probe is in flight: refused
	expectBreakerOpen(t, err)
	close(release)
	if err := <-probe; err != nil {
		t.Fatal(err)
	}
	if s := e.tr.State(); s != gobreaker.StateClosed {
		t.Errorf("breaker %v, want closed", s)
	}
	expectHits(t, e, 6)
}

// blockUntilGone answers only when the caller has gone away.
func blockUntilGone(arrived chan<- struct{}) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if arrived != nil {
			arrived <- struct{}{}
		}
		<-r.Context().Done()
	}
}

func TestCanceledCallsDoNotTrip(t *testing.T) {
	t.Parallel()
	arrived := make(chan struct{})
	e := setup(t, blockUntilGone(arrived), func(o *resilience.Options) {
		o.Breaker.ConsecutiveFailures = 1 // one counted failure would open it
	})
	for range 3 {
		ctx, cancel := context.WithCancel(t.Context())
		go func() { <-arrived; cancel() }()
		if _, _, err := e.do(ctx, http.MethodGet, nil); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	}
	if s := e.tr.State(); s != gobreaker.StateClosed {
		t.Errorf("breaker %v after cancelled calls, want closed", s)
	}
	expectHits(t, e, 3) // not retried
	if got := e.requests("canceled"); got != 3 {
		t.Errorf("requests{canceled} = %v, want 3", got)
	}
}

func TestCallerDeadlineDoesNotTrip(t *testing.T) {
	t.Parallel()
	e := setup(t, blockUntilGone(nil), func(o *resilience.Options) { o.Breaker.ConsecutiveFailures = 1 })
	for range 2 {
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
		_, _, err := e.do(ctx, http.MethodGet, nil)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want context.DeadlineExceeded", err)
		}
	}
	if s := e.tr.State(); s != gobreaker.StateClosed {
		t.Errorf("breaker %v after the caller's deadlines, want closed", s)
	}
	expectHits(t, e, 2)
	if got := e.requests("timeout"); got != 2 {
		t.Errorf("requests{timeout} = %v, want 2", got)
	}
}

func TestBackendDeadlineWithCauseTrips(t *testing.T) {
	t.Parallel()
	e := setup(t, blockUntilGone(nil), func(o *resilience.Options) { o.Breaker.ConsecutiveFailures = 1 })
	errSlow := errors.New("backend call budget spent")
	ctx, cancel := context.WithTimeoutCause(t.Context(), 20*time.Millisecond, errSlow)
	defer cancel()
	if _, _, err := e.do(ctx, http.MethodGet, nil); err == nil {
		t.Fatal("want an error")
	}
	if s := e.tr.State(); s != gobreaker.StateOpen {
		t.Errorf("breaker %v, want open: a deadline with a cause is the backend's", s)
	}
}

func TestBreakerOpeningStopsRetries(t *testing.T) {
	t.Parallel()
	e := setup(t, status(503), func(o *resilience.Options) {
		o.Breaker.ConsecutiveFailures = 2
		o.Retry.MaxAttempts = 5
	})
	code, body, err := e.do(t.Context(), http.MethodGet, nil)
	// The backend's own answer, not ErrBreakerOpen from a doomed retry.
	if err != nil || code != 503 || body != "Service Unavailable" {
		t.Fatalf("got %d %q %v, want the 503", code, body, err)
	}
	expectHits(t, e, 2)
	if got := e.requests("breaker_open"); got != 0 {
		t.Errorf("requests{breaker_open} = %v, want 0", got)
	}
}

func TestBreakerDisabled(t *testing.T) {
	t.Parallel()
	e := setup(t, status(500), func(o *resilience.Options) {
		o.Retry.Disabled = true
		o.Breaker.Disabled = true
	})
	for range 10 {
		if code, err := e.get(t); err != nil || code != 500 {
			t.Fatalf("got %d %v", code, err)
		}
	}
	if s := e.tr.State(); s != gobreaker.StateClosed {
		t.Errorf("disabled breaker reports %v", s)
	}
	expectHits(t, e, 10)
}

// fakeBase answers every request with the status code holds, without a
// network, so that the breaker's clock can run inside a synctest bubble.
type fakeBase struct{ code atomic.Int64 }

func (f *fakeBase) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: int(f.code.Load()), Header: http.Header{},
		Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
}

func roundTrips(t *testing.T, tr *resilience.Transport, n int) {
	t.Helper()
	for range n {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://backend.invalid/x", nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
}

func TestBreakerWindowRolls(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		base := &fakeBase{}
		base.code.Store(500)
		tr := resilience.New(base, resilience.Options{Backend: "b", Retry: resilience.RetryOptions{Disabled: true}})
		roundTrips(t, tr, 4)
		time.Sleep(31 * time.Second) // past the default 30s window
		roundTrips(t, tr, 4)
		if s := tr.State(); s != gobreaker.StateClosed {
			t.Fatalf("breaker %v: failures older than the window still counted", s)
		}
		time.Sleep(3 * time.Second) // one bucket further: the last 4 stay in
		roundTrips(t, tr, 1)
		if s := tr.State(); s != gobreaker.StateOpen {
			t.Fatalf("breaker %v after 5 failures within the window, want open", s)
		}
		time.Sleep(10*time.Second + time.Millisecond) // default OpenFor
		if s := tr.State(); s != gobreaker.StateHalfOpen {
			t.Fatalf("breaker %v after OpenFor, want half-open", s)
		}
	})
}

func TestBreakerFailureRatio(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		base := &fakeBase{}
		tr := resilience.New(base, resilience.Options{Backend: "b", Retry: resilience.RetryOptions{Disabled: true}})
		for i := range 10 {
			if s := tr.State(); s != gobreaker.StateClosed {
				t.Fatalf("breaker %v after %d requests, want closed until 10", s, i)
			}
			base.code.Store(map[bool]int64{true: 200, false: 503}[i%2 == 0])
			roundTrips(t, tr, 1)
		}
		// 5 of 10 failed, never two in a row: the ratio opened it.
		if s := tr.State(); s != gobreaker.StateOpen {
			t.Fatalf("breaker %v at a 0.5 failure ratio over 10 requests, want open", s)
		}
	})
}
