package backends

import (
	"context"
	"sync"
	"time"
)

// Token is one credential from a vendor's token endpoint, with the times on
// the local clock that TokenCache keeps it by.
type Token struct {
	Value string
	// RefreshAt: from then on a caller triggers a fetch of the next token.
	RefreshAt time.Time
	// ExpiresAt: until then the token is still handed out while a renewal
	// fails (the next call tries again). Zero: never past RefreshAt.
	ExpiresAt time.Time
}

// TokenCache caches the service credential of one client (Run:ai's
// client_credentials token, a ModelArts IAM token) and renews it. Concurrent
// callers needing a token share one fetch (single flight): N requests
// arriving with no valid token cause one token call, not N.
//
// Set the exported fields before first use; a TokenCache must not be copied
// after that.
type TokenCache struct {
	// Fetch obtains a new token. It runs detached from the caller's
	// cancellation (the fetch serves every waiter, so the first caller
	// giving up must not cancel it), under Timeout.
	Fetch func(ctx context.Context) (Token, error)
	// Timeout bounds one Fetch. Zero: none beyond Fetch's own.
	Timeout time.Duration
	// Now is the clock RefreshAt and ExpiresAt are compared with. Default
	// time.Now.
	Now func() time.Time
	// Provider, Backend and Route name the *TransportError returned to a
	// caller whose context ends while it waits for a fetch.
	Provider Provider
	Backend  string
	Route    string

	mu     sync.Mutex
	cur    Token
	flight *tokenFlight // the fetch in progress, if any
}

type tokenFlight struct {
	done chan struct{}
	tok  Token
	err  error
}

// Token returns a token: the cached one until its RefreshAt, otherwise the
// result of a fetch (started now, or joined when one is in flight). When
// that fetch fails and the cached token has not reached its ExpiresAt, the
// cached one is returned instead of the error.
func (c *TokenCache) Token(ctx context.Context) (string, error) {
	now := c.now()
	c.mu.Lock()
	if c.cur.Value != "" && now.Before(c.cur.RefreshAt) {
		tok := c.cur.Value
		c.mu.Unlock()
		return tok, nil
	}
	f := c.flight
	if f == nil {
		f = &tokenFlight{done: make(chan struct{})}
		c.flight = f
		// The token unblocks every call of the backend: the upstream
		// budget serves it first (a refused fetch would fail every
		// request that joined it, a mutation's too).
		go c.fetch(WithUrgent(context.WithoutCancel(ctx)), f)
	}
	stale := c.cur
	c.mu.Unlock()

	select {
	case <-f.done:
		if f.err != nil {
			if stale.Value != "" && now.Before(stale.ExpiresAt) {
				return stale.Value, nil
			}
			return "", f.err
		}
		return f.tok.Value, nil
	case <-ctx.Done():
		return "", NewTransportError(ctx, c.Provider, c.Backend, c.Route, ctx.Err())
	}
}

func (c *TokenCache) fetch(ctx context.Context, f *tokenFlight) {
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, c.Timeout, ErrTimeout)
		defer cancel()
	}
	tok, err := c.Fetch(ctx)
	c.mu.Lock()
	if err == nil {
		c.cur = tok
	}
	c.flight = nil
	c.mu.Unlock()

	f.tok, f.err = tok, err
	close(f.done)
}

// Invalidate drops the cached token if it is still used, the one a backend
// just refused. Comparing with used keeps N concurrent 401s from throwing
// away a token that one of them already replaced.
func (c *TokenCache) Invalidate(used string) {
	c.mu.Lock()
	if c.cur.Value == used {
		c.cur = Token{}
	}
	c.mu.Unlock()
}

func (c *TokenCache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

type urgentKey struct{}

// WithUrgent marks ctx's vendor calls as ones every other call waits for
// (a token fetch): backends/budget serves them in its first class.
func WithUrgent(ctx context.Context) context.Context {
	return context.WithValue(ctx, urgentKey{}, true)
}

// Urgent says whether ctx's calls were marked by WithUrgent.
func Urgent(ctx context.Context) bool {
	u, _ := ctx.Value(urgentKey{}).(bool)
	return u
}
