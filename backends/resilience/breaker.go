package resilience

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/sony/gobreaker/v2"
)

// BreakerOptions configure the circuit breaker of one backend instance. Zero
// (or negative) fields take the defaults given beside them.
type BreakerOptions struct {
	// Disabled turns the breaker off: every request goes through and State
	// always reports closed.
	Disabled bool
	// FailureRatio opens the breaker when failures/(failures+successes) in
	// the Window reaches it, once MinRequests requests have completed.
	// Default 0.5.
	FailureRatio float64
	// MinRequests is how many completed, non-excluded requests the Window
	// must hold before FailureRatio applies. Default 10.
	MinRequests uint32
	// ConsecutiveFailures opens the breaker after this many failures in a
	// row, whatever the ratio. Default 5.
	ConsecutiveFailures uint32
	// Window is the rolling window the counts cover. It is split into 10
	// buckets (gobreaker's Interval and BucketPeriod), so old results roll
	// out a bucket at a time instead of all at once. Default 30s.
	Window time.Duration
	// OpenFor is how long the breaker stays open before it lets
	// HalfOpenProbes requests through to test the backend. Default 10s.
	OpenFor time.Duration
	// HalfOpenProbes is how many requests the half-open breaker lets
	// through (gobreaker's MaxRequests); that many successes in a row close
	// it, one failure opens it again. Default 1.
	HalfOpenProbes uint32
}

const (
	defaultFailureRatio        = 0.5
	defaultMinRequests         = 10
	defaultConsecutiveFailures = 5
	defaultWindow              = 30 * time.Second
	defaultOpenFor             = 10 * time.Second
	defaultHalfOpenProbes      = 1
	windowBuckets              = 10
)

func (o BreakerOptions) withDefaults() BreakerOptions {
	if o.FailureRatio <= 0 {
		o.FailureRatio = defaultFailureRatio
	}
	if o.MinRequests == 0 {
		o.MinRequests = defaultMinRequests
	}
	if o.ConsecutiveFailures == 0 {
		o.ConsecutiveFailures = defaultConsecutiveFailures
	}
	if o.Window <= 0 {
		o.Window = defaultWindow
	}
	if o.OpenFor <= 0 {
		o.OpenFor = defaultOpenFor
	}
	if o.HalfOpenProbes == 0 {
		o.HalfOpenProbes = defaultHalfOpenProbes
	}
	return o
}

// newBreaker builds the breaker of t. Its result type is the response of a
// healthy exchange; a failed one comes back as an error (see statusError).
func (t *Transport) newBreaker(o BreakerOptions) *gobreaker.CircuitBreaker[*http.Response] {
	bucket := o.Window / windowBuckets
	if bucket <= 0 {
		bucket = o.Window
	}
	return gobreaker.NewCircuitBreaker[*http.Response](gobreaker.Settings{
		Name:         t.backend,
		MaxRequests:  o.HalfOpenProbes,
		Interval:     o.Window,
		BucketPeriod: bucket,
		Timeout:      o.OpenFor,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			if c.ConsecutiveFailures >= o.ConsecutiveFailures {
				return true
			}
			// Completed requests, not c.Requests: that one also holds the
			// requests still in flight and the excluded ones, which would
			// dilute the ratio.
			done := c.TotalSuccesses + c.TotalFailures
			return done >= o.MinRequests && float64(c.TotalFailures)/float64(done) >= o.FailureRatio
		},
		OnStateChange: func(name string, from, to gobreaker.State) {
			t.setBreakerGauge(to)
			slog.Info("breaker state", "backend", name, "from", from.String(), "to", to.String())
		},
		// Only errors reach the breaker as failures: a 4xx other than 429
		// comes back as a plain response, because it is the caller's fault
		// and says nothing about the backend's health.
		IsSuccessful: func(err error) bool { return err == nil },
		IsExcluded:   isExcluded,
	})
}

// statusError carries an answer that counts as a breaker failure (5xx, 429)
// out of CircuitBreaker.Execute. RoundTrip unwraps it and hands the response
// to the client, which builds its typed APIError from the body.
type statusError struct{ resp *http.Response }

func (e *statusError) Error() string { return "upstream answered " + e.resp.Status }

// callerGoneError marks an exchange that failed because the request context
// ended for the caller's own reasons (see callerEnded), not the backend's.
type callerGoneError struct{ err error }

func (e *callerGoneError) Error() string { return e.err.Error() }
func (e *callerGoneError) Unwrap() error { return e.err }

// isExcluded keeps out of the breaker's counts what says nothing about the
// backend: a caller that went away (context.Canceled) and a caller whose own
// deadline ran out. A caller's deadline is the caller's budget, not a
// verdict on the backend: a GraphQL request with 50ms left, or a loader
// batch started late, would otherwise open the breaker on a healthy backend
// for every other caller. The price: a backend that hangs until the
// caller's deadline is not counted either. It trips the breaker only through
// the base transport's own timeouts (dial, TLS, ResponseHeaderTimeout) and
// through deadlines set with a cause (see callerEnded); a client's per-call
// timeout should be set that way.
func isExcluded(err error) bool {
	if err == nil {
		return false // every successful call asks: errors.As's reflection was 1.5% of a cold dashboard's CPU
	}
	var cg *callerGoneError
	return errors.As(err, &cg) || errors.Is(err, context.Canceled)
}

// callerEnded reports whether ctx ended for the caller's reasons: it was
// cancelled, or its deadline passed and the deadline carries no cause of its
// own. A layer that sets the backend's own time budget with
// context.WithTimeoutCause(ctx, d, cause) marks that deadline as the
// backend's: its expiry counts as a breaker failure.
func callerEnded(ctx context.Context) bool {
	switch ctx.Err() {
	case context.Canceled:
		return true
	case context.DeadlineExceeded:
		return context.Cause(ctx) == context.DeadlineExceeded
	}
	return false
}

// breakerFailure reports whether an answer counts against the backend.
func breakerFailure(status int) bool {
	return status >= 500 || status == http.StatusTooManyRequests
}

func (t *Transport) setBreakerGauge(s gobreaker.State) {
	if t.metrics != nil {
		// gobreaker's states are 0 closed, 1 half-open, 2 open: the gauge's
		// own encoding.
		t.metrics.BreakerState.WithLabelValues(t.backend).Set(float64(s))
	}
}
