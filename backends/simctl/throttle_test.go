package simctl

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestThrottlePerAccountSlidingMinute(t *testing.T) {
	t.Parallel()
	c := New(func(w http.ResponseWriter, _ *http.Request, status int) { w.WriteHeader(status) }, 0)
	at := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	c.now = func() time.Time { return at }
	var retries []time.Duration
	c.SetThrottle(3, nil, func(w http.ResponseWriter, _ *http.Request, limit int, window, retry time.Duration) {
		if limit != 3 || window != time.Minute {
			t.Errorf("limit %d window %v", limit, window)
		}
		retries = append(retries, retry)
		w.WriteHeader(http.StatusTooManyRequests)
	})
	h := c.Wrap("GET /x", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	call := func(token string) int {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, "/x", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		h.ServeHTTP(rec, r)
		return rec.Code
	}
	for i := range 3 {
		if got := call("a"); got != http.StatusOK {
			t.Fatalf("call %d: %d", i, got)
		}
		at = at.Add(10 * time.Second)
	}
	// at = 10:00:30; calls at :00, :10, :20 fill the window.
	if got := call("a"); got != http.StatusTooManyRequests {
		t.Fatalf("4th call within the minute: %d", got)
	}
	if got := call("b"); got != http.StatusOK {
		t.Fatalf("another account: %d", got)
	}
	if len(retries) != 1 || retries[0] != 30*time.Second {
		t.Fatalf("retry after %v, want 30s (the 10:00:00 call leaves at 10:01:00)", retries)
	}
	at = at.Add(30 * time.Second) // 10:01:00: the first call left the window
	if got := call("a"); got != http.StatusOK {
		t.Fatalf("after the oldest call left: %d", got)
	}
	if c.Throttled() != 1 || c.Count("GET /x") != 6 {
		t.Fatalf("throttled %d, counted %d", c.Throttled(), c.Count("GET /x"))
	}
	// The faults override the limit, and clearing them restores it.
	if err := c.SetFaults(Faults{RateLimitPerMinute: 100}); err != nil {
		t.Fatal(err)
	}
	if got := call("a"); got != http.StatusOK || c.RateLimit() != 100 {
		t.Fatalf("with rateLimitPerMinute 100: %d, limit %d", got, c.RateLimit())
	}
	c.ClearFaults()
	if got := call("a"); got != http.StatusTooManyRequests || c.RateLimit() != 3 {
		t.Fatalf("after clearing: %d, limit %d", got, c.RateLimit())
	}
	if err := c.SetFaults(Faults{RateLimitPerMinute: -1}); err == nil {
		t.Fatal("a negative limit accepted")
	}
}

func TestBearerAccount(t *testing.T) {
	t.Parallel()
	tests := []struct{ header, value, want string }{
		{"Authorization", "Bearer tok", "auth:Bearer tok"},
		{"Authorization", "SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host;x-sdk-date, Signature=abc", "ak:AK1"},
		{"X-Auth-Token", "iam", "token:iam"},
		{"", "", "anonymous"},
	}
	for _, tc := range tests {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if tc.header != "" {
			r.Header.Set(tc.header, tc.value)
		}
		if got := BearerAccount(r); got != tc.want {
			t.Errorf("%s %q: %q, want %q", tc.header, tc.value, got, tc.want)
		}
	}
}
