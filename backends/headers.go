package backends

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxRetryAfter bounds what ParseRetryAfter returns. A backend asking for
// more than a day is misconfigured or hostile; the bound also keeps
// delta-seconds from overflowing a time.Duration.
const MaxRetryAfter = 24 * time.Hour

// ParseRetryAfter reads a Retry-After value (RFC 9110 §10.2.3) against now.
// It is the one rule of the gateway: the vendor clients put its duration in
// APIError.RetryAfter, the retry transport waits by it.
//
//   - delay-seconds is 1*DIGIT: no sign, no fraction, no unit. "+5", "-1",
//     "1.5" and "5s" are not delay-seconds and are ignored.
//   - HTTP-date is any of the three forms a recipient must accept
//     (IMF-fixdate, RFC 850, asctime; http.ParseTime). A date at or before
//     now means "now": (0, true).
//   - Surrounding spaces and tabs (OWS) are ignored.
//   - The result is bounded by MaxRetryAfter, whatever the form.
//
// ok is false when v is empty or not a Retry-After value at all; a caller
// then falls back to its own backoff. (0, true) is a backend saying "retry
// now", which a caller may treat differently from no header.
func ParseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.Trim(v, " \t")
	if v == "" {
		return 0, false
	}
	if allDigits(v) {
		secs, err := strconv.ParseInt(v, 10, 64)
		if err != nil || secs > int64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter, true // all digits, so only too large
		}
		return time.Duration(secs) * time.Second, true
	}
	at, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return min(max(at.Sub(now), 0), MaxRetryAfter), true
}

func allDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// RequestID keeps a vendor's request id (a header or a body field) when it
// is short and printable, and returns "" otherwise: it goes into GraphQL
// extensions, and a proxy could put anything in the header.
func RequestID(id string) string {
	if len(id) > 128 || strings.IndexFunc(id, func(r rune) bool { return r < 0x21 || r > 0x7e }) >= 0 {
		return ""
	}
	return id
}
