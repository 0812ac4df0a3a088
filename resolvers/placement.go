package resolvers

import (
	"strings"

	"github.com/fleetgraph/fleetgraph/fleet"
	"github.com/fleetgraph/fleetgraph/graph/model"
	"github.com/fleetgraph/fleetgraph/internal/accel"
)

// placementRequest checks a PlacementRequest before any upstream call:
// accelerators 1..fleet.MaxPlacementAccelerators, model and vendor values of
// the accelerator catalogue (any case; UNKNOWN is not a model to ask for).
func placementRequest(in model.PlacementRequest) (fleet.PlacementRequest, error) {
	r := fleet.PlacementRequest{Accelerators: in.Accelerators, Provider: in.Provider, SameNode: in.SameNode == nil || *in.SameNode}
	if err := checkAccelerators(int64(in.Accelerators)); err != nil {
		return r, err
	}
	c := accel.Default()
	var err error
	if in.Model != nil {
		if r.Model, err = knownValue("request.model", *in.Model, c.KnownModel, c.Models()); err != nil {
			return r, err
		}
	}
	if in.Vendor != nil {
		if r.Vendor, err = knownValue("request.vendor", *in.Vendor, c.KnownVendor, c.Vendors()); err != nil {
			return r, err
		}
	}
	return r, nil
}

func checkAccelerators(n int64) error {
	if n < 1 || n > fleet.MaxPlacementAccelerators {
		return inputErrorf("request.accelerators", "must be 1..%d, got %d", fleet.MaxPlacementAccelerators, n)
	}
	return nil
}

func knownValue(field, v string, known func(string) (string, bool), all []string) (string, error) {
	got, ok := known(v)
	if !ok || got == accel.Unknown {
		values := make([]string, 0, len(all))
		for _, a := range all {
			if a != accel.Unknown {
				values = append(values, a)
			}
		}
		return "", inputErrorf(field, "%s is not a known value (one of %s)", fleet.Clip(v), strings.Join(values, ", "))
	}
	return got, nil
}

// checkPlacementArgument is placementRequest over the raw argument of the
// up-front validation pass (ValidateArguments).
func checkPlacementArgument(req map[string]any) error {
	var in model.PlacementRequest
	if v, ok := intArg(req["accelerators"]); ok {
		if err := checkAccelerators(v); err != nil {
			return err
		}
		in.Accelerators = int(v)
	}
	if v, ok := req["model"].(string); ok {
		in.Model = &v
	}
	if v, ok := req["vendor"].(string); ok {
		in.Vendor = &v
	}
	_, err := placementRequest(in)
	return err
}
