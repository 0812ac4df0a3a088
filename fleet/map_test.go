package fleet

import (
	"testing"
	"time"
)

func TestAlignRange(t *testing.T) {
	t.Parallel()
	at := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
	tests := []struct {
		start, end string
		samples    int
		wantStart  string
		wantEnd    string
	}{
		// 1h / 20 samples = 3m step: 10:01:37 aligns to 10:00:00.
		{"2026-11-25T09:01:37Z", "2026-11-25T10:01:37Z", 20, "2026-11-25T09:00:00Z", "2026-11-25T10:00:00Z"},
		{"2026-11-25T09:02:59Z", "2026-11-25T10:02:59Z", 20, "2026-11-25T09:00:00Z", "2026-11-25T10:00:00Z"},
		// 5 min / 60 samples = 5s step, raised to 10s.
		{"2026-11-25T09:55:07Z", "2026-11-25T10:00:07Z", 60, "2026-11-25T09:55:00Z", "2026-11-25T10:00:00Z"},
		// 30 days / 20 samples: step capped at 5 min.
		{"2026-10-26T10:03:00Z", "2026-11-25T10:03:00Z", 20, "2026-10-26T10:00:00Z", "2026-11-25T10:00:00Z"},
		// shorter than its step: unchanged.
		{"2026-11-25T10:00:01Z", "2026-11-25T10:00:05Z", 1, "2026-11-25T10:00:01Z", "2026-11-25T10:00:05Z"},
	}
	for _, tt := range tests {
		s, e := alignRange(at(tt.start), at(tt.end), tt.samples)
		if !s.Equal(at(tt.wantStart)) || !e.Equal(at(tt.wantEnd)) {
			t.Errorf("alignRange(%s, %s, %d) = %s, %s; want %s, %s", tt.start, tt.end, tt.samples, s.Format(time.RFC3339), e.Format(time.RFC3339), tt.wantStart, tt.wantEnd)
		}
	}
}

// TestRunAIPoolPhases: a phase of a newer Run:ai is UNKNOWN with the vendor's
// string kept, on both node-pool APIs.
