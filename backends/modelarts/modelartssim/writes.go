package modelartssim

import (
	"maps"
	"net/http"
	"strings"

	"github.com/fleetgraph/fleetgraph/backends/modelarts"
)

// Node-pool writes. Decisions where upstreams.md is silent (B.5, C.2 #6):
//   - CreateNodePool answers 200 (the OpenAPI document's assumption; the
//     CreatePool pages document 200) with the SDK's CreateNodePoolResponse:
//     apiVersion, kind, metadata{name, annotations}, spec, no status.
//   - A name already used in the pool (even by a node pool being deleted)
//     is a 400 ModelArts.50004000, not a 409: ModelArts reports body
//     problems with 50004000 and the document lists no 409.
//   - A pool offers the flavors of its kind (GPU pools: V100, T4, CPU, A100;
//     Ascend pools: snt9, CPU), whether or not a node pool uses them now.
//   - A second DELETE while the node pool is being deleted is a 400; once
//     it is gone, a 404.
//   - Prepaid node pools (billing.mode "1") are created at once (no order
//     or payment step) and cannot be deleted: 400.
//   - Labels, taints and tags on a PATCH replace the node pool's whole
//     value (an empty list or map clears it); absent fields are kept. They
//     are not copied onto the nodes, whose labels are ModelArts' own.
//   - Scaling keeps maxCount >= count: a PATCH raising count above the
//     current maxCount must raise maxCount too.
//   - Every PATCH carries spec.resources.flavor, count and maxCount (SDK and
//     API reference, upstreams-2.md §b); the flavor cannot change. A
//     missing one, or a data volume without extendParams.volumeGroup (on
//     create too), is 400 ModelArts.0101 "Invalid Argument.".

// createAnswer is CreateNodePoolResponse.
type createAnswer struct {
	APIVersion string                 `json:"apiVersion"`
	Kind       string                 `json:"kind"`
	Metadata   createAnswerMeta       `json:"metadata"`
	Spec       modelarts.NodePoolSpec `json:"spec"`
}

type createAnswerMeta struct {
	Name        string            `json:"name"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// patchAnswer is PatchNodePoolResponse.
type patchAnswer struct {
	Metadata patchAnswerMeta        `json:"metadata"`
	Spec     modelarts.NodePoolSpec `json:"spec"`
}

type patchAnswerMeta struct {
	Annotations map[string]string `json:"annotations,omitempty"`
}

func writeBad(w http.ResponseWriter, bad *badRequest) {
	if msg, ok := strings.CutPrefix(string(*bad), invalidArgument); ok {
		writeError(w, http.StatusBadRequest, codeInvalidArgument, "Invalid Argument. "+msg, false)
		return
	}
	writeError(w, http.StatusBadRequest, codeBadRequest, "Bad request. "+string(*bad), false)
}

func (s *Server) handleCreateNodePool(w http.ResponseWriter, r *http.Request) {
	var body createBody
	if bad := readBody(r, &body); bad != nil {
		writeBad(w, bad)
		return
	}
	if bad := checkCreate(&body); bad != nil {
		writeBad(w, bad)
		return
	}
	res := body.Spec.Resources
	name := body.Metadata.Name
	count, maxCount := *res.Count, *res.Count
	if res.MaxCount != nil {
		maxCount = *res.MaxCount
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.lookupPool(w, r)
	if p == nil {
		return
	}
	fl, ok := p.flavor(*res.Flavor)
	if !ok {
		writeBad(w, badf("spec.resources.flavor: %q is not offered by pool %s (%s)", *res.Flavor, p.pool.Metadata.Name, p.flavorNames()))
		return
	}
	if p.nodePool(name) != nil {
		writeBad(w, badf("metadata.name: nodepool %s already exists in pool %s", name, p.pool.Metadata.Name))
		return
	}
	annotations := map[string]string{modelarts.AnnotationBillingMode: modelarts.BillingPayPerUse}
	maps.Copy(annotations, body.Metadata.Annotations)
	image := res.OS
	if image == nil {
		image = &modelarts.OS{Name: fl.os}
	}
	np := &nodePoolState{annotations: annotations, np: modelarts.NodePool{APIVersion: "v2", Kind: "NodePool",
		Metadata: modelarts.Metadata{Name: name},
		Spec: modelarts.NodePoolSpec{Resources: modelarts.PoolResource{
			Flavor: fl.name, Count: count, MaxCount: maxCount, NodePool: name,
			Taints: res.Taints, Labels: res.Labels, Tags: res.Tags, Network: res.Network,
			ExtendParams: res.ExtendParams, CreatingStep: res.CreatingStep, RootVolume: res.RootVolume,
			DataVolumes: res.DataVolumes, OS: image,
		}},
	}}
	p.nodePools = append(p.nodePools, np)
	now := s.opts.Now()
	s.scale(p, np, count, res.AZs, now)
	p.advance(now, s.opts.PhaseDelay)
	p.recount()
	writeJSON(w, http.StatusOK, createAnswer{APIVersion: "v2", Kind: "NodePool",
		Metadata: createAnswerMeta{Name: name, Annotations: annotations}, Spec: np.np.Spec})
}

// checkCreate runs the checks that need no pool.
func checkCreate(b *createBody) *badRequest {
	switch {
	case b.APIVersion == "":
		return badf("apiVersion is required")
	case b.APIVersion != "v2":
		return badf("apiVersion: %q must be v2", b.APIVersion)
	case b.Kind == "":
		return badf("kind is required")
	case b.Kind != "NodePool":
		return badf("kind: %q must be NodePool", b.Kind)
	}
	if bad := checkName(b.Metadata.Name); bad != nil {
		return bad
	}
	if bad := checkAnnotations(b.Metadata.Annotations, true); bad != nil {
		return bad
	}
	if b.Spec == nil || b.Spec.Resources == nil {
		return badf("spec.resources is required")
	}
	res := b.Spec.Resources
	switch {
	case res.Flavor == nil || *res.Flavor == "":
		return badf("spec.resources.flavor is required")
	case res.Count == nil:
		return badf("spec.resources.count is required")
	}
	if bad := checkResources(res); bad != nil {
		return bad
	}
	maxCount := *res.Count // absent: a physical pool's maxCount equals count
	if res.MaxCount != nil {
		maxCount = *res.MaxCount
	}
	return checkCounts(*res.Count, maxCount, res.AZs)
}

func (s *Server) handlePatchNodePool(w http.ResponseWriter, r *http.Request) {
	var body patchBody
	if bad := readBody(r, &body); bad != nil {
		writeBad(w, bad)
		return
	}
	if body.Spec == nil || body.Spec.Resources == nil {
		writeBad(w, badf("spec.resources is required"))
		return
	}
	res := body.Spec.Resources
	// The SDK's PoolResource has no omitempty on flavor, count and maxCount,
	// and the PatchNodePool page marks them mandatory: every PATCH carries
	// them, the current values for what does not change.
	switch {
	case res.Flavor == nil || *res.Flavor == "":
		writeBad(w, missingf("spec.resources.flavor is required"))
		return
	case res.Count == nil:
		writeBad(w, missingf("spec.resources.count is required"))
		return
	case res.MaxCount == nil:
		writeBad(w, missingf("spec.resources.maxCount is required"))
		return
	}
	var annotations map[string]string
	if body.Metadata != nil {
		annotations = body.Metadata.Annotations
	}
	if bad := checkAnnotations(annotations, false); bad != nil {
		writeBad(w, bad)
		return
	}
	if bad := checkResources(res); bad != nil {
		writeBad(w, bad)
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	p, np := s.lookupNodePool(w, r)
	if np == nil {
		return
	}
	if !np.deletedAt.IsZero() {
		writeBad(w, badf("nodepool %s is being deleted", np.np.Metadata.Name))
		return
	}
	cur := np.np.Spec.Resources
	if res.Flavor != nil && *res.Flavor != cur.Flavor {
		writeBad(w, badf("spec.resources.flavor: cannot change from %q to %q", cur.Flavor, *res.Flavor))
		return
	}
	if res.Count != nil {
		cur.Count = *res.Count
	}
	if res.MaxCount != nil {
		cur.MaxCount = *res.MaxCount
	}
	if bad := checkCounts(cur.Count, cur.MaxCount, res.AZs); bad != nil {
		writeBad(w, bad)
		return
	}
	if res.Taints != nil {
		cur.Taints = nilIfEmpty(res.Taints)
	}
	if res.Labels != nil {
		cur.Labels = res.Labels
		if len(cur.Labels) == 0 {
			cur.Labels = nil
		}
	}
	if res.Tags != nil {
		cur.Tags = nilIfEmpty(res.Tags)
	}
	if x := res.ExtendParams; x != nil {
		cur.ExtendParams = mergeExtendParams(cur.ExtendParams, x)
	}
	if res.DataVolumes != nil {
		// A merge patch replaces arrays whole (RFC 7386).
		cur.DataVolumes = nilIfEmpty(res.DataVolumes)
	}
	np.np.Spec.Resources = cur
	maps.Copy(np.annotations, annotations)
	now := s.opts.Now()
	s.scale(p, np, cur.Count, res.AZs, now)
	p.advance(now, s.opts.PhaseDelay)
	p.recount()
	writeJSON(w, http.StatusOK, patchAnswer{Metadata: patchAnswerMeta{Annotations: np.annotations}, Spec: np.np.Spec})
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

// mergeExtendParams sets the fields x carries.
func mergeExtendParams(cur, x *modelarts.ResourceExtendParams) *modelarts.ResourceExtendParams {
	out := modelarts.ResourceExtendParams{}
	if cur != nil {
		out = *cur
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&out.DockerBaseSize, x.DockerBaseSize)
	set(&out.PostInstall, x.PostInstall)
	set(&out.Runtime, x.Runtime)
	set(&out.LabelPolicyOnExistingNodes, x.LabelPolicyOnExistingNodes)
	set(&out.TaintPolicyOnExistingNodes, x.TaintPolicyOnExistingNodes)
	set(&out.TagPolicyOnExistingNodes, x.TagPolicyOnExistingNodes)
	set(&out.XParameterPlaneSubnet, x.XParameterPlaneSubnet)
	set(&out.NodePoolName, x.NodePoolName)
	return &out
}

func (s *Server) handleDeleteNodePool(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, np := s.lookupNodePool(w, r)
	if np == nil {
		return
	}
	name := np.np.Metadata.Name
	switch {
	case !np.deletedAt.IsZero():
		writeBad(w, badf("nodepool %s is already being deleted", name))
		return
	case np.annotations[modelarts.AnnotationBillingMode] == modelarts.BillingPrepaid:
		writeBad(w, badf("nodepool %s is billed yearly/monthly (%s=1) and cannot be deleted; unsubscribe it instead",
			name, modelarts.AnnotationBillingMode))
		return
	}
	now := s.opts.Now()
	np.deletedAt = now
	for i, n := range p.nodes {
		if n.NodePoolName() == name && n.Status.Phase != modelarts.NodeDeleting {
			p.deleteNode(i, now)
		}
	}
	p.recount()
	answer := clone(np.np) // as it stands now: its nodes deleting
	p.advance(now, s.opts.PhaseDelay)
	p.recount()
	writeJSON(w, http.StatusOK, answer)
}
