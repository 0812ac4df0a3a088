package runaisim_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/fleetgraph/fleetgraph/backends/runai/runaisim"
)

// The per-account limit: the call beyond it answers 429 in Run:ai's error
// shape with Retry-After (Run:ai documents no throttling: see throttle.go).
// Called on the handler directly: the OpenAPI document has no 429 for the
// harness to check against.
func TestThrottledWithRetryAfter(t *testing.T) {
	t.Parallel()
	sim := runaisim.New(runaisim.Options{RateLimitPerMinute: 2})
	token := sim.IssueToken()
	call := func() *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, "/api/v1/clusters", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		sim.Handler().ServeHTTP(rec, r)
		return rec
	}
	for i := range 2 {
		if rec := call(); rec.Code != http.StatusOK {
			t.Fatalf("call %d: %d %s", i, rec.Code, rec.Body)
		}
	}
	rec := call()
	var e struct {
		Code    int
		Message string
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || rec.Code != http.StatusTooManyRequests || e.Code != 429 || e.Message == "" {
		t.Fatalf("3rd call: %d %s", rec.Code, rec.Body)
	}
	if ra := rec.Header().Get("Retry-After"); ra != "60" {
		t.Fatalf("Retry-After %q, want 60 (the first call leaves the window in a minute)", ra)
	}
	if got := sim.Control().Throttled(); got != 1 {
		t.Fatalf("throttled %d", got)
	}
	// Another token of the same application (another gateway replica's)
	// shares its limit: Run:ai limits the account, not the token.
	token = sim.IssueToken()
	if rec := call(); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("another token of the client: %d, want its 429", rec.Code)
	}
}
