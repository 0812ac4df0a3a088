package runaisim

import (
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"
)

// telemetryTypes is the NodeTelemetryType enum: each type is a per-node
// figure at an instant, summed over the nodes of a group.
var telemetryTypes = map[string]func(m nodeModel, t time.Time) float64{
	"READY_GPU_NODES": func(m nodeModel, _ time.Time) float64 { return boolValue(m.ready && m.hw.gpus > 0) },
	"READY_GPUS": func(m nodeModel, _ time.Time) float64 {
		return boolValue(m.ready) * float64(m.hw.gpus)
	},
	"TOTAL_GPU_NODES": func(m nodeModel, _ time.Time) float64 { return boolValue(m.hw.gpus > 0) },
	"TOTAL_GPUS":      func(m nodeModel, _ time.Time) float64 { return float64(m.hw.gpus) },
	"IDLE_ALLOCATED_GPUS": func(m nodeModel, t time.Time) float64 {
		var n float64
		for i := range m.hw.gpus {
			n += boolValue(m.idleAllocated(i, t))
		}
		return n
	},
	"FREE_GPUS": func(m nodeModel, t time.Time) float64 {
		return boolValue(m.ready) * float64(m.hw.gpus-m.allocatedGPUs(t))
	},
	"ALLOCATED_GPUS": func(m nodeModel, t time.Time) float64 { return float64(m.allocatedGPUs(t)) },
	"FULLY_FREE_GPU_NODES": func(m nodeModel, t time.Time) float64 {
		return boolValue(m.ready && m.hw.gpus > 0 && m.allocatedGPUs(t) == 0)
	},
	"TOTAL_CPU_CORES":        func(m nodeModel, _ time.Time) float64 { return float64(m.hw.cores) },
	"USED_CPU_CORES":         func(m nodeModel, t time.Time) float64 { return m.nodeMetric("CPU_USAGE_CORES", t) },
	"ALLOCATED_CPU_CORES":    func(m nodeModel, t time.Time) float64 { return m.allocatedShare(t) * float64(m.hw.cores) },
	"TOTAL_GPU_MEMORY_BYTES": func(m nodeModel, _ time.Time) float64 { return float64(int64(m.hw.gpus) * m.hw.gpuMemBytes) },
	"USED_GPU_MEMORY_BYTES":  func(m nodeModel, t time.Time) float64 { return m.usedGPUMemory(t) },
	"TOTAL_CPU_MEMORY_BYTES": func(m nodeModel, _ time.Time) float64 { return float64(m.hw.memBytes) },
	"USED_CPU_MEMORY_BYTES":  func(m nodeModel, t time.Time) float64 { return m.nodeMetric("CPU_MEMORY_USAGE_BYTES", t) },
	"ALLOCATED_CPU_MEMORY_BYTES": func(m nodeModel, t time.Time) float64 {
		return m.allocatedShare(t) * float64(m.hw.memBytes)
	},
}

var groupByFields = []string{"ClusterId", "Nodepool", "Node"}

type telemetryJSON struct {
	Type      string               `json:"type"`
	Timestamp string               `json:"timestamp"`
	Values    []telemetryValueJSON `json:"values"`
}

type telemetryValueJSON struct {
	Value  string      `json:"value"`
	Groups []groupJSON `json:"groups,omitempty"`
}

// telemetryValue accumulates one group's value.
type telemetryValue struct {
	groups []groupJSON
	sum    float64
}

type groupJSON struct {
	Key   string `json:"key"`
	Value string `json:"value"`
	Name  string `json:"name,omitempty"`
}

// nodeTelemetry is GET /api/v1/nodes/telemetry: the value now, summed over
// the selected nodes, one value per group. Groups: ClusterId by cluster UUID
// (name: the cluster's name), Nodepool by pool name and Node by node name,
// as Prometheus labels would group them.
func (s *Server) nodeTelemetry(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	typ := q.Get("telemetryType")
	perNode, ok := telemetryTypes[typ]
	switch {
	case typ == "":
		writeError(w, http.StatusBadRequest, "Required parameter is missing: telemetryType")
		return
	case !ok:
		writeError(w, http.StatusBadRequest, "Bad request - unknown telemetryType "+typ)
		return
	}
	groupBy, err := listParam(q, "groupBy")
	if err == nil {
		err = checkGroupBy(groupBy)
	}
	if err != nil {
		writeBadRequest(w, err)
		return
	}

	clusterID, poolName := q.Get("clusterId"), q.Get("nodepoolName")
	clusterNames := s.fleet.clusterNames()
	_, knownCluster := clusterNames[clusterID]
	if (clusterID != "" && !knownCluster) || (poolName != "" && !s.fleet.hasPool(clusterID, poolName)) {
		writeError(w, http.StatusNotFound, statusMessage(http.StatusNotFound))
		return
	}

	now := s.now().Truncate(time.Millisecond)
	values := map[string]*telemetryValue{} // by groupKey
	if len(groupBy) == 0 {
		values[""] = &telemetryValue{} // one value, 0 when nothing is selected
	}
	for _, n := range s.fleet.allNodes() {
		if (clusterID != "" && n.dto.ClusterUUID != clusterID) || (poolName != "" && n.dto.NodePool != poolName) {
			continue
		}
		groups := make([]groupJSON, len(groupBy))
		for i, g := range groupBy {
			switch g {
			case "ClusterId":
				groups[i] = groupJSON{Key: g, Value: n.dto.ClusterUUID, Name: clusterNames[n.dto.ClusterUUID]}
			case "Nodepool":
				groups[i] = groupJSON{Key: g, Value: n.dto.NodePool, Name: n.dto.NodePool}
			case "Node":
				groups[i] = groupJSON{Key: g, Value: n.dto.Name, Name: n.dto.Name}
			}
		}
		key := groupKey(groups)
		if values[key] == nil {
			values[key] = &telemetryValue{groups: groups}
		}
		values[key].sum += perNode(s.model(n), now)
	}

	out := telemetryJSON{Type: typ, Timestamp: formatTimestamp(now), Values: []telemetryValueJSON{}}
	for _, k := range slices.Sorted(maps.Keys(values)) {
		v := values[k]
		out.Values = append(out.Values, telemetryValueJSON{Value: formatValue(v.sum), Groups: v.groups})
	}
	writeJSON(w, http.StatusOK, out)
}

func checkGroupBy(groupBy []string) error {
	if len(groupBy) > 2 {
		return badf("Bad request - groupBy takes at most 2 fields")
	}
	for i, g := range groupBy {
		if !slices.Contains(groupByFields, g) {
			return badf("Bad request - groupBy must be one of %s", strings.Join(groupByFields, ", "))
		}
		if slices.Contains(groupBy[:i], g) {
			return badf("Bad request - groupBy repeats %s", g)
		}
	}
	return nil
}

func groupKey(groups []groupJSON) string {
	var b strings.Builder
	for _, g := range groups {
		b.WriteString(g.Value)
		b.WriteByte(0)
	}
	return b.String()
}
