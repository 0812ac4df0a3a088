package app

import (
	"fmt"
	"math"

	"github.com/fleetgraph/fleetgraph/backends/budget"
)

// RateLimitConfig is a backend's upstream budget (runai[].rateLimit,
// modelarts[].rateLimit): calls per second to the vendor account, shared
// by every replica on the same Redis (see "Upstream budget" in the
// README). Unset: no budget, the vendor's own throttling is all there is.
type RateLimitConfig struct {
	// PerSecond is the average rate, > 0 (e.g. 2 for 120 calls a minute).
	PerSecond float64 `yaml:"perSecond"`
	// Burst is the most calls at once; default the rate of one second,
	// at least 1.
	Burst int `yaml:"burst"`
}

// limit is the budget's Limit; nil when none is configured.
func (r *RateLimitConfig) limit() *budget.Limit {
	if r == nil {
		return nil
	}
	burst := r.Burst
	if burst == 0 {
		burst = max(1, int(math.Ceil(r.PerSecond)))
	}
	return &budget.Limit{PerSecond: r.PerSecond, Burst: burst}
}

func (r *RateLimitConfig) validate(path string) error {
	if r == nil {
		return nil
	}
	if !(r.PerSecond > 0) || math.IsInf(r.PerSecond, 0) || r.PerSecond > 1e6 {
		return fmt.Errorf("config: %s.perSecond must be a rate above 0 (calls per second, e.g. 2 for 120 a minute)", path)
	}
	if r.Burst < 0 || r.Burst > 1e6 {
		return fmt.Errorf("config: %s.burst must be within 0..1000000 (0: the rate of one second)", path)
	}
	return nil
}
