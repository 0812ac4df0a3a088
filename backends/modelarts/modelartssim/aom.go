package modelartssim

import (
	"encoding/json"
	"maps"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// AOM's query_range, the subset the gateway sends (aom.DefaultQueries):
//
//	<avg|sum|max|min> by (<label>) (<metric>{<label>=~"<re>"}) [* <number>]
//
// and bare selectors, <metric> or <metric>{<label>=~"<re>"},
// over the ModelArts metric collector's container metrics. Each reporting
// node runs one simulated container whose values are the node's (so every
// aggregation of a node's containers is the node's value, and the pool
// monitor's values are the capacity-weighted means of these). Series carry
// node_ip (status.privateIp), node_name, pool_id and nodepool labels.
// Anything else is answered 400 bad_data, like a PromQL parse error.

// Labels of the simulated series.
const (
	LabelNodeIP   = "node_ip"
	LabelNodeName = "node_name"
	LabelPoolID   = "pool_id"
	LabelNodePool = "nodepool"
)

// containerMetrics maps the collector's metric names onto node quantities
// and a scale to the metric's unit.
var containerMetrics = map[string]struct {
	q     string
	scale func(nodeMetrics) float64
}{
	"ma_container_cpu_util":                  {qCPUUtil, nil},
	"ma_container_memory_util":               {qMemUtil, nil},
	"ma_container_memory_used_megabytes":     {qMemUsedMB, nil},
	"ma_container_gpu_util":                  {qGPUUtil, nil},
	"ma_container_gpu_mem_util":              {qGPUMem, nil},
	"ma_container_gpu_mem_used_megabytes":    {qGPUMemMB, nil},
	"ma_container_npu_util":                  {qNPUUtil, nil},
	"ma_container_npu_memory_util":           {qNPUMem, nil},
	"ma_container_cpu_used_core":             {qCPUUtil, func(m nodeMetrics) float64 { return m.cpuCores / 100 }},
	"ma_container_cpu_limit_core":            {"", func(m nodeMetrics) float64 { return m.cpuCores }},
	"ma_container_memory_capacity_megabytes": {"", func(m nodeMetrics) float64 { return m.memMB }},
	"ma_container_gpu_mem_total_megabytes":   {"", func(m nodeMetrics) float64 { return m.cards * m.cardMemMB }},
}

// selectorRE is a bare selector: <metric> or <metric>{<label>=~"<re>"}
// (one series per node, with every label).
var selectorRE = regexp.MustCompile(`^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|=)\s*"((?:[^"\\]|\\.)*)"\s*\})?\s*$`)

var queryRE = regexp.MustCompile(`^\s*(avg|sum|max|min)\s+by\s*\(\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|=)\s*"((?:[^"\\]|\\.)*)"\s*\}\s*\)\s*(?:\*\s*([0-9][0-9.eE+]*))?\s*$`)

// maxAOMPoints is Prometheus' resolution limit.
const maxAOMPoints = 11000

type aomError struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
}

func writeAOMError(w http.ResponseWriter, status int, errorType, msg string) {
	writeJSON(w, status, aomError{Status: "error", ErrorType: errorType, Error: msg})
}

// isAOM tells the AOM routes apart (their errors have AOM's shape).
func isAOM(r *http.Request) bool { return strings.Contains(r.URL.Path, "/aom/api/") }

// writeAOMFault is the simctl error body of an AOM route: API Gateway's own
// for 401 and 429 (it answers before AOM), AOM's otherwise.
func (s *Server) writeAOMFault(w http.ResponseWriter, status int) {
	switch {
	case status == http.StatusUnauthorized || status == http.StatusTooManyRequests:
		s.writeGatewayFault(w, status)
	case status == http.StatusServiceUnavailable:
		writeAOMError(w, status, "unavailable", "service unavailable")
	case status == http.StatusUnprocessableEntity:
		writeAOMError(w, status, "execution", "query processing would load too many samples into memory")
	case status >= 500:
		writeAOMError(w, status, "internal", "internal error")
	default:
		writeAOMError(w, status, "bad_data", http.StatusText(status))
	}
}

func (s *Server) writeGatewayFault(w http.ResponseWriter, status int) {
	if status == http.StatusTooManyRequests {
		writeError(w, status, "APIG.0308", "The throttling threshold has been reached: policy user over ratelimit,limit:100,time:1 minute", true)
		return
	}
	writeError(w, status, "APIGW.0301", "Incorrect IAM authentication information: decrypt token fail", true)
}

type aomBody struct {
	Status string  `json:"status"`
	Data   aomData `json:"data"`
}

type aomData struct {
	ResultType string      `json:"resultType"`
	Result     []aomSeries `json:"result"`
}

type aomSeries struct {
	Metric map[string]string `json:"metric"`
	Values [][2]any          `json:"values"`
}

func (s *Server) handleQueryRange(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	start, err := promTime(q.Get("start"))
	if err != nil {
		writeAOMError(w, http.StatusBadRequest, "bad_data", `invalid parameter "start": `+err.Error())
		return
	}
	end, err := promTime(q.Get("end"))
	if err != nil {
		writeAOMError(w, http.StatusBadRequest, "bad_data", `invalid parameter "end": `+err.Error())
		return
	}
	if end < start {
		writeAOMError(w, http.StatusBadRequest, "bad_data", `invalid parameter "end": end timestamp must not be before start time`)
		return
	}
	step, err := promStep(q.Get("step"))
	if err != nil {
		writeAOMError(w, http.StatusBadRequest, "bad_data", `invalid parameter "step": `+err.Error())
		return
	}
	if step <= 0 {
		writeAOMError(w, http.StatusBadRequest, "bad_data", `invalid parameter "step": zero or negative query resolution step widths are not accepted. Try a positive integer`)
		return
	}
	if (end-start)/step > maxAOMPoints {
		writeAOMError(w, http.StatusBadRequest, "bad_data", "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)")
		return
	}
	m := queryRE.FindStringSubmatch(q.Get("query"))
	if m == nil {
		if sel := selectorRE.FindStringSubmatch(q.Get("query")); sel != nil {
			m = []string{sel[0], "", "", sel[1], sel[2], sel[3], sel[4], ""}
		}
	}
	if m == nil {
		writeAOMError(w, http.StatusBadRequest, "bad_data", `invalid parameter "query": 1:1: parse error: the simulator serves only <avg|sum|max|min> by (<label>) (<metric>{<label>=~"<re>"}) [* <number>] and <metric>[{<label>=~"<re>"}]`)
		return
	}
	agg, by, metric, selLabel, op, pattern := m[1], m[2], m[3], m[4], m[5], unquoteProm(m[6])
	scale := 1.0
	if m[7] != "" {
		if scale, err = strconv.ParseFloat(m[7], 64); err != nil {
			writeAOMError(w, http.StatusBadRequest, "bad_data", `invalid parameter "query": bad number `+strconv.Quote(m[7]))
			return
		}
	}
	match := func(v string) bool { return v == pattern }
	if selLabel == "" {
		match = func(string) bool { return true }
	}
	if op == "=~" {
		re, err := regexp.Compile("^(?:" + pattern + ")$")
		if err != nil {
			writeAOMError(w, http.StatusBadRequest, "bad_data", `invalid parameter "query": error parsing regexp: `+err.Error())
			return
		}
		match = re.MatchString
	}

	type member struct {
		labels map[string]string
		node   nodeMetrics
	}
	groups := map[string][]member{}
	var order []string
	s.mu.RLock()
	for _, p := range s.fleet.pools {
		for _, n := range p.nodes {
			if !reporting(n.Status.Phase) {
				continue
			}
			nm := metricsOf(n)
			labels := map[string]string{LabelNodeIP: nm.ip, LabelNodeName: nm.name, LabelPoolID: p.pool.Metadata.Name, LabelNodePool: nm.nodePool}
			if !match(labels[selLabel]) {
				continue
			}
			key := labels[by]
			if agg == "" {
				key = nm.name // a bare selector: each node its own series
			}
			if _, seen := groups[key]; !seen {
				order = append(order, key)
			}
			groups[key] = append(groups[key], member{labels, nm})
		}
	}
	s.mu.RUnlock()

	cm, known := containerMetrics[metric]
	now := s.opts.Now().Unix()
	body := aomBody{Status: "success", Data: aomData{ResultType: "matrix", Result: []aomSeries{}}}
	for _, key := range order {
		if !known {
			break // an unknown metric has no series, as in Prometheus
		}
		series := aomSeries{Metric: map[string]string{}, Values: [][2]any{}}
		switch {
		case agg == "":
			maps.Copy(series.Metric, groups[key][0].labels)
			series.Metric["__name__"] = metric
		case key != "":
			series.Metric[by] = key
		}
		for t := start; t <= end && t <= float64(now); t += step {
			minute := int64(math.Floor(t / 60))
			var vals []float64
			for _, mb := range groups[key] {
				v, ok := mb.node.has(cm.q, cm.scale), true
				if cm.q != "" {
					v, ok = mb.node.value(cm.q, minute)
				}
				if !ok || v == 0 && cm.q == "" {
					continue // a capacity the node has none of (GPU memory on a CPU node)
				}
				if cm.scale != nil {
					v *= cm.scale(mb.node)
				}
				vals = append(vals, v)
			}
			if len(vals) == 0 {
				continue
			}
			v := vals[0]
			if agg != "" {
				v = aggregate(agg, vals) * scale
			}
			series.Values = append(series.Values, [2]any{json.Number(strconv.FormatFloat(t, 'f', -1, 64)), strconv.FormatFloat(v, 'f', -1, 64)})
		}
		if len(series.Values) > 0 {
			body.Data.Result = append(body.Data.Result, series)
		}
	}
	writeJSON(w, http.StatusOK, body)
}

// has is 1 when the node has the capacity a q-less metric scales (its
// cores, memory, GPU memory), else 0.
func (m nodeMetrics) has(q string, scale func(nodeMetrics) float64) float64 {
	if q != "" || scale == nil || scale(m) > 0 {
		return 1
	}
	return 0
}

func aggregate(agg string, vals []float64) float64 {
	out := vals[0]
	sum := 0.0
	for _, v := range vals {
		sum += v
		switch agg {
		case "max":
			out = math.Max(out, v)
		case "min":
			out = math.Min(out, v)
		}
	}
	switch agg {
	case "sum":
		return sum
	case "avg":
		return sum / float64(len(vals))
	}
	return out
}

// promTime reads a Prometheus time parameter: Unix seconds (a float) or
// RFC 3339.
func promTime(s string) (float64, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
		return f, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return float64(t.UnixNano()) / 1e9, nil
	}
	return 0, &paramError{"cannot parse " + strconv.Quote(s) + " to a valid timestamp"}
}

// promStep reads a step: float seconds or a Prometheus duration ("15s").
func promStep(s string) (float64, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
		return f, nil
	}
	if d, err := time.ParseDuration(s); err == nil && !strings.ContainsAny(s, ".") {
		return d.Seconds(), nil
	}
	return 0, &paramError{"cannot parse " + strconv.Quote(s) + " to a valid duration"}
}

type paramError struct{ msg string }

func (e *paramError) Error() string { return e.msg }

// unquoteProm undoes a PromQL double-quoted string's escapes.
func unquoteProm(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			default:
				b.WriteByte(s[i])
			}
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// handleLabelValues answers the values of a simulated label over the
// reporting nodes, or the metric names for __name__ (those some node
// has); an unknown label has none, as in Prometheus.
func (s *Server) handleLabelValues(w http.ResponseWriter, r *http.Request) {
	label := r.PathValue("label_name")
	seen := map[string]bool{}
	s.mu.RLock()
	for _, p := range s.fleet.pools {
		for _, n := range p.nodes {
			if !reporting(n.Status.Phase) {
				continue
			}
			nm := metricsOf(n)
			switch label {
			case "__name__":
				for name, cm := range containerMetrics {
					if _, ok := nm.value(cm.q, 0); ok || cm.q == "" && nm.has(cm.q, cm.scale) != 0 {
						seen[name] = true
					}
				}
			case LabelNodeIP:
				seen[nm.ip] = true
			case LabelNodeName:
				seen[nm.name] = true
			case LabelPoolID:
				seen[p.pool.Metadata.Name] = true
			case LabelNodePool:
				seen[nm.nodePool] = true
			}
		}
	}
	s.mu.RUnlock()
	writeJSON(w, http.StatusOK, map[string]any{"status": "success", "data": slices.Sorted(maps.Keys(seen))})
}
