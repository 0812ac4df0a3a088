package runai

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/fleetgraph/fleetgraph/backends"
)

// TelemetryOptions are the query parameters of NodeTelemetry.
type TelemetryOptions struct {
	// Type is the NodeTelemetryType (required): READY_GPU_NODES, READY_GPUS,
	// TOTAL_GPU_NODES, TOTAL_GPUS, IDLE_ALLOCATED_GPUS, FREE_GPUS,
	// ALLOCATED_GPUS, TOTAL_CPU_CORES, USED_CPU_CORES, ALLOCATED_CPU_CORES,
	// TOTAL_GPU_MEMORY_BYTES, USED_GPU_MEMORY_BYTES, TOTAL_CPU_MEMORY_BYTES,
	// USED_CPU_MEMORY_BYTES, ALLOCATED_CPU_MEMORY_BYTES, FULLY_FREE_GPU_NODES.
	Type string
	// ClusterID and NodePoolName narrow the data; empty for all.
	ClusterID    string
	NodePoolName string
	// GroupBy holds at most two of ClusterId, Nodepool, Node.
	GroupBy []string
}

// TelemetryResponse is the current value of one telemetry type, one value
// per group.
type TelemetryResponse struct {
	Type      string
	Timestamp time.Time
	Values    []TelemetryValue
}

// TelemetryValue is one value; Groups says which group it belongs to, one
// entry per GroupBy field, empty without GroupBy.
type TelemetryValue struct {
	Value  float64
	Groups []TelemetryGroup
}

// TelemetryGroup is one grouping column: Key is the GroupBy field, Value the
// group's id and Name its display name.
type TelemetryGroup struct {
	Key   string `json:"key"`
	Value string `json:"value"`
	Name  string `json:"name,omitempty"`
}

const routeNodeTelemetry = "/api/v1/nodes/telemetry"

type wireTelemetry struct {
	Type      string `json:"type"`
	Timestamp string `json:"timestamp"`
	Values    []struct {
		Value  sampleValue      `json:"value"`
		Groups []TelemetryGroup `json:"groups"`
	} `json:"values"`
}

// NodeTelemetry returns node telemetry: totals and current usage of GPUs,
// CPUs and memory, optionally per cluster, node pool or node.
func (c *Client) NodeTelemetry(ctx context.Context, opts TelemetryOptions) (*TelemetryResponse, error) {
	if opts.Type == "" {
		return nil, fmt.Errorf("%s %s: GET %s: %w: a telemetry type is required", backends.RunAI, c.name, routeNodeTelemetry, backends.ErrBadRequest)
	}
	q := url.Values{}
	q.Set("telemetryType", opts.Type)
	setString(q, "clusterId", opts.ClusterID)
	setString(q, "nodepoolName", opts.NodePoolName)
	setList(q, "groupBy", opts.GroupBy)
	req := request{method: http.MethodGet, route: routeNodeTelemetry, query: q}
	var body wireTelemetry
	if _, err := c.do(ctx, req, &body); err != nil {
		return nil, err
	}
	out := &TelemetryResponse{Type: body.Type, Values: make([]TelemetryValue, 0, len(body.Values))}
	if body.Timestamp != "" {
		// An unparsable timestamp leaves it unknown (zero) rather than
		// failing the values.
		if t, err := parseVendorTime(body.Timestamp); err == nil {
			out.Timestamp = t
		}
	}
	// A value that is not a finite number is dropped, as in metrics
	// (wireMetrics.convert): its group is then absent from the answer.
	dropped := 0
	for _, v := range body.Values {
		if !v.Value.ok {
			dropped++
			continue
		}
		out.Values = append(out.Values, TelemetryValue{Value: v.Value.v, Groups: v.Groups})
	}
	if dropped > 0 {
		c.observer.DroppedSamples(c.name, backends.RouteKind(routeNodeTelemetry), dropped)
	}
	return out, nil
}
