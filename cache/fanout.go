package cache

import (
	"sync"
	"sync/atomic"
)

// MaxFanOut bounds the goroutines FanOut runs at once: the connections a
// backend's transport keeps to its host (backends/fasttransport's
// DefaultMaxConnsPerHost). More calls than that cannot be in flight to one
// vendor anyway; beyond it each would be a goroutine parked for a
// connection, with the stack it grew on the way (a 10 000-node cold
// dashboard parked ~9 000 of them, and the collector scanned every one of
// those stacks on every cycle).
const MaxFanOut = 1024

// FanOut calls each(i) for every i in [0, n) concurrently, on at most
// MaxFanOut goroutines (each takes the next i when it is done with one),
// and returns when all have returned.
func FanOut(n int, each func(i int)) {
	var wg sync.WaitGroup
	if n <= MaxFanOut {
		for i := range n {
			wg.Go(func() { each(i) })
		}
		wg.Wait()
		return
	}
	var next atomic.Int64
	for range MaxFanOut {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				each(i)
			}
		})
	}
	wg.Wait()
}
