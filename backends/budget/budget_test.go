package budget

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/fleetgraph/fleetgraph/backends"
)

// noWait: every class gives up at once, so that the counts are exact.
var noWait = map[Class]time.Duration{Critical: time.Nanosecond, Interactive: time.Nanosecond, Dashboard: time.Nanosecond, Background: time.Nanosecond}

func sharedPair(t *testing.T, lim Limit) (*Budget, *Budget, *miniredis.Miniredis) {
	t.Helper()
	mr := miniredis.RunT(t)
	var out [2]*Budget
	for i := range out {
		rc := redis.NewClient(&redis.Options{Addr: mr.Addr()})
		t.Cleanup(func() { rc.Close() })
		out[i] = New(Options{Backend: "runai-a", Limit: lim, Waits: noWait})
		out[i].UseRedis(rc)
	}
	return out[0], out[1], mr
}

func admitN(ctx context.Context, b *Budget, n int) (admitted int) {
	for range n {
		if b.Admit(ctx) == nil {
			admitted++
		}
	}
	return admitted
}

func TestReplicasShareOneBudget(t *testing.T) {
	t.Parallel()
	a, b, _ := sharedPair(t, Limit{PerSecond: 1.0 / 60, Burst: 5}) // 1 a minute: no refill during the test
	ctx := WithClass(context.Background(), Critical)               // no reserve: every call of the burst
	if got := admitN(ctx, a, 3); got != 3 {
		t.Fatalf("replica A: %d of 3", got)
	}
	if got := admitN(ctx, b, 5); got != 2 {
		t.Fatalf("replica B: %d admitted, want the 2 A left", got)
	}
	err := a.Admit(ctx)
	var be *Error
	if !errors.As(err, &be) || !errors.Is(err, ErrExhausted) || !errors.Is(err, backends.ErrRateLimited) || be.RetryAfter <= 0 {
		t.Fatalf("exhausted: %v", err)
	}
	// Another account (a pass-through caller) has its own budget.
	other := backends.WithCredentials(context.Background(), backends.Credentials{RunAIBearer: "caller-token"})
	if got := admitN(other, b, 1); got != 1 {
		t.Fatal("another account was refused")
	}
}

func TestLowerClassesLeaveAReserve(t *testing.T) {
	t.Parallel()
	a, _, _ := sharedPair(t, Limit{PerSecond: 1.0 / 60, Burst: 10})
	dash := WithClass(context.Background(), Dashboard)
	poll := WithClass(context.Background(), Background)
	mutation := WithClass(context.Background(), Critical)
	if got := admitN(poll, a, 10); got != 5 {
		t.Fatalf("subscription polls took %d, want 5 (half the burst stays)", got)
	}
	if got := admitN(dash, a, 10); got != 2 {
		t.Fatalf("dashboards took %d, want 2 (30%% of the burst stays)", got)
	}
	if got := admitN(mutation, a, 10); got != 3 {
		t.Fatalf("mutations took %d, want the 3 left", got)
	}
}

func TestWaitsItsBoundForRoom(t *testing.T) {
	t.Parallel()
	mr := miniredis.RunT(t)
	rc := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rc.Close() })
	b := New(Options{Backend: "m", Limit: Limit{PerSecond: 20, Burst: 1}, Waits: map[Class]time.Duration{Interactive: 2 * time.Second, Background: time.Nanosecond}})
	b.UseRedis(rc)
	ctx := context.Background()
	if err := b.Admit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Admit(WithClass(ctx, Background)); err == nil {
		t.Fatal("a background call found room in an empty budget")
	}
	if err := b.Admit(ctx); err != nil { // the next call is 50 ms away: an interactive call waits for it
		t.Fatalf("interactive call refused instead of waiting: %v", err)
	}
}

func TestRedisDownFallsBackToALocalBudget(t *testing.T) {
	t.Parallel()
	rc := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 50 * time.Millisecond})
	t.Cleanup(func() { rc.Close() })
	b := New(Options{Backend: "m", Limit: Limit{PerSecond: 1.0 / 60, Burst: 2}, Waits: noWait})
	b.UseRedis(rc)
	if got := admitN(WithClass(context.Background(), Critical), b, 4); got != 2 {
		t.Fatalf("local fallback admitted %d, want the burst (2)", got)
	}
}

func TestToldPerMinute(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body string
		want float64
		ok   bool
	}{
		{`{"error_msg":"The throttling threshold has been reached: policy user over ratelimit,limit:120,time:1 minute","error_code":"APIG.0308"}`, 120, true},
		{`{"error_msg":"The throttling threshold has been reached: policy ip over ratelimit,limit:5,time:5 second","error_code":"APIGW.0308"}`, 60, true},
		{`{"error_msg":"... limit:7200,time:1 hour"}`, 120, true},
		{`{"code":429,"message":"Too many requests."}`, 0, false},
		{`limit:0,time:1 minute`, 0, false},
	}
	for _, tc := range tests {
		got, ok := toldPerMinute([]byte(tc.body))
		if ok != tc.ok || got != tc.want {
			t.Errorf("%s: %v %v, want %v %v", tc.body, got, ok, tc.want, tc.ok)
		}
	}
}

func TestALearnedLimitReachesEveryReplica(t *testing.T) {
	t.Parallel()
	a, b, _ := sharedPair(t, Limit{PerSecond: 10, Burst: 20})
	ctx := context.Background()
	a.Learn(ctx, 429, 0, []byte(`{"error_msg":"The throttling threshold has been reached: policy user over ratelimit,limit:120,time:1 minute","error_code":"APIG.0308"}`))
	for name, r := range map[string]*Budget{"the replica that saw the 429": a, "another replica": b} {
		got := r.effective(ctx, "runai-a")
		if got.PerSecond != 120*0.9/60 || got.Burst != 3 {
			t.Errorf("%s: %+v, want 1.8/s (90%% of the stated 120/min), burst 3", name, got)
		}
	}
	// Statuses other than 429 teach nothing.
	c, _, _ := sharedPair(t, Limit{PerSecond: 10, Burst: 20})
	c.Learn(ctx, 503, 0, []byte(`limit:1,time:1 minute`))
	if got := c.effective(ctx, "runai-a"); got != (Limit{PerSecond: 10, Burst: 20}) {
		t.Fatalf("a 503 lowered the limit: %+v", got)
	}
}

func TestAnUntoldLimitHalvesAndRecovers(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	b := New(Options{Backend: "r", Limit: Limit{PerSecond: 10, Burst: 20}, Now: func() time.Time { return at }})
	ctx := context.Background()
	b.Learn(ctx, 429, 0, []byte(`{"code":429,"message":"Too many requests."}`))
	if got := b.effective(ctx, "r"); got.PerSecond != 5 || got.Burst != 10 {
		t.Fatalf("after an untold 429: %+v, want half", got)
	}
	at = at.Add(3 * time.Minute) // +10% of the configured rate per quiet minute
	if got := b.effective(ctx, "r"); got.PerSecond != 8 {
		t.Fatalf("3 minutes on: %+v, want 8/s", got)
	}
	at = at.Add(10 * time.Minute)
	if got := b.effective(ctx, "r"); got != b.Limit() {
		t.Fatalf("recovered: %+v, want the configured limit", got)
	}
}

// A 429's Retry-After pauses the account on every replica until then.
func TestRetryAfterPausesEveryReplica(t *testing.T) {
	t.Parallel()
	a, b, _ := sharedPair(t, Limit{PerSecond: 100, Burst: 100})
	ctx := WithClass(context.Background(), Critical)
	a.Learn(ctx, 429, 30*time.Second, []byte(`{"code":429,"message":"Too many requests."}`))
	for name, r := range map[string]*Budget{"the replica that saw it": a, "another replica": b} {
		err := r.Admit(ctx)
		var be *Error
		if !errors.As(err, &be) || be.RetryAfter < 29*time.Second {
			t.Errorf("%s: %v, want a refusal for the vendor's 30 s", name, err)
		}
	}
	if err := a.Admit(backends.WithCredentials(ctx, backends.Credentials{RunAIBearer: "other"})); err != nil {
		t.Errorf("another account paused too: %v", err)
	}
}

// A Redis that accepts connections and never answers makes the budget
// local after its bounded timeout, not every vendor call wait for the
// request's deadline.
func TestAHungRedisMakesTheBudgetLocal(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() }) // held open, never answered
		}
	}()
	// As app/redis.go builds it: context deadlines bound the socket calls.
	rc := redis.NewClient(&redis.Options{Addr: ln.Addr().String(), MaxRetries: -1, ReadTimeout: time.Minute, WriteTimeout: time.Minute, ContextTimeoutEnabled: true})
	t.Cleanup(func() { rc.Close() })
	b := New(Options{Backend: "m", Limit: Limit{PerSecond: 1.0 / 60, Burst: 2}, Waits: noWait})
	b.UseRedis(rc)
	ctx, cancel := context.WithTimeout(WithClass(context.Background(), Critical), 5*time.Second)
	defer cancel()
	if got := admitN(ctx, b, 3); got != 2 {
		t.Fatalf("admitted %d with a hung Redis, want the local burst (2); ctx: %v", got, ctx.Err())
	}
}

func TestCapacityIsTheClassShareThenTheRate(t *testing.T) {
	t.Parallel()
	b := New(Options{Backend: "runai-a", Limit: Limit{PerSecond: 0.1, Burst: 10}})
	for class, want := range map[Class]int{Critical: 13, Interactive: 12, Dashboard: 10, Background: 8} {
		if got, lim := b.Capacity(WithClass(context.Background(), class), 30*time.Second); got != want || lim != b.Limit() {
			t.Errorf("%s: capacity %d (%+v), want %d", class, got, lim, want)
		}
	}
	// A 429 halves the rate (and the burst with it): the capacity follows.
	b.Learn(context.Background(), 429, 0, nil)
	if got, lim := b.Capacity(WithClass(context.Background(), Critical), 30*time.Second); lim.Burst != 5 || got != 5+int(lim.PerSecond*30) {
		t.Errorf("after a 429: capacity %d with %+v", got, lim)
	}
}

// scriptCalls counts the budget's Redis script runs (one round trip each).
type scriptCalls struct{ n atomic.Int64 }

func (*scriptCalls) DialHook(next redis.DialHook) redis.DialHook { return next }
func (s *scriptCalls) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "evalsha" { // the first run adds an EVAL (NOSCRIPT): not counted
			s.n.Add(1)
		}
		return next(ctx, cmd)
	}
}
func (*scriptCalls) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// A call of a class with a reserve costs one round trip, admitted or
// refused (the reserve is checked in the script that takes), and a
// refused one leaves the budget as it found it.
func TestACallWithRoomIsOneRoundTrip(t *testing.T) {
	t.Parallel()
	mr := miniredis.RunT(t)
	rc := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rc.Close() })
	var calls scriptCalls
	rc.AddHook(&calls)
	b := New(Options{Backend: "runai-a", Limit: Limit{PerSecond: 1.0 / 60, Burst: 10}, Waits: noWait, RedisTimeout: 10 * time.Second})
	b.UseRedis(rc)
	dash := WithClass(context.Background(), Dashboard)
	if got := admitN(dash, b, 7); got != 7 {
		t.Fatalf("dashboards took %d of the 7 above the reserve", got)
	}
	if n := calls.n.Load(); n != 7 {
		t.Fatalf("%d script runs for 7 admitted calls, want 7", n)
	}
	calls.n.Store(0)
	if err := b.Admit(dash); err == nil {
		t.Fatal("a dashboard call took from the reserve")
	}
	if n := calls.n.Load(); n != 1 {
		t.Fatalf("%d script runs for a refused call, want 1", n)
	}
	if got := admitN(WithClass(context.Background(), Critical), b, 5); got != 3 {
		t.Fatalf("a mutation found %d of the reserve's 3", got)
	}
}

// However many calls of a lower class arrive at once, on however many
// replicas, none takes from the reserve of the classes above: the check
// and the take are one script (checked apart, every waiting dashboard call
// could pass the check before any took).
func TestConcurrentCallsNeverTakeTheReserve(t *testing.T) {
	t.Parallel()
	mr := miniredis.RunT(t)
	lim := Limit{PerSecond: 1.0 / 60, Burst: 20} // a dashboard leaves 6
	var replicas []*Budget
	for range 3 {
		rc := redis.NewClient(&redis.Options{Addr: mr.Addr(), PoolSize: 64})
		t.Cleanup(func() { rc.Close() })
		// A slow Redis (miniredis under -race) must not make the budget
		// local here: this is about the script, not the fallback.
		b := New(Options{Backend: "runai-a", Limit: lim, Waits: noWait, RedisTimeout: 10 * time.Second})
		b.UseRedis(rc)
		replicas = append(replicas, b)
	}
	var admitted atomic.Int64
	var wg sync.WaitGroup
	for _, b := range replicas {
		for range 30 {
			wg.Go(func() {
				if b.Admit(WithClass(context.Background(), Dashboard)) == nil {
					admitted.Add(1)
				}
			})
		}
	}
	wg.Wait()
	if n := admitted.Load(); n != 14 {
		t.Fatalf("90 concurrent dashboard calls: %d admitted, want the 14 above the reserve", n)
	}
	if got := admitN(WithClass(context.Background(), Critical), replicas[1], 10); got != 6 {
		t.Fatalf("a mutation found %d of the reserve's 6", got)
	}
}

// Calls waiting for room wait in a local line and only its head asks
// Redis again: 50 waiting calls cost Redis a few script runs per admitted
// call (104 for 10 measured), not one per waiting call and retry (421
// when each waiting call polled).
func TestWaitingCallsAskRedisOneAtATime(t *testing.T) {
	t.Parallel()
	mr := miniredis.RunT(t)
	rc := redis.NewClient(&redis.Options{Addr: mr.Addr(), PoolSize: 64})
	t.Cleanup(func() { rc.Close() })
	var calls scriptCalls
	rc.AddHook(&calls)
	b := New(Options{Backend: "runai-a", Limit: Limit{PerSecond: 20, Burst: 1},
		Waits: map[Class]time.Duration{Critical: 500 * time.Millisecond}, RedisTimeout: 10 * time.Second})
	b.UseRedis(rc)
	ctx := WithClass(context.Background(), Critical)
	var admitted atomic.Int64
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if b.Admit(ctx) == nil {
				admitted.Add(1)
			}
		})
	}
	wg.Wait()
	n, runs := admitted.Load(), calls.n.Load()
	if n < 5 || n > 15 {
		t.Fatalf("%d of 50 admitted in 500 ms at 20/s", n)
	}
	// Each call asks once as it arrives (the line forms then), the head a
	// few times per admitted call (a retry can come a hair early).
	if runs > 50+8*n {
		t.Fatalf("%d script runs for %d admitted calls: the waiting calls polled Redis each", runs, n)
	}
	t.Logf("%d admitted, %d script runs", n, runs)
}
