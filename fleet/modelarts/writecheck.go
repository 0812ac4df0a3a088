package modelarts

import (
	"fmt"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/api/validate/content"

	"github.com/fleetgraph/fleetgraph/fleet"
	"github.com/fleetgraph/fleetgraph/graph/model"
)

var (
	// ModelArts node-pool names: 2-50 of a-z 0-9 '-', a letter first, not '-' last.
	modelartsPoolName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,48}[a-z0-9]$`)
	digits            = regexp.MustCompile(`^[0-9]+$`)
	// ModelArts flavors (modelarts.vm.gpu.t4u8, modelarts.bm.npu.arm.8snt9b3.d):
	// the API gives no pattern; this admits every documented one.
	modelartsFlavor = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)
)

// ownFields are the input fields a ModelArts node pool has: any other field
// set is refused, not ignored.
var ownFields = map[string]bool{
	"count": true, "maxCount": true, "labels": true, "taints": true,
	"flavor": true, "azs": true, "tags": true, "network": true, "os": true,
	"rootVolume": true, "dataVolumes": true, "runtime": true, "dockerBaseSize": true,
}

// CheckCreate implements fleet.Source: it applies CreateNodePoolRequestBody's rules.
func (s *Source) CheckCreate(in model.CreateNodePoolInput) error {
	if err := fleet.RejectForeign(fleet.SetFields(fleet.CreateFields(in), &in), ownFields, "Run:ai"); err != nil {
		return err
	}
	if err := checkModelArtsName(in.Name); err != nil {
		return err
	}
	if in.Flavor == nil || *in.Flavor == "" {
		return fleet.Invalid("input.flavor", "is required for a ModelArts node pool (e.g. modelarts.vm.gpu.t4u8)")
	}
	if !modelartsFlavor.MatchString(*in.Flavor) {
		return fleet.Invalid("input.flavor", "%s: a ModelArts flavor is 1-128 characters of letters, digits, '.', '_' and '-' (e.g. modelarts.vm.gpu.t4u8)", fleet.Clip(*in.Flavor))
	}
	if in.Count == nil {
		return fleet.Invalid("input.count", "is required for a ModelArts node pool")
	}
	if err := checkFields(fleet.CreateFields(in)); err != nil {
		return err
	}
	if in.Azs != nil {
		sum := 0
		for i, az := range in.Azs {
			if az.Az == "" || az.Count < 0 {
				return fleet.Invalid(fmt.Sprintf("input.azs[%d]", i), "needs an az and a count >= 0")
			}
			if err := fleet.PlainText(fmt.Sprintf("input.azs[%d].az", i), az.Az, 64); err != nil {
				return err
			}
			sum += az.Count
		}
		if sum != *in.Count {
			return fleet.Invalid("input.azs", "counts add up to %d, but count is %d", sum, *in.Count)
		}
	}
	if in.DockerBaseSize != nil && !digits.MatchString(*in.DockerBaseSize) {
		return fleet.Invalid("input.dockerBaseSize", "must be a whole number of GiB, got %s", fleet.Clip(*in.DockerBaseSize))
	}
	vols := in.DataVolumes
	if in.RootVolume != nil {
		vols = append([]*model.VolumeInput{in.RootVolume}, vols...)
	}
	for i, v := range vols {
		if v.VolumeType == "" || !digits.MatchString(v.Size) {
			return fleet.Invalid(fmt.Sprintf("input.volumes[%d]", i), "needs a volumeType and a size in GiB (digits), got %s", fleet.Clip(v.Size))
		}
		if err := fleet.PlainText(fmt.Sprintf("input.volumes[%d].volumeType", i), v.VolumeType, 64); err != nil {
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
			return fleet.Invalid(field+".key", "must not be empty")
		}
		if strings.HasPrefix(tag.Key, "CCE-") || strings.HasPrefix(tag.Key, "__type_baremetal") {
			return fleet.Invalid(field+".key", "%s: a ModelArts tag key must not start with CCE- or __type_baremetal", fleet.Clip(tag.Key))
		}
		if err := fleet.PlainText(field+".key", tag.Key, 128); err != nil {
			return err
		}
		if err := fleet.PlainText(field+".value", tag.Value, 255); err != nil {
			return err
		}
	}
	if n := in.Network; n != nil {
		for name, v := range map[string]*string{"vpc": n.Vpc, "subnet": n.Subnet} {
			if v != nil {
				if err := fleet.PlainText("input.network."+name, *v, 64); err != nil {
					return err
				}
			}
		}
		for i, sg := range n.SecurityGroups {
			if err := fleet.PlainText(fmt.Sprintf("input.network.securityGroups[%d]", i), sg, 64); err != nil {
				return err
			}
		}
	}
	if o := in.Os; o != nil {
		for name, v := range map[string]*string{"name": o.Name, "imageId": o.ImageID, "imageType": o.ImageType} {
			if v != nil {
				if err := fleet.PlainText("input.os."+name, *v, 255); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func checkModelArtsName(name string) error {
	if !modelartsPoolName.MatchString(name) || strings.HasSuffix(name, "-default") {
		return fleet.Invalid("input.name", "%s: a ModelArts node-pool name is 2-50 characters of a-z, 0-9 and '-', starts with a letter, and does not end in '-' or '-default'", fleet.Clip(name))
	}
	return nil
}

// CheckFields implements fleet.Source: it applies the PATCH body's rules (scale, labels, taints).
func (s *Source) CheckFields(in fleet.WriteFields) error { return checkFields(in) }

func checkFields(in fleet.WriteFields) error {
	if err := fleet.RejectForeign(fleet.SetFields(in, nil), ownFields, "Run:ai"); err != nil {
		return err
	}
	if in.Count != nil && *in.Count < 0 {
		return fleet.Invalid("input.count", "must be >= 0, got %d", *in.Count)
	}
	if in.MaxCount != nil {
		if in.Count != nil && *in.MaxCount < *in.Count {
			return fleet.Invalid("input.maxCount", "must be >= count (%d), got %d", *in.Count, *in.MaxCount)
		}
		if *in.MaxCount < 0 {
			return fleet.Invalid("input.maxCount", "must be >= 0, got %d", *in.MaxCount)
		}
	}
	for i, l := range in.Labels {
		if err := fleet.KubeRule(fmt.Sprintf("input.labels[%d].key", i), "a Kubernetes label key:", l.Key, content.IsLabelKey); err != nil {
			return err
		}
		if err := fleet.KubeRule(fmt.Sprintf("input.labels[%d].value", i), "a Kubernetes label value:", l.Value, content.IsLabelValue); err != nil {
			return err
		}
	}
	for i, t := range in.Taints {
		if err := fleet.KubeRule(fmt.Sprintf("input.taints[%d].key", i), "a Kubernetes taint key:", t.Key, content.IsLabelKey); err != nil {
			return err
		}
		if t.Value != nil {
			if err := fleet.KubeRule(fmt.Sprintf("input.taints[%d].value", i), "a Kubernetes taint value:", *t.Value, content.IsLabelValue); err != nil {
				return err
			}
		}
	}
	return nil
}
