package cache

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// 20 concurrent identical misses make one upstream call. synctest.Wait
// guarantees every caller is parked before the upstream call returns.
func TestFlightCollapses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		keys      int // callers are spread over this many keys
		wantCalls int32
	}{
		{"same key", 1, 1},
		{"two keys", 2, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				const callers = 20
				var (
					f       Flight
					calls   atomic.Int32
					release = make(chan struct{})
					wg      sync.WaitGroup
					results [callers][]byte
					shared  [callers]bool
				)
				for i := range callers {
					key := fmt.Sprint("k", i%tt.keys)
					wg.Go(func() {
						v, err, s := f.Do(key, func() ([]byte, error) {
							calls.Add(1)
							<-release
							return []byte("v-" + key), nil
						})
						if err != nil {
							t.Errorf("Do: %v", err)
						}
						results[i], shared[i] = v, s
					})
				}
				synctest.Wait()
				close(release)
				wg.Wait()

				if got := calls.Load(); got != tt.wantCalls {
					t.Errorf("upstream called %d times, want %d", got, tt.wantCalls)
				}
				for i := range callers {
					if want := fmt.Sprint("v-k", i%tt.keys); string(results[i]) != want || !shared[i] {
						t.Errorf("caller %d got %q shared=%v, want %q shared=true", i, results[i], shared[i], want)
					}
				}
			})
		})
	}
}

// An error is shared by the callers of that flight but not remembered.
func TestFlightErrorNotRemembered(t *testing.T) {
	t.Parallel()
	var f Flight
	boom := errors.New("upstream down")
	if _, err, _ := f.Do("k", func() ([]byte, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want %v", err, boom)
	}
	v, err, shared := f.Do("k", func() ([]byte, error) { return []byte("ok"), nil })
	if err != nil || string(v) != "ok" || shared {
		t.Errorf("second Do = %q, %v, shared=%v; want a fresh call", v, err, shared)
	}
}

// A caller waits for a call at most until its context is done, and the call
// goes on for the others: a follower with a near deadline leaves; a leader
// with less than inline left makes the call on a goroutine and leaves at
// its deadline too, while a follower with time gets the call's result. A
// panic in the call is its callers' error.
func TestFlightDoContext(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var f Flight
		release := make(chan struct{})
		call := func() ([]byte, error) { <-release; return []byte("v"), nil }

		// A leader with time (inline), a follower without.
		var wg sync.WaitGroup
		var leaderGot []byte
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			leaderGot, _, _ = f.DoContext(ctx, "k", 10*time.Second, call)
		})
		synctest.Wait()
		short, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if _, err, _ := f.DoContext(short, "k", 10*time.Second, call); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("follower past its deadline: %v, want DeadlineExceeded", err)
		}
		close(release)
		wg.Wait()
		if string(leaderGot) != "v" {
			t.Errorf("leader got %q", leaderGot)
		}

		// A leader with less than inline left: it leaves at its deadline; the
		// call goes on, and a follower with time gets its result.
		release = make(chan struct{})
		calls := 0
		counted := func() ([]byte, error) { calls++; <-release; return []byte("w"), nil }
		short, cancel2 := context.WithTimeout(context.Background(), time.Second)
		defer cancel2()
		var followerGot []byte
		var leaderErr error
		wg.Go(func() { _, leaderErr, _ = f.DoContext(short, "k2", 10*time.Second, counted) })
		synctest.Wait()
		wg.Go(func() { followerGot, _, _ = f.DoContext(context.Background(), "k2", 10*time.Second, counted) })
		time.Sleep(2 * time.Second) // past the leader's deadline
		synctest.Wait()
		if !errors.Is(leaderErr, context.DeadlineExceeded) {
			t.Errorf("leader past its deadline: %v, want DeadlineExceeded", leaderErr)
		}
		close(release)
		wg.Wait()
		if string(followerGot) != "w" || calls != 1 {
			t.Errorf("follower got %q after %d calls, want the leader's call's \"w\"", followerGot, calls)
		}

		if _, err, _ := f.Do("k3", func() ([]byte, error) { panic("boom") }); err == nil || !strings.Contains(err.Error(), "boom") {
			t.Errorf("a panicking call: %v, want its error", err)
		}
	})
}
