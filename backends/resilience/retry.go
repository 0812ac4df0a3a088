package resilience

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/backends/budget"
)

// RetryOptions configure the retries of idempotent requests (GET, HEAD).
// Zero (or negative) fields take the defaults given beside them.
type RetryOptions struct {
	// Disabled sends every request exactly once.
	Disabled bool
	// MaxAttempts bounds the attempts of one request, the first included.
	// Default 3.
	MaxAttempts int
	// BaseDelay is the backoff before the first retry; it doubles for each
	// further one, and each wait is drawn uniformly from [0, backoff) ("full
	// jitter") so that callers that failed together do not retry together.
	// Default 100ms.
	BaseDelay time.Duration
	// MaxDelay caps the backoff and a Retry-After the backend asks for.
	// Default 2s.
	MaxDelay time.Duration
	// BudgetRatio bounds retries to this share of requests: every request
	// (reads and writes alike) deposits BudgetRatio tokens in the retry
	// budget, every retry spends one, and a retry without a token is not
	// made. The budget banks at most BudgetMin plus one budget window's
	// deposits, so a long healthy spell cannot save up a retry storm.
	// Default 0.2.
	BudgetRatio float64
	// BudgetMin is the allowance on top of BudgetRatio: the budget starts
	// with BudgetMin tokens and earns BudgetMin more per budget window
	// (10s), so that a backend with little traffic can still retry.
	// Default 10.
	BudgetMin int
}

const (
	defaultMaxAttempts = 3
	defaultBaseDelay   = 100 * time.Millisecond
	defaultMaxDelay    = 2 * time.Second
	defaultBudgetRatio = 0.2
	defaultBudgetMin   = 10
	// budgetWindow is the period BudgetMin refers to, and the span of
	// traffic whose deposits the budget may bank (see retryBudget).
	budgetWindow = 10 * time.Second
)

func (o RetryOptions) withDefaults() RetryOptions {
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = defaultMaxAttempts
	}
	if o.BaseDelay <= 0 {
		o.BaseDelay = defaultBaseDelay
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = defaultMaxDelay
	}
	if o.BudgetRatio <= 0 {
		o.BudgetRatio = defaultBudgetRatio
	}
	if o.BudgetMin <= 0 {
		o.BudgetMin = defaultBudgetMin
	}
	return o
}

// idempotent reports whether req may be sent again without the caller
// knowing: only reads, and only when the body (if any) can be replayed. A
// mutation is never retried silently, whatever the answer.
func idempotent(req *http.Request) bool {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		return false
	}
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// retryReason says whether the outcome of an attempt is worth another one,
// and why (the UpstreamRetries label). The caller's context ending, a
// rejection by the breaker and one by the upstream budget (which waited
// its class's bound already) are not: another attempt cannot fix them.
func retryReason(ctx context.Context, resp *http.Response, err error) (string, bool) {
	if err != nil {
		if ctx.Err() != nil || errors.Is(err, ErrBreakerOpen) || errors.Is(err, budget.ErrExhausted) ||
			errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return "", false
		}
		return "transport_error", true
	}
	switch resp.StatusCode {
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable,
		http.StatusGatewayTimeout, http.StatusTooManyRequests:
		return strconv.Itoa(resp.StatusCode), true
	}
	return "", false
}

// backoff is the wait before retry number n (1 for the first retry): the
// capped exponential backoff with full jitter, or the Retry-After of resp
// (capped at MaxDelay) when it has one.
func (t *Transport) backoff(n int, resp *http.Response) time.Duration {
	o := t.retry
	if resp != nil {
		if d, ok := backends.ParseRetryAfter(resp.Header.Get("Retry-After"), t.now()); ok {
			return min(d, o.MaxDelay)
		}
	}
	ceil := o.MaxDelay
	if n-1 < 62 { // beyond that the shift overflows, and the cap applies anyway
		if d := o.BaseDelay << (n - 1); d > 0 && d < ceil {
			ceil = d
		}
	}
	return time.Duration(t.jitter(int64(ceil)))
}

// wait blocks for d or until ctx is done, whichever comes first.
func wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// retryBudget is a token bucket that keeps retries to a share of the
// traffic, so that a failing backend sees at most (1+ratio) times its usual
// load instead of MaxAttempts times. Every request deposits ratio tokens,
// every retry spends one, and min tokens trickle in per budgetWindow.
//
// The bucket holds at most min plus what one budgetWindow of traffic
// deposits (ratio times the requests of the busier of the current and the
// previous window): a long healthy spell must not bank a retry storm, but a
// burst of requests that fail together may retry in proportion to their
// number.
type retryBudget struct {
	ratio float64
	min   float64
	now   func() time.Time

	mu       sync.Mutex
	tokens   float64
	refilled time.Time // when min's trickle was last added
	winStart time.Time // start of the current window
	cur      int       // requests in the current window
	prev     int       // requests in the previous window
}

func newRetryBudget(o RetryOptions, now func() time.Time) *retryBudget {
	t := now()
	return &retryBudget{ratio: o.BudgetRatio, min: float64(o.BudgetMin), now: now,
		tokens: float64(o.BudgetMin), refilled: t, winStart: t}
}

// deposit records one request.
func (b *retryBudget) deposit() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.advance()
	b.cur++
	b.tokens = min(b.tokens+b.ratio, b.capacity())
}

// withdraw takes the token of one retry, and reports whether there was one.
func (b *retryBudget) withdraw() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.advance()
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

func (b *retryBudget) capacity() float64 {
	return max(b.min+b.ratio*float64(max(b.cur, b.prev)), 1)
}

// advance adds min's trickle for the time gone by and rolls the windows.
func (b *retryBudget) advance() {
	now := b.now()
	if d := now.Sub(b.refilled); d > 0 {
		b.tokens += b.min * float64(d) / float64(budgetWindow)
		b.refilled = now
	}
	if d := now.Sub(b.winStart); d >= budgetWindow {
		b.prev = b.cur
		if d >= 2*budgetWindow {
			b.prev = 0
		}
		b.cur = 0
		b.winStart = now
	}
	b.tokens = min(b.tokens, b.capacity())
}
