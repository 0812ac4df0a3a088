package runai

import (
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// oldEncode is how every query was encoded before encodeQuery.
func oldEncode(q url.Values) string { return strings.ReplaceAll(q.Encode(), "%2C", ",") }

// encodeQuery writes what url.Values.Encode writes with literal commas,
// for any keys and values (a comma, a percent sign, spaces, non-ASCII).
func TestEncodeQueryMatchesURLValues(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []rune("aZ09-_.~ ,%+&=?/:;@#$!'()*[]\"<>\\^`{|}éü😀\x00\x7f")
	random := func() string {
		var b strings.Builder
		for range r.IntN(12) {
			b.WriteRune(alphabet[r.IntN(len(alphabet))])
		}
		return b.String()
	}
	for i := range 2000 {
		q := url.Values{}
		for range r.IntN(5) {
			k := random()
			for range 1 + r.IntN(3) {
				q.Add(k, random())
			}
		}
		if got, want := encodeQuery(q), oldEncode(q); got != want {
			t.Fatalf("case %d %v: encodeQuery %q, url.Values %q", i, q, got, want)
		}
	}
	if encodeQuery(url.Values{}) != "" {
		t.Fatal("an empty query is not empty")
	}
}

// A metrics call's query is what its url.Values encoded to.
func TestMetricsQueryMatchesURLValues(t *testing.T) {
	ist := time.FixedZone("IST", 5*3600+1800)
	for _, o := range []MetricsOptions{
		{Types: []string{"GPU_UTILIZATION"}, Start: time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC), End: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC), Samples: 20},
		{Types: []string{"CPU_UTILIZATION", "CPU_MEMORY_UTILIZATION", "GPU_UTILIZATION_PER_GPU"}, Start: time.Date(2026, 1, 2, 3, 4, 5, 678901234, ist), End: time.Date(2026, 1, 2, 4, 4, 5, 0, ist)},
		{Types: []string{"odd type, with space"}, Start: time.Unix(0, 0), End: time.Unix(1, 999_000_000), Samples: 1000},
	} {
		q := url.Values{}
		setList(q, "metricType", o.Types)
		q.Set("start", formatTime(o.Start))
		q.Set("end", formatTime(o.End))
		if o.Samples > 0 {
			q.Set("numberOfSamples", strconv.Itoa(o.Samples))
		}
		if got, want := metricsQuery(o), oldEncode(q); got != want {
			t.Errorf("%+v: metricsQuery %q, url.Values %q", o, got, want)
		}
	}
}
