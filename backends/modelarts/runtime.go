package modelarts

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/fleetgraph/fleetgraph/backends"
)

// RouteRuntimePools is ShowPoolRuntimeMetrics: real-time allocated against
// capacity of every pool of the project.
const RouteRuntimePools = "/v2/{project_id}/metrics/runtime/pools"

// Keys of RuntimeValue. Values are Kubernetes quantities as text ("16",
// "1073m", "64Gi"; a JSON number is kept as its text); tnt004 is the
// number of accelerator cards (GPU or NPU). Other keys are kept as sent:
// no source says whether e.g. nvidia.com/gpu appears (upstreams-2.md,
// unknown 6).
const (
	RuntimeCPU    = "cpu"
	RuntimeMemory = "memory"
	RuntimeCards  = "tnt004"
)

// RuntimeValue is the vendor's Value: resource name to quantity.
type RuntimeValue = StringMap

// PoolRuntimeMetrics is one pool's item of ShowPoolRuntimeMetrics.
type PoolRuntimeMetrics struct {
	// Name is metadata.name. Decision (upstreams-2.md, unknown 5): it is
	// matched to Pool.Metadata.Name (the pool ID) first, then to the
	// os.modelarts/name label (Labels here, or the pool's display name);
	// see PoolRuntimeMetricsList.For.
	Name   string
	Labels StringMap
	// Allocated is what workloads requested, not measured use; nil when
	// absent. Every part below is optional: SDK versions differ
	// (upstreams-2.md, unknown 7).
	Allocated *RuntimeAllocated
	Capacity  *RuntimeCapacity
	// Available (one SDK version only): capacity minus faulty resources and
	// hot-standby nodes, regardless of allocation.
	Available *RuntimeCapacity
	// Workload (one SDK version only): job counts.
	Workload *RuntimeWorkload
}

// RuntimeAllocated is the amount allocated to workloads.
type RuntimeAllocated struct {
	Value RuntimeValue `json:"value,omitempty"`
	// Timestamp is yyyy-MM-dd'T'HH:mm:ss'Z' as sent; see At.
	Timestamp string `json:"timestamp,omitempty"`
	Window    string `json:"window,omitempty"` // "1s", "1m", "1h"
}

// At parses Timestamp; the zero time when absent or malformed.
func (a RuntimeAllocated) At() time.Time { return parseRuntimeTime(a.Timestamp) }

// RuntimeCapacity is a total: Value, and MaxValue the maximum elastic
// amount. AllValue and AllMaxValue exist in one SDK version only, without
// a description.
type RuntimeCapacity struct {
	Value       RuntimeValue `json:"value,omitempty"`
	MaxValue    RuntimeValue `json:"maxValue,omitempty"`
	AllValue    RuntimeValue `json:"allValue,omitempty"`
	AllMaxValue RuntimeValue `json:"allMaxValue,omitempty"`
	Timestamp   string       `json:"timestamp,omitempty"`
	Window      string       `json:"window,omitempty"`
}

// At parses Timestamp; the zero time when absent or malformed.
func (c RuntimeCapacity) At() time.Time { return parseRuntimeTime(c.Timestamp) }

// RuntimeWorkload counts jobs: running (Allocated) and queued.
type RuntimeWorkload struct {
	Allocated *WorkloadCounts `json:"allocated,omitempty"`
	Queue     *WorkloadCounts `json:"queue,omitempty"`
	Timestamp string          `json:"timestamp,omitempty"`
	Window    string          `json:"window,omitempty"`
}

// WorkloadCounts are job counts by type.
type WorkloadCounts struct {
	Infer      int64 `json:"infer,omitempty"`
	Notebook   int64 `json:"notebook,omitempty"`
	Train      int64 `json:"train,omitempty"`
	WarmUpTask int64 `json:"warmUpTask,omitempty"`
	XInfer     int64 `json:"x-infer,omitempty"`
	Sum        int64 `json:"sum,omitempty"`
}

// PoolRuntimeMetricsList is a ShowPoolRuntimeMetrics answer.
type PoolRuntimeMetricsList struct {
	APIVersion string
	Kind       string // PoolMetricsList
	Items      []PoolRuntimeMetrics
}

// For returns the item of pool: by metadata.name equal to the pool ID,
// else by the os.modelarts/name label or a metadata.name equal to the
// pool's display name; nil when none matches.
func (l *PoolRuntimeMetricsList) For(p *Pool) *PoolRuntimeMetrics {
	for i := range l.Items {
		if l.Items[i].Name == p.Metadata.Name {
			return &l.Items[i]
		}
	}
	display := p.Metadata.Labels[LabelPoolName]
	if display == "" {
		return nil
	}
	for i := range l.Items {
		if it := &l.Items[i]; it.Labels[LabelPoolName] == display || it.Name == display {
			return it
		}
	}
	return nil
}

// ShowPoolRuntimeMetrics returns allocated against capacity of every pool of
// the project, now (no history, no parameters: the SDK sends none, so
// neither does this client). An item without metadata.name is skipped and
// counted with the null items, like a nameless pool.
func (c *Client) ShowPoolRuntimeMetrics(ctx context.Context) (*PoolRuntimeMetricsList, error) {
	data, err := c.get(ctx, RouteRuntimePools, nil)
	if err != nil {
		return nil, err
	}
	var w struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Items      []struct {
			Table *struct {
				Allocated *RuntimeAllocated `json:"allocated"`
				Capacity  *RuntimeCapacity  `json:"capacity"`
				Available *RuntimeCapacity  `json:"available"`
				Workload  *RuntimeWorkload  `json:"workload"`
			} `json:"table"`
			Metadata *struct {
				Name   string    `json:"name"`
				Labels StringMap `json:"labels"`
			} `json:"metadata"`
		} `json:"items"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return nil, c.decodeError(http.MethodGet, RouteRuntimePools, err)
	}
	out := &PoolRuntimeMetricsList{APIVersion: w.APIVersion, Kind: w.Kind, Items: make([]PoolRuntimeMetrics, 0, len(w.Items))}
	nameless := 0
	for _, it := range w.Items {
		if it.Metadata == nil || it.Metadata.Name == "" {
			nameless++
			continue
		}
		m := PoolRuntimeMetrics{Name: it.Metadata.Name, Labels: it.Metadata.Labels}
		if it.Table != nil {
			m.Allocated, m.Capacity, m.Available, m.Workload = it.Table.Allocated, it.Table.Capacity, it.Table.Available, it.Table.Workload
		}
		out.Items = append(out.Items, m)
	}
	if nameless > 0 {
		c.observer.NullItems(c.cfg.Name, backends.RouteKind(RouteRuntimePools), nameless)
	}
	return out, nil
}

func parseRuntimeTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}
