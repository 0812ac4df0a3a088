package runai

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"
)

// The deprecated node-pool API (/v1/k8s/...) of older control planes. It
// addresses pools by cluster UUID and an integer id (the same number as the
// string id of /api/v1/node-pools), answers writes with 201 or 202 and no
// body, and its 404 and 503 bodies are Error1 ({code, message}), which
// checkResponse reads like Error. Use it only where /api/v1/node-pools is
// missing.

// LegacyNodePool is the NodePool1 schema of the deprecated listing.
type LegacyNodePool struct {
	// ID is the pool's id, a JSON number ("id": 5).
	ID                    int                      `json:"id"`
	Name                  string                   `json:"name"`
	ClusterID             string                   `json:"clusterId"`
	LabelKey              string                   `json:"labelKey"`
	LabelValue            string                   `json:"labelValue"`
	OverProvisioningRatio int                      `json:"overProvisioningRatio"`
	PlacementStrategy     *LegacyPlacementStrategy `json:"placementStrategy,omitempty"`
	// Status is the phase (Creating, Ready, ...: the NodepoolPhase values).
	Status        string `json:"status"`
	StatusMessage string `json:"statusMessage,omitempty"`
	// Nodes is a JSON array of node names inside a string
	// ("[\"node-a\",\"node-b\"]"); NodeNames decodes it.
	Nodes     string     `json:"nodes"`
	CreatedAt time.Time  `json:"createdAt"`
	UpdatedAt time.Time  `json:"updatedAt"`
	DeletedAt *time.Time `json:"deletedAt,omitempty"`
	CreatedBy string     `json:"createdBy"`
	UpdatedBy string     `json:"updatedBy"`
	IsDefault bool       `json:"isDefault"`

	// Raw is the vendor object exactly as received. The client fills it.
	Raw json.RawMessage `json:"-"`
}

// LegacyPlacementStrategy is PlacementStrategy1: "spread" or "binpack" per
// resource, "" when not set.
type LegacyPlacementStrategy struct {
	CPU string `json:"cpu,omitempty"`
	GPU string `json:"gpu,omitempty"`
}

// LegacyNodePoolCreate is the NodePoolCreateRequest body of
// LegacyCreateNodePool. A zero OverProvisioningRatio is left out (the API's
// default is 1).
type LegacyNodePoolCreate struct {
	Name                  string                   `json:"name"`
	OverProvisioningRatio int                      `json:"overProvisioningRatio,omitempty"`
	LabelKey              string                   `json:"labelKey"`
	LabelValue            string                   `json:"labelValue"`
	PlacementStrategy     *LegacyPlacementStrategy `json:"placementStrategy,omitempty"`
}

// LegacyNodePoolUpdate is the UpdateNodePoolRequest body of
// LegacyUpdateNodePool. Zero fields are left out, and the pool keeps them.
type LegacyNodePoolUpdate struct {
	LabelKey              string                   `json:"labelKey,omitempty"`
	LabelValue            string                   `json:"labelValue,omitempty"`
	OverProvisioningRatio int                      `json:"overProvisioningRatio,omitempty"`
	PlacementStrategy     *LegacyPlacementStrategy `json:"placementStrategy,omitempty"`
}

// UnmarshalJSON reads id as any JSON number with an integral value: the
// schema types it "number", so 5.0 is as valid as 5. A string is not.
func (p *LegacyNodePool) UnmarshalJSON(data []byte) error {
	type plain LegacyNodePool // no methods: no recursion
	var aux struct {
		*plain
		ID json.RawMessage `json:"id"` // shadows plain.ID
		// Timestamps read leniently (vendorTime), as in the other listings.
		CreatedAt vendorTime `json:"createdAt"`
		UpdatedAt vendorTime `json:"updatedAt"`
		DeletedAt vendorTime `json:"deletedAt"`
	}
	aux.plain = (*plain)(p)
	if err := json.Unmarshal(data, &aux); err != nil {
		return err
	}
	p.CreatedAt, p.UpdatedAt, p.DeletedAt = aux.CreatedAt.t, aux.UpdatedAt.t, aux.DeletedAt.ptr()
	p.ID = 0
	num := string(aux.ID)
	if num == "" || num == "null" {
		return nil
	}
	if n, err := strconv.Atoi(num); err == nil {
		p.ID = n
		return nil
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return fmt.Errorf("node pool id %s is not an integral JSON number", num)
	}
	p.ID = int(f)
	return nil
}

// NodeNames decodes Nodes; an empty string is no nodes.
func (p *LegacyNodePool) NodeNames() ([]string, error) {
	if p.Nodes == "" {
		return nil, nil
	}
	var names []string
	if err := json.Unmarshal([]byte(p.Nodes), &names); err != nil {
		return nil, fmt.Errorf("node pool %d: nodes %q: %w", p.ID, p.Nodes, err)
	}
	return names, nil
}

func (p *LegacyNodePool) setRaw(raw json.RawMessage) { p.Raw = raw }

const (
	routeLegacyNodePools      = "/v1/k8s/clusters/{clusterId}/node-pools"
	routeLegacyNodePool       = "/v1/k8s/clusters/{clusterId}/node-pools/{id}"
	routeLegacyNodePoolLabels = "/v1/k8s/clusters/{clusterId}/node-pools/{id}/labels"
)

// LegacyListNodePools returns the node pools of one cluster (a bare array,
// not paged).
func (c *Client) LegacyListNodePools(ctx context.Context, clusterID string) ([]LegacyNodePool, error) {
	req := request{method: http.MethodGet, route: routeLegacyNodePools, args: []string{clusterID}, items: true}
	var elems []json.RawMessage
	if _, err := c.do(ctx, req, &elems); err != nil {
		return nil, err
	}
	out, err := decodeElems[LegacyNodePool](c, req, elems)
	if err != nil {
		return nil, c.decodeError(req, err)
	}
	return out, nil
}

// LegacyCreateNodePool creates a node pool in a cluster (201, no body: list
// the cluster's pools to learn its id). Never re-sent; see CreateNodePool.
func (c *Client) LegacyCreateNodePool(ctx context.Context, clusterID string, r LegacyNodePoolCreate) error {
	req := request{method: http.MethodPost, route: routeLegacyNodePools, args: []string{clusterID}}
	return c.legacyWrite(ctx, req, r)
}

// LegacyUpdateNodePool changes a pool's labels, ratio or placement (202):
// the API's description sends callers to PATCH /api/v1/node-pools/{id}
// instead, so what r leaves out is expected to stay as it is.
func (c *Client) LegacyUpdateNodePool(ctx context.Context, clusterID string, id int, r LegacyNodePoolUpdate) error {
	req := request{method: http.MethodPut, route: routeLegacyNodePool, args: []string{clusterID, strconv.Itoa(id)}}
	return c.legacyWrite(ctx, req, r)
}

// LegacyUpdateNodePoolLabels changes a pool's node label (202).
func (c *Client) LegacyUpdateNodePoolLabels(ctx context.Context, clusterID string, id int, labelKey, labelValue string) error {
	req := request{method: http.MethodPut, route: routeLegacyNodePoolLabels, args: []string{clusterID, strconv.Itoa(id)}}
	return c.legacyWrite(ctx, req, map[string]string{"labelKey": labelKey, "labelValue": labelValue})
}

// LegacyDeleteNodePool asks for a pool's deletion (202).
func (c *Client) LegacyDeleteNodePool(ctx context.Context, clusterID string, id int) error {
	req := request{method: http.MethodDelete, route: routeLegacyNodePool, args: []string{clusterID, strconv.Itoa(id)}}
	_, err := c.do(ctx, req, nil)
	return err
}

// legacyWrite sends body as JSON; the answer has no body worth reading.
func (c *Client) legacyWrite(ctx context.Context, req request, body any) error {
	var err error
	if req.body, err = c.encode(req, body); err != nil {
		return err
	}
	_, err = c.do(ctx, req, nil)
	return err
}
