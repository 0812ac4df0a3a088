package modelartssim

import (
	"fmt"
	"hash/fnv"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/fleetgraph/fleetgraph/backends/modelarts"
	"github.com/fleetgraph/fleetgraph/backends/modelarts/aom"
)

// Route keys of the monitoring routes (simctl counters and fault routes).
const (
	RoutePoolMonitor   = "GET " + modelarts.RoutePoolMonitor
	RouteRuntimePools  = "GET " + modelarts.RouteRuntimePools
	RouteAOMQueryRange = "GET " + aom.RouteQueryRange
	RouteAOMLabelVals  = "GET " + aom.RouteLabelValues
)

// registerMonitoring serves ShowPoolMonitor, ShowPoolRuntimeMetrics and
// AOM's query_range and label values (on this same server: point the aom:
// endpoint at it)
// behind API Gateway's checks, with counters and faults like every route.
func (s *Server) registerMonitoring(mux *http.ServeMux) {
	s.ctl.Handle(mux, RoutePoolMonitor, s.vendor(s.handlePoolMonitor))
	s.ctl.Handle(mux, RouteRuntimePools, s.vendor(s.handleRuntimePools))
	s.ctl.Handle(mux, RouteAOMQueryRange, s.vendor(s.handleQueryRange))
	s.ctl.Handle(mux, RouteAOMLabelVals, s.vendor(s.handleLabelValues))
}

// timeRangeRE is start.end.duration: each -1 or digits (the document's
// inferred pattern); the duration digits only.
var timeRangeRE = regexp.MustCompile(`^(-1|[0-9]+)\.(-1|[0-9]+)\.([0-9]+)$`)

// monitorWindow resolves time_range like the vendor: -1 start = end -
// duration, -1 end = start + duration, both -1 = the last duration up to
// now, an end after now = now. It enforces what the sources agree on
// (duration > 0, duration·60/period ≤ 1440) and not the contested rule
// between an explicit start, end and duration (upstreams-2.md a.2).
func monitorWindow(tr string, period int64, now time.Time) (start, end time.Time, msg string) {
	if tr == "" {
		tr = "-1.-1.60"
	}
	m := timeRangeRE.FindStringSubmatch(tr)
	if m == nil {
		return start, end, "Invalid time_range " + strconv.Quote(tr) + ": the format is startTimeInMillis.endTimeInMillis.durationInMinutes"
	}
	minutes, err := strconv.ParseInt(m[3], 10, 64)
	if err != nil || minutes <= 0 {
		return start, end, "Invalid time_range: durationInMinutes must be greater than 0"
	}
	if minutes > math.MaxInt32 || minutes*60 > modelarts.MaxMonitorPoints*period {
		return start, end, fmt.Sprintf("Invalid time_range: durationInMinutes*60/period must not exceed %d", modelarts.MaxMonitorPoints)
	}
	ms := func(s string) (int64, bool) {
		if s == "-1" {
			return -1, true
		}
		n, err := strconv.ParseInt(s, 10, 64)
		return n, err == nil && n < 1<<53
	}
	st, ok1 := ms(m[1])
	en, ok2 := ms(m[2])
	if !ok1 || !ok2 {
		return start, end, "Invalid time_range: timestamps must be epoch milliseconds"
	}
	dur := time.Duration(minutes) * time.Minute
	switch {
	case st == -1 && en == -1:
		end = now
		start = end.Add(-dur)
	case st == -1:
		end = time.UnixMilli(en)
		start = end.Add(-dur)
	case en == -1:
		start = time.UnixMilli(st)
		end = start.Add(dur)
	default:
		start, end = time.UnixMilli(st), time.UnixMilli(en)
	}
	if end.After(now) {
		end = now
	}
	if !start.Before(end) {
		return start, end, "Invalid time_range: the start must be before the end"
	}
	return start.UTC(), end.UTC(), ""
}

type monitorBody struct {
	Metrics []monitorMetrics `json:"metrics"`
}

type monitorMetrics struct {
	Metric struct {
		Dimensions []modelarts.MonitorDimension `json:"dimensions"`
		MetricName string                       `json:"metricName"`
		Namespace  string                       `json:"namespace"`
	} `json:"metric"`
	DataPoints []monitorPoint `json:"dataPoints"`
}

type monitorPoint struct {
	Timestamp  int64       `json:"timestamp"`
	Unit       string      `json:"unit"`
	Statistics []monitorSt `json:"statistics"`
}

type monitorSt struct {
	Statistic string  `json:"statistic"`
	Value     float64 `json:"value"`
}

// handlePoolMonitor answers one point per period from the first period
// boundary at or after the start up to the end, each the statistic over
// the pool's minute values within the period; -1 where the pool has no
// node with the quantity (GPU metrics of an Ascend pool).
func (s *Server) handlePoolMonitor(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	period := int64(60)
	if v := q.Get("period"); v != "" {
		switch v {
		case "60", "300", "900", "3600":
			period, _ = strconv.ParseInt(v, 10, 64)
		default:
			writeError(w, http.StatusBadRequest, codeInvalidArgument, "Invalid period "+strconv.Quote(v)+": allowed values are 60, 300, 900, 3600", false)
			return
		}
	}
	stat := q.Get("statistics")
	switch stat {
	case "":
		stat = modelarts.StatMaximum
	case modelarts.StatMaximum, modelarts.StatMinimum, modelarts.StatSum, modelarts.StatAverage, modelarts.StatSampleCount:
	default:
		writeError(w, http.StatusBadRequest, codeInvalidArgument, "Invalid statistics "+strconv.Quote(stat)+": allowed values are maximum, minimum, sum, average, sampleCount", false)
		return
	}
	start, end, msg := monitorWindow(q.Get("time_range"), period, s.opts.Now())
	if msg != "" {
		writeError(w, http.StatusBadRequest, codeInvalidArgument, msg, false)
		return
	}
	s.mu.RLock()
	p := s.lookupPool(w, r)
	if p == nil {
		s.mu.RUnlock()
		return
	}
	nodes := reportingNodes(p.nodes)
	cluster := clusterID(p.pool.Metadata.Name)
	s.mu.RUnlock()

	body := monitorBody{Metrics: make([]monitorMetrics, 0, len(poolMetrics))}
	first := (start.Unix() + period - 1) / period * period
	for _, pm := range poolMetrics {
		mm := monitorMetrics{DataPoints: []monitorPoint{}}
		mm.Metric.Dimensions = []modelarts.MonitorDimension{{Name: "clusterId", Value: cluster}}
		mm.Metric.MetricName, mm.Metric.Namespace = pm.name, "PAAS.AGGR"
		for t := first; t < end.Unix(); t += period {
			last := min(t+period, end.Unix())
			mm.DataPoints = append(mm.DataPoints, monitorPoint{Timestamp: t * 1000, Unit: pm.unit,
				Statistics: []monitorSt{{Statistic: stat, Value: statistic(stat, pm, nodes, t, last, period)}}})
		}
		body.Metrics = append(body.Metrics, mm)
	}
	writeJSON(w, http.StatusOK, body)
}

// samplesPerPeriod bounds the pool values a statistic reads per period:
// every minute of a 60 s or 300 s period, every 3 minutes of a 900 s one,
// every 12 of an hour (60 days at 3600 s stay fast).
const samplesPerPeriod = 5

// statistic aggregates the pool's values at the sample minutes of [from,
// to) (Unix seconds); -1 when there is none. A 60 s period has one sample,
// the pool value of its minute: the capacity-weighted mean of the AOM node
// values at that minute.
func statistic(stat string, pm poolMetric, nodes []nodeMetrics, from, to, period int64) float64 {
	var n, sum float64
	lo, hi := math.Inf(1), math.Inf(-1)
	every := max(period/samplesPerPeriod, 60)
	for t := from; t < max(to, from+1); t += every {
		v, ok := poolValue(pm, nodes, t/60)
		if !ok {
			continue
		}
		n++
		sum += v
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	if n == 0 {
		return -1
	}
	switch stat {
	case modelarts.StatMinimum:
		return lo
	case modelarts.StatSum:
		return math.Round(sum*1000) / 1000
	case modelarts.StatAverage:
		return math.Round(sum/n*1000) / 1000
	case modelarts.StatSampleCount:
		return n
	}
	return hi
}

// reportingNodes are the series parameters of the nodes that report.
func reportingNodes(nodes []modelarts.Node) []nodeMetrics {
	var out []nodeMetrics
	for _, n := range nodes {
		if reporting(n.Status.Phase) {
			out = append(out, metricsOf(n))
		}
	}
	return out
}

// clusterID is the pool's clusterId dimension: UUID-like, stable per pool.
func clusterID(pool string) string {
	h := fnv.New128a()
	h.Write([]byte(pool))
	b := h.Sum(nil)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

type runtimeBody struct {
	APIVersion string        `json:"apiVersion"`
	Kind       string        `json:"kind"`
	Items      []runtimeItem `json:"items"`
}

type runtimeItem struct {
	Table    runtimeTable `json:"table"`
	Metadata struct {
		Name   string            `json:"name"`
		Labels map[string]string `json:"labels"`
	} `json:"metadata"`
}

type runtimeTable struct {
	Allocated modelarts.RuntimeAllocated `json:"allocated"`
	Capacity  modelarts.RuntimeCapacity  `json:"capacity"`
	Available modelarts.RuntimeCapacity  `json:"available"`
}

// handleRuntimePools answers every pool: capacity is the sum of its
// nodes' allocatable resources (maxValue the same: simulated pools do not
// grow), allocated the part not available (resources minus
// availableResources, as the node listing shows them), available the
// capacity of the nodes that are Available. Quantities are strings, the
// SDK's type.
func (s *Server) handleRuntimePools(w http.ResponseWriter, r *http.Request) {
	now := s.opts.Now().UTC().Format("2006-01-02T15:04:05Z")
	s.mu.RLock()
	defer s.mu.RUnlock()
	body := runtimeBody{APIVersion: "v2", Kind: "PoolMetricsList", Items: []runtimeItem{}}
	for _, p := range s.fleet.pools {
		var capacity, alloc, avail resourceSum
		for _, n := range p.nodes {
			capacity.add(n.Status.Resources, 1)
			alloc.add(n.Status.Resources, 1)
			alloc.add(n.Status.AvailableResources, -1)
			if n.Status.Phase == modelarts.NodeAvailable {
				avail.add(n.Status.Resources, 1)
			}
		}
		var it runtimeItem
		it.Metadata.Name = p.pool.Metadata.Name
		it.Metadata.Labels = map[string]string{modelarts.LabelPoolName: p.pool.Metadata.Labels[modelarts.LabelPoolName]}
		it.Table.Allocated = modelarts.RuntimeAllocated{Value: alloc.value(), Timestamp: now, Window: "1m"}
		it.Table.Capacity = modelarts.RuntimeCapacity{Value: capacity.value(), MaxValue: capacity.value(), Timestamp: now, Window: "1m"}
		it.Table.Available = modelarts.RuntimeCapacity{Value: avail.value(), MaxValue: avail.value(), Timestamp: now, Window: "1m"}
		body.Items = append(body.Items, it)
	}
	writeJSON(w, http.StatusOK, body)
}

// resourceSum adds node quantities: CPU in millicores, memory in MiB,
// accelerator cards (any kind) as tnt004.
type resourceSum struct{ milli, memMi, cards float64 }

func (r *resourceSum) add(res map[string]string, sign float64) {
	for k, v := range res {
		switch k {
		case modelarts.ResourceCPU:
			r.milli += sign * quantity(v) * 1000
		case modelarts.ResourceMemory:
			r.memMi += sign * quantity(v) / (1 << 20)
		default:
			r.cards += sign * quantity(v)
		}
	}
}

func (r resourceSum) value() modelarts.RuntimeValue {
	return modelarts.RuntimeValue{
		modelarts.RuntimeCPU:    fmt.Sprintf("%dm", int64(math.Round(max(r.milli, 0)))),
		modelarts.RuntimeMemory: fmt.Sprintf("%dMi", int64(math.Round(max(r.memMi, 0)))),
		modelarts.RuntimeCards:  strconv.FormatInt(int64(math.Round(max(r.cards, 0))), 10),
	}
}
