package simctl

import (
	"net/http"
	"strings"
	"time"
)

// Throttling: a vendor limits calls per account, not per client connection
// (ModelArts' API gateway per user, "limit:XX,time:1 minute"; Run:ai's 429
// is undocumented). The simulators model it as a sliding one-minute window
// per account: a call beyond RateLimitPerMinute within the last minute is
// answered by the vendor's ThrottleWriter, counted as "throttled" in
// /_sim/stats (and under its route, as every call is), and never reaches
// the handler.

// ThrottleWindow is the window RateLimitPerMinute counts over.
const ThrottleWindow = time.Minute

// ThrottleWriter writes the vendor's throttled answer: limit calls per
// window were used up; retryAfter is when the oldest of them leaves the
// window (a vendor may or may not say so).
type ThrottleWriter func(w http.ResponseWriter, r *http.Request, limit int, window, retryAfter time.Duration)

// AccountFunc names the account a request is billed to; "" for a request
// that is never throttled.
type AccountFunc func(r *http.Request) string

// BearerAccount bills a request to its credential: the Authorization
// header (a bearer token; for a signed request the signature header's
// Access= key) or X-Auth-Token. Requests without either share "anonymous".
func BearerAccount(r *http.Request) string {
	if a := r.Header.Get("Authorization"); a != "" {
		if _, rest, ok := strings.Cut(a, "Access="); ok { // SDK-HMAC-SHA256 Access=AK, SignedHeaders=..., Signature=...
			ak, _, _ := strings.Cut(rest, ",")
			return "ak:" + strings.TrimSpace(ak)
		}
		return "auth:" + a
	}
	if t := r.Header.Get("X-Auth-Token"); t != "" {
		return "token:" + t
	}
	return "anonymous"
}

// SetThrottle makes the controller enforce a per-account limit: limit
// calls per minute by default (0: none; POST /_sim/faults
// {"rateLimitPerMinute": N} overrides it until the faults are cleared),
// accounts named by account (BearerAccount when nil), answered by write.
// Call it before serving.
func (c *Controller) SetThrottle(limit int, account AccountFunc, write ThrottleWriter) {
	if account == nil {
		account = BearerAccount
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.baseLimit, c.account, c.writeThrottled = limit, account, write
}

// RateLimit is the per-account limit in force (calls per minute; 0: none).
func (c *Controller) RateLimit() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.limitLocked()
}

func (c *Controller) limitLocked() int {
	if c.faults.RateLimitPerMinute > 0 {
		return c.faults.RateLimitPerMinute
	}
	return c.baseLimit
}

// Throttled is the number of calls answered as throttled.
func (c *Controller) Throttled() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.throttled
}

// throttle decides whether r is over its account's limit; if so it
// returns the limit and when a slot frees. Every call that is let through
// takes a slot; throttled calls do not (APIG counts what it serves).
func (c *Controller) throttle(r *http.Request) (limit int, retryAfter time.Duration, over bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	limit = c.limitLocked()
	if limit <= 0 || c.writeThrottled == nil {
		return 0, 0, false
	}
	acct := c.account(r)
	if acct == "" {
		return 0, 0, false // a route the vendor does not throttle
	}
	now := c.clock()
	if c.windows == nil {
		c.windows = map[string][]time.Time{}
	}
	w := c.windows[acct]
	cut := 0
	for cut < len(w) && now.Sub(w[cut]) >= ThrottleWindow {
		cut++
	}
	w = w[cut:]
	if len(w) >= limit {
		c.windows[acct] = w
		c.throttled++
		return limit, ThrottleWindow - now.Sub(w[len(w)-limit]), true
	}
	c.windows[acct] = append(w, now)
	return limit, 0, false
}

func (c *Controller) clock() time.Time {
	if c.now != nil {
		return c.now()
	}
	return time.Now()
}

// SetClock replaces the clock of the throttling window (tests: a minute
// passes without waiting for it).
func (c *Controller) SetClock(now func() time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = now
}
