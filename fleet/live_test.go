package fleet

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

func TestHubSharesOnePollerPerKey(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := NewHub()
		var polls atomic.Int64
		poll := func(context.Context) any { return polls.Add(1) }
		ctx, cancel := context.WithCancel(t.Context())
		const subscribers = 50
		chans := make([]<-chan any, subscribers)
		for i := range chans {
			chans[i] = h.Subscribe(ctx, "k", 5*time.Second, poll)
		}
		for _, ch := range chans {
			<-ch // everyone gets the first poll
		}
		time.Sleep(12 * time.Second) // polls at 0s, 5s, 10s
		synctest.Wait()
		if got := polls.Load(); got != 3 {
			t.Fatalf("%d polls in 12s for %d subscribers, want 3 (one per interval)", got, subscribers)
		}
		if h.Topics() != 1 {
			t.Fatalf("%d topics, want 1", h.Topics())
		}
		cancel()
		synctest.Wait()
		if h.Topics() != 0 {
			t.Fatalf("poller still running after the last subscriber left")
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if got := polls.Load(); got != 3 {
			t.Fatalf("polled %d times after everyone left", got)
		}
	}) // synctest fails the test if any goroutine is left blocked: no leaks
}

func TestHubSlowSubscriberGetsOnlyTheNewest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := NewHub()
		var polls atomic.Int64
		ch := h.Subscribe(t.Context(), "k", 5*time.Second, func(context.Context) any { return polls.Add(1) })
		fast := h.Subscribe(t.Context(), "k", 5*time.Second, func(context.Context) any { panic("a second poller started") })
		seen := 0
		time.Sleep(16 * time.Second) // 4 polls; ch is never read meanwhile
		synctest.Wait()
		for range 4 {
			select {
			case <-fast:
				seen++
			default:
			}
		}
		if v := (<-ch).(int64); v != 4 {
			t.Fatalf("slow subscriber read %d, want the newest (4)", v)
		}
		select {
		case v := <-ch:
			t.Fatalf("slow subscriber had a backlog: %v", v)
		default:
		}
		if seen == 0 {
			t.Fatal("the other subscriber got nothing")
		}
	})
}

func TestHubLateSubscriberGetsLatestAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := NewHub()
		first := h.Subscribe(t.Context(), "k", 10*time.Second, func(context.Context) any { return "v1" })
		<-first
		late := h.Subscribe(t.Context(), "k", 10*time.Second, func(context.Context) any { return "other" })
		select {
		case v := <-late:
			if v != "v1" {
				t.Fatalf("late subscriber got %v", v)
			}
		default:
			t.Fatal("late subscriber waits for the next poll")
		}
	})
}

func TestHubDistinctKeysPollSeparately(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := NewHub()
		var a, b atomic.Int64
		<-h.Subscribe(t.Context(), "a", 5*time.Second, func(context.Context) any { return a.Add(1) })
		<-h.Subscribe(t.Context(), "b", 5*time.Second, func(context.Context) any { return b.Add(1) })
		if h.Topics() != 2 || a.Load() != 1 || b.Load() != 1 {
			t.Fatalf("topics %d, polls %d/%d", h.Topics(), a.Load(), b.Load())
		}
	})
}
