package runaisim

import (
	"math"
	"time"
)

// The usage model's figures for the metric types added after 2.22.

// nvLinkTotal is GPU i's NVLink traffic in both directions, bytes per
// second: the sum of the two 2.22 per-direction series, so that the new
// totals agree with them.
func (m nodeModel) nvLinkTotal(i int, t time.Time) float64 {
	return m.gpuMetric("GPU_NVLINK_TRANSMITTED_BANDWIDTH_PER_GPU", i, t) +
		m.gpuMetric("GPU_NVLINK_RECEIVED_BANDWIDTH_PER_GPU", i, t)
}

// workloads is how many workloads run on the node at t: one per allocated
// GPU on a GPU node (the simulated workloads take one GPU each), up to
// seven on a CPU node in proportion to its allocated share; none on a node
// that is not ready.
func (m nodeModel) workloads(t time.Time) float64 {
	switch {
	case !m.ready:
		return 0
	case m.hw.gpus > 0:
		return float64(m.allocatedGPUs(t))
	}
	return math.Floor(8 * m.allocatedShare(t))
}
