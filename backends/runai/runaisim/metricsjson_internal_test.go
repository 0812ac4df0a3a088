package runaisim

import (
	"bytes"
	"encoding/json"
	"testing"
)

// The metrics answer is written by hand (appendMetricsJSON) for speed; its
// bytes are encoding/json's, whatever the series hold: no series, labels,
// null values, empty values, strings that need escapes.
func TestMetricsJSONIsEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, ms := range [][]measurementJSON{
		nil,
		{},
		{{Type: "GPU_UTILIZATION"}},
		{{Type: "CPU_UTILIZATION", Values: []sampleJSON{}}},
		{{Type: "CPU_UTILIZATION", Values: []sampleJSON{{Value: "12.5", Timestamp: "2026-11-25T10:00:00.000Z"}, {Value: "13", Timestamp: "2026-11-25T10:03:00.000Z"}}},
			{Type: "GPU_UTILIZATION_PER_GPU", Labels: map[string]string{"gpu": "3", "a<b": "x&y\"z\\", "é": "\u2028\n"}, Values: []sampleJSON{{Value: "NaN"}}}},
	} {
		var want bytes.Buffer
		if err := json.NewEncoder(&want).Encode(metricsJSON{Measurements: ms}); err != nil {
			t.Fatal(err)
		}
		if got := appendMetricsJSON(nil, ms); string(got) != want.String() {
			t.Errorf("appendMetricsJSON:\n got %s\nwant %s", got, want.String())
		}
	}
}

// One node's metrics answer (two series of 20 points), encoded as the
// simulator did (encoding/json) and as it does.
func BenchmarkMetricsJSON(b *testing.B) {
	ms := make([]measurementJSON, 2)
	for i := range ms {
		ms[i].Type = []string{"CPU_UTILIZATION", "CPU_MEMORY_UTILIZATION"}[i]
		for range 20 {
			ms[i].Values = append(ms[i].Values, sampleJSON{Value: "37.25", Timestamp: "2026-11-25T10:00:00.000Z"})
		}
	}
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var buf bytes.Buffer
			_ = json.NewEncoder(&buf).Encode(metricsJSON{Measurements: ms})
		}
	})
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = appendMetricsJSON(make([]byte, 0, 64+len(ms)*(64+20*64)), ms)
		}
	})
}
