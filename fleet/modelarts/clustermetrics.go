package modelarts

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/fleetgraph/fleetgraph/backends"
	api "github.com/fleetgraph/fleetgraph/backends/modelarts"
	"github.com/fleetgraph/fleetgraph/fleet"
	"github.com/fleetgraph/fleetgraph/graph/model"
)

var _ fleet.ClusterMetricsSource = (*Source)(nil)

// monitorUnit is how a ClusterMetricType reads a ShowPoolMonitor point's
// unit.
type monitorUnit int

const (
	// unitPercent: "Percent", or no unit (the NPU pair in the published
	// example, read as percent like their GPU counterparts).
	unitPercent monitorUnit = iota
	// unitBytes: "Megabytes", read as MiB (upstreams-2.md, unknown 3: the
	// Kubernetes convention of the rest of ModelArts), or no unit (the
	// metric's documented Megabytes).
	unitBytes
)

// monitorTypes maps the ClusterMetricType values ModelArts serves onto
// ShowPoolMonitor's metric names and units. The vocabulary's unit is
// percent 0..100 or bytes whatever the vendor's.
var monitorTypes = map[string]struct {
	metric string
	unit   monitorUnit
}{
	"CPU_UTILIZATION":        {api.MetricCPUUsage, unitPercent},
	"CPU_MEMORY_UTILIZATION": {api.MetricMemUsedRate, unitPercent},
	"GPU_UTILIZATION":        {api.MetricGPUUtil, unitPercent},
	"GPU_MEMORY_UTILIZATION": {api.MetricGPUMemUsage, unitPercent}, // Percent in the example, despite "usage"
	"NPU_UTILIZATION":        {api.MetricNPUUtil, unitPercent},
	"NPU_MEMORY_UTILIZATION": {api.MetricNPUMemUsage, unitPercent},
	"DISK_CAPACITY_BYTES":    {api.MetricDiskCapacity, unitBytes},
	"DISK_AVAILABLE_BYTES":   {api.MetricDiskAvailableCapacity, unitBytes},
	"DISK_UTILIZATION":       {api.MetricDiskUsedRate, unitPercent},
}

var clusterMetricTypes = func() fleet.MetricTypes {
	list := make([]string, 0, len(monitorTypes))
	for t := range monitorTypes {
		list = append(list, t)
	}
	return fleet.SortTypes(list)
}()

// monitorStatistic is the statistic asked for: the mean within each period
// is what a chart of utilisation shows (the vendor's default is maximum).
const monitorStatistic = api.StatAverage

// monitorKey names one ShowPoolMonitor call: a pool and a window (aligned
// to the period) at a period. The monitor answers every metric at once, so
// the types are not part of it: every metrics field of a pool with the same
// window and period shares the call.
type monitorKey struct {
	Backend, Pool string
	Start, End    int64 // Unix ns
	Period        time.Duration
}

func (k monitorKey) key() string {
	return fmt.Sprintf("%s/%d/%d/%d", k.Pool, k.Start, k.End, int64(k.Period/time.Second))
}

// newMonitorKind declares the pool monitor listing, cached like node
// metrics (short TTL for a window ending near now). The kind name is a
// cache key prefix: keep it stable.
func newMonitorKind(s *Source) *fleet.Kind[monitorKey, fleet.MetricsResult] {
	return &fleet.Kind[monitorKey, fleet.MetricsResult]{Name: "mmonitor",
		Backend: func(k monitorKey) string { return k.Backend }, Key: monitorKey.key,
		TTL: func(p fleet.CachePolicy, k monitorKey) time.Duration {
			return fleet.MetricsTTL(p, fleet.MetricsKey{End: k.End})
		},
		Fetch: s.fetchMonitor, OneCall: true}
}

// ClusterMetricTypes implements fleet.ClusterMetricsSource.
func (s *Source) ClusterMetricTypes() fleet.MetricTypes { return clusterMetricTypes }

// ClusterMetrics implements fleet.ClusterMetricsSource: a resource pool's
// series from ShowPoolMonitor, which has no grouping or node-pool filter.
func (s *Source) ClusterMetrics(ctx context.Context, c *model.Cluster, r fleet.MetricsRequest) ([]*model.MetricSeries, error) {
	for _, o := range [...]struct{ field, v string }{{"groupBy", r.GroupBy}, {"nodePool", r.NodePool}} {
		if field := o.field; o.v != "" {
			return nil, wrap(c.Backend, fleet.Invalid(field,
				"ModelArts resource pools do not serve cluster metrics %s: ShowPoolMonitor answers the whole resource pool (ask NodePool.metrics for one node pool)", field))
		}
	}
	period, err := monitorPeriod(r.End.Sub(r.Start), r.Samples)
	if err != nil {
		return nil, err
	}
	start, end := alignToPeriod(r.Start, r.End, period)
	k := monitorKey{Backend: c.Backend, Pool: c.VendorID, Start: start.UnixNano(), End: end.UnixNano(), Period: period}
	res, err := fleet.Load(ctx, s.monitor, k)()
	if err != nil {
		return nil, err
	}
	return r.Pick(res)
}

// monitorPeriod picks ShowPoolMonitor's period for a window and a sample
// count: among the periods whose points stay within the vendor's 1 440
// per series (minutes·60/period), the one whose number of points is
// closest to samples by ratio (so 1 h at 20 samples is 12 points at 300 s
// rather than 60 at 60 s), the finer on a tie; the finest allowed for
// samples 0 (the vendor's own resolution). A window over 60 days has no
// period: an input error.
func monitorPeriod(window time.Duration, samples int) (time.Duration, error) {
	minutes := int64((window + time.Minute - 1) / time.Minute)
	var best time.Duration
	bestScore := math.Inf(1)
	for _, p := range api.MonitorPeriods {
		if minutes*60 > api.MaxMonitorPoints*int64(p/time.Second) {
			continue
		}
		if samples <= 0 {
			return p, nil
		}
		points := max(float64(window)/float64(p), 1)
		score := math.Abs(math.Log(points / float64(samples)))
		if score < bestScore-1e-9 {
			best, bestScore = p, score
		}
	}
	if best == 0 {
		longest := api.MonitorPeriods[len(api.MonitorPeriods)-1]
		return 0, fleet.Invalid("start", "a ModelArts pool's metrics span at most %d days (%d points at a period of %ds); the window is %s",
			int64(longest)*api.MaxMonitorPoints/int64(24*time.Hour), api.MaxMonitorPoints, int64(longest/time.Second), window)
	}
	return best, nil
}

// alignToPeriod moves a window down to a multiple of the period, keeping
// its length, so that a sliding dashboard window asks the vendor, and the
// cache, the same question until the next period (the newest point is at
// most one period old: the resolution asked for anyway).
func alignToPeriod(start, end time.Time, period time.Duration) (time.Time, time.Time) {
	aligned := end.Truncate(period)
	if !aligned.After(start) {
		return start, end
	}
	return start.Add(aligned.Sub(end)), aligned
}

func (s *Source) fetchMonitor(ctx context.Context, k monitorKey) (fleet.MetricsResult, error) {
	c := s.client(k.Backend)
	if c == nil {
		return fleet.MetricsResult{}, fleet.UnknownBackend(k.Backend)
	}
	start, end := time.Unix(0, k.Start).UTC(), time.Unix(0, k.End).UTC()
	m, err := c.ShowPoolMonitor(ctx, k.Pool, api.MonitorOptions{Start: start, End: end, Statistics: monitorStatistic, Period: k.Period})
	if err != nil {
		return fleet.MetricsResult{}, wrap(k.Backend, err)
	}
	return monitorSeries(k.Backend, m, start, end), nil
}

// monitorSeries maps a ShowPoolMonitor answer onto the vocabulary: one
// series per served type, sorted by type, with the points of [start, end]
// whose average is a number (the vendor's -1, "no data", is not), in the
// vocabulary's unit. A point in a unit the type cannot read is left out. A
// served type the answer lacks is reported as missing (a partial answer,
// as Run:ai's 207).
func monitorSeries(backend string, m *api.PoolMonitor, start, end time.Time) fleet.MetricsResult {
	var res fleet.MetricsResult
	var missing []string
	for _, typ := range clusterMetricTypes.List() {
		mt := monitorTypes[typ]
		metric := m.Metric(mt.metric)
		if metric == nil {
			missing = append(missing, typ)
			continue
		}
		s := &model.MetricSeries{Type: typ, Labels: []*model.Label{}, Points: make([]*model.MetricPoint, 0, len(metric.Points))}
		for _, p := range metric.Points {
			t := p.Time()
			v, ok := p.Value(monitorStatistic)
			if !ok || t.Before(start) || t.After(end) {
				continue
			}
			if v, ok = monitorValue(mt.unit, p.Unit, v); ok {
				s.Points = append(s.Points, &model.MetricPoint{Timestamp: t, Value: v})
			}
		}
		sort.SliceStable(s.Points, func(i, j int) bool { return s.Points[i].Timestamp.Before(s.Points[j].Timestamp) })
		res.Series = append(res.Series, s)
	}
	if len(missing) > 0 {
		res.Partial = &backends.PartialError{Backend: backend, Provider: backends.ModelArts, Route: api.RoutePoolMonitor, Missing: missing}
	}
	return res
}

// monitorValue converts v, sent in unit, to the vocabulary's unit.
func monitorValue(want monitorUnit, unit string, v float64) (float64, bool) {
	switch want {
	case unitPercent:
		return v, unit == api.UnitPercent || unit == ""
	case unitBytes:
		if unit == api.UnitMegabytes || unit == "" {
			return v * (1 << 20), true
		}
	}
	return 0, false
}
