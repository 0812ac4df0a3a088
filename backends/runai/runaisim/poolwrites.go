package runaisim

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/fleetgraph/fleetgraph/backends/runai"
)

// The node-pool writes of /api/v1/node-pools. Bodies are validated as the
// schema says (required fields, minLength 1, enums, ranges, patterns) and
// unknown fields are refused, at any depth; every refusal is a 400 whose
// message names the field.

// updateBody is NodepoolUpdateFields, the body of PUT and PATCH and the
// settings part of NodepoolCreateFields. nil is absent or null: PATCH
// leaves such a field as it is, PUT resets it to its default.
type updateBody struct {
	LabelKey                        *string                        `json:"labelKey"`
	LabelValue                      *string                        `json:"labelValue"`
	OverProvisioningRatio           *int                           `json:"overProvisioningRatio"`
	PlacementStrategy               *runai.PlacementStrategy       `json:"placementStrategy"`
	GPUNetworkAccelerationLabelKey  *string                        `json:"gpuNetworkAccelerationLabelKey"`
	GPUNetworkAccelerationDetection *string                        `json:"gpuNetworkAccelerationDetection"`
	GPUResourceOptimization         *runai.GPUResourceOptimization `json:"gpuResourceOptimization"`
}

// createBody is NodepoolCreateFields.
type createBody struct {
	Name      *string `json:"name"`
	ClusterID *string `json:"clusterId"`
	updateBody
}

// Defaults of the settings (the schema's, and for placement the
// simulator's, which its seeded pools carry too).
const (
	defaultRatio     = 1
	defaultDetection = "Auto"
	defaultCPUSwap   = "100G"
	defaultGPUSwap   = "2G"
)

func defaultPlacement() *runai.PlacementStrategy {
	return &runai.PlacementStrategy{CPU: ptr("spread"), GPU: ptr("binpack")}
}

func defaultOptimization() *runai.GPUResourceOptimization {
	return &runai.GPUResourceOptimization{SwapEnabled: ptr(false), NodeLevelSchedulerEnabled: ptr(false)}
}

var (
	// quantity is the schema's pattern of the swap sizes.
	quantity = regexp.MustCompile(`^([+]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$`)
	uuidRE   = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
)

func (b createBody) validate() error {
	for _, f := range []struct {
		name string
		v    *string
	}{{"name", b.Name}, {"labelKey", b.LabelKey}, {"labelValue", b.LabelValue}, {"clusterId", b.ClusterID}} {
		if f.v == nil {
			return badf("Required parameter is missing: %s", f.name)
		}
	}
	if *b.Name == "" {
		return badf("Bad request - name must not be empty")
	}
	if !uuidRE.MatchString(*b.ClusterID) {
		return badf("Bad request - clusterId must be a UUID, got %q", *b.ClusterID)
	}
	return b.updateBody.validate()
}

func (u updateBody) validate() error {
	for _, f := range []struct {
		name string
		v    *string
	}{{"labelKey", u.LabelKey}, {"labelValue", u.LabelValue}} {
		if f.v != nil && *f.v == "" {
			return badf("Bad request - %s must not be empty", f.name)
		}
	}
	if r := u.OverProvisioningRatio; r != nil && (*r < 1 || *r > 5) {
		return badf("Bad request - overProvisioningRatio must be within 1..5, got %d", *r)
	}
	if ps := u.PlacementStrategy; ps != nil {
		if err := oneOf("placementStrategy.cpu", ps.CPU, "spread", "binpack"); err != nil {
			return err
		}
		if err := oneOf("placementStrategy.gpu", ps.GPU, "spread", "binpack"); err != nil {
			return err
		}
	}
	if err := oneOf("gpuNetworkAccelerationDetection", u.GPUNetworkAccelerationDetection, "Use", "DontUse", "Auto"); err != nil {
		return err
	}
	if o := u.GPUResourceOptimization; o != nil {
		for _, f := range []struct {
			name string
			v    *string
		}{{"cpuSwapMemorySize", o.CPUSwapMemorySize}, {"reservedGpuMemoryForSwapOperations", o.ReservedGPUMemoryForSwapOperations}} {
			switch {
			case f.v == nil:
			case !quantity.MatchString(*f.v):
				return badf("Bad request - gpuResourceOptimization.%s must be a quantity such as 100G, got %q", f.name, *f.v)
			case !deref(o.SwapEnabled):
				return badf("Bad request - gpuResourceOptimization.%s is only allowed when swapEnabled is true", f.name)
			}
		}
	}
	return nil
}

// oneOf checks an optional enum value.
func oneOf(name string, v *string, allowed ...string) error {
	if v != nil && !slices.Contains(allowed, *v) {
		return badf("Bad request - %s must be one of %s, got %q", name, strings.Join(allowed, ", "), *v)
	}
	return nil
}

// apply sets u's fields on p, replacing pointed-to values (never writing
// through them). With reset (PUT), a field u leaves out takes its default;
// labelKey and labelValue have none (a pool must select nodes) and keep
// their value.
func (u updateBody) apply(p *runai.NodePool, reset bool) {
	if u.LabelKey != nil {
		p.LabelKey = *u.LabelKey
	}
	if u.LabelValue != nil {
		p.LabelValue = *u.LabelValue
	}
	switch {
	case u.OverProvisioningRatio != nil:
		p.OverProvisioningRatio = ptr(*u.OverProvisioningRatio)
	case reset:
		p.OverProvisioningRatio = ptr(defaultRatio)
	}
	switch {
	case u.PlacementStrategy != nil:
		p.PlacementStrategy = &runai.PlacementStrategy{CPU: u.PlacementStrategy.CPU, GPU: u.PlacementStrategy.GPU}
	case reset:
		p.PlacementStrategy = defaultPlacement()
	}
	switch {
	case u.GPUNetworkAccelerationLabelKey != nil:
		p.GPUNetworkAccelerationLabelKey = *u.GPUNetworkAccelerationLabelKey
	case reset:
		p.GPUNetworkAccelerationLabelKey = ""
	}
	switch {
	case u.GPUNetworkAccelerationDetection != nil:
		p.GPUNetworkAccelerationDetection = ptr(*u.GPUNetworkAccelerationDetection)
	case reset:
		p.GPUNetworkAccelerationDetection = ptr(defaultDetection)
	}
	switch {
	case u.GPUResourceOptimization != nil:
		p.GPUResourceOptimization = completeOptimization(*u.GPUResourceOptimization)
	case reset:
		p.GPUResourceOptimization = defaultOptimization()
	}
}

// completeOptimization fills the defaults the body left out; the sizes
// exist only with swap enabled.
func completeOptimization(in runai.GPUResourceOptimization) *runai.GPUResourceOptimization {
	swap, nls := deref(in.SwapEnabled), deref(in.NodeLevelSchedulerEnabled)
	out := &runai.GPUResourceOptimization{SwapEnabled: &swap, NodeLevelSchedulerEnabled: &nls}
	if swap {
		out.CPUSwapMemorySize = ptr(cmp.Or(deref(in.CPUSwapMemorySize), defaultCPUSwap))
		out.ReservedGPUMemoryForSwapOperations = ptr(cmp.Or(deref(in.ReservedGPUMemoryForSwapOperations), defaultGPUSwap))
	}
	return out
}

const maxWriteBody = 1 << 16

// decodeBody reads a JSON object into v. It refuses a missing body,
// anything but an object, unknown fields at any depth and trailing data,
// and names the field of a type error.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWriteBody))
	if err != nil {
		return badf("Bad request - the body must be a JSON object of at most %d bytes", maxWriteBody)
	}
	data = bytes.TrimSpace(data)
	switch {
	case len(data) == 0:
		return badf("Required parameter is missing: request body")
	case data[0] != '{':
		return badf("Bad request - the body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err = dec.Decode(v)
	var typeErr *json.UnmarshalTypeError
	switch {
	case err == nil && dec.More():
		return badf("Bad request - unexpected data after the JSON object")
	case err == nil:
		return nil
	case errors.As(err, &typeErr) && typeErr.Field != "":
		return badf("Bad request - %s must be %s", typeErr.Field, jsonKind(typeErr.Type))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return badf("Bad request - unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return badf("Bad request - the body is not valid JSON")
}

// jsonKind names the JSON type a Go type decodes from.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "an object"
}

// writeFailure answers a refused write: an apiError with its status, a
// parameter error with 400, anything else with 500.
func writeFailure(w http.ResponseWriter, err error) {
	var ae *apiError
	if errors.As(err, &ae) {
		writeError(w, ae.status, ae.msg)
		return
	}
	writeBadRequest(w, err)
}

// createNodePool is POST /api/v1/node-pools. A name already used in the
// cluster answers 409 {"code":409,"message":"Node pool <name> already
// exists in cluster <cluster name>"}: the operation declares no 409, but 409
// is in Run:ai's documented status set, and a conflict is what it is (a 400
// would tell the caller its request was malformed).
func (s *Server) createNodePool(w http.ResponseWriter, r *http.Request) {
	var b createBody
	if err := decodeBody(w, r, &b); err != nil {
		writeFailure(w, err)
		return
	}
	if err := b.validate(); err != nil {
		writeFailure(w, err)
		return
	}
	p := runai.NodePool{Name: *b.Name, ClusterID: *b.ClusterID}
	b.apply(&p, true)
	created, err := s.fleet.createPool(p, subject(r))
	if err != nil {
		writeFailure(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, created)
}

// putNodePool is PUT /api/v1/node-pools/{nodepoolId}: every setting is
// replaced, those the body leaves out by their defaults. The vendor does not
// document how PUT and PATCH differ; this is PUT's usual meaning.
func (s *Server) putNodePool(w http.ResponseWriter, r *http.Request) { s.updateNodePool(w, r, true) }

// patchNodePool is PATCH /api/v1/node-pools/{nodepoolId}: only the fields
// the body sets change.
func (s *Server) patchNodePool(w http.ResponseWriter, r *http.Request) { s.updateNodePool(w, r, false) }

func (s *Server) updateNodePool(w http.ResponseWriter, r *http.Request, reset bool) {
	var b updateBody
	if err := decodeBody(w, r, &b); err != nil {
		writeFailure(w, err)
		return
	}
	if err := b.validate(); err != nil {
		writeFailure(w, err)
		return
	}
	p, err := s.fleet.updatePool("", r.PathValue("nodepoolId"), subject(r), func(p *runai.NodePool) { b.apply(p, reset) })
	if err != nil {
		writeFailure(w, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// deleteNodePool is DELETE /api/v1/node-pools/{nodepoolId}: 202 with an
// HttpResponse body; the pool stays listed, Deleting, for PhaseDelay.
func (s *Server) deleteNodePool(w http.ResponseWriter, r *http.Request) {
	if err := s.fleet.deletePool("", r.PathValue("nodepoolId"), subject(r)); err != nil {
		writeFailure(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, errorBody{Code: http.StatusAccepted, Message: "Node pool deletion accepted"})
}
