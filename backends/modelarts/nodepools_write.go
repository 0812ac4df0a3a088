package modelarts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/fleetgraph/fleetgraph/backends"
)

// Node-pool writes: CreateNodePool, PatchNodePool, DeleteNodePool. They are
// asynchronous upstream: the call returns at once and the nodes then move
// through Creating -> Checking -> Available (or Deleting -> gone), visible in
// the node pool's status.resources counts and in the node lists.
//
// A write is sent exactly once. The client never repeats it (neither does the
// resilience layer, which retries GET and HEAD only), because a write whose
// answer was lost may well have been applied: see MaybeApplied. The one
// exception is the IAM re-token on a 401, which is safe because API Gateway
// rejected the request before ModelArts saw it.

// Annotations of CreateNodePool / PatchNodePool (SDK CreateNodePoolAnnotations).
const (
	AnnotationBillingMode = "os.modelarts/billing.mode" // BillingPayPerUse or BillingPrepaid
	AnnotationPeriodNum   = "os.modelarts/period.num"   // e.g. "2"; required when prepaid
	AnnotationPeriodType  = "os.modelarts/period.type"  // "2" month, "3" year, "4" hour; required when prepaid
	AnnotationAutoRenew   = "os.modelarts/auto.renew"   // "0" (default) or "1"
	AnnotationOrderID     = "os.modelarts/order.id"

	BillingPayPerUse = "0"
	// BillingPrepaid (yearly/monthly): such a node pool cannot be deleted
	// through the API; it is unsubscribed instead.
	BillingPrepaid = "1"
)

// contentTypeJSON is what the SDK declares for CreateNodePool and
// PatchNodePool. The Huawei PatchNodePool page asks for
// application/merge-patch+json instead; the SDK is the better witness of the
// live API (upstreams.md B.1).
const contentTypeJSON = "application/json;charset=UTF-8"

// CreateNodePoolRequest is the body of CreateNodePool (SDK
// CreateNodePoolRequestBody). APIVersion and Kind default to "v2" and
// "NodePool".
type CreateNodePoolRequest struct {
	APIVersion string                 `json:"apiVersion"`
	Kind       string                 `json:"kind"`
	Metadata   CreateNodePoolMetadata `json:"metadata"`
	Spec       NodePoolSpec           `json:"spec"`
}

// CreateNodePoolMetadata names the new node pool. Name: 2-50 characters,
// lower-case letters, digits and '-', starting with a letter, not ending in
// '-' or "-default". Annotations carry billing (AnnotationBillingMode...).
type CreateNodePoolMetadata struct {
	Name        string            `json:"name"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// PatchNodePoolRequest is the body of PatchNodePool (SDK
// PatchNodePoolRequestBody). Only what is set is sent, and the server keeps
// what is not sent.
type PatchNodePoolRequest struct {
	// Metadata sets the billing of nodes the patch creates; nil inherits.
	Metadata *PatchNodePoolMetadata `json:"metadata,omitempty"`
	Spec     PatchNodePoolSpec      `json:"spec"`
}

// PatchNodePoolMetadata carries the annotations of a patch (same keys as on
// create).
type PatchNodePoolMetadata struct {
	Annotations map[string]string `json:"annotations,omitempty"`
}

// PatchNodePoolSpec is the spec part of a patch.
type PatchNodePoolSpec struct {
	Resources PoolResourcePatch `json:"resources"`
}

// PoolResourcePatch is the spec.resources of a patch: what changes. Scaling
// sets Count and MaxCount together (the server requires MaxCount >= Count
// after the patch).
//
// Flavor, Count and MaxCount are nevertheless sent in every PATCH: the SDK's
// PoolResource has no omitempty on them and the PatchNodePool reference
// marks them mandatory (upstreams-2.md §b). PatchNodePool fills those left
// unset from the node pool as it is (one GET before the PATCH). The flavor
// cannot change; sending the current one is required.
//
// Lists and maps use omitzero: nil leaves the field alone, an empty non-nil
// value ([]Taint{}, map[string]string{}) is sent and clears it. A list or map
// that is sent replaces the node pool's whole value (a merge patch replaces
// arrays, RFC 7386): DataVolumes, when sent, is the full list, and every
// item needs ExtendParams.VolumeGroup.
type PoolResourcePatch struct {
	Flavor       string                `json:"flavor"`
	Count        *int                  `json:"count"`
	MaxCount     *int                  `json:"maxCount"`
	AZs          []AZCount             `json:"azs,omitzero"`
	Taints       []Taint               `json:"taints,omitzero"`
	Labels       map[string]string     `json:"labels,omitzero"`
	Tags         []UserTag             `json:"tags,omitzero"`
	ExtendParams *ResourceExtendParams `json:"extendParams,omitempty"`
	DataVolumes  []Volume              `json:"dataVolumes,omitzero"`
}

// checkDataVolumes refuses, before any call, a data volume the API refuses:
// the SDK's DataVolumeItem requires extendParams.volumeGroup (vgpaas,
// default, vguser<N>, vg-everest-localvolume-persistent or
// vg-everest-localvolume-ephemeral) in every item of a node pool's
// dataVolumes.
func (c *Client) checkDataVolumes(method, route string, vols []Volume) error {
	for i, v := range vols {
		if v.ExtendParams == nil || v.ExtendParams.VolumeGroup == "" {
			return fmt.Errorf("%s %s: %s %s: spec.resources.dataVolumes[%d].extendParams.volumeGroup is required: %w",
				backends.ModelArts, c.cfg.Name, method, route, i, backends.ErrBadRequest)
		}
	}
	return nil
}

// CreateNodePool creates a node pool in pool and returns what the server
// answered: apiVersion, kind, metadata and spec, no status (Status is zero).
// The nodes are created afterwards; follow them with GetNodePool.
func (c *Client) CreateNodePool(ctx context.Context, pool string, r CreateNodePoolRequest) (*NodePool, error) {
	if err := c.requireArg("pool", pool); err != nil {
		return nil, err
	}
	if r.APIVersion == "" {
		r.APIVersion = "v2"
	}
	if r.Kind == "" {
		r.Kind = "NodePool"
	}
	if err := c.checkDataVolumes(http.MethodPost, RouteNodePools, r.Spec.Resources.DataVolumes); err != nil {
		return nil, err
	}
	return c.writeNodePool(ctx, http.MethodPost, RouteNodePools, r, pool)
}

// PatchNodePool updates a node pool: scale (Count/MaxCount), labels, taints,
// tags, AZ spread. When r leaves Flavor, Count or MaxCount unset it first
// reads the node pool (GetNodePool: its errors, a 404 included, are
// returned and nothing is written) and sends the current values; the PATCH
// itself is sent once. The answer carries only metadata.annotations and
// spec; Metadata.Name is filled from nodePool when the answer omits it (Raw
// is the answer as received).
func (c *Client) PatchNodePool(ctx context.Context, pool, nodePool string, r PatchNodePoolRequest) (*NodePool, error) {
	if err := c.requireArg("pool", pool); err != nil {
		return nil, err
	}
	if err := c.requireArg("node pool", nodePool); err != nil {
		return nil, err
	}
	res := &r.Spec.Resources
	if err := c.checkDataVolumes(http.MethodPatch, RouteNodePool, res.DataVolumes); err != nil {
		return nil, err
	}
	if res.Flavor == "" || res.Count == nil || res.MaxCount == nil {
		cur, err := c.GetNodePool(ctx, pool, nodePool)
		if err != nil {
			return nil, &notSentError{err}
		}
		now := cur.Spec.Resources
		if res.Flavor == "" {
			res.Flavor = now.Flavor
		}
		if res.Count == nil {
			res.Count = &now.Count
		}
		if res.MaxCount == nil {
			res.MaxCount = &now.MaxCount
		}
	}
	np, err := c.writeNodePool(ctx, http.MethodPatch, RouteNodePool, r, pool, nodePool)
	if err != nil {
		return nil, err
	}
	if np.Metadata.Name == "" {
		np.Metadata.Name = nodePool
	}
	return np, nil
}

// DeleteNodePool deletes a node pool and returns it as the server answered
// (its nodes then go Deleting and the node pool disappears once they are
// gone). Prepaid (yearly/monthly) node pools are refused with a 400.
func (c *Client) DeleteNodePool(ctx context.Context, pool, nodePool string) (*NodePool, error) {
	if err := c.requireArg("pool", pool); err != nil {
		return nil, err
	}
	if err := c.requireArg("node pool", nodePool); err != nil {
		return nil, err
	}
	return c.writeNodePool(ctx, http.MethodDelete, RouteNodePool, nil, pool, nodePool)
}

// writeNodePool sends one write and decodes the node pool it answers. in is
// JSON-encoded as the body unless nil.
func (c *Client) writeNodePool(ctx context.Context, method, route string, in any, args ...string) (*NodePool, error) {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return nil, fmt.Errorf("%s %s: %s %s: encode request: %w", backends.ModelArts, c.cfg.Name, method, route, err)
		}
	}
	data, err := c.do(ctx, method, route, nil, body, args...)
	if err != nil {
		return nil, err
	}
	np, err := decodeOne[NodePool](data)
	if err != nil {
		// The write was accepted (2xx): say so, the caller must not repeat it.
		return nil, &appliedError{c.decodeError(method, route, err)}
	}
	return np, nil
}

// appliedError marks an error that followed a 2xx answer to a write.
type appliedError struct{ err error }

func (e *appliedError) Error() string {
	return e.err.Error() + " (the write was applied)"
}
func (e *appliedError) Unwrap() error { return e.err }

// notSentError marks an error raised before the write was sent (the read
// that fills a patch's required fields).
type notSentError struct{ err error }

func (e *notSentError) Error() string { return e.err.Error() }
func (e *notSentError) Unwrap() error { return e.err }

// MaybeApplied reports whether a failed write may nevertheless have taken
// effect upstream, so that it must be checked (GetNodePool) rather than sent
// again:
//   - a 5xx answer (a gateway's 502/504 can follow a committed write);
//   - a transport failure after the request may have left (timeout, reset,
//     cancelled context); a failure to dial cannot have sent anything;
//   - an undecodable 2xx answer (the write was applied).
//
// A 4xx answer and an error raised before any call (empty name, missing
// pass-through credentials) mean nothing was applied.
func MaybeApplied(err error) bool {
	if err == nil {
		return false
	}
	if _, ok := errors.AsType[*notSentError](err); ok {
		return false
	}
	if _, ok := errors.AsType[*appliedError](err); ok {
		return true
	}
	if ae, ok := errors.AsType[*backends.APIError](err); ok {
		return ae.Status >= 500
	}
	if _, ok := errors.AsType[*backends.TransportError](err); ok {
		if oe, ok := errors.AsType[*net.OpError](err); ok && oe.Op == "dial" {
			return false
		}
		return true
	}
	return false
}
