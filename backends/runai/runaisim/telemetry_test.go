package runaisim_test

import (
	"math"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fleetgraph/fleetgraph/backends/runai"
	"github.com/fleetgraph/fleetgraph/backends/runai/runaisim"
)

var telemetryTypes = []string{
	"READY_GPU_NODES", "READY_GPUS", "TOTAL_GPU_NODES", "TOTAL_GPUS", "IDLE_ALLOCATED_GPUS", "FREE_GPUS",
	"ALLOCATED_GPUS", "TOTAL_CPU_CORES", "USED_CPU_CORES", "ALLOCATED_CPU_CORES", "TOTAL_GPU_MEMORY_BYTES",
	"USED_GPU_MEMORY_BYTES", "TOTAL_CPU_MEMORY_BYTES", "USED_CPU_MEMORY_BYTES", "ALLOCATED_CPU_MEMORY_BYTES",
	"FULLY_FREE_GPU_NODES",
}

type telemetryBody struct {
	Type      string `json:"type"`
	Timestamp string `json:"timestamp"`
	Values    []struct {
		Value  string `json:"value"`
		Groups []struct {
			Key, Value, Name string
		} `json:"groups"`
	} `json:"values"`
}

func (b telemetryBody) total(t *testing.T) float64 {
	t.Helper()
	var sum float64
	for _, v := range b.Values {
		f, err := strconv.ParseFloat(v.Value, 64)
		if err != nil {
			t.Fatalf("value %q is not a number", v.Value)
		}
		sum += f
	}
	return sum
}

func telemetry(t *testing.T, h *harness, typ string, extra url.Values) telemetryBody {
	t.Helper()
	q := url.Values{"telemetryType": {typ}}
	for k, v := range extra {
		q[k] = v
	}
	var b telemetryBody
	h.getJSON(t, "/api/v1/nodes/telemetry?"+q.Encode(), 200, &b)
	return b
}

// TestTelemetryGroupsAddUp: for every type, the groups of any groupBy sum to
// the ungrouped value, and each groupBy field yields one group entry.
func TestTelemetryGroupsAddUp(t *testing.T) {
	t.Parallel()
	clk := newClock()
	h := newHarness(t, runaisim.Options{Seed: 4, Now: clk.Now})
	groupings := []string{"ClusterId", "Nodepool", "Node", "ClusterId,Nodepool", "Nodepool,Node"}
	for _, typ := range telemetryTypes {
		t.Run(typ, func(t *testing.T) {
			whole := telemetry(t, h, typ, nil)
			if whole.Type != typ || len(whole.Values) != 1 || whole.Values[0].Groups != nil {
				t.Fatalf("ungrouped answer %+v", whole)
			}
			if ts, err := time.Parse(time.RFC3339, whole.Timestamp); err != nil || !ts.Equal(clk.Now()) {
				t.Fatalf("timestamp %q, want the simulator's now", whole.Timestamp)
			}
			for _, g := range groupings {
				grouped := telemetry(t, h, typ, url.Values{"groupBy": {g}})
				// Each value is rounded (to 0.01, or to a whole number from
				// 1000 up), so the sum may drift by half a unit per group.
				if got, want := grouped.total(t), whole.total(t); math.Abs(got-want) > 0.5*float64(len(grouped.Values)) {
					t.Errorf("groupBy=%s sums to %v, ungrouped %v", g, got, want)
				}
				for _, v := range grouped.Values {
					if keys := groupKeys(v.Groups); keys != g {
						t.Fatalf("groupBy=%s gave groups %s", g, keys)
					}
				}
			}
		})
	}
}

func groupKeys(groups []struct{ Key, Value, Name string }) string {
	keys := make([]string, len(groups))
	for i, g := range groups {
		keys[i] = g.Key
	}
	return strings.Join(keys, ",")
}

func TestTelemetryMatchesFleet(t *testing.T) {
	t.Parallel()
	h := newHarness(t, runaisim.Options{Clusters: 3})
	f := h.sim.Fleet()
	cl := f.Clusters[1]
	var gpus, readyGPUs, gpuNodes, clusterGPUs, defaultGPUs float64
	for _, n := range f.Nodes {
		if n.GPUInfo == nil {
			continue
		}
		c := float64(n.GPUInfo.GPUCount)
		gpus += c
		gpuNodes++
		if n.Status == runai.NodeReady {
			readyGPUs += c
		}
		if n.ClusterUUID == cl.UUID {
			clusterGPUs += c
			if n.NodePool == "default" {
				defaultGPUs += c
			}
		}
	}
	tests := []struct {
		name  string
		typ   string
		query url.Values
		want  float64
	}{
		{"total GPUs", "TOTAL_GPUS", nil, gpus},
		{"GPU nodes", "TOTAL_GPU_NODES", nil, gpuNodes},
		{"ready GPUs", "READY_GPUS", nil, readyGPUs},
		{"one cluster", "TOTAL_GPUS", url.Values{"clusterId": {cl.UUID}}, clusterGPUs},
		{"one pool of one cluster", "TOTAL_GPUS", url.Values{"clusterId": {cl.UUID}, "nodepoolName": {"default"}}, defaultGPUs},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := telemetry(t, h, tt.typ, tt.query).total(t); got != tt.want {
				t.Fatalf("%s = %v, want %v", tt.typ, got, tt.want)
			}
		})
	}
	t.Run("free and allocated make the ready GPUs", func(t *testing.T) {
		free := telemetry(t, h, "FREE_GPUS", nil).total(t)
		alloc := telemetry(t, h, "ALLOCATED_GPUS", nil).total(t)
		idle := telemetry(t, h, "IDLE_ALLOCATED_GPUS", nil).total(t)
		if free+alloc != readyGPUs || idle > alloc {
			t.Fatalf("free %v + allocated %v != ready %v, or idle %v > allocated", free, alloc, readyGPUs, idle)
		}
		used := telemetry(t, h, "USED_CPU_CORES", nil).total(t)
		total := telemetry(t, h, "TOTAL_CPU_CORES", nil).total(t)
		if used <= 0 || used > total {
			t.Fatalf("used cores %v of %v", used, total)
		}
	})
	t.Run("group names", func(t *testing.T) {
		b := telemetry(t, h, "TOTAL_GPUS", url.Values{"groupBy": {"ClusterId"}})
		if len(b.Values) != 3 || b.Values[0].Groups[0].Name == "" || !strings.HasPrefix(b.Values[0].Groups[0].Name, "cluster-") {
			t.Fatalf("cluster groups %+v", b.Values)
		}
	})
}

func TestTelemetryErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t, runaisim.Options{})
	tests := []struct {
		name, query string
		status      int
		check       check
	}{
		{"no type", "", 400, checkResponse},
		{"unknown type", "telemetryType=GPU_HOURS", 400, checkResponse},
		{"three groupBy", "telemetryType=TOTAL_GPUS&groupBy=ClusterId,Nodepool,Node", 400, checkResponse},
		{"unknown groupBy", "telemetryType=TOTAL_GPUS&groupBy=Project", 400, checkResponse},
		{"repeated groupBy", "telemetryType=TOTAL_GPUS&groupBy=Node,Node", 400, checkAll},
		{"unknown cluster", "telemetryType=TOTAL_GPUS&clusterId=00000000-0000-4000-8000-000000000000", 404, checkAll},
		{"unknown pool", "telemetryType=TOTAL_GPUS&nodepoolName=nope", 404, checkAll},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := h.get(t, "/api/v1/nodes/telemetry?"+escapeQuery(tt.query), tt.check)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %s", status, tt.status, body)
			}
			if e := decodeError(t, body); e.Code != tt.status {
				t.Fatalf("error body %+v", e)
			}
		})
	}
}
