package fleet

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/fleetgraph/fleetgraph/graph/model"
)

// InputError is an argument the gateway refuses before any upstream call.
type InputError struct {
	Field   string // path in the arguments, e.g. "input.count"
	Message string
}

func (e *InputError) Error() string { return e.Field + ": " + e.Message }

// Invalid returns an *InputError for field.
func Invalid(field, format string, args ...any) *InputError {
	return &InputError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// maxQuoted bounds a client value quoted back in a message: a 50 KB name
// gets its first bytes and its length, never itself.
const maxQuoted = 64

// Clip quotes s for a message, escaped (NUL, CR/LF, a right-to-left
// override show as escapes) and bounded.
func Clip(s string) string {
	if len(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	cut := maxQuoted
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s... (%d bytes)", strconv.Quote(s[:cut]), len(s))
}

// KubeRule applies one of apimachinery's checks and says the rule broken.
func KubeRule(field, what, v string, check func(string) []string) error {
	if errs := check(v); len(errs) > 0 {
		return Invalid(field, "%s: %s %s", Clip(v), what, strings.Join(errs, "; "))
	}
	return nil
}

// PlainText refuses what no vendor identifier or setting holds: control and
// format characters (NUL, CR/LF, a bidirectional override) and more than max
// bytes.
func PlainText(field, v string, max int) error {
	if len(v) > max {
		return Invalid(field, "%s: must be at most %d bytes", Clip(v), max)
	}
	for _, r := range v {
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return Invalid(field, "%s: must not contain control or format characters (such as NUL, CR, LF or a bidirectional override) or invalid UTF-8", Clip(v))
		}
	}
	return nil
}

// WriteFields is the common shape of UpdateNodePoolInput and PatchNodePoolInput.
type WriteFields = model.UpdateNodePoolInput

// CreateFields is the part of a create input that an update also has.
func CreateFields(in model.CreateNodePoolInput) WriteFields {
	return WriteFields{
		LabelKey: in.LabelKey, LabelValue: in.LabelValue, PlacementStrategy: in.PlacementStrategy,
		GpuNetworkAccelerationDetection: in.GpuNetworkAccelerationDetection, GpuNetworkAccelerationLabelKey: in.GpuNetworkAccelerationLabelKey,
		GpuResourceOptimization: in.GpuResourceOptimization, OverProvisioningRatio: in.OverProvisioningRatio,
		Count: in.Count, MaxCount: in.MaxCount, Labels: in.Labels, Taints: in.Taints,
	}
}

// SetFields names the input fields in is given, in schema order, so that a
// source can refuse the fields that are not its own rather than ignore
// them. create, when not nil, adds the fields only a create has.
func SetFields(in WriteFields, create *model.CreateNodePoolInput) []string {
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
	add(in.Count != nil, "count")
	add(in.MaxCount != nil, "maxCount")
	add(in.Labels != nil, "labels")
	add(in.Taints != nil, "taints")
	if c := create; c != nil {
		add(c.Flavor != nil, "flavor")
		add(c.Azs != nil, "azs")
		add(c.Tags != nil, "tags")
		add(c.Network != nil, "network")
		add(c.Os != nil, "os")
		add(c.RootVolume != nil, "rootVolume")
		add(c.DataVolumes != nil, "dataVolumes")
		add(c.Runtime != nil, "runtime")
		add(c.DockerBaseSize != nil, "dockerBaseSize")
	}
	return set
}

// RejectForeign refuses the set fields that are not in own: they belong to
// vendor's clusters (the other vendor's name, for the message).
func RejectForeign(set []string, own map[string]bool, vendor string) error {
	var foreign []string
	for _, f := range set {
		if !own[f] {
			foreign = append(foreign, f)
		}
	}
	if len(foreign) == 0 {
		return nil
	}
	return Invalid("input."+foreign[0], "applies to %s clusters only; this cluster is not one (fields of the other vendor are rejected: %s)",
		vendor, strings.Join(foreign, ", "))
}
