package modelartssim_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/fleetgraph/fleetgraph/backends/modelarts/modelartssim"
)

// API Gateway throttles per user: the call beyond the limit within a minute
// is a 429 with APIG.0308 and the limit in the message, as Huawei's FAQs
// show it; IAM is not throttled; /_sim/stats counts the throttled answers.
func TestThrottledAsAPIGateway(t *testing.T) {
	t.Parallel()
	h := start(t, modelartssim.Options{RateLimitPerMinute: 2})
	token := h.sim.IssueToken()
	withToken := func(r *http.Request) { r.Header.Set("X-Auth-Token", token) }
	pools := "/v2/" + h.sim.ProjectID() + "/pools"
	for i := range 2 {
		if a := h.get(t, pools, "", withToken); a.status != http.StatusOK {
			t.Fatalf("call %d: %d %s", i, a.status, a.body)
		}
	}
	a := h.get(t, pools, "", withToken)
	var body struct {
		Code      string `json:"error_code"`
		Msg       string `json:"error_msg"`
		RequestID string `json:"request_id"`
	}
	if err := json.Unmarshal(a.body, &body); err != nil || a.status != http.StatusTooManyRequests {
		t.Fatalf("3rd call: %d %s", a.status, a.body)
	}
	if body.Code != "APIG.0308" || body.Msg != "The throttling threshold has been reached: policy user over ratelimit,limit:2,time:1 minute" ||
		body.RequestID == "" || a.header.Get("Retry-After") != "" {
		t.Fatalf("throttled answer %d %+v, Retry-After %q", a.status, body, a.header.Get("Retry-After"))
	}
	// Another token of the same user shares its limit (each gateway
	// replica has one); a signed caller is billed to its access key.
	if a := h.get(t, pools, "token"); a.status != http.StatusTooManyRequests {
		t.Fatalf("another token of the user: %d, want the user's 429", a.status)
	}
	if a := h.get(t, pools, "aksk"); a.status != http.StatusOK {
		t.Fatalf("a signed call: %d %s", a.status, a.body)
	}
	if got := h.sim.Control().Throttled(); got != 2 {
		t.Fatalf("throttled %d, want 2", got)
	}
	stats := h.get(t, "/_sim/stats", "")
	var s struct{ Throttled, RateLimitPerMinute int }
	if err := json.Unmarshal(stats.body, &s); err != nil || s.Throttled != 2 || s.RateLimitPerMinute != 2 {
		t.Fatalf("stats %s", stats.body)
	}
}
