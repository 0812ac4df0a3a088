package fleet

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

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

// maxQuoted bounds a client value quoted back in a message: a 50 KB name
// gets its first bytes and its length, never itself.
const maxQuoted = 64

// clip quotes s for a message, escaped (NUL, CR/LF, a right-to-left
// override show as escapes) and bounded.
func clip(s string) string {
	if len(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	cut := maxQuoted
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s... (%d bytes)", strconv.Quote(s[:cut]), len(s))
}

// kubeRule applies one of apimachinery's checks and says the rule broken.
func kubeRule(field, what, v string, check func(string) []string) error {
	if errs := check(v); len(errs) > 0 {
		return invalid(field, "%s: %s %s", clip(v), what, strings.Join(errs, "; "))
	}
	return nil
}

// plainText refuses what no vendor identifier or setting holds: control and
// format characters (NUL, CR/LF, a bidirectional override) and more than max
// bytes.
func plainText(field, v string, max int) error {
	if len(v) > max {
		return invalid(field, "%s: must be at most %d bytes", clip(v), max)
	}
	for _, r := range v {
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return invalid(field, "%s: must not contain control or format characters (such as NUL, CR, LF or a bidirectional override) or invalid UTF-8", clip(v))
		}
	}
	return nil
}

// The vendors' own rules, checked before any write is sent.
var (
	// Run:ai GPUResourceOptimization quantities (NodepoolCreateFields schema).
	runaiQuantity = regexp.MustCompile(`^([+]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$`)
	// ModelArts node-pool names: 2-50 of a-z 0-9 '-', a letter first, not '-' last.
	modelartsPoolName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,48}[a-z0-9]$`)
	digits            = regexp.MustCompile(`^[0-9]+$`)
	// ModelArts flavors (modelarts.vm.gpu.t4u8, modelarts.bm.npu.arm.8snt9b3.d):
	// the API gives no pattern; this admits every documented one.
	modelartsFlavor = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)
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
	// A Run:ai pool is a Kubernetes object named by the pool name, and the
	// name is a label value on its nodes: an RFC 1123 label.
	if err := kubeRule("input.name", "a Run:ai node-pool name is a Kubernetes name:", in.Name, content.IsDNS1123Label); err != nil {
		return err
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
	// labelKey=labelValue is the node selector of the pool: a Kubernetes
	// label, and Run:ai requires both non-empty.
	if in.LabelKey != nil {
		if err := kubeRule("input.labelKey", "a Kubernetes label key:", *in.LabelKey, content.IsLabelKey); err != nil {
			return err
		}
	}
	if in.LabelValue != nil {
		if *in.LabelValue == "" {
			return invalid("input.labelValue", "must not be empty")
		}
		if err := kubeRule("input.labelValue", "a Kubernetes label value:", *in.LabelValue, content.IsLabelValue); err != nil {
			return err
		}
	}
	if k := in.GpuNetworkAccelerationLabelKey; k != nil && *k != "" {
		if err := kubeRule("input.gpuNetworkAccelerationLabelKey", "a Kubernetes label key:", *k, content.IsLabelKey); err != nil {
			return err
		}
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
				return invalid("input.gpuResourceOptimization."+name, "%s is not a quantity such as 100G", clip(*v))
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
	if !modelartsFlavor.MatchString(*in.Flavor) {
		return invalid("input.flavor", "%s: a ModelArts flavor is 1-128 characters of letters, digits, '.', '_' and '-' (e.g. modelarts.vm.gpu.t4u8)", clip(*in.Flavor))
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
			if err := plainText(fmt.Sprintf("input.azs[%d].az", i), az.Az, 64); err != nil {
				return err
			}
			sum += az.Count
		}
		if sum != *in.Count {
			return invalid("input.azs", "counts add up to %d, but count is %d", sum, *in.Count)
		}
	}
	if in.DockerBaseSize != nil && !digits.MatchString(*in.DockerBaseSize) {
		return invalid("input.dockerBaseSize", "must be a whole number of GiB, got %s", clip(*in.DockerBaseSize))
	}
	vols := in.DataVolumes
	if in.RootVolume != nil {
		vols = append([]*model.VolumeInput{in.RootVolume}, vols...)
	}
	for i, v := range vols {
		if v.VolumeType == "" || !digits.MatchString(v.Size) {
			return invalid(fmt.Sprintf("input.volumes[%d]", i), "needs a volumeType and a size in GiB (digits), got %s", clip(v.Size))
		}
		if err := plainText(fmt.Sprintf("input.volumes[%d].volumeType", i), v.VolumeType, 64); err != nil {
			return err
		}
	}
	return checkModelArtsStrings(in)
}

// checkModelArtsStrings bounds the free-text settings the API documents no
// pattern for (tags, network IDs, OS image): no control or format
// characters, and a length no real value comes near.
func checkModelArtsStrings(in model.CreateNodePoolInput) error {
	for i, tag := range in.Tags {
		field := fmt.Sprintf("input.tags[%d]", i)
		if tag.Key == "" {
			return invalid(field+".key", "must not be empty")
		}
		if strings.HasPrefix(tag.Key, "CCE-") || strings.HasPrefix(tag.Key, "__type_baremetal") {
			return invalid(field+".key", "%s: a ModelArts tag key must not start with CCE- or __type_baremetal", clip(tag.Key))
		}
		if err := plainText(field+".key", tag.Key, 128); err != nil {
			return err
		}
		if err := plainText(field+".value", tag.Value, 255); err != nil {
			return err
		}
	}
	if n := in.Network; n != nil {
		for name, v := range map[string]*string{"vpc": n.Vpc, "subnet": n.Subnet} {
			if v != nil {
				if err := plainText("input.network."+name, *v, 64); err != nil {
					return err
				}
			}
		}
		for i, sg := range n.SecurityGroups {
			if err := plainText(fmt.Sprintf("input.network.securityGroups[%d]", i), sg, 64); err != nil {
				return err
			}
		}
	}
	if o := in.Os; o != nil {
		for name, v := range map[string]*string{"name": o.Name, "imageId": o.ImageID, "imageType": o.ImageType} {
			if v != nil {
				if err := plainText("input.os."+name, *v, 255); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func checkModelArtsName(name string) error {
	if !modelartsPoolName.MatchString(name) || strings.HasSuffix(name, "-default") {
		return invalid("input.name", "%s: a ModelArts node-pool name is 2-50 characters of a-z, 0-9 and '-', starts with a letter, and does not end in '-' or '-default'", clip(name))
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
		if err := kubeRule(fmt.Sprintf("input.labels[%d].key", i), "a Kubernetes label key:", l.Key, content.IsLabelKey); err != nil {
			return err
		}
		if err := kubeRule(fmt.Sprintf("input.labels[%d].value", i), "a Kubernetes label value:", l.Value, content.IsLabelValue); err != nil {
			return err
		}
	}
	for i, t := range in.Taints {
		if err := kubeRule(fmt.Sprintf("input.taints[%d].key", i), "a Kubernetes taint key:", t.Key, content.IsLabelKey); err != nil {
			return err
		}
		if t.Value != nil {
			if err := kubeRule(fmt.Sprintf("input.taints[%d].value", i), "a Kubernetes taint value:", *t.Value, content.IsLabelValue); err != nil {
				return err
			}
		}
	}
	return nil
}
