package modelartssim

import (
	"fmt"
	"net/http"
	"time"

	"github.com/fleetgraph/fleetgraph/backends/simctl"
)

// apigAccount is the API Gateway account a call is billed to: the user an
// X-Auth-Token was issued to (API Gateway limits a user, "policy user
// over ratelimit", not a token: the tokens of every gateway replica share
// it), else the caller's credential (an AK of a signed request); AOM
// apart (a service of its own behind the gateway). IAM's token route is
// not throttled (it is not behind ModelArts' gateway).
func (s *Server) apigAccount(r *http.Request) string {
	if r.URL.Path == "/v3/auth/tokens" {
		return ""
	}
	acct := simctl.BearerAccount(r)
	if tok := r.Header.Get("X-Auth-Token"); tok != "" {
		if c, msg := s.parseToken(tok); msg == "" {
			acct = "user:" + c.User
		}
	}
	if isAOM(r) {
		return "aom/" + acct
	}
	return acct
}

// writeThrottled is API Gateway's 429 as Huawei's FAQs spell it
// (upstreams-2.md c): code APIG.0308, the limit and window in the
// message, the request ID; no Retry-After (none is documented).
func writeThrottled(w http.ResponseWriter, _ *http.Request, limit int, window, _ time.Duration) {
	writeError(w, http.StatusTooManyRequests, "APIG.0308",
		fmt.Sprintf("The throttling threshold has been reached: policy user over ratelimit,limit:%d,time:%s", limit, apigWindow(window)), true)
}

// apigWindow spells a window as APIG does: "1 minute", "5 second".
func apigWindow(d time.Duration) string {
	if d%time.Minute == 0 {
		return fmt.Sprintf("%d minute", d/time.Minute)
	}
	return fmt.Sprintf("%d second", d/time.Second)
}
