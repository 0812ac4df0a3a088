package cache

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A whole answer lives by the freshness of what it read, not by the age of
// the local layer's copies: an answer read from a local copy at the end of
// its maxAge (fresh for a minute more in Redis) is kept and served. It was
// not: the answer took the copy's end as its own, so it was dropped as
// already expired or kept for a few milliseconds.
func TestResponseFromAnAgingLocalCopyLivesByFreshness(t *testing.T) {
	t.Parallel()
	store, _, _ := setup(t, RedisOptions{})
	c := NewLayered(store, DefaultPolicy(), nil)
	start := time.UnixMilli(1_800_000_000_000)
	at := start
	c.now = func() time.Time { return at }
	c.EnableLocal(1<<20, 5*time.Second, nil)
	c.EnableResponses(1<<20, 5*time.Second)
	fetches := 0
	spec := Spec[string, string]{
		Kind: "clusters", Backend: func(string) string { return "b" }, Key: func(string) string { return "" },
		TTL:     func(string) time.Duration { return time.Minute },
		Fetch:   func(context.Context, string) (string, error) { fetches++; return "v", nil },
		Scope:   func(context.Context, string) string { return "svc" },
		StaleOK: func(error) bool { return false },
	}
	ctx := context.Background()
	load := func(after time.Duration) *Request {
		t.Helper()
		at = start.Add(after)
		r := &Request{}
		if vals, errs := Load(ctx, c, r, spec, []string{"x"}); errs[0] != nil || vals[0] != "v" {
			t.Fatalf("load at +%v: %v %v", after, vals, errs)
		}
		return r
	}
	const key = "answer"
	resp := c.Responses()
	answer := func(r *Request) { // an answer without errors, as app/respcache.go hands it over
		t.Helper()
		_, _, shared, finish := resp.Join(ctx, key, "dashboard")
		if shared {
			t.Fatal("an answer was shared: no other operation is answering the key")
		}
		finish([]byte(`{"a":1}`), nil, r, true)
	}
	load(0)                                     // fetched, fresh in Redis until +60s
	answer(load(time.Second))                   // read back from Redis: the local copy lives until +6s; the key's first answer
	r := load(6*time.Second - time.Millisecond) // from the local copy, 1ms before its end
	at = start.Add(6 * time.Second)             // the operation took 1ms
	answer(r)                                   // the second answer: kept
	at = start.Add(6*time.Second + 500*time.Millisecond)
	if _, _, ok := resp.Get(ctx, key); !ok {
		t.Fatal("the answer built from a local copy at the end of its maxAge is not served 0.5s later (fresh in Redis until +60s, response TTL 5s)")
	}
	if fetches != 1 {
		t.Fatalf("%d fetches, want 1", fetches)
	}
}

// An answer with errors (keep false) goes to the operations waiting for it
// and is not kept, whether it read something through the cache (fenced as
// a kept answer is) or nothing at all (every backend it asked failed); one
// served anything stale goes to nobody.
func TestErrorAnswersAreSharedNotKept(t *testing.T) {
	t.Parallel()
	resp, read := responsesWithARead(t)
	ctx := context.Background()
	stale := &Request{}
	stale.markStale("b", "clusters", time.Minute, errors.New("vendor down"))
	for name, tc := range map[string]struct {
		r      *Request
		shared bool
	}{"read nothing": {&Request{}, true}, "read fenced values": {read, true}, "served a stale value": {stale, false}} {
		key := "answer " + name
		_, _, _, finish := resp.Join(ctx, key, "dashboard")
		waited := make(chan bool)
		go func() {
			_, _, served, _ := resp.Join(ctx, key, "dashboard")
			waited <- served
		}()
		for { // the second operation is waiting
			resp.mu.Lock()
			n := resp.flights[key].waiting
			resp.mu.Unlock()
			if n == 1 {
				break
			}
			time.Sleep(time.Millisecond)
		}
		finish([]byte(`{"errors":[]}`), "extra", tc.r, false)
		if served := <-waited; served != tc.shared {
			t.Errorf("%s: the waiting operation served %v, want %v", name, served, tc.shared)
		}
		for range 3 { // answered often: still never kept
			_, _, _, finish := resp.Join(ctx, key, "dashboard")
			finish([]byte(`{"errors":[]}`), "extra", tc.r, false)
		}
		if _, _, ok := resp.Get(ctx, key); ok {
			t.Errorf("%s: an answer with errors was kept", name)
		}
	}
}

// TestErrorAnswersAreSharedWithinTheirGroup: an answer with errors reaches
// only waiting operations of the answering one's group (its errors may be
// its budget class's own refusal); an answer without errors reaches all.
func TestErrorAnswersAreSharedWithinTheirGroup(t *testing.T) {
	t.Parallel()
	resp, read := responsesWithARead(t)
	ctx := context.Background()
	for name, tc := range map[string]struct {
		keep bool
		want map[string]bool // waiter's group -> served
	}{
		"with errors":    {false, map[string]bool{"dashboard": true, "interactive": false}},
		"without errors": {true, map[string]bool{"dashboard": true, "interactive": true}},
	} {
		key := "answer " + name
		_, _, _, finish := resp.Join(ctx, key, "dashboard")
		got := make(chan [2]any, len(tc.want))
		for group := range tc.want {
			go func() {
				_, _, served, _ := resp.Join(ctx, key, group)
				got <- [2]any{group, served}
			}()
		}
		for { // both operations are waiting
			resp.mu.Lock()
			n := resp.flights[key].waiting
			resp.mu.Unlock()
			if n == len(tc.want) {
				break
			}
			time.Sleep(time.Millisecond)
		}
		finish([]byte(`{"data":{}}`), "extra", read, tc.keep)
		for range tc.want {
			g := <-got
			if want := tc.want[g[0].(string)]; g[1].(bool) != want {
				t.Errorf("%s: a waiting operation of group %s served %v, want %v", name, g[0], g[1], want)
			}
		}
	}
}

// responsesWithARead is a fresh response cache and an operation's state that
// read a value through it (the backend answered), as a kept answer's has.
func responsesWithARead(t *testing.T) (*Responses, *Request) {
	t.Helper()
	store, _, _ := setup(t, RedisOptions{})
	c := NewLayered(store, DefaultPolicy(), nil)
	c.EnableResponses(1<<20, 5*time.Second)
	spec := Spec[string, string]{
		Kind: "clusters", Backend: func(string) string { return "b" }, Key: func(string) string { return "" },
		TTL:     func(string) time.Duration { return time.Minute },
		Fetch:   func(context.Context, string) (string, error) { return "v", nil },
		Scope:   func(context.Context, string) string { return "svc" },
		StaleOK: func(error) bool { return false },
	}
	read := &Request{}
	if _, errs := Load(context.Background(), c, read, spec, []string{"x"}); errs[0] != nil {
		t.Fatal(errs[0])
	}
	return c.Responses(), read
}
