package runai

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fleetgraph/fleetgraph/backends"
)

// MetricsOptions are the query parameters of NodeMetrics and
// NodePoolMetrics. Types, Start and End are required.
type MetricsOptions struct {
	// Types are NodeMetricType values for NodeMetrics (GPU_UTILIZATION,
	// CPU_USAGE_CORES, GPU_UTILIZATION_PER_GPU, ...) and MetricsType values
	// for NodePoolMetrics (TOTAL_GPU, ALLOCATED_GPU, ...). They are sent as
	// one comma-separated metricType parameter.
	Types      []string
	Start, End time.Time
	// Samples is numberOfSamples, 1..1000 points evenly spaced in
	// [Start, End]. 0 sends no parameter: the API's default is 20.
	Samples int
}

// MetricsResponse holds one measurement per requested type, or per GPU for
// the *_PER_GPU types.
type MetricsResponse struct {
	Measurements []Measurement
}

// Measurement is one time series.
type Measurement struct {
	Type string
	// Labels tell series of one type apart, e.g. {"gpu": "3"}; nil when the
	// vendor sent none.
	Labels map[string]string
	// Values is nil when the vendor sent null: no data for this type (a GPU
	// metric on a CPU-only node, for one).
	Values []Sample
}

// Sample is one point of a series. The vendor sends the value as a string.
type Sample struct {
	Value     float64
	Timestamp time.Time // zero when the vendor sent null
}

const (
	routeNodeMetrics     = "/api/v1/nodes/{nodeId}/metrics"
	routeNodePoolMetrics = "/api/v1/clusters/{clusterUuid}/nodepools/{nodepoolName}/metrics"

	maxSamples = 1000
)

// NodeMetrics returns a node's metrics over [opts.Start, opts.End].
//
// On 207 (partial success) it returns the response and a
// *backends.PartialError naming the requested types that came back without
// values; both are non-nil and the response is valid.
func (c *Client) NodeMetrics(ctx context.Context, nodeID string, opts MetricsOptions) (*MetricsResponse, error) {
	return c.metrics(ctx, routeNodeMetrics, []string{nodeID}, opts)
}

// NodePoolMetrics returns a node pool's metrics over [opts.Start, opts.End].
// The pool is addressed by cluster UUID and pool name, not by pool id. A 207
// is reported as in NodeMetrics.
func (c *Client) NodePoolMetrics(ctx context.Context, clusterUUID, nodePoolName string, opts MetricsOptions) (*MetricsResponse, error) {
	return c.metrics(ctx, routeNodePoolMetrics, []string{clusterUUID, nodePoolName}, opts)
}

func (c *Client) metrics(ctx context.Context, route string, args []string, opts MetricsOptions) (*MetricsResponse, error) {
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("%s %s: GET %s: %w: %s", backends.RunAI, c.name, route, backends.ErrBadRequest, err)
	}
	req := request{method: http.MethodGet, route: route, args: args, rawQuery: metricsQuery(opts)}
	var body wireMetrics
	status, err := c.do(ctx, req, &body)
	if err != nil {
		return nil, err
	}
	resp, dropped, err := body.convert()
	if err != nil {
		return nil, c.decodeError(req, err)
	}
	if dropped > 0 {
		c.observer.DroppedSamples(c.name, backends.RouteKind(route), dropped)
	}
	if status == http.StatusMultiStatus {
		return resp, &backends.PartialError{Backend: c.name, Provider: backends.RunAI, Route: route, Missing: resp.missing(opts.Types)}
	}
	return resp, nil
}

func (o MetricsOptions) validate() error {
	switch {
	case len(o.Types) == 0:
		return fmt.Errorf("at least one metric type is required")
	case o.Start.IsZero() || o.End.IsZero():
		return fmt.Errorf("start and end are required")
	case !o.Start.Before(o.End):
		return fmt.Errorf("start must be before end")
	case o.Samples < 0 || o.Samples > maxSamples:
		return fmt.Errorf("samples must be within 0..%d, got %d", maxSamples, o.Samples)
	}
	return nil
}

// missing returns the requested types for which no measurement carries
// values, in request order.
func (r *MetricsResponse) missing(requested []string) []string {
	have := map[string]bool{}
	for _, m := range r.Measurements {
		if m.Values != nil {
			have[m.Type] = true
		}
	}
	var out []string
	for _, t := range requested {
		if !have[t] && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// formatTime renders a query timestamp as the API's examples do
// (2023-06-06T12:09:18.211Z).
// metricsQuery is the query of a metrics call, in encodeQuery's order and
// escaping (end, metricType, numberOfSamples, start), written in one
// buffer: one allocation instead of a url.Values and its strings.
func metricsQuery(opts MetricsOptions) string {
	var t [32]byte
	b := make([]byte, 0, 128+16*len(opts.Types))
	b = appendQueryParam(b, "end", opts.End.UTC().AppendFormat(t[:0], timeLayout))
	b = append(b, "&metricType="...)
	for i, typ := range opts.Types {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendQueryEscape(b, typ)
	}
	if opts.Samples > 0 {
		b = appendQueryParam(b, "numberOfSamples", strconv.AppendInt(t[:0], int64(opts.Samples), 10))
	}
	b = appendQueryParam(b, "start", opts.Start.UTC().AppendFormat(t[:0], timeLayout))
	return string(b)
}

// timeLayout is how Run:ai's examples write a time (with milliseconds).
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

func formatTime(t time.Time) string {
	return t.UTC().Format(timeLayout)
}

type wireMetrics struct {
	Measurements []wireMeasurement `json:"measurements"`
}

type wireMeasurement struct {
	Type   string          `json:"type"`
	Labels json.RawMessage `json:"labels"`
	Values []wireSample    `json:"values"`
}

type wireSample struct {
	Value     sampleValue `json:"value"`
	Timestamp *string     `json:"timestamp"`
	// at is the timestamp when decodeFast read it (set says so).
	at  time.Time
	set bool
}

// convert builds the response. A sample whose value is not a finite number
// ("NaN", "+Inf", "-Inf": Prometheus' answers for an empty or broken
// window; also null or a string that is no number), or whose timestamp
// does not parse, is dropped from its series and counted in dropped: a Float! point cannot carry it, and one
// bad point must not fail the series or the answer. A series whose every
// sample was dropped stays a series with no points (data, not missing).
func (w wireMetrics) convert() (out *MetricsResponse, dropped int, err error) {
	out = &MetricsResponse{Measurements: make([]Measurement, 0, len(w.Measurements))}
	for _, wm := range w.Measurements {
		m := Measurement{Type: wm.Type, Labels: parseLabels(wm.Labels)}
		if wm.Values != nil {
			m.Values = make([]Sample, 0, len(wm.Values))
			for _, ws := range wm.Values {
				if !ws.Value.ok {
					dropped++
					continue
				}
				sample := Sample{Value: ws.Value.v}
				if ws.set {
					sample.Timestamp = ws.at
				} else if ws.Timestamp != nil && *ws.Timestamp != "" {
					t, err := parseVendorTime(*ws.Timestamp)
					if err != nil {
						dropped++ // a point without a place in time
						continue
					}
					sample.Timestamp = t
				}
				m.Values = append(m.Values, sample)
			}
		}
		out.Measurements = append(out.Measurements, m)
	}
	return out, dropped, nil
}

// parseLabels reads the labels object. The vendor's own example once showed
// it as a Python-dict string ("{'gpu': '3'}"); that form is read too rather
// than failing the whole answer, and anything else counts as no labels. A
// label whose value is a number or boolean keeps its JSON text; one whose
// value is an object, an array or null is left out, not the whole set.
func parseLabels(raw json.RawMessage) map[string]string {
	if len(raw) == 0 {
		return nil // absent (or read by decodeFast, which takes only null)
	}
	var m map[string]string
	if json.Unmarshal(raw, &m) == nil {
		return m
	}
	var s string
	if json.Unmarshal(raw, &s) == nil && json.Unmarshal([]byte(strings.ReplaceAll(s, "'", `"`)), &m) == nil {
		return m
	}
	var loose map[string]json.RawMessage
	if json.Unmarshal(raw, &loose) != nil || loose == nil {
		return nil
	}
	m = make(map[string]string, len(loose))
	for k, v := range loose {
		v = bytes.TrimSpace(v)
		switch {
		case len(v) == 0 || v[0] == '{' || v[0] == '[' || string(v) == "null":
		case v[0] == '"':
			if json.Unmarshal(v, &s) == nil {
				m[k] = s
			}
		default:
			m[k] = string(v)
		}
	}
	return m
}

// sampleValue is a metric or telemetry value. The vendor sends a decimal
// number as a string ("85"); a bare JSON number is accepted too. ok is false
// when the value is not a finite number: "NaN", "+Inf", "-Inf", an
// out-of-range "1e400", a string that is no number, null, or no value at
// all. Decoding never fails on the value, so the caller decides (it drops
// the sample).
type sampleValue struct {
	v  float64
	ok bool
}

func (f *sampleValue) UnmarshalJSON(b []byte) error {
	*f = sampleValue{}
	s := string(b)
	switch {
	case len(b) >= 2 && b[0] == '"' && bytes.IndexByte(b, '\\') < 0:
		s = s[1 : len(s)-1] // a number needs no escapes: skip a decode per sample
	case len(b) > 0 && b[0] == '"':
		if json.Unmarshal(b, &s) != nil {
			return nil
		}
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err == nil && !math.IsNaN(v) && !math.IsInf(v, 0) {
		*f = sampleValue{v: v, ok: true}
	}
	return nil
}

// vendorTimeLayouts: RFC 3339 as the schema says, and the space-separated
// UTC form of the vendor's examples (2023-06-06 12:09:18.211). Fractional
// seconds are optional in both when parsing.
var vendorTimeLayouts = []string{time.RFC3339Nano, "2006-01-02 15:04:05Z07:00", "2006-01-02 15:04:05"}

func parseVendorTime(s string) (time.Time, error) {
	for _, layout := range vendorTimeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("timestamp %q is neither RFC 3339 nor 2006-01-02 15:04:05.000", s)
}
