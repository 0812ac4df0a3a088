package backends

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The three Retry-After rules ParseRetryAfter replaced, as they were (runai
// client.go, modelarts errors.go, resilience retry.go before the move), kept
// here to show where they disagreed and which way each case went.
func legacyRunAI(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

func legacyModelArts(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

func legacyResilience(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > int64(24*time.Hour/time.Second) {
			secs = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(secs) * time.Second, true
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(at.Sub(now), 0), true
	}
	return 0, false
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	date := func(d time.Duration) string { return now.Add(d).Format(http.TimeFormat) }
	const none = time.Duration(-1) // "not ok" in the want columns
	for _, tc := range []struct {
		name string
		in   string
		want time.Duration // none: ok is false
		// What the old rules gave: runai, modelarts (a duration, 0 for
		// none) and resilience (none when not ok).
		runai, modelarts, resilience time.Duration
	}{
		// Where all three agreed, and still do.
		{"absent", "", none, 0, 0, none},
		{"zero", "0", 0, 0, 0, 0},
		{"seconds", "3", 3 * time.Second, 3 * time.Second, 3 * time.Second, 3 * time.Second},
		{"leading zeros", "007", 7 * time.Second, 7 * time.Second, 7 * time.Second, 7 * time.Second},
		{"negative", "-1", none, 0, 0, none},
		{"garbage", "soon", none, 0, 0, none},
		{"fraction", "1.5", none, 0, 0, none},
		{"unit", "5s", none, 0, 0, none},
		{"IMF-fixdate", date(5 * time.Second), 5 * time.Second, 5 * time.Second, 5 * time.Second, 5 * time.Second},
		{"RFC 850 date", now.Add(90 * time.Second).Format(time.RFC850), 90 * time.Second, 90 * time.Second, 90 * time.Second, 90 * time.Second},
		{"asctime date", now.Add(time.Minute).Format(time.ANSIC), time.Minute, time.Minute, time.Minute, time.Minute},
		{"bad date", "Sun, 31 Feb 2026 12:00:00 GMT", none, 0, 0, none},

		// Where they disagreed; the row says which rule won.
		// A past date: "retry now" (resilience), not "no header" (the
		// clients). Both read 0 as APIError.RetryAfter, so only the
		// transport could tell, and it already did.
		{"past date", date(-time.Minute), 0, 0, 0, 0},
		// Beyond int64 nanoseconds: the clients overflowed into a wrapped
		// duration; resilience capped at a day. The cap won, for both forms.
		{"huge seconds", "99999999999", MaxRetryAfter, wrapped(99999999999), wrapped(99999999999), MaxRetryAfter},
		{"beyond int64", "99999999999999999999", MaxRetryAfter, 0, 0, none},
		{"date beyond the cap", date(48 * time.Hour), MaxRetryAfter, 48 * time.Hour, 48 * time.Hour, 48 * time.Hour},
		// OWS around the value: runai trimmed both forms, modelarts only
		// seconds, resilience neither. Trimming won (RFC 9110 §5.5: OWS is
		// not part of a field value).
		{"seconds in spaces", " 5 ", 5 * time.Second, 5 * time.Second, 5 * time.Second, none},
		{"date after a tab", "\t" + date(5*time.Second), 5 * time.Second, 5 * time.Second, 0, none},
		// A sign: all three took it through strconv, but delay-seconds is
		// 1*DIGIT. The RFC won: "+5" is not a Retry-After value.
		{"plus sign", "+5", none, 5 * time.Second, 5 * time.Second, 5 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := ParseRetryAfter(tc.in, now)
			if wantOK := tc.want != none; ok != wantOK || (ok && got != tc.want) || (!ok && got != 0) {
				t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tc.in, got, ok, max(tc.want, 0), wantOK)
			}
			if got := legacyRunAI(tc.in, now); got != tc.runai {
				t.Errorf("old Run:ai rule(%q) = %v, table says %v", tc.in, got, tc.runai)
			}
			if got := legacyModelArts(tc.in, now); got != tc.modelarts {
				t.Errorf("old ModelArts rule(%q) = %v, table says %v", tc.in, got, tc.modelarts)
			}
			got, ok = legacyResilience(tc.in, now)
			if !ok {
				got = none
			}
			if got != tc.resilience {
				t.Errorf("old resilience rule(%q) = %v, table says %v", tc.in, got, tc.resilience)
			}
		})
	}
}

// wrapped is what n seconds became as a time.Duration in the old client
// rules: the product overflows int64 and wraps.
func wrapped(n int64) time.Duration {
	d := time.Duration(n)
	return d * time.Second
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":                        "",
		"req-1":                   "req-1",
		"a b":                     "",
		"tab\there":               "",
		"é":                       "",
		strings.Repeat("x", 128):  strings.Repeat("x", 128),
		strings.Repeat("x", 129):  "",
		"0b1d3c5e-7f9a-4b2c-8d6e": "0b1d3c5e-7f9a-4b2c-8d6e",
	} {
		if got := RequestID(in); got != want {
			t.Errorf("RequestID(%q) = %q, want %q", in, got, want)
		}
	}
}
