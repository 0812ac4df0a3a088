// Package budget keeps a vendor account under its rate limit across every
// replica: one GCRA budget per upstream account (backend + credential) in
// the Redis the replicas share (github.com/go-redis/redis_rate: one key per
// account, so Redis Cluster safe), a local limiter (golang.org/x/time/rate)
// while Redis cannot answer, and a limit learned downwards from the
// vendor's 429 and recovered slowly.
//
// Calls come in priority classes (class.go). Mutations and interactive
// queries take the budget first; dashboards leave a reserve for them, and
// subscription polls a larger one. A class waits at most its bounded time
// for its share, then the call is refused with an *Error (no request
// sent): the cache serves the last good value if it has one (stale, reason
// "budget"), else the caller gets RATE_LIMITED with a retry hint.
package budget

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"

	"github.com/fleetgraph/fleetgraph/backends"
)

// Limit is a budget's rate: PerSecond calls per second on average, at most
// Burst at once.
type Limit struct {
	PerSecond float64
	Burst     int
}

// gcra is the limit in redis_rate's terms (whole calls per minute, at
// least one).
func (l Limit) gcra() redis_rate.Limit {
	return redis_rate.Limit{Rate: max(1, int(math.Round(l.PerSecond*60))), Burst: max(1, l.Burst), Period: time.Minute}
}

// Options configure a Budget.
type Options struct {
	Backend  string
	Provider backends.Provider
	// Limit is the configured rate; the learned one never exceeds it.
	Limit Limit
	// Waits bound how long each class waits for its share; zero values
	// are DefaultWaits'.
	Waits map[Class]time.Duration
	// Observer receives what the budget decides; nil records nothing.
	Observer Observer
	// RedisTimeout bounds each Redis call of the budget (default 200ms):
	// a Redis that hangs makes the budget local, not every vendor call
	// wait for it.
	RedisTimeout time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger; default slog.Default().
	Logger *slog.Logger
}

// Observer is told every decision (for metrics).
type Observer interface {
	// BudgetDecision: outcome is "admitted", "waited" (admitted after a
	// wait) or "refused".
	BudgetDecision(backend, class, outcome string, waited time.Duration)
	// BudgetRemaining is the calls left at once after a decision.
	BudgetRemaining(backend string, remaining int)
	// BudgetLearned is the learned limit in calls per minute (0: none).
	BudgetLearned(backend string, perMinute float64)
}

// Budget is one backend's budget, per account. Safe for concurrent use.
type Budget struct {
	o      Options
	now    func() time.Time
	logger *slog.Logger

	mu         sync.Mutex
	limiter    *redis_rate.Limiter // nil: local only
	rc         redis.UniversalClient
	local      map[string]*rate.Limiter // fallback, per account and limit
	learned    map[string]*learnedLimit // per account
	paused     map[string]time.Time     // per account: no call before (a 429's Retry-After)
	pauseRead  map[string]time.Time     // per account: when Redis was last read for it
	lines      map[lineKey]*line        // calls waiting for room, per account and class
	redisCalls chan struct{}            // a slot per Redis call in flight (maxRedisCalls)
	warned     time.Time                // last "Redis unreachable" warning
	downTil    time.Time                // Redis failed: local budget until then
}

// maxRedisCalls bounds the budget's Redis calls in flight per replica.
const maxRedisCalls = 16

// retryRedis is how long the budget stays local after Redis failed, so
// that a dead Redis costs one timeout per interval, not one per call.
const retryRedis = 5 * time.Second

// New returns the budget of one backend. Without UseRedis it is local to
// the process.
func New(o Options) *Budget {
	b := &Budget{o: o, now: o.Now, logger: o.Logger, local: map[string]*rate.Limiter{}, learned: map[string]*learnedLimit{},
		paused: map[string]time.Time{}, pauseRead: map[string]time.Time{}, lines: map[lineKey]*line{},
		redisCalls: make(chan struct{}, maxRedisCalls)}
	if b.now == nil {
		b.now = time.Now
	}
	if b.logger == nil {
		b.logger = slog.Default()
	}
	if b.o.RedisTimeout <= 0 {
		b.o.RedisTimeout = 200 * time.Millisecond
	}
	return b
}

// sharedLocked is the Redis client while Redis is taken to be up; nil
// otherwise (no client, or failed within retryRedis). b.mu is held.
func (b *Budget) sharedLocked() redis.UniversalClient {
	if b.rc == nil || b.now().Before(b.downTil) {
		return nil
	}
	return b.rc
}

// redisCtx bounds one Redis call of the budget.
func (b *Budget) redisCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, b.o.RedisTimeout)
}

// UseRedis shares the budget through rc (every replica on the same Redis
// shares it). Call it before serving.
func (b *Budget) UseRedis(rc redis.UniversalClient) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.rc = rc
	if rc != nil {
		b.limiter = redis_rate.NewLimiter(rc)
	}
}

// Limit is the configured limit.
func (b *Budget) Limit() Limit { return b.o.Limit }

// Backend names the budget's backend.
func (b *Budget) Backend() string { return b.o.Backend }

// Capacity is the most calls one operation of ctx's class could ever take
// from ctx's account within horizon: the whole burst above the class's
// reserve, then the rate for the rest of the horizon, as if nothing else
// used the account. lim is the limit in force (a learned one when lower
// than the configured). An operation that needs more cannot be answered
// cold within horizon whatever it waits.
func (b *Budget) Capacity(ctx context.Context, horizon time.Duration) (calls int, lim Limit) {
	lim = b.effective(ctx, Account(ctx, b.o.Backend))
	calls = lim.Burst - reserve(ClassOf(ctx), lim.Burst) + int(lim.PerSecond*horizon.Seconds())
	return calls, lim
}

// ErrExhausted is what an *Error matches with errors.Is.
var ErrExhausted = errors.New("upstream budget exhausted")

// Error refuses a call the budget had no room for within its class's
// wait. No request was sent. It matches ErrExhausted and
// backends.ErrRateLimited (RATE_LIMITED; stale data where cached).
type Error struct {
	Backend    string
	Class      Class
	Limit      Limit
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	return fmt.Sprintf("budget: backend %s has no room for a %s call within its limit (%.3g calls/s, burst %d); retry in %s",
		e.Backend, e.Class, e.Limit.PerSecond, e.Limit.Burst, e.RetryAfter.Round(time.Second))
}

// OwnFailure marks the refusal as the refused request's own: a request of
// another class that shared its call (cache.Flight) makes its own call
// rather than inherit it.
func (e *Error) OwnFailure() bool { return true }

// StaleReason is the reason a value served stale because of the refusal
// gives (extensions.stale[].reason).
func (e *Error) StaleReason() string { return "budget" }

// Is matches ErrExhausted and backends.ErrRateLimited.
func (e *Error) Is(target error) bool {
	return target == ErrExhausted || target == backends.ErrRateLimited
}

// Account names the account a call of ctx is billed to: the backend's
// service account, or in pass-through mode the caller's credential (a
// hash of it: the key never holds the secret).
func Account(ctx context.Context, backend string) string {
	c, ok := backends.CredentialsFrom(ctx)
	if !ok || (c.RunAIBearer == "" && c.ModelArtsAuthToken == "") {
		return backend
	}
	h := sha256.Sum256([]byte(c.RunAIBearer + "\x00" + c.ModelArtsAuthToken))
	return backend + "/" + hex.EncodeToString(h[:12])
}

// Admit takes one call from ctx's account, waiting at most its class's
// bound for room; an *Error when there is none by then.
//
// Calls of one account and class that have to wait queue in a local line
// (per replica), and only the call at its head asks Redis again: a storm
// of waiting dashboard calls costs Redis one call per retry, not one per
// waiting call (hundreds of them, each polling, made the budget's Redis
// calls time out under load, and a timed-out budget goes local).
func (b *Budget) Admit(ctx context.Context) error {
	class := ClassOf(ctx)
	acct := Account(ctx, b.o.Backend)
	wait := b.o.Waits[class]
	if wait == 0 {
		wait = DefaultWaits[class]
	}
	start := b.now()
	deadline := start.Add(wait)
	key := lineKey{acct, class}
	var askAt time.Time // when the call may ask again
	if !b.lineBusy(key) {
		lim, ok, remaining, retry := b.try(ctx, acct, class)
		if ok {
			b.observe(class, "admitted", 0, remaining)
			return nil
		}
		if err := b.tooLate(class, lim, retry, start, deadline, remaining); err != nil {
			return err
		}
		askAt = b.now().Add(retry)
	}
	// Wait in line for the head, then ask Redis at each retry.
	w, line := b.joinLine(key)
	defer b.leaveLine(key, w)
	timer := time.NewTimer(deadline.Sub(b.now()))
	defer timer.Stop()
	select {
	case <-w.head:
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		lim, retry := line.last()
		if lim.Burst == 0 { // no head has asked yet
			lim = b.o.Limit
		}
		b.observe(class, "refused", b.now().Sub(start), 0)
		return &Error{Backend: b.o.Backend, Class: class, Limit: lim, RetryAfter: max(retry, 10*time.Millisecond)}
	}
	for {
		if d := askAt.Sub(b.now()); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
		lim, ok, remaining, retry := b.try(ctx, acct, class)
		if ok {
			b.observe(class, "waited", b.now().Sub(start), remaining)
			return nil
		}
		line.seen(lim, retry)
		if err := b.tooLate(class, lim, retry, start, deadline, remaining); err != nil {
			return err
		}
		askAt = b.now().Add(max(retry, 10*time.Millisecond))
	}
}

// try asks for one call of class from acct (a pause the vendor asked for
// comes first).
func (b *Budget) try(ctx context.Context, acct string, class Class) (lim Limit, ok bool, remaining int, retry time.Duration) {
	lim = b.effective(ctx, acct)
	if until := b.pausedUntil(ctx, acct); !until.IsZero() {
		return lim, false, 0, until.Sub(b.now()) // the vendor said when: no call before
	}
	ok, remaining, retry = b.take(ctx, acct, lim, reserve(class, lim.Burst))
	return lim, ok, remaining, retry
}

// tooLate is the refusal of a call whose next chance, retry from now, is
// past its deadline; nil while it may still wait.
func (b *Budget) tooLate(class Class, lim Limit, retry time.Duration, start, deadline time.Time, remaining int) error {
	retry = max(retry, 10*time.Millisecond)
	if !b.now().Add(retry).After(deadline) {
		return nil
	}
	b.observe(class, "refused", b.now().Sub(start), remaining)
	return &Error{Backend: b.o.Backend, Class: class, Limit: lim, RetryAfter: retry}
}

// lineKey names one line: the calls of one account and class waiting
// here.
type lineKey struct {
	acct  string
	class Class
}

// line is the calls waiting for room, first come first served; the head
// asks Redis, the others wait for it to be admitted or to give up.
type line struct {
	mu      sync.Mutex
	waiters []*lineWaiter
	lim     Limit         // as the head last saw it
	retry   time.Duration // when the head asks again
}

type lineWaiter struct{ head chan struct{} } // closed when it is the line's head

// seen records what the head was told; last is it.
func (l *line) seen(lim Limit, retry time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lim, l.retry = lim, retry
}

func (l *line) last() (Limit, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lim, l.retry
}

func (b *Budget) lineBusy(k lineKey) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	l := b.lines[k]
	return l != nil && len(l.waiters) > 0
}

func (b *Budget) joinLine(k lineKey) (*lineWaiter, *line) {
	b.mu.Lock()
	defer b.mu.Unlock()
	l := b.lines[k]
	if l == nil {
		l = &line{}
		b.lines[k] = l
	}
	w := &lineWaiter{head: make(chan struct{})}
	l.waiters = append(l.waiters, w)
	if len(l.waiters) == 1 {
		close(w.head)
	}
	return w, l
}

// leaveLine takes w out of its line; the next waiter becomes the head.
func (b *Budget) leaveLine(k lineKey, w *lineWaiter) {
	b.mu.Lock()
	defer b.mu.Unlock()
	l := b.lines[k]
	wasHead := len(l.waiters) > 0 && l.waiters[0] == w
	l.waiters = slices.DeleteFunc(l.waiters, func(o *lineWaiter) bool { return o == w })
	if len(l.waiters) == 0 {
		delete(b.lines, k)
		return
	}
	if wasHead {
		close(l.waiters[0].head)
	}
}

func (b *Budget) observe(class Class, outcome string, waited time.Duration, remaining int) {
	if b.o.Observer != nil {
		b.o.Observer.BudgetDecision(b.o.Backend, class.String(), outcome, waited)
		b.o.Observer.BudgetRemaining(b.o.Backend, remaining)
	}
}

// take takes one call from acct if more than res calls would be left at
// once (a reserve for the classes above); otherwise it says when to try
// again.
func (b *Budget) take(ctx context.Context, acct string, lim Limit, res int) (ok bool, remaining int, retry time.Duration) {
	b.mu.Lock()
	shared := b.sharedLocked() != nil
	b.mu.Unlock()
	if shared {
		// At most maxRedisCalls at once: a wave of calls (a dashboard's
		// hundred metrics calls) waits here, not in the Redis client's
		// pool, where the RedisTimeout of each would run out and make the
		// budget local.
		select {
		case b.redisCalls <- struct{}{}:
			defer func() { <-b.redisCalls }()
		case <-ctx.Done():
			return false, 0, 0
		}
	}
	b.mu.Lock()
	limiter, rc := b.limiter, b.sharedLocked() // Redis may have failed meanwhile
	b.mu.Unlock()
	if rc != nil {
		rctx, cancel := b.redisCtx(ctx)
		ok, remaining, retry, err := takeRedis(rctx, rc, limiter, "fleetgraph:budget:"+acct, lim.gcra(), res)
		cancel()
		if err == nil {
			return ok, remaining, retry
		}
		if ctx.Err() != nil {
			return false, 0, 0 // the caller left; Admit returns its error
		}
		b.warnRedis(err)
		b.mu.Lock()
		b.downTil = b.now().Add(retryRedis)
		b.mu.Unlock()
	}
	return b.takeLocal(acct, lim, res)
}

// takeRedis takes one call in one round trip: with redis_rate when the
// class keeps no reserve, else with allowAbove, its script with the
// reserve checked in it.
func takeRedis(ctx context.Context, rc redis.Scripter, l *redis_rate.Limiter, key string, lim redis_rate.Limit, res int) (bool, int, time.Duration, error) {
	if res > 0 {
		return takeAbove(ctx, rc, key, lim, res)
	}
	r, err := l.Allow(ctx, key, lim)
	if err != nil {
		return false, 0, 0, err
	}
	return r.Allowed > 0, r.Remaining, r.RetryAfter, nil
}

func (b *Budget) takeLocal(acct string, lim Limit, res int) (bool, int, time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	key := fmt.Sprintf("%s|%g|%d", acct, lim.PerSecond, lim.Burst)
	l := b.local[key]
	if l == nil {
		l = rate.NewLimiter(rate.Limit(lim.PerSecond), max(1, lim.Burst))
		b.local[key] = l
	}
	now := b.now()
	tokens := l.TokensAt(now)
	if tokens-1 < float64(res) {
		missing := float64(res) + 1 - tokens
		return false, int(tokens), time.Duration(missing / lim.PerSecond * float64(time.Second))
	}
	l.AllowN(now, 1)
	return true, int(tokens - 1), 0
}

// warnRedis logs, at most once a minute, that the shared budget is down
// and each replica keeps its own.
func (b *Budget) warnRedis(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if now := b.now(); now.Sub(b.warned) >= time.Minute {
		b.warned = now
		b.logger.Warn("upstream budget: Redis unreachable, each replica keeps a local budget (the vendor may see up to replicas x the limit)",
			"backend", b.o.Backend, "error", err)
	}
}
