package modelarts

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/fleetgraph/fleetgraph/backends"
)

// Route templates; they name the call in errors and in simulator counters.
const (
	RoutePools = "/v2/{project_id}/pools"
	RoutePool  = "/v2/{project_id}/pools/{pool_name}"
)

// Pool is a resource pool (SDK PoolModel). Metadata.Name is the pool ID used
// as {pool_name}; the display name is the label os.modelarts/name.
type Pool struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   Metadata   `json:"metadata"`
	Spec       PoolSpec   `json:"spec"`
	Status     PoolStatus `json:"status"`
	// Raw is the item exactly as received; set by the client.
	Raw json.RawMessage `json:"-"`
}

func (p *Pool) setRaw(r json.RawMessage) { p.Raw = r }

// DisplayName is the user-given name (label os.modelarts/name), else the ID.
func (p *Pool) DisplayName() string {
	if n := p.Metadata.Labels[LabelPoolName]; n != "" {
		return n
	}
	return p.Metadata.Name
}

// Well-known pool labels.
const (
	LabelPoolName      = "os.modelarts/name"
	LabelWorkspaceID   = "os.modelarts/workspace.id"
	LabelResourceID    = "os.modelarts/resource.id"
	LabelTenantProject = "os.modelarts/tenant.project.id"
)

// PoolSpec is the requested shape of a pool.
type PoolSpec struct {
	Type             string                `json:"type"`  // Dedicate (physical) or Logical
	Scope            []string              `json:"scope"` // Train, Infer, Notebook
	Resources        []PoolSpecResource    `json:"resources"`
	ContainerNetwork *PoolContainerNetwork `json:"containernetwork,omitempty"`
	Network          *PoolNetwork          `json:"network,omitempty"`
	JobFlavors       []string              `json:"jobFlavors,omitempty"`
	Driver           *PoolDriver           `json:"driver,omitempty"`
	ControlMode      int                   `json:"controlMode,omitempty"` // bit flags; 8 = frozen
}

// PoolSpecResource is one flavor entry of a pool's spec.resources (an array
// at pool level). Disk settings, whose shape the sources disagree on, are
// only in Pool.Raw.
type PoolSpecResource struct {
	Flavor       string                `json:"flavor,omitempty"`
	Count        int                   `json:"count,omitempty"`
	MaxCount     int                   `json:"maxCount,omitempty"`
	AZs          []AZCount             `json:"azs,omitempty"`
	ExtendParams *ResourceExtendParams `json:"extendParams,omitempty"`
	OS           *OS                   `json:"os,omitempty"`
}

// PoolContainerNetwork is the Kubernetes container network of a pool.
type PoolContainerNetwork struct {
	Mode string `json:"mode,omitempty"` // overlay_l2, vpc-router, eni
}

// PoolNetwork names the ModelArts network of a pool.
type PoolNetwork struct {
	Name string `json:"name"`
}

// PoolDriver is the requested accelerator driver of a pool.
type PoolDriver struct {
	GPUVersion     string `json:"gpuVersion,omitempty"`
	NPUVersion     string `json:"npuVersion,omitempty"`
	UpdateStrategy string `json:"updateStrategy,omitempty"` // force, idle
}

// PoolStatus is the observed state of a pool.
type PoolStatus struct {
	// Phase: Creating, Running, Abnormal, Deleting, Error, CreationFailed,
	// ScalingFailed, Waiting.
	Phase     string              `json:"phase"`
	Message   string              `json:"message,omitempty"`
	Resources PoolStatusResources `json:"resources,omitzero"`
	Scope     []PoolScopeStatus   `json:"scope,omitempty"`
	Driver    *PoolStatusDriver   `json:"driver,omitempty"`
	Parent    string              `json:"parent,omitempty"`
	Root      string              `json:"root,omitempty"`
}

// PoolStatusResources counts a pool's instances per state and flavor.
type PoolStatusResources struct {
	Creating  FlavorCounts `json:"creating,omitempty"`
	Available FlavorCounts `json:"available,omitempty"`
	Abnormal  FlavorCounts `json:"abnormal,omitempty"`
	Deleting  FlavorCounts `json:"deleting,omitempty"`
}

// PoolScopeStatus is the state of one job type.
type PoolScopeStatus struct {
	ScopeType string `json:"scopeType"` // Train, Infer, Notebook
	State     string `json:"state"`     // Enabling, Enabled, EnableFailed, Disabling, Disabled
}

// PoolStatusDriver is the driver state per accelerator kind.
type PoolStatusDriver struct {
	GPU *PoolDriverStatus `json:"gpu,omitempty"`
	NPU *PoolDriverStatus `json:"npu,omitempty"`
}

// PoolDriverStatus is one driver's version and state.
type PoolDriverStatus struct {
	Version string `json:"version"`
	State   string `json:"state"` // Creating, Upgrading, Running, Abnormal
}

// ListPools returns every pool of the project (the API does not page).
func (c *Client) ListPools(ctx context.Context) ([]Pool, error) {
	data, err := c.get(ctx, RoutePools, nil)
	if err != nil {
		return nil, err
	}
	var l list
	if err := json.Unmarshal(data, &l); err != nil {
		return nil, c.decodeError(http.MethodGet, RoutePools, err)
	}
	pools, err := decodeItems[Pool](c, RoutePools, l.Items)
	if err != nil {
		return nil, c.decodeError(http.MethodGet, RoutePools, err)
	}
	return pools, nil
}

// GetPool returns one pool by ID (Metadata.Name).
func (c *Client) GetPool(ctx context.Context, pool string) (*Pool, error) {
	if err := c.requireArg("pool", pool); err != nil {
		return nil, err
	}
	data, err := c.get(ctx, RoutePool, nil, pool)
	if err != nil {
		return nil, err
	}
	p, err := decodeOne[Pool](data)
	if err != nil {
		return nil, c.decodeError(http.MethodGet, RoutePool, err)
	}
	return p, nil
}

// requireArg rejects an empty path parameter before any call: it would
// address another resource ("/pools/" + "" is the pool list).
func (c *Client) requireArg(name, v string) error {
	if v == "" {
		return fmt.Errorf("%s %s: empty %s name: %w", backends.ModelArts, c.cfg.Name, name, backends.ErrBadRequest)
	}
	return nil
}

// decodeError reports a 2xx body that is not what the API documents.
func (c *Client) decodeError(method, route string, err error) error {
	return fmt.Errorf("%s %s: %s %s: decode response: %w (%w)", backends.ModelArts, c.cfg.Name, method, route, backends.ErrUpstream, err)
}
