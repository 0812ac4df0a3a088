package runai

import (
	"encoding/json"

	"fmt"
	"github.com/fleetgraph/fleetgraph/internal/jsonx"
	"strings"
	"testing"
	"time"
)

// metricsBody is a 207/200 answer as the vendor sends it: two types of 20
// samples each, values as strings.
func metricsBody() []byte {
	var b strings.Builder
	b.WriteString(`{"measurements":[`)
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	for m, typ := range []string{"CPU_UTILIZATION", "CPU_MEMORY_UTILIZATION"} {
		if m > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"type":%q,"labels":null,"values":[`, typ)
		for i := range 20 {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"value":"%.4f","timestamp":%q}`, 37.5+float64(i)/7, t0.Add(time.Duration(i)*3*time.Minute).Format("2006-01-02T15:04:05.000Z"))
		}
		b.WriteString(`]}`)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// The decode of one metrics answer: a cold dashboard does it once per node.
// encoding/json is kept as the comparison for internal/jsonx, which the
// client uses.
func BenchmarkDecodeNodeMetrics(b *testing.B) {
	body := metricsBody()
	for _, d := range []struct {
		name      string
		unmarshal func([]byte, any) error
	}{{"encoding-json", json.Unmarshal}, {"jsonx", jsonx.Unmarshal}} {
		b.Run(d.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				var w wireMetrics
				if err := d.unmarshal(body, &w); err != nil {
					b.Fatal(err)
				}
				if _, _, err := w.convert(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
