// Package resilience is the http.RoundTripper every vendor client gets
// through its Config.HTTPClient: one Transport per backend instance, each
// with its own circuit breaker, retry policy, retry budget and metrics.
//
// The layers run in Cosmo's order: retries outermost, the breaker inside
// them, the base transport innermost. Every attempt passes the breaker, so
// a retry cannot reach an open backend, and the breaker counts attempts,
// not calls.
//
//   - Retries: only GET and HEAD, never a mutation. Another attempt follows
//     a 500, 502, 503, 504, 429 or a transport error, after an exponential
//     backoff with full jitter or the backend's Retry-After, within the
//     caller's deadline and a retry budget shared by the backend's calls.
//   - Breaker (gobreaker v2): failures are transport errors, 5xx and 429;
//     a 4xx other than 429 is the caller's fault and counts as a success; a
//     caller that went away or ran out of its own time is not counted at
//     all. An open breaker fails a call with ErrBreakerOpen without sending
//     it.
//   - Metrics: one UpstreamRequests count and one UpstreamDuration
//     observation per attempt, one UpstreamRetries count per retry, and the
//     BreakerState gauge.
//
// The Transport never logs a header, a token or a URL query.
package resilience

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/backends/budget"
	"github.com/fleetgraph/fleetgraph/internal/metrics"
)

// ErrBreakerOpen fails a call that the breaker did not let through: it is
// open, or half-open with its probes already in flight. No request was
// sent. RoundTrip returns it wrapped in a *backends.TransportError.
var ErrBreakerOpen = errors.New("circuit breaker open")

// Options configure a Transport.
type Options struct {
	// Backend is the backend instance name ("runai-prod"): the backend
	// label of every metric, the breaker's name, and the Backend of errors.
	Backend string
	// Provider is the vendor, the provider label of the metrics.
	Provider backends.Provider
	// Metrics receives the Transport's metrics. Nil records none. The
	// caller owns it; it is shared by every backend's Transport.
	Metrics *metrics.Metrics
	// Breaker configures the circuit breaker; the zero value is the
	// defaults of BreakerOptions.
	Breaker BreakerOptions
	// Retry configures retries; the zero value is the defaults of
	// RetryOptions.
	Retry RetryOptions
	// Budget keeps the backend's vendor account under its rate limit
	// (backends/budget): every attempt, retries included, takes a call
	// from it first, and a 429 teaches it the vendor's limit. Nil: none.
	Budget *budget.Budget
	// Now is the retry budget's clock and the reference for a Retry-After
	// date. Default time.Now. The breaker keeps time with time.Now
	// regardless (gobreaker has no clock to inject); test it with short
	// windows or testing/synctest.
	Now func() time.Time
}

// Transport is an http.RoundTripper that adds retries, a circuit breaker and
// metrics to a base transport, for one backend instance. It is safe for
// concurrent use; build it once per backend with New and share it.
type Transport struct {
	base     http.RoundTripper
	backend  string
	provider string
	metrics  *metrics.Metrics
	retry    RetryOptions
	retryOff bool
	cb       *gobreaker.CircuitBreaker[*http.Response] // nil when disabled
	budget   *retryBudget
	upstream *budget.Budget // nil: no upstream budget
	now      func() time.Time
	jitter   func(n int64) int64 // uniform in [0, n); swapped by tests
}

// New returns a Transport that sends through base. A nil base is a clone of
// http.DefaultTransport that keeps up to 1024 idle connections to the one
// host a backend talks to (the defaults, 2 per host and 100 in all, would
// close most of the connections a dashboard's parallel metrics calls opened,
// one per node, and dial them again on the next one: 8% of a 100-node cold
// dashboard's CPU; at 256, a 1000-node dashboard redialled ~750 connections
// every time, 12% of the gateway's CPU and 30% of the simulator's). Idle
// connections still close after IdleConnTimeout (90 s). It also opens at
// most 1024 connections to that host (MaxConnsPerHost; the default has no
// bound): a 10 000-node cold dashboard would open one per node, and beyond
// 1024 a call waits for a connection of the pool, within its context,
// instead of dialling (10 000-node cold dashboard p50 5.3-5.7 s -> 3.95 s,
// gateway CPU -20%, peak RSS 760 -> 650 MB). A connection counts against
// the bound until its answer's body is closed, which every client does on
// every path. The caller keeps ownership of a base it passes.
func New(base http.RoundTripper, opts Options) *Transport {
	if base == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 1024, 1024
		tr.MaxConnsPerHost = 1024
		base = tr
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	t := &Transport{
		base:     base,
		backend:  opts.Backend,
		provider: string(opts.Provider),
		metrics:  opts.Metrics,
		retry:    opts.Retry.withDefaults(),
		retryOff: opts.Retry.Disabled,
		upstream: opts.Budget,
		now:      now,
		jitter:   jitter,
	}
	t.budget = newRetryBudget(t.retry, now)
	if !opts.Breaker.Disabled {
		t.cb = t.newBreaker(opts.Breaker.withDefaults())
	}
	t.setBreakerGauge(gobreaker.StateClosed)
	return t
}

func jitter(n int64) int64 {
	if n <= 0 {
		return 0
	}
	return rand.Int64N(n)
}

// State returns the breaker's state, for /readyz and tests. A disabled
// breaker is always closed. An open breaker turns half-open when OpenFor has
// passed and something (a call, or State itself) looks at it.
func (t *Transport) State() gobreaker.State {
	if t.cb == nil {
		return gobreaker.StateClosed
	}
	return t.cb.State()
}

// CloseIdleConnections closes the idle connections of the base transport,
// so that http.Client.CloseIdleConnections reaches through the Transport.
func (t *Transport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// RoundTrip sends req through the breaker, retrying an idempotent request
// as RetryOptions allow. It returns the last answer, 5xx and 429 included,
// for the client to read; or the last error: ErrBreakerOpen (in a
// *backends.TransportError), the base transport's error, or ctx.Err() when
// the caller's context ended during a backoff.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	route := backends.RouteFrom(ctx)
	if route == "" {
		route = "other"
	}
	retryable := !t.retryOff && idempotent(req)
	if !t.retryOff {
		t.budget.deposit() // every request funds retries, not only reads
	}

	r := req
	for attempt := 1; ; attempt++ {
		resp, err := t.attempt(r, route)
		if !retryable || attempt >= t.retry.MaxAttempts {
			return resp, err
		}
		reason, ok := retryReason(ctx, resp, err)
		if !ok {
			return resp, err
		}
		if t.State() == gobreaker.StateOpen {
			// This attempt opened the breaker: the next one would be
			// refused, and the backend's own answer says more than
			// ErrBreakerOpen.
			return resp, err
		}
		delay := t.backoff(attempt, resp)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= delay {
			// The caller cannot wait that long: its answer now beats a
			// timeout later.
			return resp, err
		}
		next, gerr := rewind(req)
		if gerr != nil {
			return resp, err
		}
		if !t.budget.withdraw() {
			slog.Debug("retry budget exhausted", "backend", t.backend, "route", route, "reason", reason)
			closeBody(next)
			return resp, err
		}
		if t.metrics != nil {
			t.metrics.UpstreamRetries.WithLabelValues(t.backend, t.provider, reason).Inc()
		}
		// Discard the answer before the wait, so that its connection goes
		// back to the pool instead of idling with us.
		backends.DrainBody(resp)
		if werr := wait(ctx, delay); werr != nil {
			closeBody(next)
			return nil, werr
		}
		r = next
	}
}

// attempt sends r once through the budget and the breaker and records its
// metrics. A call the budget refuses is not sent: its *budget.Error comes
// back in a *backends.TransportError.
func (t *Transport) attempt(r *http.Request, route string) (*http.Response, error) {
	if t.upstream != nil {
		if err := t.upstream.Admit(r.Context()); err != nil {
			closeBody(r)
			return nil, &backends.TransportError{Backend: t.backend, Provider: backends.Provider(t.provider), Route: route, Err: err}
		}
	}
	start := time.Now()
	resp, sent, err := t.send(r)
	if t.upstream != nil && resp != nil && resp.StatusCode == http.StatusTooManyRequests {
		ra, _ := backends.ParseRetryAfter(resp.Header.Get("Retry-After"), t.now())
		t.upstream.Learn(r.Context(), resp.StatusCode, ra, peekBody(resp, 4<<10))
	}
	if !sent {
		closeBody(r)
		err = &backends.TransportError{Backend: t.backend, Provider: backends.Provider(t.provider), Route: route, Err: err}
	}
	if t.metrics != nil {
		code := "breaker_open"
		if sent {
			code = outcome(r.Context(), resp, err)
			t.metrics.UpstreamDuration.WithLabelValues(t.backend, t.provider, route).Observe(time.Since(start).Seconds())
		}
		t.metrics.UpstreamRequests.WithLabelValues(t.backend, t.provider, route, code).Inc()
	}
	return resp, err
}

// send is one exchange with the base transport under the breaker. sent is
// false when the breaker refused it; err is then ErrBreakerOpen.
func (t *Transport) send(r *http.Request) (resp *http.Response, sent bool, err error) {
	if t.cb == nil {
		resp, err = t.base.RoundTrip(r)
		return resp, true, err
	}
	resp, err = t.cb.Execute(func() (*http.Response, error) {
		sent = true
		res, rerr := t.base.RoundTrip(r)
		switch {
		case rerr != nil && callerEnded(r.Context()):
			return nil, &callerGoneError{err: rerr}
		case rerr != nil:
			return nil, rerr
		case breakerFailure(res.StatusCode):
			return nil, &statusError{resp: res}
		}
		return res, nil
	})
	if !sent {
		if errors.Is(err, gobreaker.ErrTooManyRequests) {
			return nil, false, errHalfOpenFull
		}
		return nil, false, ErrBreakerOpen
	}
	var se *statusError
	var cg *callerGoneError
	switch {
	case errors.As(err, &se):
		return se.resp, true, nil
	case errors.As(err, &cg):
		return nil, true, cg.err
	}
	return resp, true, err
}

// errHalfOpenFull is ErrBreakerOpen from a half-open breaker whose probes
// are all in flight.
var errHalfOpenFull = fmt.Errorf("%w: half-open, probes in flight", ErrBreakerOpen)

// outcome is the code label of an attempt that was sent.
func outcome(ctx context.Context, resp *http.Response, err error) string {
	if err == nil {
		return strconv.Itoa(resp.StatusCode)
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, context.Canceled) || ctx.Err() != nil:
		// Not "transport_error": the caller left, the backend did nothing
		// wrong, and error-rate alerts should not fire for it.
		return "canceled"
	}
	return "transport_error"
}

// rewind returns the request for another attempt: req itself when it has
// no body, otherwise a copy with a fresh body from GetBody.
func rewind(req *http.Request) (*http.Request, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return req, nil
	}
	if req.GetBody == nil {
		return nil, errors.New("request body cannot be replayed")
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, err
	}
	r := req.Clone(req.Context())
	r.Body = body
	return r, nil
}

// closeBody closes the body of a request that is not sent: a RoundTripper
// must close it, even on errors.
func closeBody(r *http.Request) {
	if r != nil && r.Body != nil {
		_ = r.Body.Close()
	}
}

// peekBody returns up to n bytes of resp's body and leaves the body whole
// for the client to read.
func peekBody(resp *http.Response, n int64) []byte {
	if resp.Body == nil {
		return nil
	}
	head, _ := io.ReadAll(io.LimitReader(resp.Body, n))
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(head), resp.Body), resp.Body}
	return head
}
