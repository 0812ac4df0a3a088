package aom

import (
	"regexp"
	"slices"
	"strings"
)

// Metric types of the gateway's vocabulary that DefaultQueries serves at
// node level. Each is in the unit of its Query: percent 0..100 or bytes.
const (
	GPUUtilization       = "GPU_UTILIZATION"
	GPUMemoryUtilization = "GPU_MEMORY_UTILIZATION"
	GPUMemoryUsageBytes  = "GPU_MEMORY_USAGE_BYTES"
	CPUUtilization       = "CPU_UTILIZATION"
	CPUMemoryUtilization = "CPU_MEMORY_UTILIZATION"
	CPUMemoryUsageBytes  = "CPU_MEMORY_USAGE_BYTES"
	NPUUtilization       = "NPU_UTILIZATION"
	NPUMemoryUtilization = "NPU_MEMORY_UTILIZATION"
)

// Units of Query.Unit.
const (
	UnitPercent = "percent" // 0..100
	UnitBytes   = "bytes"
)

// Placeholders of Query.PromQL, replaced by Expand.
const (
	// PlaceholderLabel is the name of the label that tells nodes apart.
	PlaceholderLabel = "$node_label"
	// PlaceholderNodes is a regular expression matching exactly the
	// values asked for, escaped for a PromQL double-quoted string.
	PlaceholderNodes = "$nodes"
)

// DefaultNodeLabel is the label the default queries group and select
// nodes by, and DefaultNodeKey what its values are: the node's private IP
// (status.privateIp), the address ModelArts' own v1 node-monitoring API
// names nodes by. Both are assumptions (upstreams-2.md, unknown 8: the
// label names are not published); a deployment confirms them with AOM's
// labels API (GET /v1/{project_id}/aom/api/v1/labels) and overrides them.
const (
	DefaultNodeLabel = "node_ip"
	DefaultNodeKey   = "privateIp"
)

// Query is the PromQL of one metric type for a set of nodes. The
// expression yields one series per node, labelled PlaceholderLabel, so
// that one call per metric type and window serves every node of a pool;
// node-pool series aggregate the pool's nodes in the gateway.
type Query struct {
	Type   string // a metric type, e.g. GPUUtilization
	Unit   string // UnitPercent or UnitBytes: the vocabulary's unit for Type
	PromQL string // with PlaceholderLabel and PlaceholderNodes
}

// DefaultQueries are the node-level queries of the gateway's metric types,
// sorted by Type. They are data, not code: the configuration may replace
// any of them (keeping Unit), and the gateway may only ask for these types.
// Shared by every backend: copy before changing (slices.Clone).
//
// What they assume, and why: the only ModelArts metric names published for
// AOM are the ma_container_* family of the ModelArts metric collector
// (upstreams-2.md a.5); the node family (ma_node_*) is named by the Lite
// Cluster page but its table is in no source. So a node's value is built
// from the containers on it: utilisations as the mean over its containers,
// used memory as their sum, converted from MB (read as MiB, as everywhere
// in ModelArts) to bytes. The mean of container utilisations equals the
// node's utilisation when the node's accelerators are shared evenly by its
// containers; where ma_node_* metrics exist, replace the expressions with
// them.
var DefaultQueries = []Query{
	{CPUMemoryUsageBytes, UnitBytes, `sum by ($node_label) (ma_container_memory_used_megabytes{$node_label=~"$nodes"}) * 1048576`},
	{CPUMemoryUtilization, UnitPercent, `avg by ($node_label) (ma_container_memory_util{$node_label=~"$nodes"})`},
	{CPUUtilization, UnitPercent, `avg by ($node_label) (ma_container_cpu_util{$node_label=~"$nodes"})`},
	{GPUMemoryUsageBytes, UnitBytes, `sum by ($node_label) (ma_container_gpu_mem_used_megabytes{$node_label=~"$nodes"}) * 1048576`},
	{GPUMemoryUtilization, UnitPercent, `avg by ($node_label) (ma_container_gpu_mem_util{$node_label=~"$nodes"})`},
	{GPUUtilization, UnitPercent, `avg by ($node_label) (ma_container_gpu_util{$node_label=~"$nodes"})`},
	{NPUMemoryUtilization, UnitPercent, `avg by ($node_label) (ma_container_npu_memory_util{$node_label=~"$nodes"})`},
	{NPUUtilization, UnitPercent, `avg by ($node_label) (ma_container_npu_util{$node_label=~"$nodes"})`},
}

// DefaultQuery returns the default query of metric type t.
func DefaultQuery(t string) (Query, bool) {
	i, ok := slices.BinarySearchFunc(DefaultQueries, t, func(q Query, t string) int { return strings.Compare(q.Type, t) })
	if !ok {
		return Query{}, false
	}
	return DefaultQueries[i], true
}

// Expand fills the placeholders: label for PlaceholderLabel (it must be a
// Prometheus label name, else the query is left for AOM to refuse), and
// for PlaceholderNodes an anchored alternation of the values, each matched
// literally. Values are sorted and deduplicated, so the same node set makes
// the same query (and cache key). Ask for at least one value: an empty
// alternation would match the series without the label.
func (q Query) Expand(label string, values []string) string {
	vals := slices.Clone(values)
	slices.Sort(vals)
	vals = slices.Compact(vals)
	quoted := make([]string, len(vals))
	for i, v := range vals {
		quoted[i] = promString(regexp.QuoteMeta(v))
	}
	return strings.NewReplacer(PlaceholderLabel, label, PlaceholderNodes, strings.Join(quoted, "|")).Replace(q.PromQL)
}

// promString escapes s for the inside of a PromQL double-quoted string.
func promString(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}
