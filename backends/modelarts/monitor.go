package modelarts

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fleetgraph/fleetgraph/backends"
)

// RoutePoolMonitor is ShowPoolMonitor: pool-level time series
// (modelarts-openapi-monitor.json). There is no node or node-pool variant;
// node series live in AOM (package aom).
const RoutePoolMonitor = "/v2/{project_id}/pools/{pool_name}/monitor"

// Statistics of ShowPoolMonitor: the aggregation within each period.
const (
	StatMaximum     = "maximum" // the vendor's default
	StatMinimum     = "minimum"
	StatSum         = "sum"
	StatAverage     = "average"
	StatSampleCount = "sampleCount"
)

// Monitor metric names (metricName) the SDK lists. Units are per point
// (MonitorPoint.Unit): the published example gives Percent for the first
// four and diskUsedRate, "" for the NPU pair and Megabytes for the disk
// capacities.
const (
	MetricCPUUsage              = "cpuUsage"
	MetricMemUsedRate           = "memUsedRate"
	MetricGPUUtil               = "gpuUtil"
	MetricGPUMemUsage           = "gpuMemUsage"
	MetricNPUUtil               = "npuUtil"
	MetricNPUMemUsage           = "npuMemUsage"
	MetricDiskCapacity          = "diskCapacity"
	MetricDiskAvailableCapacity = "diskAvailableCapacity"
	MetricDiskUsedRate          = "diskUsedRate"
)

// Units of MonitorPoint.Unit. Megabytes are read as MiB (2^20 bytes), the
// Kubernetes convention of the rest of ModelArts: the documents do not say
// (upstreams-2.md, unknown 3).
const (
	UnitPercent   = "Percent"
	UnitMegabytes = "Megabytes"
)

// MonitorPeriods are the periods ShowPoolMonitor accepts, shortest first.
var MonitorPeriods = []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour}

// MaxMonitorPoints is the vendor's hard rule: durationInMinutes·60/period
// must not exceed it (24 h at 60 s, 5 days at 300 s, 15 at 900, 60 at 3600).
const MaxMonitorPoints = 1440

// MonitorOptions are the query parameters of ShowPoolMonitor.
type MonitorOptions struct {
	// Start is the window's start. Zero: End minus 60 minutes (the
	// vendor's default duration).
	Start time.Time
	// End is the window's end. Zero: now (sent as -1; the vendor replaces
	// an end later than now by now).
	End time.Time
	// Statistics is one of the Stat constants. Default StatMaximum (the
	// vendor's). One value per call: the SDK field is a single string and a
	// comma list is not documented (upstreams-2.md, unknown 4).
	Statistics string
	// Period is one of MonitorPeriods. Default one minute.
	Period time.Duration
}

// timeRange renders time_range and checks the 1 440-points rule.
//
// Decision (upstreams-2.md, unknown 1): the start is always sent as -1 and
// the window as end and duration ("-1.<endMs>.N" or "-1.-1.N"), so that the
// vendor computes start = end - N minutes and the documents' conflicting
// rule on an explicit start (SDK: N <= (end-start)/60000 - 1, pages: >=)
// cannot bite. N is the window in whole minutes, rounded up, so the answer
// covers at least [Start, End].
func (o MonitorOptions) timeRange() (tr, stat, period string, err error) {
	p := o.Period
	if p == 0 {
		p = time.Minute
	}
	if !slices.Contains(MonitorPeriods, p) {
		return "", "", "", fmt.Errorf("period must be 60, 300, 900 or 3600 seconds, got %v", p)
	}
	stat = o.Statistics
	switch stat {
	case "":
		stat = StatMaximum
	case StatMaximum, StatMinimum, StatSum, StatAverage, StatSampleCount:
	default:
		return "", "", "", fmt.Errorf("statistics must be maximum, minimum, sum, average or sampleCount, got %q", stat)
	}
	minutes := int64(60)
	if !o.Start.IsZero() {
		end := o.End
		if end.IsZero() {
			return "", "", "", fmt.Errorf("a start needs an end")
		}
		if !o.Start.Before(end) {
			return "", "", "", fmt.Errorf("start must be before end")
		}
		d := end.Sub(o.Start)
		minutes = int64((d + time.Minute - 1) / time.Minute)
	}
	if secs := int64(p / time.Second); minutes*60 > MaxMonitorPoints*secs {
		return "", "", "", fmt.Errorf("%d minutes at a period of %ds is more than %d points per series", minutes, secs, MaxMonitorPoints)
	}
	end := "-1"
	if !o.End.IsZero() {
		if o.End.UnixMilli() <= 0 {
			return "", "", "", fmt.Errorf("end %v is before the epoch", o.End)
		}
		end = strconv.FormatInt(o.End.UnixMilli(), 10)
	}
	return "-1." + end + "." + strconv.FormatInt(minutes, 10), stat, strconv.Itoa(int(p / time.Second)), nil
}

// PoolMonitor is a ShowPoolMonitor answer: one entry per metric (the
// documents say at most 20).
type PoolMonitor struct {
	Metrics []MonitorMetric
}

// Metric returns the first series named name, or nil.
func (m *PoolMonitor) Metric(name string) *MonitorMetric {
	for i := range m.Metrics {
		if m.Metrics[i].Name == name {
			return &m.Metrics[i]
		}
	}
	return nil
}

// MonitorMetric is one pool-level series.
type MonitorMetric struct {
	Name       string // metricName, e.g. MetricGPUUtil; "" when the vendor sent none
	Namespace  string // PAAS.AGGR in the published example
	Dimensions []MonitorDimension
	Points     []MonitorPoint // as sent (oldest first in the example)
}

// MonitorDimension is a metric dimension; the only documented one is
// clusterId.
type MonitorDimension struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// MonitorPoint is one point of a series.
type MonitorPoint struct {
	// Timestamp is epoch milliseconds (the Go SDK's int32 cannot hold it;
	// decoded as int64).
	Timestamp int64
	// Unit is the point's unit as sent: UnitPercent, UnitMegabytes or "".
	Unit   string
	Values []MonitorValue
}

// Time is Timestamp as a time.
func (p MonitorPoint) Time() time.Time { return time.UnixMilli(p.Timestamp).UTC() }

// Value returns the value of statistic stat, and false when the point has
// none or the vendor said "no data".
func (p MonitorPoint) Value(stat string) (float64, bool) {
	for _, v := range p.Values {
		if v.Statistic == stat && v.Value != nil {
			return *v.Value, true
		}
	}
	return 0, false
}

// MonitorValue is the value of one statistic at one point.
type MonitorValue struct {
	Statistic string
	// Value is nil when there is no data: the vendor's -1 ("no data for
	// this metric"; the published example has -1 for every GPU and NPU
	// point of a CPU-only pool), or no value at all. -1 is never a number.
	Value *float64
}

// ShowPoolMonitor returns the pool-level series of pool over the window of
// opts. Options are checked before any call (period, statistics, the
// 1 440-points rule); a refused one wraps backends.ErrBadRequest.
//
// A point whose timestamp is missing or not an integral epoch-ms number,
// or a value that is not a finite number, is dropped and counted through
// Config.Observer (DroppedSamples, kind "monitor"); null list items are
// skipped and counted (NullItems), unknown members ignored.
func (c *Client) ShowPoolMonitor(ctx context.Context, pool string, opts MonitorOptions) (*PoolMonitor, error) {
	if err := c.requireArg("pool", pool); err != nil {
		return nil, err
	}
	tr, stat, period, err := opts.timeRange()
	if err != nil {
		return nil, fmt.Errorf("%s %s: GET %s: %w: %s", backends.ModelArts, c.cfg.Name, RoutePoolMonitor, backends.ErrBadRequest, err)
	}
	q := url.Values{"time_range": {tr}, "statistics": {stat}, "period": {period}}
	data, err := c.get(ctx, RoutePoolMonitor, q, pool)
	if err != nil {
		return nil, err
	}
	var w wireMonitor
	if err := json.Unmarshal(data, &w); err != nil {
		return nil, c.decodeError(http.MethodGet, RoutePoolMonitor, err)
	}
	out, dropped := w.convert()
	if dropped > 0 {
		c.observer.DroppedSamples(c.cfg.Name, backends.RouteKind(RoutePoolMonitor), dropped)
	}
	return out, nil
}

type wireMonitor struct {
	Metrics []struct {
		Metric     *wireMonitorMetric `json:"metric"`
		DataPoints []struct {
			Timestamp  monitorTime `json:"timestamp"`
			Unit       string      `json:"unit"`
			Statistics []struct {
				Statistic string       `json:"statistic"`
				Value     monitorValue `json:"value"`
			} `json:"statistics"`
		} `json:"dataPoints"`
	} `json:"metrics"`
}

type wireMonitorMetric struct {
	Dimensions []MonitorDimension `json:"dimensions"`
	MetricName string             `json:"metricName"`
	Namespace  string             `json:"namespace"`
}

// UnmarshalJSON reads the object of the SDK and every published example,
// or the array the OTC table names ("Array of PoolMetricItemValue", a
// CONFLICT in the document): its first element.
func (m *wireMonitorMetric) UnmarshalJSON(b []byte) error {
	type plain wireMonitorMetric
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		var list []plain
		if err := json.Unmarshal(b, &list); err != nil {
			return err
		}
		if len(list) > 0 {
			*m = wireMonitorMetric(list[0])
		}
		return nil
	}
	return json.Unmarshal(b, (*plain)(m))
}

func (w wireMonitor) convert() (*PoolMonitor, int) {
	out := &PoolMonitor{Metrics: make([]MonitorMetric, 0, len(w.Metrics))}
	dropped := 0
	for _, wm := range w.Metrics {
		var m MonitorMetric
		if wm.Metric != nil {
			m.Name, m.Namespace, m.Dimensions = wm.Metric.MetricName, wm.Metric.Namespace, wm.Metric.Dimensions
		}
		m.Points = make([]MonitorPoint, 0, len(wm.DataPoints))
		for _, dp := range wm.DataPoints {
			if !dp.Timestamp.ok {
				dropped++ // a point without a place in time
				continue
			}
			p := MonitorPoint{Timestamp: dp.Timestamp.ms, Unit: dp.Unit, Values: make([]MonitorValue, 0, len(dp.Statistics))}
			for _, s := range dp.Statistics {
				v := MonitorValue{Statistic: s.Statistic}
				switch {
				case !s.Value.present:
				case !s.Value.ok:
					dropped++ // "NaN", a string that is no number: not the vendor's -1
				case s.Value.v != -1:
					v.Value = &s.Value.v
				}
				p.Values = append(p.Values, v)
			}
			m.Points = append(m.Points, p)
		}
		out.Metrics = append(out.Metrics, m)
	}
	return out, dropped
}

// monitorTime is an epoch-ms timestamp: an integral JSON number (or a
// decimal string of one) within int64; anything else is not ok, and the
// point is dropped instead of failing the answer.
type monitorTime struct {
	ms int64
	ok bool
}

func (t *monitorTime) UnmarshalJSON(b []byte) error {
	*t = monitorTime{}
	s := strings.Trim(string(bytes.TrimSpace(b)), `"`)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		*t = monitorTime{ms: n, ok: true}
		return nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f == math.Trunc(f) && math.Abs(f) < 1<<63 {
		*t = monitorTime{ms: int64(f), ok: true}
	}
	return nil
}

// monitorValue is a value: a JSON number, or a decimal string of one. ok
// is false when it is not finite; present is false for null.
type monitorValue struct {
	v           float64
	present, ok bool
}

func (f *monitorValue) UnmarshalJSON(b []byte) error {
	*f = monitorValue{}
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		return nil
	}
	f.present = true
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		if json.Unmarshal(b, &s) != nil {
			return nil
		}
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err == nil && !math.IsNaN(v) && !math.IsInf(v, 0) {
		f.v, f.ok = v, true
	}
	return nil
}
