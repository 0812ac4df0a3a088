package resilience

// SetJitter replaces the uniform draw of the backoff, so that a test can
// pin a wait that full jitter would otherwise make random.
func SetJitter(t *Transport, f func(n int64) int64) { t.jitter = f }
