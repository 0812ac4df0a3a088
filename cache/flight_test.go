package cache

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
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
