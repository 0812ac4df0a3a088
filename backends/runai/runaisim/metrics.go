package runaisim

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fleetgraph/fleetgraph/backends/runai"
)

// nodeMetricTypes is 2.22's NodeMetricType enum (Server.nodeMetricTypes
// adds the later ones).
var nodeMetricTypes = []string{
	"GPU_UTILIZATION_PER_GPU", "GPU_UTILIZATION", "GPU_MEMORY_UTILIZATION_PER_GPU", "GPU_MEMORY_UTILIZATION",
	"GPU_MEMORY_USAGE_BYTES_PER_GPU", "GPU_MEMORY_USAGE_BYTES", "GPU_ALLOCATION_PER_GPU",
	"GPU_MEMORY_ALLOCATION_BYTES_PER_GPU", "GPU_IDLE_TIME_SECONDS_PER_GPU", "CPU_USAGE_CORES", "CPU_UTILIZATION",
	"CPU_MEMORY_USAGE_BYTES", "CPU_MEMORY_UTILIZATION", "GPU_OOMKILL_BURST_COUNT_PER_GPU",
	"GPU_OOMKILL_IDLE_COUNT_PER_GPU", "GPU_OOMKILL_SWAP_OUT_OF_RAM_COUNT_PER_GPU",
	"GPU_GRAPHICS_ENGINE_ACTIVITY_PER_GPU", "GPU_SM_ACTIVITY_PER_GPU", "GPU_SM_OCCUPANCY_PER_GPU",
	"GPU_TENSOR_ACTIVITY_PER_GPU", "GPU_FP64_ENGINE_ACTIVITY_PER_GPU", "GPU_FP32_ENGINE_ACTIVITY_PER_GPU",
	"GPU_FP16_ENGINE_ACTIVITY_PER_GPU", "GPU_MEMORY_BANDWIDTH_UTILIZATION_PER_GPU",
	"GPU_NVLINK_TRANSMITTED_BANDWIDTH_PER_GPU", "GPU_NVLINK_RECEIVED_BANDWIDTH_PER_GPU",
	"GPU_PCIE_TRANSMITTED_BANDWIDTH_PER_GPU", "GPU_PCIE_RECEIVED_BANDWIDTH_PER_GPU",
}

// poolMetricTypes is 2.22's MetricsType enum of node-pool and cluster
// metrics (Server.metricsTypes adds the later ones).
var poolMetricTypes = []string{
	"TOTAL_GPU_NODES", "GPU_UTILIZATION", "GPU_UTILIZATION_DISTRIBUTION", "GPU_MEMORY_UTILIZATION",
	"CPU_UTILIZATION", "CPU_MEMORY_UTILIZATION", "TOTAL_GPU", "GPU_QUOTA", "ALLOCATED_GPU", "UNALLOCATED_GPU",
	"AVG_WORKLOAD_WAIT_TIME",
}

const (
	defaultSamples = 20
	maxSamples     = 1000
)

type metricsJSON struct {
	Measurements []measurementJSON `json:"measurements"`
}

// measurementJSON is MeasurementResponse; nil Labels and Values encode as
// null, which the schema allows.
type measurementJSON struct {
	Type   string            `json:"type"`
	Labels map[string]string `json:"labels"`
	Values []sampleJSON      `json:"values"`
}

type sampleJSON struct {
	Value     string `json:"value"`
	Timestamp string `json:"timestamp"`
}

// metricsQuery is a validated metrics request.
type metricsQuery struct {
	types    []string
	times    []time.Time // the sample instants
	stamps   []string    // times formatted (formatTimestamp), once per request for every series
	gapEvery int         // Options.GapEvery
}

// gapValues are the non-finite strings Prometheus renders (Go's
// strconv.FormatFloat spellings, which Prometheus uses).
var gapValues = []string{"NaN", "+Inf", "-Inf"}

func parseMetricsQuery(q url.Values, allowed []string) (metricsQuery, error) {
	types, err := listParam(q, "metricType")
	if err != nil {
		return metricsQuery{}, err
	}
	if len(types) == 0 {
		return metricsQuery{}, badf("Required parameter is missing: metricType")
	}
	for _, t := range types {
		if !slices.Contains(allowed, t) {
			return metricsQuery{}, badf("Bad request - unknown metricType %q", t)
		}
	}
	start, err := timeParam(q, "start")
	if err != nil {
		return metricsQuery{}, err
	}
	end, err := timeParam(q, "end")
	if err != nil {
		return metricsQuery{}, err
	}
	if !start.Before(end) {
		return metricsQuery{}, badf("Bad request - start must be before end")
	}
	n, err := intParam(q, "numberOfSamples", defaultSamples, 0, maxSamples)
	if err != nil {
		return metricsQuery{}, err
	}
	times := sampleTimes(start, end, n)
	stamps := make([]string, len(times))
	for i, t := range times {
		stamps[i] = formatTimestamp(t)
	}
	return metricsQuery{types: types, times: times, stamps: stamps}, nil
}

// sampleTimes spreads n instants evenly over [start, end], both included.
// n of 0 or 1 gives the single instant end: the latest value.
func sampleTimes(start, end time.Time, n int) []time.Time {
	if n <= 1 {
		return []time.Time{end.Truncate(time.Millisecond)}
	}
	step := end.Sub(start) / time.Duration(n-1)
	out := make([]time.Time, n)
	for i := range out {
		out[i] = start.Add(time.Duration(i) * step).Truncate(time.Millisecond)
	}
	out[n-1] = end.Truncate(time.Millisecond)
	return out
}

// sample builds one series over the query's instants.
func (mq metricsQuery) sample(typ string, labels map[string]string, f func(time.Time) float64) measurementJSON {
	m := measurementJSON{Type: typ, Labels: labels, Values: make([]sampleJSON, len(mq.times))}
	for i, t := range mq.times {
		m.Values[i] = sampleJSON{Value: formatValue(f(t)), Timestamp: mq.stamps[i]}
		if n := mq.gapEvery; n > 0 && (i+1)%n == 0 {
			m.Values[i].Value = gapValues[((i+1)/n-1)%len(gapValues)]
		}
	}
	return m
}

// formatTimestamp renders times as RFC 3339 in UTC with milliseconds.
func formatTimestamp(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// writeMetrics answers 207 (partial success) when some series has no
// values, 200 otherwise.
func writeMetrics(w http.ResponseWriter, ms []measurementJSON) {
	status := http.StatusOK
	for _, m := range ms {
		if m.Values == nil {
			status = http.StatusMultiStatus
		}
	}
	b := appendMetricsJSON(make([]byte, 0, 64+len(ms)*(64+20*64)), ms)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// appendMetricsJSON appends what json.NewEncoder(w).Encode(metricsJSON{ms})
// writes, byte for byte (the newline included), without reflection: one
// answer per node of a cold dashboard, and the simulator's CPU is in the
// latency the benchmarks measure (it shares the machine with the gateway).
func appendMetricsJSON(b []byte, ms []measurementJSON) []byte {
	b = append(b, `{"measurements":`...)
	if ms == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, m := range ms {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"type":`...)
			b = appendJSONString(b, m.Type)
			b = append(b, `,"labels":`...)
			if m.Labels == nil {
				b = append(b, "null"...)
			} else {
				b = append(b, '{')
				for j, k := range slices.Sorted(maps.Keys(m.Labels)) {
					if j > 0 {
						b = append(b, ',')
					}
					b = appendJSONString(b, k)
					b = append(b, ':')
					b = appendJSONString(b, m.Labels[k])
				}
				b = append(b, '}')
			}
			b = append(b, `,"values":`...)
			if m.Values == nil {
				b = append(b, "null"...)
			} else {
				b = append(b, '[')
				for j, v := range m.Values {
					if j > 0 {
						b = append(b, ',')
					}
					b = append(b, `{"value":`...)
					b = appendJSONString(b, v.Value)
					b = append(b, `,"timestamp":`...)
					b = appendJSONString(b, v.Timestamp)
					b = append(b, '}')
				}
				b = append(b, ']')
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, "}\n"...)
}

// appendJSONString appends s as encoding/json writes a string: quoted as is
// when it holds only printable ASCII that needs no escape (every type,
// label, value and timestamp the simulator makes), else by json.Marshal.
func appendJSONString(b []byte, s string) []byte {
	for i := range len(s) {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// nodeMetrics is GET /api/v1/nodes/{nodeId}/metrics. GPU metrics of a
// CPU-only node come back with values null, and the answer is 207.
func (s *Server) nodeMetrics(w http.ResponseWriter, r *http.Request) {
	n, ok := s.fleet.node(r.PathValue("nodeId"))
	if !ok {
		writeError(w, http.StatusNotFound, statusMessage(http.StatusNotFound))
		return
	}
	mq, err := parseMetricsQuery(r.URL.Query(), s.nodeMetricTypes())
	if err != nil {
		writeBadRequest(w, err)
		return
	}
	mq.gapEvery = s.opts.GapEvery
	m := s.model(n)
	var out []measurementJSON
	for _, typ := range mq.types {
		switch {
		case (strings.HasPrefix(typ, "GPU_") || isNVLinkTotal(typ)) && m.hw.gpus == 0:
			out = append(out, measurementJSON{Type: typ})
		case strings.HasSuffix(typ, "_PER_GPU"):
			for i := range m.hw.gpus {
				out = append(out, mq.sample(typ, map[string]string{"gpu": strconv.Itoa(i)}, func(t time.Time) float64 {
					return m.gpuMetric(typ, i, t)
				}))
			}
		default:
			out = append(out, mq.sample(typ, nil, func(t time.Time) float64 { return m.nodeMetric(typ, t) }))
		}
	}
	writeMetrics(w, out)
}

// nodePoolMetrics is GET /api/v1/clusters/{clusterUuid}/nodepools/{nodepoolName}/metrics.
// Averages over no GPUs or no ready node (a CPU-only or empty pool) come
// back with values null, and the answer is 207.
func (s *Server) nodePoolMetrics(w http.ResponseWriter, r *http.Request) {
	clusterID, name := r.PathValue("clusterUuid"), r.PathValue("nodepoolName")
	pool, found := s.fleet.poolByName(clusterID, name)
	if !found {
		writeError(w, http.StatusNotFound, statusMessage(http.StatusNotFound))
		return
	}
	mq, err := parseMetricsQuery(r.URL.Query(), s.metricsTypes())
	if err != nil {
		writeBadRequest(w, err)
		return
	}
	mq.gapEvery = s.opts.GapEvery
	pm := s.poolModelOf(pool, s.fleet.allNodes())
	var out []measurementJSON
	for _, typ := range mq.types {
		out = append(out, mq.poolSeries(&pm, typ)...)
	}
	writeMetrics(w, out)
}

// poolModelOf aggregates the nodes of pool among nodes.
func (s *Server) poolModelOf(pool runai.NodePool, nodes []simNode) poolModel {
	pm := poolModel{waitKey: hashKey(s.opts.Seed, "pool/"+pool.ID)}
	for _, n := range nodes {
		if n.dto.ClusterUUID == pool.ClusterID && n.dto.NodePool == pool.Name {
			pm.add(s.model(n))
		}
	}
	return pm
}

// poolSeries is the series of one MetricsType over pm: values null when
// there is nothing to average over, one series per range for the
// distribution.
func (mq metricsQuery) poolSeries(pm *poolModel, typ string) []measurementJSON {
	switch {
	case !pm.hasData(typ):
		return []measurementJSON{{Type: typ}}
	case typ == "GPU_UTILIZATION_DISTRIBUTION":
		out := make([]measurementJSON, 0, len(utilisationBuckets))
		for _, b := range utilisationBuckets {
			out = append(out, mq.sample(typ, map[string]string{"range": b.label}, func(t time.Time) float64 {
				return pm.gpusWithin(b.lo, b.hi, t)
			}))
		}
		return out
	}
	return []measurementJSON{mq.sample(typ, nil, func(t time.Time) float64 { return pm.value(typ, t) })}
}

// utilisationBuckets are the labels of GPU_UTILIZATION_DISTRIBUTION: how
// many GPUs run within each utilisation range (percent, upper bound
// excluded but for the last).
var utilisationBuckets = []struct {
	label  string
	lo, hi float64
}{{"0-25", 0, 25}, {"25-50", 25, 50}, {"50-75", 50, 75}, {"75-100", 75, 101}}
