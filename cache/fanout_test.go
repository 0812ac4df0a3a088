package cache

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestFanOutCallsEachIndexOnce: every index, once, below and above the bound.
func TestFanOutCallsEachIndexOnce(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, MaxFanOut, MaxFanOut + 1, 3*MaxFanOut + 7} {
		seen := make([]atomic.Int32, n)
		FanOut(n, func(i int) { seen[i].Add(1) })
		for i := range seen {
			if got := seen[i].Load(); got != 1 {
				t.Fatalf("n=%d: index %d called %d times", n, i, got)
			}
		}
	}
}

// TestLoadBoundsItsCallsInFlight: a batch of more misses than MaxFanOut (a
// 10 000-node cold dashboard's metrics) has at most MaxFanOut calls in flight
// at once, and every key is fetched once.
func TestLoadBoundsItsCallsInFlight(t *testing.T) {
	t.Parallel()
	store, _, _ := setup(t, RedisOptions{})
	c := NewLayered(store, DefaultPolicy(), nil)
	var inFlight, most, fetches atomic.Int32
	// The first MaxFanOut calls wait for each other (or 50 ms, should fewer
	// ever be in flight together): unbounded, the rest of the batch has
	// started by the time they end.
	gate := make(chan struct{})
	var once sync.Once
	spec := Spec[string, string]{
		Kind: "metrics", Backend: func(string) string { return "b" }, Key: func(k string) string { return k },
		TTL: func(string) time.Duration { return time.Minute },
		Fetch: func(_ context.Context, k string) (string, error) {
			n := inFlight.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			if n == MaxFanOut {
				once.Do(func() { close(gate) })
			}
			select {
			case <-gate:
			case <-time.After(50 * time.Millisecond):
			}
			time.Sleep(time.Millisecond) // a vendor call's wait
			inFlight.Add(-1)
			fetches.Add(1)
			return "v-" + k, nil
		},
		Scope:   func(context.Context, string) string { return "svc" },
		StaleOK: func(error) bool { return false },
	}
	keys := make([]string, 2*MaxFanOut+100)
	for i := range keys {
		keys[i] = "n" + strconv.Itoa(i)
	}
	vals, errs := Load(context.Background(), c, &Request{}, spec, keys)
	for i := range keys {
		if errs[i] != nil || vals[i] != "v-"+keys[i] {
			t.Fatalf("key %s: %q, %v", keys[i], vals[i], errs[i])
		}
	}
	if fetches.Load() != int32(len(keys)) {
		t.Errorf("%d fetches for %d keys", fetches.Load(), len(keys))
	}
	if most.Load() > MaxFanOut {
		t.Errorf("%d calls in flight at once, want at most %d", most.Load(), MaxFanOut)
	}
}

// TestAPagedFetchEndsAtTheRequestDeadline: a request with more time left than
// one call's timeout makes a one-call fetch on its own goroutine, and waits
// for it; a fetch that may make several calls (a paged listing, one timeout
// per page) it makes on another, and stops waiting at its deadline.
func TestAPagedFetchEndsAtTheRequestDeadline(t *testing.T) {
	t.Parallel()
	store, _, _ := setup(t, RedisOptions{})
	policy := DefaultPolicy()
	policy.CallTimeout = 50 * time.Millisecond // one page's timeout
	c := NewLayered(store, policy, nil)
	for name, oneCall := range map[string]bool{"paged listing": false, "one call": true} {
		spec := Spec[string, string]{
			Kind: "k-" + name, Backend: func(string) string { return "b" }, Key: func(k string) string { return k },
			TTL: func(string) time.Duration { return time.Minute },
			Fetch: func(context.Context, string) (string, error) {
				time.Sleep(600 * time.Millisecond) // longer than the request has: several slow pages
				return "v", nil
			},
			Scope:   func(context.Context, string) string { return "svc" },
			StaleOK: func(error) bool { return false },
			OneCall: oneCall,
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		vals, errs := Load(ctx, c, &Request{}, spec, []string{"x"})
		cancel()
		if oneCall {
			// Made on the request's goroutine: the request waited for it (a
			// real call ends at its timeout, before the request's deadline).
			if errs[0] != nil || vals[0] != "v" {
				t.Errorf("%s: %q, %v; want the value, made inline", name, vals[0], errs[0])
			}
			continue
		}
		if !errors.Is(errs[0], context.DeadlineExceeded) {
			t.Errorf("%s: %q, %v; want the request's deadline, not the fetch's end", name, vals[0], errs[0])
		}
	}
}
