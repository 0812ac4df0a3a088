package runai

import "slices"

// The metric types each API version knows (upstreams-2.md d.3). The client
// sends whatever a caller asks for; these lists let the layer above tell
// "this control plane cannot serve that type" before a call, instead of
// reading the vendor's 400.

// Node metric types (NodeMetricType) added after 2.22: the NVLink totals.
// Their unit is not documented; like the GPU_NVLINK_*_BANDWIDTH_PER_GPU
// types they are taken as bytes per second, the _PER_GPU one labelled
// {"gpu": "<index>"} (upstreams-2.md, Unknowns 11).
const (
	// 2.24's names.
	NVLinkBandwidthTotal       = "NVLINK_BANDWIDTH_TOTAL"
	NVLinkBandwidthTotalPerGPU = "NVLINK_BANDWIDTH_TOTAL_PER_GPU"
	// 2.23's names for the same series, removed in 2.24.
	DCGMNVLinkBandwidthTotal       = "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL"
	DCGMNVLinkBandwidthTotalPerGPU = "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL_PER_GPU"
)

// WorkloadsCount is the MetricsType (node-pool and cluster metrics) added
// in 2.23: how many workloads run.
const WorkloadsCount = "WORKLOADS_COUNT"

// nodeMetricTypes222 is 2.22's NodeMetricType enum, in the document's order.
var nodeMetricTypes222 = []string{
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

// metricsTypes222 is 2.22's MetricsType enum.
var metricsTypes222 = []string{
	"TOTAL_GPU_NODES", "GPU_UTILIZATION", "GPU_UTILIZATION_DISTRIBUTION", "GPU_MEMORY_UTILIZATION",
	"CPU_UTILIZATION", "CPU_MEMORY_UTILIZATION", "TOTAL_GPU", "GPU_QUOTA", "ALLOCATED_GPU", "UNALLOCATED_GPU",
	"AVG_WORKLOAD_WAIT_TIME",
}

// NVLinkBandwidthTotalTypes returns v's names for the NVLink totals (node
// and per GPU); ok is false before 2.23.
func (v APIVersion) NVLinkBandwidthTotalTypes() (total, perGPU string, ok bool) {
	switch {
	case v.atLeast(V224):
		return NVLinkBandwidthTotal, NVLinkBandwidthTotalPerGPU, true
	case v.atLeast(V223):
		return DCGMNVLinkBandwidthTotal, DCGMNVLinkBandwidthTotalPerGPU, true
	}
	return "", "", false
}

// NodeMetricTypes returns v's NodeMetricType enum (NodeMetrics), a new
// slice in the document's order.
func (v APIVersion) NodeMetricTypes() []string {
	out := slices.Clone(nodeMetricTypes222)
	if total, perGPU, ok := v.NVLinkBandwidthTotalTypes(); ok {
		out = append(out, total, perGPU)
	}
	return out
}

// MetricsTypes returns v's MetricsType enum (NodePoolMetrics and
// ClusterMetrics), a new slice in the document's order.
func (v APIVersion) MetricsTypes() []string {
	out := slices.Clone(metricsTypes222)
	if v.atLeast(V223) {
		out = append(out, WorkloadsCount)
	}
	return out
}
