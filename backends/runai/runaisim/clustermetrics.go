package runaisim

import (
	"math"
	"net/http"
	"time"

	"github.com/fleetgraph/fleetgraph/backends/runai"
)

// clusterGroupBy is the ClusterMetricsGroupBy enum (2.23 on).
var clusterGroupBy = []string{"Category", "Nodepool", "Project", "Department"}

// groupedMeasurementJSON is GroupedMeasurementResponse: MeasurementResponse
// plus the group. Without groups it encodes as 2.22's MeasurementResponse.
type groupedMeasurementJSON struct {
	measurementJSON
	Groups []groupJSON `json:"groups,omitempty"`
}

// clusterMetrics is GET /api/v1/clusters/{clusterUuid}/metrics, the
// MetricsType series of a whole cluster. They are the node-pool metrics'
// model over the cluster's nodes, so that the figures agree: counts and
// the utilisation distribution are the sums over the pools (GPU_QUOTA too,
// the sum of the pools' quotas), utilisation is weighted by GPUs (or ready
// nodes) as a pool's is, and AVG_WORKLOAD_WAIT_TIME is the cluster's own.
//
// From 2.23: groupBy=Nodepool gives one series per pool and type, equal to
// that pool's node-pool metrics and carrying groups [{key: Nodepool,
// value: <pool name>}]; the other groupBy values are not modelled and get
// 422 (upstreams-2.md d.4: which types group by what is undocumented).
// nodepoolName narrows to one pool; a name no pool has leaves nothing to
// aggregate (averages null, counts 0). 2.22 has neither parameter and is
// assumed to ignore them.
//
// Series with values null make the answer 207, as for the other metrics.
func (s *Server) clusterMetrics(w http.ResponseWriter, r *http.Request) {
	clusterID := r.PathValue("clusterUuid")
	if _, ok := s.fleet.cluster(clusterID); !ok {
		writeError(w, http.StatusNotFound, statusMessage(http.StatusNotFound))
		return
	}
	q := r.URL.Query()
	mq, err := parseMetricsQuery(q, s.metricsTypes())
	if err != nil {
		writeBadRequest(w, err)
		return
	}
	mq.gapEvery = s.opts.GapEvery
	var groupBy, poolName string
	if s.since(Version223) {
		if groupBy, err = enumParam(q, "groupBy", clusterGroupBy...); err != nil {
			writeBadRequest(w, err)
			return
		}
		if groupBy != "" && groupBy != "Nodepool" {
			writeError(w, http.StatusUnprocessableEntity, "Validation failed - groupBy "+groupBy+" is not supported by the simulator")
			return
		}
		poolName = q.Get("nodepoolName")
	}

	nodes := s.fleet.allNodes()
	var pools []runai.NodePool
	for _, p := range s.fleet.allPools() {
		if p.ClusterID == clusterID && (poolName == "" || p.Name == poolName) {
			pools = append(pools, p)
		}
	}
	var out []groupedMeasurementJSON
	if groupBy == "Nodepool" {
		for _, typ := range mq.types {
			for _, p := range pools {
				pm := s.poolModelOf(p, nodes)
				groups := []groupJSON{{Key: "Nodepool", Value: p.Name}}
				for _, m := range mq.poolSeries(&pm, typ) {
					out = append(out, groupedMeasurementJSON{measurementJSON: m, Groups: groups})
				}
			}
		}
		writeGroupedMetrics(w, out)
		return
	}

	var (
		pm    poolModel
		quota float64
	)
	switch {
	case poolName != "" && len(pools) == 1:
		pm = s.poolModelOf(pools[0], nodes) // exactly that pool's metrics
	case poolName != "": // no such pool: nothing to aggregate
	default:
		pm.waitKey = hashKey(s.opts.Seed, "cluster/"+clusterID)
		for _, n := range nodes {
			if n.dto.ClusterUUID == clusterID {
				pm.add(s.model(n))
			}
		}
		for _, p := range pools {
			pp := s.poolModelOf(p, nodes)
			quota += pp.value("GPU_QUOTA", time.Time{})
		}
	}
	for _, typ := range mq.types {
		switch {
		case len(pm.nodes) == 0 && typ == "AVG_WORKLOAD_WAIT_TIME":
			out = append(out, groupedMeasurementJSON{measurementJSON: measurementJSON{Type: typ}})
		case typ == "GPU_QUOTA" && poolName == "":
			m := mq.sample(typ, nil, func(time.Time) float64 { return math.Round(quota) })
			out = append(out, groupedMeasurementJSON{measurementJSON: m})
		default:
			for _, m := range mq.poolSeries(&pm, typ) {
				out = append(out, groupedMeasurementJSON{measurementJSON: m})
			}
		}
	}
	writeGroupedMetrics(w, out)
}

// writeGroupedMetrics answers as writeMetrics does: 207 when some series
// has no values.
func writeGroupedMetrics(w http.ResponseWriter, ms []groupedMeasurementJSON) {
	status := http.StatusOK
	for _, m := range ms {
		if m.Values == nil {
			status = http.StatusMultiStatus
		}
	}
	if ms == nil {
		ms = []groupedMeasurementJSON{}
	}
	writeJSON(w, status, struct {
		Measurements []groupedMeasurementJSON `json:"measurements"`
	}{ms})
}
