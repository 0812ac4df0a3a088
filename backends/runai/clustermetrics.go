package runai

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/fleetgraph/fleetgraph/backends"
)

// ClusterMetricsOptions are the query parameters of ClusterMetrics.
type ClusterMetricsOptions struct {
	// MetricsOptions: Types are MetricsType values (TOTAL_GPU,
	// GPU_UTILIZATION, ..., WORKLOADS_COUNT from 2.23), Start and End are
	// required, Samples as for node metrics.
	MetricsOptions
	// GroupBy is ClusterMetricsGroupBy, from 2.23: Category, Nodepool,
	// Project or Department; empty for the cluster's totals. Which types
	// can be grouped by what is not documented: the vendor answers 422
	// (backends.ErrBadRequest) for a combination it refuses. Not checked
	// here: the enum may grow.
	GroupBy string
	// NodePoolName narrows the data to one node pool, from 2.23.
	NodePoolName string
}

// Cluster metrics grouping keys (ClusterMetricsGroupBy).
const (
	GroupByCategory   = "Category"
	GroupByNodepool   = "Nodepool"
	GroupByProject    = "Project"
	GroupByDepartment = "Department"
)

// ClusterMetricsResponse holds the cluster's series: one per requested type
// (or per label, as for node-pool metrics), and with GroupBy one per group.
type ClusterMetricsResponse struct {
	Measurements []ClusterMeasurement
}

// ClusterMeasurement is one series and, when grouped, the group it belongs
// to ({Key: "Nodepool", Value: "gpu-pool-1"}).
//
// Groups is nil for a cluster total: always from a 2.22 control plane,
// which has no groupBy, and from 2.23 when none was asked for. A 2.22
// control plane is assumed to ignore groupBy rather than refuse it
// (undocumented): a caller that asked for groups and got a measurement
// with values but without groups has a total, not a group.
type ClusterMeasurement struct {
	Measurement
	Groups []MetricGroup
}

// MetricGroup is GroupedMeasurementGroup: both members are required.
type MetricGroup struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

const routeClusterMetrics = "/api/v1/clusters/{clusterUuid}/metrics"

// wireGroupedMetrics is GroupedMetricsResponse (2.23 on), which reads
// 2.22's MetricsResponse too: the same members without groups.
type wireGroupedMetrics struct {
	Measurements []wireGroupedMeasurement `json:"measurements"`
}

type wireGroupedMeasurement struct {
	wireMeasurement
	Groups []MetricGroup `json:"groups"`
}

// ClusterMetrics returns a cluster's metrics over [opts.Start, opts.End].
// The route exists in 2.22 already; GroupBy and NodePoolName need 2.23.
//
// On 207 (partial success) it returns the response and a
// *backends.PartialError naming the requested types that came back without
// values, as NodeMetrics does.
func (c *Client) ClusterMetrics(ctx context.Context, clusterUUID string, opts ClusterMetricsOptions) (*ClusterMetricsResponse, error) {
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("%s %s: GET %s: %w: %s", backends.RunAI, c.name, routeClusterMetrics, backends.ErrBadRequest, err)
	}
	q := url.Values{}
	setList(q, "metricType", opts.Types)
	q.Set("start", formatTime(opts.Start))
	q.Set("end", formatTime(opts.End))
	if opts.Samples > 0 {
		q.Set("numberOfSamples", strconv.Itoa(opts.Samples))
	}
	setString(q, "groupBy", opts.GroupBy)
	setString(q, "nodepoolName", opts.NodePoolName)
	req := request{method: http.MethodGet, route: routeClusterMetrics, args: []string{clusterUUID}, query: q}
	var body wireGroupedMetrics
	status, err := c.do(ctx, req, &body)
	if err != nil {
		return nil, err
	}
	// The samples go through the node metrics' conversion: the same
	// dropping of non-finite values and unreadable timestamps.
	plain := wireMetrics{Measurements: make([]wireMeasurement, len(body.Measurements))}
	for i, m := range body.Measurements {
		plain.Measurements[i] = m.wireMeasurement
	}
	converted, dropped, err := plain.convert()
	if err != nil {
		return nil, c.decodeError(req, err)
	}
	if dropped > 0 {
		c.observer.DroppedSamples(c.name, backends.RouteKind(routeClusterMetrics), dropped)
	}
	out := &ClusterMetricsResponse{Measurements: make([]ClusterMeasurement, len(converted.Measurements))}
	for i, m := range converted.Measurements {
		out.Measurements[i] = ClusterMeasurement{Measurement: m, Groups: body.Measurements[i].Groups}
	}
	if status == http.StatusMultiStatus {
		return out, &backends.PartialError{Backend: c.name, Provider: backends.RunAI, Route: routeClusterMetrics, Missing: converted.missing(opts.Types)}
	}
	return out, nil
}
