package fleet

import (
	"fmt"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/api/validate/content"

	"github.com/fleetgraph/fleetgraph/graph/model"
)

// InputError is an argument the gateway refuses before any upstream call.
type InputError struct {
	Field   string // path in the arguments, e.g. "input.count"
	Message string
}

func (e *InputError) Error() string { return e.Field + ": " + e.Message }

func invalid(field, format string, args ...any) *InputError {
	return &InputError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// The vendors' own rules, checked before any write is sent.
var (
	// Run:ai GPUResourceOptimization quantities (NodepoolCreateFields schema).
	runaiQuantity = regexp.MustCompile(`^([+]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$`)
	// ModelArts node-pool names: 2-50 of a-z 0-9 '-', a letter first, not '-' last.
	modelartsPoolName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,48}[a-z0-9]$`)
	digits            = regexp.MustCompile(`^[0-9]+$`)
)

// writeFields is the common shape of UpdateNodePoolInput and PatchNodePoolInput.
type writeFields = model.UpdateNodePoolInput

// runaiOnly and modelartsOnly name the input fields of one vendor, so that
// a field sent to the other vendor's cluster is rejected, not ignored.
func runaiFieldsSet(in writeFields) []string {
	var set []string
	add := func(ok bool, name string) {
		if ok {
			set = append(set, name)
		}
	}
	add(in.LabelKey != nil, "labelKey")
	add(in.LabelValue != nil, "labelValue")
	add(in.PlacementStrategy != nil, "placementStrategy")
	add(in.GpuNetworkAccelerationDetection != nil, "gpuNetworkAccelerationDetection")
	add(in.GpuNetworkAccelerationLabelKey != nil, "gpuNetworkAccelerationLabelKey")
	add(in.GpuResourceOptimization != nil, "gpuResourceOptimization")
	add(in.OverProvisioningRatio != nil, "overProvisioningRatio")
	return set
}

func modelartsFieldsSet(in writeFields) []string {
	var set []string
	add := func(ok bool, name string) {
		if ok {
			set = append(set, name)
		}
	}
	add(in.Count != nil, "count")
	add(in.MaxCount != nil, "maxCount")
	add(in.Labels != nil, "labels")
	add(in.Taints != nil, "taints")
	return set
}

func createFields(in model.CreateNodePoolInput) writeFields {
	return writeFields{
		LabelKey: in.LabelKey, LabelValue: in.LabelValue, PlacementStrategy: in.PlacementStrategy,
		GpuNetworkAccelerationDetection: in.GpuNetworkAccelerationDetection, GpuNetworkAccelerationLabelKey: in.GpuNetworkAccelerationLabelKey,
		GpuResourceOptimization: in.GpuResourceOptimization, OverProvisioningRatio: in.OverProvisioningRatio,
		Count: in.Count, MaxCount: in.MaxCount, Labels: in.Labels, Taints: in.Taints,
	}
}

func modelartsCreateOnlySet(in model.CreateNodePoolInput) []string {
	var set []string
	add := func(ok bool, name string) {
		if ok {
			set = append(set, name)
		}
	}
	add(in.Flavor != nil, "flavor")
	add(in.Azs != nil, "azs")
	add(in.Tags != nil, "tags")
	add(in.Network != nil, "network")
	add(in.Os != nil, "os")
	add(in.RootVolume != nil, "rootVolume")
	add(in.DataVolumes != nil, "dataVolumes")
	add(in.Runtime != nil, "runtime")
	add(in.DockerBaseSize != nil, "dockerBaseSize")
	return set
}

func rejectOther(fields []string, vendor string) error {
	if len(fields) == 0 {
		return nil
	}
	return invalid("input."+fields[0], "applies to %s clusters only; this cluster is not one (fields of the other vendor are rejected: %s)",
		vendor, strings.Join(fields, ", "))
}

// checkRunAICreate applies NodepoolCreateFields' rules.
func checkRunAICreate(in model.CreateNodePoolInput) error {
	if err := rejectOther(append(modelartsFieldsSet(createFields(in)), modelartsCreateOnlySet(in)...), "ModelArts"); err != nil {
		return err
	}
	if strings.TrimSpace(in.Name) == "" {
		return invalid("input.name", "is required (at least 1 character)")
	}
	if in.LabelKey == nil || *in.LabelKey == "" {
		return invalid("input.labelKey", "is required for a Run:ai node pool (the node label selecting its nodes)")
	}
	if in.LabelValue == nil || *in.LabelValue == "" {
		return invalid("input.labelValue", "is required for a Run:ai node pool (the node label selecting its nodes)")
	}
	return checkRunAIFields(createFields(in))
}

// checkRunAIFields applies NodepoolUpdateFields' rules.
func checkRunAIFields(in writeFields) error {
	if err := rejectOther(modelartsFieldsSet(in), "ModelArts"); err != nil {
		return err
	}
	if in.LabelKey != nil && *in.LabelKey == "" {
		return invalid("input.labelKey", "must not be empty")
	}
	if in.LabelValue != nil && *in.LabelValue == "" {
		return invalid("input.labelValue", "must not be empty")
	}
	if r := in.OverProvisioningRatio; r != nil && (*r < 1 || *r > 5) {
		return invalid("input.overProvisioningRatio", "must be within 1..5, got %d", *r)
	}
	if o := in.GpuResourceOptimization; o != nil {
		swap := o.SwapEnabled != nil && *o.SwapEnabled
		for name, v := range map[string]*string{"cpuSwapMemorySize": o.CPUSwapMemorySize, "reservedGpuMemoryForSwapOperations": o.ReservedGpuMemoryForSwapOperations} {
			if v == nil {
				continue
			}
			if !swap {
				return invalid("input.gpuResourceOptimization."+name, "is only allowed when swapEnabled is true")
			}
			if !runaiQuantity.MatchString(*v) {
				return invalid("input.gpuResourceOptimization."+name, "%q is not a quantity such as 100G", *v)
			}
		}
	}
	return nil
}

// checkModelArtsCreate applies CreateNodePoolRequestBody's rules.
func checkModelArtsCreate(in model.CreateNodePoolInput) error {
	if err := rejectOther(runaiFieldsSet(createFields(in)), "Run:ai"); err != nil {
		return err
	}
	if err := checkModelArtsName(in.Name); err != nil {
		return err
	}
	if in.Flavor == nil || *in.Flavor == "" {
		return invalid("input.flavor", "is required for a ModelArts node pool (e.g. modelarts.vm.gpu.t4u8)")
	}
	if in.Count == nil {
		return invalid("input.count", "is required for a ModelArts node pool")
	}
	if err := checkModelArtsFields(createFields(in)); err != nil {
		return err
	}
	if in.Azs != nil {
		sum := 0
		for i, az := range in.Azs {
			if az.Az == "" || az.Count < 0 {
				return invalid(fmt.Sprintf("input.azs[%d]", i), "needs an az and a count >= 0")
			}
			sum += az.Count
		}
		if sum != *in.Count {
			return invalid("input.azs", "counts add up to %d, but count is %d", sum, *in.Count)
		}
	}
	if in.DockerBaseSize != nil && !digits.MatchString(*in.DockerBaseSize) {
		return invalid("input.dockerBaseSize", "must be a whole number of GiB, got %q", *in.DockerBaseSize)
	}
	vols := in.DataVolumes
	if in.RootVolume != nil {
		vols = append([]*model.VolumeInput{in.RootVolume}, vols...)
	}
	for i, v := range vols {
		if v.VolumeType == "" || !digits.MatchString(v.Size) {
			return invalid(fmt.Sprintf("input.volumes[%d]", i), "needs a volumeType and a size in GiB (digits), got %q", v.Size)
		}
	}
	return nil
}

func checkModelArtsName(name string) error {
	if !modelartsPoolName.MatchString(name) || strings.HasSuffix(name, "-default") {
		return invalid("input.name", "%q: a ModelArts node-pool name is 2-50 characters of a-z, 0-9 and '-', starts with a letter, and does not end in '-' or '-default'", name)
	}
	return nil
}

// checkModelArtsFields applies the PATCH body's rules (scale, labels, taints).
func checkModelArtsFields(in writeFields) error {
	if err := rejectOther(runaiFieldsSet(in), "Run:ai"); err != nil {
		return err
	}
	if in.Count != nil && *in.Count < 0 {
		return invalid("input.count", "must be >= 0, got %d", *in.Count)
	}
	if in.MaxCount != nil {
		if in.Count != nil && *in.MaxCount < *in.Count {
			return invalid("input.maxCount", "must be >= count (%d), got %d", *in.Count, *in.MaxCount)
		}
		if *in.MaxCount < 0 {
			return invalid("input.maxCount", "must be >= 0, got %d", *in.MaxCount)
		}
	}
	for i, l := range in.Labels {
		if errs := content.IsLabelKey(l.Key); len(errs) > 0 {
			return invalid(fmt.Sprintf("input.labels[%d].key", i), "%q: %s", l.Key, errs[0])
		}
		if errs := content.IsLabelValue(l.Value); len(errs) > 0 {
			return invalid(fmt.Sprintf("input.labels[%d].value", i), "%q: %s", l.Value, errs[0])
		}
	}
	for i, t := range in.Taints {
		if errs := content.IsLabelKey(t.Key); len(errs) > 0 {
			return invalid(fmt.Sprintf("input.taints[%d].key", i), "%q: %s", t.Key, errs[0])
		}
		if t.Value != nil {
			if errs := content.IsLabelValue(*t.Value); len(errs) > 0 {
				return invalid(fmt.Sprintf("input.taints[%d].value", i), "%q: %s", *t.Value, errs[0])
			}
		}
	}
	return nil
}
