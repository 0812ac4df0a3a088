package budget

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Learning: a 429 means the account's real limit is below what the budget
// let through (another client of the account, a lower plan, a limit
// changed at run time). When the vendor says its limit (API Gateway:
// "limit:120,time:1 minute") the budget keeps 90% of it for an hour; when
// it does not (Run:ai), it halves the rate and recovers 10% of the
// configured rate per minute without a 429. The learned limit is shared
// through Redis, so that the replicas that never saw the 429 slow down too.
const (
	toldShare     = 0.9
	toldFor       = time.Hour
	untoldCut     = 0.5
	recoverPerMin = 0.1
	refreshEvery  = 2 * time.Second
	minPerMinute  = 1.0
)

type learnedLimit struct {
	perMinute float64   // the learned rate, calls per minute
	told      bool      // the vendor said it
	at        time.Time // when it was learned
	checked   time.Time // when Redis was last read for it
}

// apigLimit reads API Gateway's limit from a throttled answer's message:
// "... over ratelimit,limit:120,time:1 minute".
var apigLimit = regexp.MustCompile(`limit:\s*(\d+)\s*,\s*time:\s*(\d+)\s*(second|minute|hour)`)

// toldPerMinute is the limit a throttled answer's body states, per minute.
func toldPerMinute(body []byte) (float64, bool) {
	m := apigLimit.FindSubmatch(body)
	if m == nil {
		return 0, false
	}
	n, err1 := strconv.ParseFloat(string(m[1]), 64)
	span, err2 := strconv.ParseFloat(string(m[2]), 64)
	if err1 != nil || err2 != nil || n <= 0 || span <= 0 {
		return 0, false
	}
	unit := map[string]float64{"second": 1, "minute": 60, "hour": 3600}[string(m[3])]
	return n * 60 / (span * unit), true
}

// Learn reads a vendor answer to a call of ctx: a 429 lowers the account's
// limit (see above), and its Retry-After, when it has one, pauses the
// account until then on every replica. Other statuses are ignored.
func (b *Budget) Learn(ctx context.Context, status int, retryAfter time.Duration, body []byte) {
	if status != http.StatusTooManyRequests {
		return
	}
	acct := Account(ctx, b.o.Backend)
	now := b.now()
	if retryAfter > 0 {
		b.pause(ctx, acct, now.Add(retryAfter))
	}
	l := &learnedLimit{at: now, checked: now}
	if told, ok := toldPerMinute(body); ok {
		l.perMinute, l.told = max(minPerMinute, told*toldShare), true
	} else {
		l.perMinute = max(minPerMinute, b.effective(ctx, acct).PerSecond*60*untoldCut)
	}
	b.mu.Lock()
	b.learned[acct] = l
	rc := b.rc
	b.mu.Unlock()
	b.logger.Warn("upstream budget: the vendor throttled the account; limit lowered",
		"backend", b.o.Backend, "callsPerMinute", math.Round(l.perMinute*10)/10, "statedByVendor", l.told)
	if b.o.Observer != nil {
		b.o.Observer.BudgetLearned(b.o.Backend, l.perMinute)
	}
	if rc != nil {
		val := fmt.Sprintf("%g|%t|%d", l.perMinute, l.told, now.UnixMilli())
		rctx, cancel := b.redisCtx(ctx)
		defer cancel()
		if err := rc.Set(rctx, learnedKey(acct), val, toldFor).Err(); err != nil {
			b.warnRedis(err)
		}
	}
}

func learnedKey(acct string) string { return "fleetgraph:budget:learned:" + acct }

// effective is the limit in force for acct: the configured one, or the
// learned one while it is lower.
func (b *Budget) effective(ctx context.Context, acct string) Limit {
	conf := b.o.Limit
	l := b.learnedFor(ctx, acct)
	if l == nil {
		return conf
	}
	now := b.now()
	perMinute := l.perMinute
	switch {
	case l.told && now.Sub(l.at) < toldFor:
	case l.told:
		return conf
	default:
		perMinute += conf.PerSecond * 60 * recoverPerMin * math.Floor(now.Sub(l.at).Minutes())
	}
	confPerMinute := conf.PerSecond * 60
	if perMinute >= confPerMinute {
		return conf
	}
	share := perMinute / confPerMinute
	return Limit{PerSecond: perMinute / 60, Burst: max(1, int(math.Floor(float64(conf.Burst)*share)))}
}

// learnedFor is acct's learned limit, read again from Redis every
// refreshEvery (another replica may have learned one).
func (b *Budget) learnedFor(ctx context.Context, acct string) *learnedLimit {
	b.mu.Lock()
	l, rc := b.learned[acct], b.sharedLocked()
	now := b.now()
	stale := rc != nil && (l == nil || now.Sub(l.checked) >= refreshEvery)
	if stale && l != nil {
		l.checked = now
	}
	if stale && l == nil {
		b.learned[acct] = &learnedLimit{checked: now} // a placeholder: "none", until the next read
	}
	b.mu.Unlock()
	if stale {
		rctx, cancel := b.redisCtx(ctx)
		shared, ok := readLearned(rctx, rc, acct)
		cancel()
		if ok {
			shared.checked = now
			b.mu.Lock()
			if cur := b.learned[acct]; cur == nil || !cur.at.After(shared.at) {
				b.learned[acct] = shared
			}
			l = b.learned[acct]
			b.mu.Unlock()
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if l = b.learned[acct]; l == nil || l.perMinute == 0 {
		return nil
	}
	cp := *l
	return &cp
}

func readLearned(ctx context.Context, rc redis.UniversalClient, acct string) (*learnedLimit, bool) {
	v, err := rc.Get(ctx, learnedKey(acct)).Result()
	if err != nil {
		return nil, false // redis.Nil: none learned; an error: keep ours (take() warns)
	}
	return parseLearned(v)
}

// parseLearned reads "perMinute|told|unixMilli".
func parseLearned(s string) (*learnedLimit, bool) {
	parts := strings.Split(s, "|")
	if len(parts) != 3 {
		return nil, false
	}
	pm, err1 := strconv.ParseFloat(parts[0], 64)
	told, err2 := strconv.ParseBool(parts[1])
	ms, err3 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || pm <= 0 {
		return nil, false
	}
	return &learnedLimit{perMinute: pm, told: told, at: time.UnixMilli(ms)}, true
}

// Pauses: a 429's Retry-After says when the vendor takes calls again; until
// then the budget admits none for the account (one key per account in
// Redis, read with the learned limit).

func pauseKey(acct string) string { return "fleetgraph:budget:pause:" + acct }

func (b *Budget) pause(ctx context.Context, acct string, until time.Time) {
	b.mu.Lock()
	if until.After(b.paused[acct]) {
		b.paused[acct] = until
	}
	rc := b.rc
	b.mu.Unlock()
	if rc != nil {
		ttl := until.Sub(b.now())
		rctx, cancel := b.redisCtx(ctx)
		defer cancel()
		if err := rc.Set(rctx, pauseKey(acct), strconv.FormatInt(until.UnixMilli(), 10), max(ttl, time.Millisecond)).Err(); err != nil {
			b.warnRedis(err)
		}
	}
}

// pausedUntil is when acct's pause ends (zero: none), read again from
// Redis at most every refreshEvery.
func (b *Budget) pausedUntil(ctx context.Context, acct string) time.Time {
	now := b.now()
	b.mu.Lock()
	until, rc := b.paused[acct], b.sharedLocked()
	read := rc != nil && now.Sub(b.pauseRead[acct]) >= refreshEvery
	if read {
		b.pauseRead[acct] = now
	}
	b.mu.Unlock()
	if read {
		rctx, cancel := b.redisCtx(ctx)
		v, err := rc.Get(rctx, pauseKey(acct)).Result()
		cancel()
		if err == nil {
			if ms, err := strconv.ParseInt(v, 10, 64); err == nil && time.UnixMilli(ms).After(until) {
				until = time.UnixMilli(ms)
				b.mu.Lock()
				b.paused[acct] = until
				b.mu.Unlock()
			}
		}
	}
	if !until.After(now) {
		return time.Time{}
	}
	return until
}
