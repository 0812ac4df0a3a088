package jsonx

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// The appenders write Marshal's bytes.
func TestAppendersAreMarshal(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	floats := []float64{0, math.Copysign(0, -1), 1, -1, 0.1, 1e-6, 9.99e-7, 1e20, 1e21, 1.5e300, 5e-324, math.MaxFloat64}
	for range 2000 {
		floats = append(floats, (rng.Float64()-0.5)*math.Pow(10, float64(rng.IntN(80)-40)))
	}
	for _, f := range floats {
		want, _ := Marshal(f)
		if got, ok := AppendFloat(nil, f); !ok || string(got) != string(want) {
			t.Errorf("AppendFloat(%v) = %s, want %s", f, got, want)
		}
	}
	for _, s := range []string{"", "CPU_UTILIZATION", "a<b", "x&y", `q"`, `b\`, "é", "\n", "\u2028", "\x7f"} {
		want, _ := Marshal(s)
		if got := AppendString(nil, s); string(got) != string(want) {
			t.Errorf("AppendString(%q) = %s, want %s", s, got, want)
		}
	}
	times := []time.Time{time.Date(2026, 11, 25, 10, 3, 0, 0, time.UTC), time.Date(2026, 11, 25, 10, 3, 0, 120, time.UTC), time.Unix(0, 0).UTC(),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)}
	for range 2000 {
		times = append(times, time.Unix(0, rng.Int64N(1<<62)).UTC(), time.UnixMilli(rng.Int64N(1<<42)).UTC())
	}
	for _, tm := range times {
		want, _ := Marshal(tm)
		if got, ok := AppendTime(nil, tm); !ok || string(got) != string(want) {
			t.Errorf("AppendTime(%v) = %s, want %s", tm, got, want)
		}
	}
}
