package modelartssim

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/fleetgraph/fleetgraph/backends/modelarts"
)

// Request checks of the node-pool writes. ModelArts answers every rejected
// body with 400 ModelArts.50004000 "Bad request. ..." (upstreams.md B.4);
// the simulator's text after "Bad request." names the field and the rule
// ("spec.resources.count: must not be negative"), which the real service
// does not promise but a caller debugging a request needs.

const (
	maxWriteBody = 1 << 20
	// maxNodeCount bounds spec.resources.count and maxCount. The real quota
	// is not published; this only keeps a request from creating millions
	// of simulated nodes.
	maxNodeCount = 1000
)

// badRequest is a 400 whose message follows "Bad request. ". A
// missing required member is ModelArts' generic ModelArts.0101 "Invalid
// Argument." instead (upstreams-2.md §b assumes so for PatchNodePool).
type badRequest string

func badf(format string, args ...any) *badRequest {
	b := badRequest(fmt.Sprintf(format, args...))
	return &b
}

// invalidArgument marks a badRequest answered as ModelArts.0101.
const invalidArgument = "\x00invalid-argument:"

func missingf(format string, args ...any) *badRequest {
	b := badRequest(invalidArgument + fmt.Sprintf(format, args...))
	return &b
}

// volumeGroups are the VolumeExtendParams.volumeGroup values of the SDK
// (vguser<N> for any N).
var volumeGroupRE = regexp.MustCompile(`^(vgpaas|default|vguser[0-9]+|vg-everest-localvolume-persistent|vg-everest-localvolume-ephemeral)$`)

// checkDataVolumes applies the SDK's DataVolumeItem: volumeType and size
// are required, and so are extendParams and its volumeGroup (the pool-level
// PatchPool makes them optional; the node-pool PoolResource does not).
func checkDataVolumes(vols []modelarts.Volume) *badRequest {
	for i, v := range vols {
		p := fmt.Sprintf("spec.resources.dataVolumes[%d]", i)
		switch {
		case v.VolumeType == "":
			return missingf("%s.volumeType is required", p)
		case v.Size == "":
			return missingf("%s.size is required", p)
		case v.ExtendParams == nil || v.ExtendParams.VolumeGroup == "":
			return missingf("%s.extendParams.volumeGroup is required", p)
		case !volumeGroupRE.MatchString(v.ExtendParams.VolumeGroup):
			return badf("%s.extendParams.volumeGroup: %q must be vgpaas, default, vguser<N>, vg-everest-localvolume-persistent or vg-everest-localvolume-ephemeral", p, v.ExtendParams.VolumeGroup)
		}
	}
	return nil
}

// resourceBody is spec.resources as received: pointers tell an absent count
// from 0, and a nil list or map from an empty one (which clears on PATCH).
type resourceBody struct {
	Flavor       *string                         `json:"flavor"`
	Count        *int                            `json:"count"`
	MaxCount     *int                            `json:"maxCount"`
	AZs          []modelarts.AZCount             `json:"azs"`
	Taints       []modelarts.Taint               `json:"taints"`
	Labels       map[string]string               `json:"labels"`
	Tags         []modelarts.UserTag             `json:"tags"`
	Network      *modelarts.NodeNetwork          `json:"network"`
	ExtendParams *modelarts.ResourceExtendParams `json:"extendParams"`
	CreatingStep *modelarts.CreatingStep         `json:"creatingStep"`
	RootVolume   *modelarts.Volume               `json:"rootVolume"`
	DataVolumes  []modelarts.Volume              `json:"dataVolumes"`
	OS           *modelarts.OS                   `json:"os"`
}

type specBody struct {
	Resources *resourceBody `json:"resources"`
}

// createBody is CreateNodePoolRequestBody.
type createBody struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name        string            `json:"name"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Spec *specBody `json:"spec"`
}

// patchBody is PatchNodePoolRequestBody.
type patchBody struct {
	Metadata *struct {
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Spec *specBody `json:"spec"`
}

// readBody decodes a JSON write body. Both Content-Types the sources name
// are accepted (the SDK's application/json;charset=UTF-8, the PATCH page's
// application/merge-patch+json), as is any other JSON type.
func readBody(r *http.Request, v any) *badRequest {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return badf("Content-Type must be application/json, got %q", r.Header.Get("Content-Type"))
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, maxWriteBody+1))
	if err != nil {
		return badf("unreadable body")
	}
	if len(data) > maxWriteBody {
		return badf("body exceeds %d bytes", maxWriteBody)
	}
	if err := json.Unmarshal(data, v); err != nil {
		if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok && te.Field != "" {
			return badf("%s: must be %s, got %s", te.Field, jsonType(te.Type.String()), te.Value)
		}
		return badf("body is not valid JSON: %v", err)
	}
	return nil
}

func jsonType(goType string) string {
	switch goType {
	case "int":
		return "an integer"
	case "string":
		return "a string"
	}
	return goType
}

// Node-pool names (upstreams.md B.2): 2-50 characters, lower-case letters,
// digits and '-', starting with a letter, not ending in '-' or "-default"
// (reserved for the pool's default node pool).
var createNameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,48}[a-z0-9]$`)

func checkName(name string) *badRequest {
	switch {
	case name == "":
		return badf("metadata.name is required")
	case len(name) < 2 || len(name) > 50:
		return badf("metadata.name: %q must be 2-50 characters", name)
	case name[0] < 'a' || name[0] > 'z':
		return badf("metadata.name: %q must start with a lower-case letter", name)
	case strings.HasSuffix(name, "-default"):
		return badf("metadata.name: %q must not end with -default", name)
	case strings.HasSuffix(name, "-"):
		return badf("metadata.name: %q must not end with -", name)
	case !createNameRE.MatchString(name):
		return badf("metadata.name: %q may only hold lower-case letters, digits and -", name)
	}
	return nil
}

// checkAnnotations checks the billing annotations; create allows the hourly
// period type "4", patch does not (SDK CreateNodePoolAnnotations vs
// PatchNodePoolAnnotations).
func checkAnnotations(a map[string]string, create bool) *badRequest {
	const field = "metadata.annotations"
	oneOf := func(key string, allowed ...string) *badRequest {
		if v, ok := a[key]; ok && !slices.Contains(allowed, v) {
			return badf("%s[%s]: %q must be one of %s", field, key, v, strings.Join(allowed, ", "))
		}
		return nil
	}
	periods := []string{"2", "3"}
	if create {
		periods = append(periods, "4")
	}
	for _, bad := range []*badRequest{
		oneOf(modelarts.AnnotationBillingMode, modelarts.BillingPayPerUse, modelarts.BillingPrepaid),
		oneOf(modelarts.AnnotationPeriodType, periods...),
		oneOf(modelarts.AnnotationAutoRenew, "0", "1"),
	} {
		if bad != nil {
			return bad
		}
	}
	if v, ok := a[modelarts.AnnotationPeriodNum]; ok {
		if n, err := strconv.Atoi(v); err != nil || n < 1 {
			return badf("%s[%s]: %q must be a positive integer", field, modelarts.AnnotationPeriodNum, v)
		}
	}
	if a[modelarts.AnnotationBillingMode] == modelarts.BillingPrepaid {
		for _, k := range []string{modelarts.AnnotationPeriodType, modelarts.AnnotationPeriodNum} {
			if a[k] == "" {
				return badf("%s[%s] is required for yearly/monthly billing (%s=1)", field, k, modelarts.AnnotationBillingMode)
			}
		}
	}
	return nil
}

// checkResources checks what spec.resources holds, without the pool: value
// ranges, enums and Kubernetes syntax. count and maxCount are checked by the
// caller once merged with the node pool (PATCH).
func checkResources(r *resourceBody) *badRequest {
	const f = "spec.resources"
	for _, c := range []struct {
		name string
		v    *int
	}{{"count", r.Count}, {"maxCount", r.MaxCount}} {
		if c.v != nil && (*c.v < 0 || *c.v > maxNodeCount) {
			return badf("%s.%s: %d must be within 0..%d", f, c.name, *c.v, maxNodeCount)
		}
	}
	seen := map[string]bool{}
	for i, a := range r.AZs {
		switch {
		case !slices.Contains(zones, a.AZ):
			return badf("%s.azs[%d].az: %q is not an availability zone of this region (%s)", f, i, a.AZ, strings.Join(zones, ", "))
		case seen[a.AZ]:
			return badf("%s.azs[%d].az: %q is listed twice", f, i, a.AZ)
		case a.Count < 0:
			return badf("%s.azs[%d].count: %d must not be negative", f, i, a.Count)
		}
		seen[a.AZ] = true
	}
	for i, t := range r.Taints {
		p := fmt.Sprintf("%s.taints[%d]", f, i)
		if t.Key == "" {
			return badf("%s.key is required", p)
		}
		if msg := qualifiedName(t.Key); msg != "" {
			return badf("%s.key: %q %s", p, t.Key, msg)
		}
		if msg := labelValue(t.Value); msg != "" {
			return badf("%s.value: %q %s", p, t.Value, msg)
		}
		if !slices.Contains([]string{"NoSchedule", "PreferNoSchedule", "NoExecute"}, t.Effect) {
			return badf("%s.effect: %q must be NoSchedule, PreferNoSchedule or NoExecute", p, t.Effect)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(r.Labels)) {
		if msg := qualifiedName(k); msg != "" {
			return badf("%s.labels: key %q %s", f, k, msg)
		}
		if msg := labelValue(r.Labels[k]); msg != "" {
			return badf("%s.labels[%s]: value %q %s", f, k, r.Labels[k], msg)
		}
	}
	for i, t := range r.Tags {
		switch {
		case t.Key == "":
			return badf("%s.tags[%d].key is required", f, i)
		case strings.HasPrefix(t.Key, "CCE-") || strings.HasPrefix(t.Key, "__type_baremetal"):
			return badf("%s.tags[%d].key: %q must not start with CCE- or __type_baremetal", f, i, t.Key)
		}
	}
	if x := r.ExtendParams; x != nil {
		const p = f + ".extendParams"
		if x.Runtime != "" && x.Runtime != "docker" && x.Runtime != "containerd" {
			return badf("%s.runtime: %q must be docker or containerd", p, x.Runtime)
		}
		for _, pol := range [][2]string{{"labelPolicyOnExistingNodes", x.LabelPolicyOnExistingNodes},
			{"taintPolicyOnExistingNodes", x.TaintPolicyOnExistingNodes}, {"tagPolicyOnExistingNodes", x.TagPolicyOnExistingNodes}} {
			if v := pol[1]; v != "" && v != "refresh" && v != "ignore" {
				return badf("%s.%s: %q must be refresh or ignore", p, pol[0], v)
			}
		}
		if _, err := base64.StdEncoding.DecodeString(x.PostInstall); err != nil {
			return badf("%s.postInstall: must be Base64", p)
		}
	}
	if cs := r.CreatingStep; cs != nil && cs.Type != "" && cs.Type != "hyperinstance" && cs.Type != "rack" {
		return badf("%s.creatingStep.type: %q must be hyperinstance or rack", f, cs.Type)
	}
	if r.OS != nil && r.OS.ImageType != "" && r.OS.ImageType != "private" {
		return badf("%s.os.imageType: %q must be private or empty", f, r.OS.ImageType)
	}
	return checkDataVolumes(r.DataVolumes)
}

// checkCounts checks the merged counts: maxCount >= count, and the AZ spread
// (when given) adds up to count.
func checkCounts(count, maxCount int, azs []modelarts.AZCount) *badRequest {
	if maxCount < count {
		return badf("spec.resources.maxCount: %d must not be below spec.resources.count %d", maxCount, count)
	}
	if azs != nil {
		sum := 0
		for _, a := range azs {
			sum += a.Count
		}
		if sum != count {
			return badf("spec.resources.azs: counts add up to %d, spec.resources.count is %d", sum, count)
		}
	}
	return nil
}

// Kubernetes label syntax: a name segment of at most 63 characters,
// alphanumeric at both ends, '-', '_' and '.' inside; keys may carry a DNS
// subdomain prefix and '/'.
var (
	labelNameRE = regexp.MustCompile(`^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$`)
	dnsSubRE    = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
)

// qualifiedName returns why k is not a valid label or taint key, or "".
func qualifiedName(k string) string {
	prefix, name, ok := strings.Cut(k, "/")
	if !ok {
		prefix, name = "", k
	} else if prefix == "" || len(prefix) > 253 || !dnsSubRE.MatchString(prefix) {
		return "has an invalid prefix: it must be a lower-case DNS subdomain of at most 253 characters"
	}
	if name == "" || len(name) > 63 || !labelNameRE.MatchString(name) {
		return "is not a valid name: at most 63 characters, alphanumeric at both ends, '-', '_' or '.' inside"
	}
	return ""
}

// labelValue returns why v is not a valid label value, or "".
func labelValue(v string) string {
	if v != "" && (len(v) > 63 || !labelNameRE.MatchString(v)) {
		return "is not a valid label value: at most 63 characters, alphanumeric at both ends, '-', '_' or '.' inside"
	}
	return ""
}
