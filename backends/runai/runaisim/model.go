package runaisim

import (
	"hash/fnv"
	"math"
	"strconv"
	"time"

	"github.com/fleetgraph/fleetgraph/backends/runai"
)

// The usage model: every figure the simulator reports (metrics, telemetry)
// is a pure function of (seed, node id, series, time). Any range, asked any
// number of times, gets the same answer, and nothing is stored.

// allocationStep: the scheduler changes allocations in steps, not smoothly.
const allocationStep = 5 * time.Minute

// nodeModel is what the model needs of one node.
type nodeModel struct {
	key    uint64
	ready  bool
	hw     hardware
	pinned int // allocated GPUs held fixed by SetAllocated; -1: none
}

func (s *Server) model(n simNode) nodeModel {
	m := nodeModel{key: hashKey(s.opts.Seed, n.dto.ID), ready: n.dto.Status == runai.NodeReady, hw: n.hw, pinned: -1}
	if v, ok := s.pins.Load(n.dto.ID); ok {
		m.pinned = v.(int)
	}
	return m
}

func hashKey(seed int64, id string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(strconv.FormatInt(seed, 10) + "/" + id))
	return h.Sum64()
}

// mix is the splitmix64 finaliser: neighbouring inputs give unrelated outputs.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// unit maps x to [0, 1).
func unit(x uint64) float64 { return float64(mix(x)>>11) / (1 << 53) }

// wave is a smooth series in [0, 1] for key k: a per-series level, a slow and
// a fast sine with per-series periods and phases, and a daily cycle.
func wave(k uint64, t time.Time) float64 {
	s := float64(t.UnixMilli()) / 1000
	level := 0.2 + 0.6*unit(k)
	slow := 5400 + 3600*unit(k+1) // 1.5 to 2.5 hours
	fast := 600 + 900*unit(k+2)   // 10 to 25 minutes
	v := level +
		0.2*math.Sin(2*math.Pi*(s/slow+unit(k+3))) +
		0.08*math.Sin(2*math.Pi*(s/fast+unit(k+4))) +
		0.1*math.Sin(2*math.Pi*(s/86400+unit(k+5)))
	return min(1, max(0, v))
}

// series returns the key of one named series of the node (per GPU when gpu
// is an index, -1 otherwise).
func (m nodeModel) series(name string, gpu int) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return mix(m.key ^ h.Sum64() ^ mix(uint64(gpu+1)))
}

// allocatedGPUs is how many GPUs workloads hold at t; GPUs 0..n-1 are the
// allocated ones.
func (m nodeModel) allocatedGPUs(t time.Time) int {
	if !m.ready || m.hw.gpus == 0 {
		return 0
	}
	if m.pinned >= 0 {
		return m.pinned
	}
	v := wave(m.series("alloc", -1), t.Truncate(allocationStep))
	return min(m.hw.gpus, int(v*float64(m.hw.gpus+1)))
}

// idleAllocated reports whether allocated GPU i sits idle at t.
func (m nodeModel) idleAllocated(i int, t time.Time) bool {
	return i < m.allocatedGPUs(t) && wave(m.series("idle", i), t.Truncate(allocationStep)) < 0.25
}

// gpuUtil is GPU i's utilisation in percent: 0 when not allocated or idle.
func (m nodeModel) gpuUtil(i int, t time.Time) float64 {
	if i >= m.allocatedGPUs(t) || m.idleAllocated(i, t) {
		return 0
	}
	return 100 * (0.1 + 0.9*wave(m.series("util", i), t))
}

// gpuMemUtil is the share of GPU i's memory in use, in percent; an allocated
// GPU holds memory even when idle.
func (m nodeModel) gpuMemUtil(i int, t time.Time) float64 {
	if i >= m.allocatedGPUs(t) {
		return 0
	}
	return 100 * (0.3 + 0.65*wave(m.series("gpumem", i), t))
}

func (m nodeModel) cpuUtil(t time.Time) float64 {
	if !m.ready {
		return 0
	}
	return 100 * (0.05 + 0.9*wave(m.series("cpu", -1), t))
}

func (m nodeModel) memUtil(t time.Time) float64 {
	if !m.ready {
		return 0
	}
	return 100 * (0.1 + 0.8*wave(m.series("mem", -1), t))
}

// allocatedShare is the share of the node's CPU and memory that workloads
// requested: it follows GPU allocation on GPU nodes.
func (m nodeModel) allocatedShare(t time.Time) float64 {
	switch {
	case !m.ready:
		return 0
	case m.hw.gpus > 0:
		return 0.05 + 0.85*float64(m.allocatedGPUs(t))/float64(m.hw.gpus)
	}
	return 0.05 + 0.85*wave(m.series("alloc", -1), t.Truncate(allocationStep))
}

// activityShare scales utilisation into the DCGM activity metrics.
var activityShare = map[string]float64{
	"GPU_GRAPHICS_ENGINE_ACTIVITY_PER_GPU":     0.95,
	"GPU_SM_ACTIVITY_PER_GPU":                  0.85,
	"GPU_SM_OCCUPANCY_PER_GPU":                 0.55,
	"GPU_TENSOR_ACTIVITY_PER_GPU":              0.45,
	"GPU_FP64_ENGINE_ACTIVITY_PER_GPU":         0.05,
	"GPU_FP32_ENGINE_ACTIVITY_PER_GPU":         0.35,
	"GPU_FP16_ENGINE_ACTIVITY_PER_GPU":         0.4,
	"GPU_MEMORY_BANDWIDTH_UTILIZATION_PER_GPU": 0.6,
}

// gpuMetric is a *_PER_GPU node metric of GPU i at t. Percentages are
// 0..100, memory in bytes, bandwidth in bytes per second.
func (m nodeModel) gpuMetric(typ string, i int, t time.Time) float64 {
	util := m.gpuUtil(i, t)
	allocated := i < m.allocatedGPUs(t)
	jitter := wave(m.series(typ, i), t)
	switch typ {
	case "GPU_UTILIZATION_PER_GPU":
		return util
	case "GPU_MEMORY_UTILIZATION_PER_GPU":
		return m.gpuMemUtil(i, t)
	case "GPU_MEMORY_USAGE_BYTES_PER_GPU":
		return m.gpuMemUtil(i, t) / 100 * float64(m.hw.gpuMemBytes)
	case "GPU_ALLOCATION_PER_GPU":
		return boolValue(allocated)
	case "GPU_MEMORY_ALLOCATION_BYTES_PER_GPU":
		return boolValue(allocated) * float64(m.hw.gpuMemBytes)
	case "GPU_IDLE_TIME_SECONDS_PER_GPU": // over the last hour
		return 3600 * (1 - util/100)
	case "GPU_OOMKILL_BURST_COUNT_PER_GPU", "GPU_OOMKILL_IDLE_COUNT_PER_GPU", "GPU_OOMKILL_SWAP_OUT_OF_RAM_COUNT_PER_GPU":
		return math.Floor(max(0, wave(m.series(typ, i), t.Truncate(time.Hour))-0.8) * 15)
	case "GPU_NVLINK_TRANSMITTED_BANDWIDTH_PER_GPU", "GPU_NVLINK_RECEIVED_BANDWIDTH_PER_GPU":
		if !m.hw.nvLink {
			return 0
		}
		return util / 100 * 450e9 * (0.5 + 0.5*jitter)
	case "GPU_PCIE_TRANSMITTED_BANDWIDTH_PER_GPU", "GPU_PCIE_RECEIVED_BANDWIDTH_PER_GPU":
		return util / 100 * 32e9 * (0.3 + 0.7*jitter)
	case nvLinkTotalPerGPU223, nvLinkTotalPerGPU224: // 2.23 on: both directions
		return m.nvLinkTotal(i, t)
	}
	return util * activityShare[typ] * (0.8 + 0.2*jitter)
}

// nodeMetric is a node-wide metric at t.
func (m nodeModel) nodeMetric(typ string, t time.Time) float64 {
	switch typ {
	case "GPU_UTILIZATION":
		return m.meanOverGPUs(func(i int) float64 { return m.gpuUtil(i, t) })
	case "GPU_MEMORY_UTILIZATION":
		return m.meanOverGPUs(func(i int) float64 { return m.gpuMemUtil(i, t) })
	case "GPU_MEMORY_USAGE_BYTES":
		return m.usedGPUMemory(t)
	case "CPU_USAGE_CORES":
		return m.cpuUtil(t) / 100 * float64(m.hw.cores)
	case "CPU_UTILIZATION":
		return m.cpuUtil(t)
	case "CPU_MEMORY_USAGE_BYTES":
		return m.memUtil(t) / 100 * float64(m.hw.memBytes)
	case "CPU_MEMORY_UTILIZATION":
		return m.memUtil(t)
	case nvLinkTotal223, nvLinkTotal224:
		var sum float64
		for i := range m.hw.gpus {
			sum += m.nvLinkTotal(i, t)
		}
		return sum
	}
	return 0
}

func (m nodeModel) meanOverGPUs(f func(i int) float64) float64 {
	if m.hw.gpus == 0 {
		return 0
	}
	var sum float64
	for i := range m.hw.gpus {
		sum += f(i)
	}
	return sum / float64(m.hw.gpus)
}

func (m nodeModel) usedGPUMemory(t time.Time) float64 {
	var sum float64
	for i := range m.hw.gpus {
		sum += m.gpuMemUtil(i, t) / 100 * float64(m.hw.gpuMemBytes)
	}
	return sum
}

// poolModel aggregates the models of a pool's nodes.
type poolModel struct {
	nodes, ready    []nodeModel
	gpus, readyGPUs int
	waitKey         uint64
}

func (p *poolModel) add(m nodeModel) {
	p.nodes = append(p.nodes, m)
	p.gpus += m.hw.gpus
	if m.ready {
		p.ready = append(p.ready, m)
		p.readyGPUs += m.hw.gpus
	}
}

// hasData reports whether typ has values: averages need something to
// average over.
func (p *poolModel) hasData(typ string) bool {
	switch typ {
	case "GPU_UTILIZATION", "GPU_MEMORY_UTILIZATION", "GPU_UTILIZATION_DISTRIBUTION":
		return p.readyGPUs > 0
	case "CPU_UTILIZATION", "CPU_MEMORY_UTILIZATION":
		return len(p.ready) > 0
	}
	return true
}

// value is pool metric typ at t (hasData must hold).
func (p *poolModel) value(typ string, t time.Time) float64 {
	switch typ {
	case "TOTAL_GPU_NODES":
		return p.sum(func(m nodeModel) float64 { return boolValue(m.hw.gpus > 0) })
	case "TOTAL_GPU":
		return float64(p.gpus)
	case "ALLOCATED_GPU":
		return p.sum(func(m nodeModel) float64 { return float64(m.allocatedGPUs(t)) })
	case "UNALLOCATED_GPU":
		return float64(p.gpus) - p.value("ALLOCATED_GPU", t)
	case "GPU_QUOTA": // the projects' quotas: three quarters of the pool
		return math.Round(float64(p.gpus) * 0.75)
	case "AVG_WORKLOAD_WAIT_TIME": // seconds
		return 600 * wave(p.waitKey, t)
	case "WORKLOADS_COUNT": // 2.23 on
		return p.sum(func(m nodeModel) float64 { return m.workloads(t) })
	case "GPU_UTILIZATION":
		return p.sumGPUs(func(m nodeModel, i int) float64 { return m.gpuUtil(i, t) }) / float64(p.readyGPUs)
	case "GPU_MEMORY_UTILIZATION":
		return p.sumGPUs(func(m nodeModel, i int) float64 { return m.gpuMemUtil(i, t) }) / float64(p.readyGPUs)
	case "CPU_UTILIZATION":
		return p.sumReady(func(m nodeModel) float64 { return m.cpuUtil(t) }) / float64(len(p.ready))
	case "CPU_MEMORY_UTILIZATION":
		return p.sumReady(func(m nodeModel) float64 { return m.memUtil(t) }) / float64(len(p.ready))
	}
	return 0
}

// gpusWithin counts the ready GPUs whose utilisation is in [lo, hi) at t.
func (p *poolModel) gpusWithin(lo, hi float64, t time.Time) float64 {
	return p.sumGPUs(func(m nodeModel, i int) float64 {
		u := m.gpuUtil(i, t)
		return boolValue(u >= lo && u < hi)
	})
}

func (p *poolModel) sum(f func(nodeModel) float64) float64 {
	var v float64
	for _, m := range p.nodes {
		v += f(m)
	}
	return v
}

func (p *poolModel) sumReady(f func(nodeModel) float64) float64 {
	var v float64
	for _, m := range p.ready {
		v += f(m)
	}
	return v
}

// sumGPUs sums f over the GPUs of ready nodes.
func (p *poolModel) sumGPUs(f func(m nodeModel, i int) float64) float64 {
	var v float64
	for _, m := range p.ready {
		for i := range m.hw.gpus {
			v += f(m, i)
		}
	}
	return v
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// formatValue renders a value as the vendor does, a decimal string: two
// decimals for small figures, whole numbers for large ones (bytes).
func formatValue(v float64) string {
	if math.Abs(v) >= 1000 {
		v = math.Round(v)
	} else {
		v = math.Round(v*100) / 100
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}
