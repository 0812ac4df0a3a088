// Package simctl is the control surface every vendor simulator shares: request
// counters keyed by method and route template, and runtime fault injection
// (latency, jitter, error rate, down). The vendor simulators register their
// routes through Controller.Handle so counting and faults apply uniformly;
// the vendor-specific part (error body shape) is a callback.
package simctl

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"sync"
	"time"
)

// Faults is the body of POST /_sim/faults. Zero values mean "no fault".
type Faults struct {
	LatencyMs   int     `json:"latencyMs"`
	JitterMs    int     `json:"jitterMs"`
	ErrorRate   float64 `json:"errorRate"`   // 0..1: share of requests answered with ErrorStatus
	ErrorStatus int     `json:"errorStatus"` // default 500
	Down        bool    `json:"down"`        // every vendor route answers 503 with the vendor's error body
	// Routes limits the faults to these route templates ("GET /api/v1/clusters");
	// empty means every vendor route.
	Routes []string `json:"routes,omitempty"`
	// ResponseDelayMs lets the request take effect, then holds its answer this
	// long (dropped if the client has gone): a write whose outcome the client
	// never learns, as when a call times out after the vendor committed it.
	ResponseDelayMs int `json:"responseDelayMs,omitempty"`
	// FailAfterApply lets the request take effect, then answers ErrorStatus
	// (default 502) with the vendor's error body instead of the real answer.
	FailAfterApply bool `json:"failAfterApply,omitempty"`
	// RateLimitPerMinute replaces the simulator's per-account limit
	// (SetThrottle, its --rate-limit flag) while these faults hold; 0 keeps
	// it. It applies to every route, whatever Routes says.
	RateLimitPerMinute int `json:"rateLimitPerMinute,omitempty"`
}

// ErrorWriter writes the vendor's error body for status.
type ErrorWriter func(w http.ResponseWriter, r *http.Request, status int)

// Controller counts requests and injects faults. The zero value is not usable;
// call New.
type Controller struct {
	writeError  ErrorWriter
	baseLatency time.Duration

	mu     sync.Mutex
	counts map[string]int64
	faults Faults
	rnd    *rand.Rand

	// Throttling (throttle.go).
	baseLimit      int
	account        AccountFunc
	writeThrottled ThrottleWriter
	windows        map[string][]time.Time // per account, the calls of the last minute
	throttled      int64
	now            func() time.Time // nil: time.Now
}

// New returns a controller. baseLatency is added to every vendor request (the
// simulator's --latency flag); faults add to it.
func New(writeError ErrorWriter, baseLatency time.Duration) *Controller {
	return &Controller{
		writeError:  writeError,
		baseLatency: baseLatency,
		counts:      map[string]int64{},
		rnd:         rand.New(rand.NewPCG(1, 2)),
	}
}

// Handle registers a vendor route on mux. pattern is a Go ServeMux pattern
// with a method ("GET /api/v1/clusters/{clusterUuid}/nodes"); it is also the
// counter key, so it must read like the vendor's route template.
func (c *Controller) Handle(mux *http.ServeMux, pattern string, h http.HandlerFunc) {
	mux.Handle(pattern, c.Wrap(pattern, h))
}

// Wrap returns h with counting and faults applied under the key route.
func (c *Controller) Wrap(route string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		delay, status := c.admit(route)
		if delay > 0 {
			t := time.NewTimer(delay)
			select {
			case <-r.Context().Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		if status != 0 {
			c.writeError(w, r, status)
			return
		}
		if limit, retry, over := c.throttle(r); over {
			c.writeThrottled(w, r, limit, ThrottleWindow, retry)
			return
		}
		after, failStatus := c.afterFaults(route)
		if after == 0 && failStatus == 0 {
			h(w, r)
			return
		}
		// Apply the request, keep its answer, then delay or replace it.
		rec := &bufferedResponse{header: http.Header{}, status: http.StatusOK}
		h(rec, r)
		if after > 0 {
			t := time.NewTimer(after)
			select {
			case <-r.Context().Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		if failStatus != 0 {
			c.writeError(w, r, failStatus)
			return
		}
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.status)
		_, _ = w.Write(rec.body)
	})
}

// afterFaults returns the post-handler faults that apply to route.
func (c *Controller) afterFaults(route string) (time.Duration, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := c.faults
	if len(f.Routes) > 0 && !slices.Contains(f.Routes, route) {
		return 0, 0
	}
	status := 0
	if f.FailAfterApply {
		status = f.ErrorStatus
		if status == 0 {
			status = http.StatusBadGateway
		}
	}
	return time.Duration(f.ResponseDelayMs) * time.Millisecond, status
}

// bufferedResponse holds a handler's answer until the faults let it go.
type bufferedResponse struct {
	header http.Header
	status int
	body   []byte
}

func (b *bufferedResponse) Header() http.Header    { return b.header }
func (b *bufferedResponse) WriteHeader(status int) { b.status = status }
func (b *bufferedResponse) Write(p []byte) (int, error) {
	b.body = append(b.body, p...)
	return len(p), nil
}

// admit counts the request and decides its fate under the current faults.
func (c *Controller) admit(route string) (time.Duration, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts[route]++
	delay := c.baseLatency
	f := c.faults
	if len(f.Routes) > 0 && !slices.Contains(f.Routes, route) {
		return delay, 0
	}
	delay += time.Duration(f.LatencyMs) * time.Millisecond
	if f.JitterMs > 0 {
		delay += time.Duration(c.rnd.IntN(f.JitterMs+1)) * time.Millisecond
	}
	if f.Down {
		return delay, http.StatusServiceUnavailable
	}
	if f.ErrorRate > 0 && c.rnd.Float64() < f.ErrorRate {
		status := f.ErrorStatus
		if status == 0 {
			status = http.StatusInternalServerError
		}
		return delay, status
	}
	return delay, 0
}

// Stats returns a copy of the counters.
func (c *Controller) Stats() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int64, len(c.counts))
	for k, v := range c.counts {
		out[k] = v
	}
	return out
}

// Count returns the counter for one route template.
func (c *Controller) Count(route string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts[route]
}

// Total returns the sum of all counters.
func (c *Controller) Total() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var n int64
	for _, v := range c.counts {
		n += v
	}
	return n
}

// ResetStats zeroes the counters.
func (c *Controller) ResetStats() {
	c.mu.Lock()
	c.counts = map[string]int64{}
	c.throttled = 0
	c.mu.Unlock()
}

// SetFaults replaces the active faults.
func (c *Controller) SetFaults(f Faults) error {
	if f.ErrorRate < 0 || f.ErrorRate > 1 {
		return fmt.Errorf("errorRate must be within 0..1, got %v", f.ErrorRate)
	}
	if f.ErrorStatus != 0 && (f.ErrorStatus < 400 || f.ErrorStatus > 599) {
		return fmt.Errorf("errorStatus must be a 4xx or 5xx status, got %d", f.ErrorStatus)
	}
	if f.LatencyMs < 0 || f.JitterMs < 0 || f.ResponseDelayMs < 0 || f.RateLimitPerMinute < 0 {
		return fmt.Errorf("latencyMs, jitterMs, responseDelayMs and rateLimitPerMinute must not be negative")
	}
	c.mu.Lock()
	c.faults = f
	c.mu.Unlock()
	return nil
}

// Faults returns the active faults.
func (c *Controller) Faults() Faults {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.faults
}

// ClearFaults removes every fault.
func (c *Controller) ClearFaults() { c.mu.Lock(); c.faults = Faults{}; c.mu.Unlock() }

// RegisterControl mounts the /_sim endpoints on mux:
//
//	GET    /_sim/stats        {"requests": {"GET /api/v1/clusters": 3, ...}, "total": N,
//	                           "throttled": N, "rateLimitPerMinute": N}
//	POST   /_sim/stats/reset
//	GET    /_sim/faults       the active faults
//	POST   /_sim/faults       Faults as JSON
//	DELETE /_sim/faults
//
// These routes are never counted and never faulted.
func (c *Controller) RegisterControl(mux *http.ServeMux) {
	mux.HandleFunc("GET /_sim/stats", func(w http.ResponseWriter, r *http.Request) {
		stats := c.Stats()
		keys := make([]string, 0, len(stats))
		for k := range stats {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		writeJSON(w, http.StatusOK, map[string]any{"requests": stats, "total": c.Total(), "routes": keys,
			"throttled": c.Throttled(), "rateLimitPerMinute": c.RateLimit()})
	})
	mux.HandleFunc("POST /_sim/stats/reset", func(w http.ResponseWriter, r *http.Request) {
		c.ResetStats()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, c.Faults())
	})
	mux.HandleFunc("POST /_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		var f Faults
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid faults body: " + err.Error()})
			return
		}
		if err := c.SetFaults(f); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, f)
	})
	mux.HandleFunc("DELETE /_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		c.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
