package runaisim

import (
	"math"
	"net/http"
	"strconv"
	"time"
)

// writeThrottled is the simulator's 429. Run:ai documents no throttling
// (upstreams.md: no 429 in the spec): the body has the shape of its other
// errors, and Retry-After says in whole seconds when a call is let through
// again, as a gateway in front of a control plane commonly does.
func writeThrottled(w http.ResponseWriter, _ *http.Request, _ int, _, retryAfter time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(retryAfter.Seconds()))))
	writeError(w, http.StatusTooManyRequests, "Too many requests.")
}
