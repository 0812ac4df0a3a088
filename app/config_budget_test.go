package app

import (
	"testing"

	"github.com/fleetgraph/fleetgraph/backends/budget"
)

func TestRateLimitDefaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   *RateLimitConfig
		want *budget.Limit
	}{
		{nil, nil},
		{&RateLimitConfig{PerSecond: 2.5}, &budget.Limit{PerSecond: 2.5, Burst: 3}}, // a second's worth
		{&RateLimitConfig{PerSecond: 0.1}, &budget.Limit{PerSecond: 0.1, Burst: 1}}, // at least one
		{&RateLimitConfig{PerSecond: 2, Burst: 10}, &budget.Limit{PerSecond: 2, Burst: 10}},
	}
	for _, tc := range tests {
		got := tc.in.limit()
		if (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
			t.Errorf("%+v: %+v, want %+v", tc.in, got, tc.want)
		}
	}
}
