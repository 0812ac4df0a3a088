package app

import (
	"testing"
	"time"
)

// TestCallTimeoutIsTheLongestBackendTimeout: the bound under which a request
// makes a cache call on its own goroutine is the longest timeout of the
// configured backends (each 10 s where it sets none), not at least 10 s.
func TestCallTimeoutIsTheLongestBackendTimeout(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		cfg  Config
		want time.Duration
	}{
		"no backends": {Config{}, 10 * time.Second},
		"defaults":    {Config{RunAI: []RunAIConfig{{}}, ModelArts: []ModelArtsConfig{{}}}, 10 * time.Second},
		"all short": {Config{RunAI: []RunAIConfig{{Timeout: Duration(2 * time.Second)}},
			ModelArts: []ModelArtsConfig{{Timeout: Duration(3 * time.Second), AOM: &AOMConfig{Timeout: Duration(time.Second)}}}}, 3 * time.Second},
		"one unset": {Config{RunAI: []RunAIConfig{{Timeout: Duration(2 * time.Second)}}, ModelArts: []ModelArtsConfig{{}}}, 10 * time.Second},
		"aom longest": {Config{ModelArts: []ModelArtsConfig{{Timeout: Duration(time.Second),
			AOM: &AOMConfig{Timeout: Duration(20 * time.Second)}}}}, 20 * time.Second},
	} {
		if got := cachePolicy(&tc.cfg).CallTimeout; got != tc.want {
			t.Errorf("%s: CallTimeout %v, want %v", name, got, tc.want)
		}
	}
}
