package cache

import (
	"context"
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"
)

// Every failure mode surfaces as ErrUnavailable with an empty, non-nil map,
// for every operation.
func TestRedisFailuresAreUnavailable(t *testing.T) {
	t.Parallel()
	ops := []struct {
		op   string
		call func(context.Context, *Redis) error
	}{
		{"get", func(ctx context.Context, r *Redis) error {
			got, err := r.GetMany(ctx, []string{"a", "b"})
			if got == nil || len(got) != 0 {
				return errors.New("GetMany on failure did not return an empty map")
			}
			return err
		}},
		{"set", func(ctx context.Context, r *Redis) error {
			return r.SetMany(ctx, entriesOf([]string{"a"}, time.Minute))
		}},
		{"delete", func(ctx context.Context, r *Redis) error { return r.Delete(ctx, "a") }},
	}
	for _, o := range ops {
		t.Run(o.op+"/injected error", func(t *testing.T) {
			t.Parallel()
			r, _, p := setup(t, RedisOptions{})
			p.fail.Store(true)
			if err := o.call(t.Context(), r); !errors.Is(err, ErrUnavailable) || !errors.Is(err, errInjected) {
				t.Errorf("err = %v, want ErrUnavailable wrapping the Redis error", err)
			}
		})
		t.Run(o.op+"/server gone", func(t *testing.T) {
			t.Parallel()
			r, mr, _ := setup(t, RedisOptions{})
			mr.Close()
			if err := o.call(t.Context(), r); !errors.Is(err, ErrUnavailable) {
				t.Errorf("err = %v, want ErrUnavailable", err)
			}
		})
		t.Run(o.op+"/caller cancelled before", func(t *testing.T) {
			t.Parallel()
			r, _, p := setup(t, RedisOptions{})
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			err := o.call(ctx, r)
			if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.Canceled) {
				t.Errorf("err = %v, want ErrUnavailable and context.Canceled", err)
			}
			if n := p.Pipelines(); n != 0 {
				t.Errorf("%d pipelines reached Redis for a cancelled caller", n)
			}
		})
	}
}

// Failures open the breaker; while open nothing reaches Redis; after OpenFor
// one probe goes through; a failed probe re-opens, a good one closes.
func TestRedisBreakerOpensAndRecovers(t *testing.T) {
	t.Parallel()
	const failures = 3
	rec := newRecorder()
	var changes []string // OnStateChange runs under the breaker lock, one at a time
	r, _, p := setup(t, RedisOptions{
		OnResult: rec.record,
		Breaker: BreakerOptions{
			FailuresToOpen: failures,
			OpenFor:        50 * time.Millisecond,
			OnStateChange:  func(_ string, from, to gobreaker.State) { changes = append(changes, from.String()+">"+to.String()) },
		},
	})
	ctx := t.Context()
	if err := r.SetMany(ctx, entriesOf([]string{"a"}, time.Minute)); err != nil {
		t.Fatal(err)
	}
	base := p.Pipelines()

	p.fail.Store(true)
	for i := range failures {
		_, err := r.GetMany(ctx, []string{"a"})
		if !errors.Is(err, ErrUnavailable) || errors.Is(err, gobreaker.ErrOpenState) {
			t.Fatalf("failure %d: err = %v, want a Redis error", i, err)
		}
	}
	if got := p.Pipelines() - base; got != failures {
		t.Fatalf("%d pipelines reached Redis, want %d", got, failures)
	}

	// Open: bypassed without touching Redis, for every operation.
	for range 5 {
		if _, err := r.GetMany(ctx, []string{"a"}); !errors.Is(err, ErrUnavailable) || !errors.Is(err, gobreaker.ErrOpenState) {
			t.Fatalf("open breaker: GetMany err = %v, want ErrUnavailable/ErrOpenState", err)
		}
	}
	if err := r.SetMany(ctx, entriesOf([]string{"a"}, time.Minute)); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("open breaker: SetMany err = %v", err)
	}
	if err := r.Delete(ctx, "a"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("open breaker: Delete err = %v", err)
	}
	if got := p.Pipelines() - base; got != failures {
		t.Fatalf("open breaker let %d pipelines through", got-failures)
	}
	if got := rec.snapshot()["get/bypass"]; got != 5 {
		t.Errorf("get/bypass = %d, want 5", got)
	}

	// Still failing: after OpenFor exactly one probe reaches Redis, fails,
	// and the breaker opens again.
	eventually(t, 2*time.Second, "half-open probe", func() bool {
		_, _ = r.GetMany(ctx, []string{"a"})
		return p.Pipelines()-base == failures+1
	})
	if _, err := r.GetMany(ctx, []string{"a"}); !errors.Is(err, gobreaker.ErrOpenState) {
		t.Fatalf("after a failed probe: err = %v, want open again", err)
	}

	// Redis is back: the next probe closes the breaker by itself.
	p.fail.Store(false)
	var got map[string][]byte
	eventually(t, 2*time.Second, "recovery", func() bool {
		var err error
		got, err = r.GetMany(ctx, []string{"a"})
		return err == nil
	})
	if string(got["a"]) != "value-a" {
		t.Errorf("after recovery GetMany = %q", got)
	}
	if probes := p.Pipelines() - base - failures; probes != 2 {
		t.Errorf("%d probes reached Redis, want 2 (one failed, one good)", probes)
	}
	want := []string{"closed>open", "open>half-open", "half-open>open", "open>half-open", "half-open>closed"}
	if !slices.Equal(changes, want) {
		t.Errorf("state changes = %q, want %q", changes, want)
	}
}

// A slow Redis costs at most Timeout, and timeouts count as failures.
func TestRedisSlow(t *testing.T) {
	t.Parallel()
	const timeout = 20 * time.Millisecond
	r, _, p := setup(t, RedisOptions{Timeout: timeout, Breaker: BreakerOptions{FailuresToOpen: 2, OpenFor: time.Hour}})
	p.delay.Store(int64(time.Second)) // ignores ctx: as slow as a stuck socket

	for range 2 {
		start := time.Now()
		_, err := r.GetMany(t.Context(), []string{"a"})
		if d := time.Since(start); d > 500*time.Millisecond {
			t.Errorf("GetMany took %v with Timeout %v", d, timeout)
		}
		if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want ErrUnavailable and DeadlineExceeded", err)
		}
	}
	before := p.Pipelines()
	if _, err := r.GetMany(t.Context(), []string{"a"}); !errors.Is(err, gobreaker.ErrOpenState) {
		t.Errorf("after 2 timeouts: err = %v, want the breaker open", err)
	}
	if p.Pipelines() != before {
		t.Error("open breaker let a pipeline through")
	}
}

// A server that accepts and never answers, with a client on go-redis defaults
// (ContextTimeoutEnabled off, ReadTimeout 3s): the Timeout still holds.
func TestRedisBlackhole(t *testing.T) {
	t.Parallel()
	client := redis.NewClient(&redis.Options{Addr: blackhole(t)})
	t.Cleanup(func() { _ = client.Close() })
	r := NewRedis(client, RedisOptions{Timeout: 30 * time.Millisecond})

	start := time.Now()
	got, err := r.GetMany(t.Context(), []string{"a", "b"})
	if d := time.Since(start); d > time.Second {
		t.Errorf("GetMany took %v", d)
	}
	if !errors.Is(err, ErrUnavailable) || len(got) != 0 {
		t.Errorf("GetMany = %q, %v; want empty, ErrUnavailable", got, err)
	}
}

// The caller giving up mid-call (cancel or its own deadline) says nothing
// about Redis: it is reported but not counted by the breaker.
func TestRedisCallerDoneDoesNotTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ctx  func(*testing.T, *probe) context.Context
		want error
	}{
		{"cancelled", func(t *testing.T, p *probe) context.Context {
			ctx, cancel := context.WithCancel(t.Context())
			go func() { <-p.entered; cancel() }()
			return ctx
		}, context.Canceled},
		{"own deadline", func(t *testing.T, _ *probe) context.Context {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
			t.Cleanup(cancel)
			return ctx
		}, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, _, p := setup(t, RedisOptions{Timeout: 5 * time.Second, Breaker: BreakerOptions{FailuresToOpen: 2, OpenFor: time.Hour}})
			if err := r.SetMany(t.Context(), entriesOf([]string{"a"}, time.Minute)); err != nil {
				t.Fatal(err)
			}
			p.hang.Store(true)
			for range 5 {
				_, err := r.GetMany(tt.ctx(t, p), []string{"a"})
				if !errors.Is(err, ErrUnavailable) || !errors.Is(err, tt.want) {
					t.Fatalf("err = %v, want ErrUnavailable and %v", err, tt.want)
				}
			}
			p.hang.Store(false)
			got, err := r.GetMany(t.Context(), []string{"a"})
			if err != nil || got["a"] == nil {
				t.Fatalf("after caller cancellations GetMany = %q, %v; the breaker must stay closed", got, err)
			}
		})
	}
}

// The Redis server dies mid-test and comes back on the same address.
func TestRedisServerRestart(t *testing.T) {
	t.Parallel()
	r, mr, _ := setup(t, RedisOptions{Breaker: BreakerOptions{FailuresToOpen: 2, OpenFor: 50 * time.Millisecond}})
	if err := r.SetMany(t.Context(), entriesOf([]string{"a"}, time.Minute)); err != nil {
		t.Fatal(err)
	}

	mr.Close()
	for range 4 {
		if _, err := r.GetMany(t.Context(), []string{"a"}); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("server down: err = %v, want ErrUnavailable", err)
		}
	}

	if err := mr.Restart(); err != nil {
		t.Fatalf("restart miniredis: %v", err)
	}
	eventually(t, 3*time.Second, "recovery after restart", func() bool {
		got, err := r.GetMany(t.Context(), []string{"a"})
		return err == nil && string(got["a"]) == "value-a"
	})
}

func TestRedisOnResult(t *testing.T) {
	t.Parallel()
	rec := newRecorder()
	r, _, p := setup(t, RedisOptions{OnResult: rec.record, Breaker: BreakerOptions{FailuresToOpen: 1, OpenFor: time.Hour}})
	ctx := t.Context()

	_ = r.SetMany(ctx, entriesOf([]string{"a", "b"}, time.Minute))
	_, _ = r.GetMany(ctx, []string{"a", "b", "c"})
	_ = r.Delete(ctx, "a")
	p.fail.Store(true)
	_, _ = r.GetMany(ctx, []string{"a", "b"}) // error, opens the breaker
	_, _ = r.GetMany(ctx, []string{"a", "b", "c"})
	_ = r.SetMany(ctx, entriesOf([]string{"a"}, time.Minute))
	_ = r.Delete(ctx, "x", "y")

	want := map[string]int{
		"set/ok":        2,
		"get/hit":       2,
		"get/miss":      1,
		"delete/ok":     1,
		"get/error":     2,
		"get/bypass":    3,
		"set/bypass":    1,
		"delete/bypass": 2,
	}
	if got := rec.snapshot(); !maps.Equal(got, want) {
		t.Errorf("OnResult counts = %v, want %v", got, want)
	}
}
