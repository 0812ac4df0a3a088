package runai

import (
	"regexp"

	"k8s.io/apimachinery/pkg/api/validate/content"

	"github.com/fleetgraph/fleetgraph/fleet"
	"github.com/fleetgraph/fleetgraph/graph/model"
)

// Run:ai GPUResourceOptimization quantities (NodepoolCreateFields schema).
var runaiQuantity = regexp.MustCompile(`^([+]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$`)

// ownFields are the input fields a Run:ai pool has: any other field set is
// refused, not ignored.
var ownFields = map[string]bool{
	"labelKey": true, "labelValue": true, "placementStrategy": true, "gpuNetworkAccelerationDetection": true,
	"gpuNetworkAccelerationLabelKey": true, "gpuResourceOptimization": true, "overProvisioningRatio": true,
}

// CheckCreate implements fleet.Source: it applies NodepoolCreateFields' rules.
func (s *Source) CheckCreate(in model.CreateNodePoolInput) error {
	if err := fleet.RejectForeign(fleet.SetFields(fleet.CreateFields(in), &in), ownFields, "ModelArts"); err != nil {
		return err
	}
	// A Run:ai pool is a Kubernetes object named by the pool name, and the
	// name is a label value on its nodes: an RFC 1123 label.
	if err := fleet.KubeRule("input.name", "a Run:ai node-pool name is a Kubernetes name:", in.Name, content.IsDNS1123Label); err != nil {
		return err
	}
	if in.LabelKey == nil || *in.LabelKey == "" {
		return fleet.Invalid("input.labelKey", "is required for a Run:ai node pool (the node label selecting its nodes)")
	}
	if in.LabelValue == nil || *in.LabelValue == "" {
		return fleet.Invalid("input.labelValue", "is required for a Run:ai node pool (the node label selecting its nodes)")
	}
	return checkFields(fleet.CreateFields(in))
}

// CheckFields implements fleet.Source: it applies NodepoolUpdateFields' rules.
func (s *Source) CheckFields(in fleet.WriteFields) error { return checkFields(in) }

func checkFields(in fleet.WriteFields) error {
	if err := fleet.RejectForeign(fleet.SetFields(in, nil), ownFields, "ModelArts"); err != nil {
		return err
	}
	// labelKey=labelValue is the node selector of the pool: a Kubernetes
	// label, and Run:ai requires both non-empty.
	if in.LabelKey != nil {
		if err := fleet.KubeRule("input.labelKey", "a Kubernetes label key:", *in.LabelKey, content.IsLabelKey); err != nil {
			return err
		}
	}
	if in.LabelValue != nil {
		if *in.LabelValue == "" {
			return fleet.Invalid("input.labelValue", "must not be empty")
		}
		if err := fleet.KubeRule("input.labelValue", "a Kubernetes label value:", *in.LabelValue, content.IsLabelValue); err != nil {
			return err
		}
	}
	if k := in.GpuNetworkAccelerationLabelKey; k != nil && *k != "" {
		if err := fleet.KubeRule("input.gpuNetworkAccelerationLabelKey", "a Kubernetes label key:", *k, content.IsLabelKey); err != nil {
			return err
		}
	}
	if r := in.OverProvisioningRatio; r != nil && (*r < 1 || *r > 5) {
		return fleet.Invalid("input.overProvisioningRatio", "must be within 1..5, got %d", *r)
	}
	if o := in.GpuResourceOptimization; o != nil {
		swap := o.SwapEnabled != nil && *o.SwapEnabled
		for name, v := range map[string]*string{"cpuSwapMemorySize": o.CPUSwapMemorySize, "reservedGpuMemoryForSwapOperations": o.ReservedGpuMemoryForSwapOperations} {
			if v == nil {
				continue
			}
			if !swap {
				return fleet.Invalid("input.gpuResourceOptimization."+name, "is only allowed when swapEnabled is true")
			}
			if !runaiQuantity.MatchString(*v) {
				return fleet.Invalid("input.gpuResourceOptimization."+name, "%s is not a quantity such as 100G", fleet.Clip(*v))
			}
		}
	}
	return nil
}
