package modelartssim

import (
	"hash/fnv"
	"math"
	"strconv"
	"strings"

	"github.com/fleetgraph/fleetgraph/backends/modelarts"
)

// The simulated measurements. Every value is a pure function of a node's
// identity, its snapshot (flavor, resources in use) and the UTC minute, so
// that the same window gives the same numbers whenever it is asked, windows
// that overlap agree, and the pool monitor, the runtime metrics and AOM tell
// one story: a pool-monitor value at a minute is the capacity-weighted mean
// of the AOM node values of that minute (see poolValue).

// Node quantities, one per simulated metric.
const (
	qCPUUtil   = "cpu_util"   // percent
	qMemUtil   = "mem_util"   // percent
	qMemUsedMB = "mem_used"   // MiB
	qGPUUtil   = "gpu_util"   // percent, nodes with NVIDIA GPUs
	qGPUMem    = "gpu_mem"    // percent
	qGPUMemMB  = "gpu_mem_mb" // MiB used
	qNPUUtil   = "npu_util"   // percent, Ascend nodes
	qNPUMem    = "npu_mem"    // percent
	qDiskUsed  = "disk_used"  // percent
)

// diskMB is each node's simulated data disk (the pool monitor's
// diskCapacity sums it).
const diskMB = 200 * 1024

// nodeMetrics is what the series of one node derive from.
type nodeMetrics struct {
	name, ip, nodePool string
	accel              string // resource name, "" for CPU-only
	cards              float64
	cardMemMB          float64
	cpuCores, memMB    float64
	// base is each quantity's level around which it moves, 0..100.
	base map[string]float64
}

// reporting reports whether a node in this phase sends measurements: a
// node being created, checked or deleted runs nothing and reports nothing.
func reporting(phase string) bool {
	return phase == modelarts.NodeAvailable || phase == modelarts.NodeAbnormal
}

// metricsOf derives a node's series parameters from its snapshot: the share
// of CPU, memory and cards in use sets each level.
func metricsOf(n modelarts.Node) nodeMetrics {
	res, avail := n.Status.Resources, n.Status.AvailableResources
	cpu := quantity(res[modelarts.ResourceCPU])
	mem := quantity(res[modelarts.ResourceMemory]) / (1 << 20)
	m := nodeMetrics{name: n.Metadata.Name, ip: n.Status.PrivateIP, nodePool: n.NodePoolName(), cpuCores: cpu, memMB: mem, base: map[string]float64{}}
	share := func(key string) float64 {
		total := quantity(res[key])
		if total <= 0 {
			return 0
		}
		return math.Max(0, math.Min(1, 1-quantity(avail[key])/total))
	}
	m.base[qCPUUtil] = 15 + 70*share(modelarts.ResourceCPU)
	m.base[qMemUtil] = 20 + 70*share(modelarts.ResourceMemory)
	m.base[qDiskUsed] = 30 + 20*hash01(m.name, "disk", 0)
	for _, key := range []string{modelarts.ResourceNvidiaGPU, modelarts.ResourceAscendSnt9, modelarts.ResourceAscendSnt3} {
		if c := quantity(res[key]); c > 0 {
			m.accel, m.cards = key, c
			used := share(key)
			if key == modelarts.ResourceNvidiaGPU {
				m.base[qGPUUtil] = 2 + 90*used
				m.base[qGPUMem] = 3 + 80*used
				m.cardMemMB = 32 * 1024
				if strings.Contains(n.Spec.Flavor, "t4") {
					m.cardMemMB = 16 * 1024
				}
			} else {
				m.base[qNPUUtil] = 2 + 90*used
				m.base[qNPUMem] = 3 + 80*used
				m.cardMemMB = 64 * 1024
			}
		}
	}
	return m
}

// value is quantity q of the node at a UTC minute (Unix seconds / 60), and
// false when the node has no such quantity (a GPU metric on an Ascend
// node). Percentages stay within 0..100 and are rounded to 0.01.
func (m nodeMetrics) value(q string, minute int64) (float64, bool) {
	switch q {
	case qMemUsedMB:
		v, _ := m.value(qMemUtil, minute)
		return math.Round(v/100*m.memMB*100) / 100, true
	case qGPUMemMB:
		v, ok := m.value(qGPUMem, minute)
		return math.Round(v/100*m.cards*m.cardMemMB*100) / 100, ok
	}
	base, ok := m.base[q]
	if !ok {
		return 0, false
	}
	// A slow wave (30..120 min period, its own phase) and a little noise.
	h := hash01(m.name, q, 0)
	period := 30 + 90*h
	amp := 2 + 0.15*base
	v := base + amp*math.Sin(2*math.Pi*(float64(minute)/period+h)) + 4*(hash01(m.name, q, minute)-0.5)
	return math.Round(math.Max(0, math.Min(100, v))*100) / 100, true
}

// hash01 is a deterministic number in [0, 1) of its arguments.
func hash01(name, q string, minute int64) float64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	h.Write([]byte{0})
	h.Write([]byte(q))
	h.Write([]byte{0})
	h.Write(strconv.AppendInt(nil, minute, 10))
	return float64(h.Sum64()>>11) / (1 << 53)
}

// quantity parses a Kubernetes quantity ("71930m", "503Gi", "8") into base
// units (cores, bytes, cards); 0 when it does not parse.
func quantity(s string) float64 {
	suffixes := []struct {
		s string
		f float64
	}{{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40}, {"m", 1e-3}, {"k", 1e3}, {"M", 1e6}, {"G", 1e9}}
	for _, x := range suffixes {
		if num, ok := strings.CutSuffix(s, x.s); ok {
			v, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0
			}
			return v * x.f
		}
	}
	v, _ := strconv.ParseFloat(s, 64)
	return v
}

// poolMetric is how a pool-monitor metric aggregates node quantities:
// the weighted mean of q over the nodes that have it, weighted by weight.
type poolMetric struct {
	name, unit string
	q          string
	weight     func(nodeMetrics) float64
}

var (
	byCores = func(m nodeMetrics) float64 { return m.cpuCores }
	byMem   = func(m nodeMetrics) float64 { return m.memMB }
	byCards = func(m nodeMetrics) float64 { return m.cards }
	byDisk  = func(nodeMetrics) float64 { return diskMB }
)

// poolMetrics are the nine metrics of ShowPoolMonitor, in the published
// example's order and units.
var poolMetrics = []poolMetric{
	{modelarts.MetricCPUUsage, modelarts.UnitPercent, qCPUUtil, byCores},
	{modelarts.MetricMemUsedRate, modelarts.UnitPercent, qMemUtil, byMem},
	{modelarts.MetricGPUUtil, modelarts.UnitPercent, qGPUUtil, byCards},
	{modelarts.MetricGPUMemUsage, modelarts.UnitPercent, qGPUMem, byCards},
	{modelarts.MetricNPUUtil, "", qNPUUtil, byCards},
	{modelarts.MetricNPUMemUsage, "", qNPUMem, byCards},
	{modelarts.MetricDiskCapacity, modelarts.UnitMegabytes, "", byDisk},
	{modelarts.MetricDiskAvailableCapacity, modelarts.UnitMegabytes, qDiskUsed, byDisk},
	{modelarts.MetricDiskUsedRate, modelarts.UnitPercent, qDiskUsed, byDisk},
}

// poolValue is metric pm of the pool at a minute, from its reporting
// nodes; false when no node has the quantity (the vendor's -1).
func poolValue(pm poolMetric, nodes []nodeMetrics, minute int64) (float64, bool) {
	var sum, weight float64
	for _, n := range nodes {
		if pm.q == "" { // diskCapacity: a sum, not a mean
			sum += pm.weight(n)
			weight = 1
			continue
		}
		v, ok := n.value(pm.q, minute)
		if !ok {
			continue
		}
		w := pm.weight(n)
		sum += w * v
		weight += w
	}
	if weight == 0 {
		return 0, false
	}
	if pm.name == modelarts.MetricDiskAvailableCapacity {
		// Σ disk·(1 - used%) = Σ disk - Σ disk·used%.
		return math.Round((weight-sum/100)*1000) / 1000, true
	}
	return math.Round(sum/weight*1000) / 1000, true
}
