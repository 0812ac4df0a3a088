package fleet

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// A fetch runs in a goroutine of its own: its panic must become its keys'
// error, not the end of the process.
func TestSafeFetchTurnsAPanicIntoAnError(t *testing.T) {
	t.Parallel()
	fetch := safeFetch("nodes", func(context.Context, string) (int, error) { panic("vendor answer nobody expected") })
	_, err := fetch(t.Context(), "k")
	var pe *PanicError
	if !errors.As(err, &pe) || pe.In != "fetch nodes" {
		t.Fatalf("err %v", err)
	}
}

// A poll that panics is skipped: the poller goes on and the subscribers
// get the next poll.
func TestHubSurvivesAPanickingPoll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := NewHub()
		var polls atomic.Int64
		ch := h.Subscribe(t.Context(), "k", 5*time.Second, func(context.Context) any {
			if polls.Add(1) == 1 {
				panic("first poll")
			}
			return "second"
		})
		if v := <-ch; v != "second" {
			t.Fatalf("got %v", v)
		}
	})
}

// The forwarding goroutine ends the subscription on a panic (a value of
// the wrong type), closing its channel.
func TestForwardSurvivesAPanic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		in := make(chan any, 1)
		in <- "not an int"
		out := forward[int](t.Context(), in)
		if _, ok := <-out; ok {
			t.Fatal("a value came through")
		}
	})
}
