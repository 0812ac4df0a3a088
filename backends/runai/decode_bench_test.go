package runai

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/internal/jsonx"
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
	}{{"encoding-json", json.Unmarshal}, {"jsonx", jsonx.Unmarshal}, {"fast", func(b []byte, v any) error {
		if !v.(*wireMetrics).decodeFast(b) {
			return errors.New("decodeFast refused the body")
		}
		return nil
	}}} {
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

// nodePage is one page of GET /api/v1/clusters/{clusterUuid}/nodes as the
// simulator sends it: n nodes with GPU info, a condition and timestamps.
func nodePage(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"nodes":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"6328d463-ae34-48cf-b116-%012d","name":"c1-pool-%d-node-%03d","clusterUuid":"6328d463-ae34-48cf-b116-859449e0687d",`+
			`"nodePool":"pool-%d","status":"Ready","conditions":[{"type":"Ready","reason":"KubeletReady","message":"kubelet is posting ready status"}],`+
			`"taints":[],"gpuInfo":{"gpuType":"NVIDIA-A100-SXM4-80GB","gpuCount":8},"nvLinkDomainUid":null,"nvLinkCliqueId":null,`+
			`"createdAt":"2026-11-25T10:00:00.000Z","updatedAt":"2026-11-25T10:05:00.000Z"}`, i, i%5, i, i%5)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// The decode of one 500-node listing page, as listAll does it (the body's
// key, its elements, each element into a Node with its Raw): a cold
// dashboard does it once per cluster and page.
func BenchmarkDecodeNodePage(b *testing.B) {
	body := nodePage(500)
	c := &Client{name: "bench", observer: backends.NopObserver{}}
	req := request{method: "GET", route: routeNodes, items: true}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var page map[string]json.RawMessage
		if err := jsonx.Unmarshal(body, &page); err != nil {
			b.Fatal(err)
		}
		elems, err := pageElems(c, req, page, "nodes")
		if err != nil {
			b.Fatal(err)
		}
		nodes, err := decodeElems[Node](c, req, elems)
		if err != nil || len(nodes) != 500 {
			b.Fatal(len(nodes), err)
		}
	}
}
