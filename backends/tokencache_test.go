package backends

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// fakeIssuer hands out tok-1, tok-2, ... living life, refreshed margin early;
// fail makes the next fetches fail, gate holds them until closed.
type fakeIssuer struct {
	clk          *fakeClock
	life, margin time.Duration
	calls        atomic.Int64
	fail         atomic.Bool
	gate         chan struct{}
}

func (f *fakeIssuer) fetch(ctx context.Context) (Token, error) {
	n := f.calls.Add(1)
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return Token{}, ctx.Err()
		}
	}
	if f.fail.Load() {
		return Token{}, errors.New("token endpoint down")
	}
	now := f.clk.Now()
	return Token{Value: "tok-" + strconv.FormatInt(n, 10), RefreshAt: now.Add(f.life - f.margin), ExpiresAt: now.Add(f.life)}, nil
}

func newCache(f *fakeIssuer) *TokenCache {
	return &TokenCache{Fetch: f.fetch, Now: f.clk.Now, Provider: RunAI, Backend: "b", Route: "/token", Timeout: time.Second}
}

func TestTokenCacheSingleFlight(t *testing.T) {
	t.Parallel()
	f := &fakeIssuer{clk: &fakeClock{t: time.Unix(1e9, 0)}, life: time.Hour, margin: time.Minute, gate: make(chan struct{})}
	c := newCache(f)
	const n = 50
	var wg sync.WaitGroup
	toks := make(chan string, n)
	for range n {
		wg.Go(func() {
			tok, err := c.Token(t.Context())
			if err != nil {
				t.Error(err)
			}
			toks <- tok
		})
	}
	for f.calls.Load() == 0 {
		time.Sleep(time.Millisecond) // until the one fetch is in flight
	}
	close(f.gate)
	wg.Wait()
	close(toks)
	for tok := range toks {
		if tok != "tok-1" {
			t.Fatalf("got %q, want tok-1", tok)
		}
	}
	if got := f.calls.Load(); got != 1 {
		t.Fatalf("%d fetches for %d concurrent callers, want 1", got, n)
	}
}

func TestTokenCacheLifecycle(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{t: time.Unix(1e9, 0)}
	f := &fakeIssuer{clk: clk, life: 10 * time.Minute, margin: time.Minute}
	c := newCache(f)
	steps := []struct {
		advance time.Duration
		fail    bool
		want    string // "" for an error
		fetches int64
	}{
		{0, false, "tok-1", 1},
		{8 * time.Minute, false, "tok-1", 1}, // before RefreshAt (9m)
		{90 * time.Second, true, "tok-1", 2}, // 9m30s: renewal fails, the token is still valid: stale use
		{20 * time.Second, true, "tok-1", 3}, // 9m50s: every call tries again
		{20 * time.Second, true, "", 4},      // 10m10s: past ExpiresAt, the error shows
		{0, false, "tok-5", 5},               // recovered
		{time.Minute, false, "tok-5", 5},     // cached again
	}
	for i, s := range steps {
		clk.Advance(s.advance)
		f.fail.Store(s.fail)
		tok, err := c.Token(t.Context())
		if s.want == "" {
			if err == nil {
				t.Fatalf("step %d: got %q, want the fetch error", i, tok)
			}
		} else if err != nil || tok != s.want {
			t.Fatalf("step %d: got %q, %v; want %q", i, tok, err, s.want)
		}
		if got := f.calls.Load(); got != s.fetches {
			t.Fatalf("step %d: %d fetches, want %d", i, got, s.fetches)
		}
	}
}

// Without ExpiresAt a token is never used past RefreshAt (Run:ai's rule).
func TestTokenCacheNoStaleWithoutExpiry(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{t: time.Unix(1e9, 0)}
	calls := 0
	c := &TokenCache{Now: clk.Now, Fetch: func(context.Context) (Token, error) {
		calls++
		if calls > 1 {
			return Token{}, errors.New("down")
		}
		return Token{Value: "tok", RefreshAt: clk.Now().Add(time.Minute)}, nil
	}}
	if tok, err := c.Token(t.Context()); err != nil || tok != "tok" {
		t.Fatalf("first: %q, %v", tok, err)
	}
	clk.Advance(time.Minute)
	if tok, err := c.Token(t.Context()); err == nil {
		t.Fatalf("after RefreshAt with the renewal failing: %q, want the error", tok)
	}
}

func TestTokenCacheInvalidate(t *testing.T) {
	t.Parallel()
	f := &fakeIssuer{clk: &fakeClock{t: time.Unix(1e9, 0)}, life: time.Hour, margin: time.Minute}
	c := newCache(f)
	tok1, _ := c.Token(t.Context())
	c.Invalidate("someone-else's")
	if tok, _ := c.Token(t.Context()); tok != tok1 {
		t.Fatalf("invalidating another token dropped the cached one: %q", tok)
	}
	c.Invalidate(tok1)
	tok2, err := c.Token(t.Context())
	if err != nil || tok2 == tok1 {
		t.Fatalf("after Invalidate: %q, %v; want a new token", tok2, err)
	}
	c.Invalidate(tok1) // a late 401 for the old token keeps the new one
	if tok, _ := c.Token(t.Context()); tok != tok2 {
		t.Fatalf("a stale Invalidate dropped the new token: %q", tok)
	}
}

// A waiter that gives up gets a TransportError naming the token route; the
// fetch goes on for the others and fills the cache.
func TestTokenCacheWaiterGivesUp(t *testing.T) {
	t.Parallel()
	f := &fakeIssuer{clk: &fakeClock{t: time.Unix(1e9, 0)}, life: time.Hour, margin: time.Minute, gate: make(chan struct{})}
	c := newCache(f)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := c.Token(ctx)
	var te *TransportError
	if !errors.As(err, &te) || te.Route != "/token" || te.Backend != "b" || !errors.Is(err, context.Canceled) {
		t.Fatalf("gave up with %v, want a TransportError for /token wrapping context.Canceled", err)
	}
	close(f.gate)
	if tok, err := c.Token(t.Context()); err != nil || tok != "tok-1" {
		t.Fatalf("after the detached fetch: %q, %v; want tok-1 from the same fetch", tok, err)
	}
	if got := f.calls.Load(); got != 1 {
		t.Fatalf("%d fetches, want 1", got)
	}
}

func TestTokenCacheFetchTimeout(t *testing.T) {
	t.Parallel()
	c := &TokenCache{Timeout: 10 * time.Millisecond, Fetch: func(ctx context.Context) (Token, error) {
		<-ctx.Done()
		return Token{}, context.Cause(ctx)
	}}
	if _, err := c.Token(t.Context()); !errors.Is(err, ErrTimeout) {
		t.Fatalf("a fetch over Timeout: %v, want ErrTimeout", err)
	}
}
