package modelarts_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/backends/modelarts"
	"github.com/fleetgraph/fleetgraph/backends/modelarts/modelartssim"
	"github.com/fleetgraph/fleetgraph/internal/testutil"
)

// checkRejected checks a write the simulator refused: the sentinel, the
// vendor code, and the field named in error_msg.
func checkRejected(t *testing.T, err error, sentinel error, code, field string) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("err = %v, want %v", err, sentinel)
	}
	ae, ok := errors.AsType[*backends.APIError](err)
	if !ok {
		t.Fatalf("err = %T %v, want *backends.APIError", err, err)
	}
	if ae.Code != code || !strings.Contains(ae.Message, field) {
		t.Errorf("APIError code %q message %q, want %s naming %q", ae.Code, ae.Message, code, field)
	}
	if modelarts.MaybeApplied(err) {
		t.Errorf("MaybeApplied(%v) = true for a rejected write", err)
	}
}

// skipBadRequests marks the requests of a case whose body breaks the
// document on purpose (an enum value): only the answer is validated.
func skipBadRequests(e *env, badInput bool) {
	e.adjust = func(ex *testutil.Exchange) {
		if ex.Method != http.MethodGet {
			ex.SkipRequest = badInput
		}
	}
}

func TestCreateNodePoolValidation(t *testing.T) {
	t.Parallel()
	type req = modelarts.CreateNodePoolRequest
	res := func(f func(*modelarts.PoolResource)) func(*req) {
		return func(r *req) { f(&r.Spec.Resources) }
	}
	annotate := func(kv ...string) func(*req) {
		return func(r *req) {
			r.Metadata.Annotations = map[string]string{}
			for i := 0; i < len(kv); i += 2 {
				r.Metadata.Annotations[kv[i]] = kv[i+1]
			}
		}
	}
	tests := []struct {
		name     string
		mod      func(*req)
		field    string // must appear in error_msg
		badInput bool   // the body breaks the OpenAPI document (enum)
	}{
		{name: "apiVersion", mod: func(r *req) { r.APIVersion = "v1" }, field: "apiVersion", badInput: true},
		{name: "kind", mod: func(r *req) { r.Kind = "Node" }, field: "kind", badInput: true},
		{name: "name missing", mod: func(r *req) { r.Metadata.Name = "" }, field: "metadata.name is required"},
		{name: "name too short", mod: func(r *req) { r.Metadata.Name = "a" }, field: "metadata.name"},
		{name: "name too long", mod: func(r *req) { r.Metadata.Name = "a" + strings.Repeat("b", 50) }, field: "metadata.name"},
		{name: "name starts with a digit", mod: func(r *req) { r.Metadata.Name = "1pool" }, field: "metadata.name"},
		{name: "name upper case", mod: func(r *req) { r.Metadata.Name = "Pool-a" }, field: "metadata.name"},
		{name: "name underscore", mod: func(r *req) { r.Metadata.Name = "pool_a" }, field: "metadata.name"},
		{name: "name ends with -", mod: func(r *req) { r.Metadata.Name = "pool-" }, field: "metadata.name"},
		{name: "name ends with -default", mod: func(r *req) { r.Metadata.Name = "gpu-default" }, field: "metadata.name"},
		{name: "flavor missing", mod: res(func(r *modelarts.PoolResource) { r.Flavor = "" }), field: "spec.resources.flavor is required"},
		{name: "flavor unknown", mod: res(func(r *modelarts.PoolResource) { r.Flavor = "modelarts.vm.gpu.a100" }), field: "spec.resources.flavor"},
		{name: "flavor of another pool kind", mod: res(func(r *modelarts.PoolResource) { r.Flavor = "modelarts.bm.npu.arm.8snt9b3.d" }), field: "spec.resources.flavor"},
		{name: "count negative", mod: res(func(r *modelarts.PoolResource) { r.Count = -1 }), field: "spec.resources.count"},
		{name: "maxCount below count", mod: res(func(r *modelarts.PoolResource) { r.MaxCount = 1 }), field: "spec.resources.maxCount"},
		{name: "azs do not add up", mod: res(func(r *modelarts.PoolResource) {
			r.AZs = []modelarts.AZCount{{AZ: "cn-north-4a", Count: 1}}
		}), field: "spec.resources.azs"},
		{name: "az unknown", mod: res(func(r *modelarts.PoolResource) {
			r.AZs = []modelarts.AZCount{{AZ: "eu-west-0a", Count: 2}}
		}), field: "spec.resources.azs[0].az"},
		{name: "taint key missing", mod: res(func(r *modelarts.PoolResource) {
			r.Taints = []modelarts.Taint{{Effect: "NoSchedule"}}
		}), field: "spec.resources.taints[0].key"},
		{name: "taint key invalid", mod: res(func(r *modelarts.PoolResource) {
			r.Taints = []modelarts.Taint{{Key: "bad key", Effect: "NoSchedule"}}
		}), field: "spec.resources.taints[0].key"},
		{name: "taint effect", mod: res(func(r *modelarts.PoolResource) {
			r.Taints = []modelarts.Taint{{Key: "k", Effect: "Sometimes"}}
		}), field: "spec.resources.taints[0].effect", badInput: true},
		{name: "label key", mod: res(func(r *modelarts.PoolResource) { r.Labels = map[string]string{"-team": "a"} }), field: "spec.resources.labels"},
		{name: "label key prefix", mod: res(func(r *modelarts.PoolResource) { r.Labels = map[string]string{"Example.COM/team": "a"} }), field: "spec.resources.labels"},
		{name: "label value", mod: res(func(r *modelarts.PoolResource) { r.Labels = map[string]string{"team": "a b"} }), field: "spec.resources.labels[team]"},
		{name: "tag key", mod: res(func(r *modelarts.PoolResource) { r.Tags = []modelarts.UserTag{{Key: "CCE-owner", Value: "x"}} }), field: "spec.resources.tags[0].key"},
		{name: "runtime", mod: res(func(r *modelarts.PoolResource) {
			r.ExtendParams = &modelarts.ResourceExtendParams{Runtime: "podman"}
		}), field: "spec.resources.extendParams.runtime", badInput: true},
		{name: "billing mode", mod: annotate(modelarts.AnnotationBillingMode, "2"), field: "metadata.annotations[os.modelarts/billing.mode]", badInput: true},
		{name: "prepaid without a period", mod: annotate(modelarts.AnnotationBillingMode, "1"), field: "metadata.annotations[os.modelarts/period.type]"},
		{name: "period not a number", mod: annotate(modelarts.AnnotationPeriodNum, "two"), field: "metadata.annotations[os.modelarts/period.num]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, writeOpts())
			skipBadRequests(e, tc.badInput)
			c := e.client(t, modelarts.Config{Token: e.sim.IssueToken()})
			pool := e.sim.Fleet().Pools[0].Metadata.Name
			r := t4Pool("valid-name", 2)
			tc.mod(&r)
			_, err := c.CreateNodePool(t.Context(), pool, r)
			checkRejected(t, err, backends.ErrBadRequest, "ModelArts.50004000", tc.field)
			if n := len(e.sim.Fleet().NodePools[pool]); n != 1 {
				t.Errorf("%d node pools after a rejected create, want 1", n)
			}
			if n := e.sim.Control().Count(modelartssim.RouteCreateNodePool); n != 1 {
				t.Errorf("POST counted %d times, want 1", n)
			}
		})
	}
}

func TestNodePoolWriteRefusals(t *testing.T) {
	t.Parallel()
	patch := func(p modelarts.PoolResourcePatch) modelarts.PatchNodePoolRequest {
		return modelarts.PatchNodePoolRequest{Spec: modelarts.PatchNodePoolSpec{Resources: p}}
	}
	doPatch := func(nodePool string, r modelarts.PatchNodePoolRequest) func(context.Context, *modelarts.Client, string) error {
		return func(ctx context.Context, c *modelarts.Client, pool string) error {
			_, err := c.PatchNodePool(ctx, pool, nodePool, r)
			return err
		}
	}
	tests := []struct {
		name     string
		call     func(context.Context, *modelarts.Client, string) error
		sentinel error
		code     string
		field    string
		badInput bool
	}{
		{
			name: "create, duplicate name", call: create("nodepool-1", 1),
			sentinel: backends.ErrBadRequest, code: "ModelArts.50004000", field: "nodepool nodepool-1 already exists",
		},
		{
			name: "create, unknown pool", sentinel: backends.ErrNotFound, code: "ModelArts.50015001", field: unknownPool,
			call: func(ctx context.Context, c *modelarts.Client, _ string) error {
				_, err := c.CreateNodePool(ctx, unknownPool, t4Pool("fresh", 1))
				return err
			},
		},
		{
			name: "patch, count above maxCount", call: doPatch("nodepool-1", patch(modelarts.PoolResourcePatch{Count: new(3)})),
			sentinel: backends.ErrBadRequest, code: "ModelArts.50004000", field: "spec.resources.maxCount",
		},
		{
			name: "patch, negative count", call: doPatch("nodepool-1", patch(modelarts.PoolResourcePatch{Count: new(-1)})),
			sentinel: backends.ErrBadRequest, code: "ModelArts.50004000", field: "spec.resources.count",
		},
		{
			name: "patch, azs do not add up", call: doPatch("nodepool-1", patch(modelarts.PoolResourcePatch{
				AZs: []modelarts.AZCount{{AZ: "cn-north-4a", Count: 5}},
			})),
			sentinel: backends.ErrBadRequest, code: "ModelArts.50004000", field: "spec.resources.azs",
		},
		{
			name: "patch, flavor change", call: doPatch("nodepool-1", patch(modelarts.PoolResourcePatch{Flavor: flavorT4})),
			sentinel: backends.ErrBadRequest, code: "ModelArts.50004000", field: "spec.resources.flavor",
		},
		{
			name: "patch, taint effect", badInput: true,
			call:     doPatch("nodepool-1", patch(modelarts.PoolResourcePatch{Taints: []modelarts.Taint{{Key: "k", Effect: "Never"}}})),
			sentinel: backends.ErrBadRequest, code: "ModelArts.50004000", field: "spec.resources.taints[0].effect",
		},
		{
			name: "patch, label value", call: doPatch("nodepool-1", patch(modelarts.PoolResourcePatch{Labels: map[string]string{"a": strings.Repeat("x", 64)}})),
			sentinel: backends.ErrBadRequest, code: "ModelArts.50004000", field: "spec.resources.labels[a]",
		},
		{
			name: "patch, hourly period", badInput: true, // PatchNodePoolAnnotations allows months and years only
			call: doPatch("nodepool-1", modelarts.PatchNodePoolRequest{
				Metadata: &modelarts.PatchNodePoolMetadata{Annotations: map[string]string{modelarts.AnnotationPeriodType: "4"}},
				Spec:     modelarts.PatchNodePoolSpec{Resources: modelarts.PoolResourcePatch{Count: new(2)}},
			}),
			sentinel: backends.ErrBadRequest, code: "ModelArts.50004000", field: "metadata.annotations[os.modelarts/period.type]",
		},
		{
			name: "patch, unknown node pool", call: doPatch("nodepool-9", patch(modelarts.PoolResourcePatch{Count: new(1)})),
			sentinel: backends.ErrNotFound, code: "ModelArts.50015001", field: "nodepool-9",
		},
		{
			name: "delete, unknown node pool", sentinel: backends.ErrNotFound, code: "ModelArts.50015001", field: "nodepool-9",
			call: func(ctx context.Context, c *modelarts.Client, pool string) error {
				_, err := c.DeleteNodePool(ctx, pool, "nodepool-9")
				return err
			},
		},
		{
			name: "delete, unknown pool", sentinel: backends.ErrNotFound, code: "ModelArts.50015001", field: unknownPool,
			call: func(ctx context.Context, c *modelarts.Client, _ string) error {
				_, err := c.DeleteNodePool(ctx, unknownPool, "nodepool-1")
				return err
			},
		},
		{
			name: "delete, prepaid", sentinel: backends.ErrBadRequest, code: "ModelArts.50004000", field: "yearly/monthly",
			call: func(ctx context.Context, c *modelarts.Client, pool string) error {
				r := t4Pool("prepaid", 1)
				r.Metadata.Annotations = map[string]string{modelarts.AnnotationBillingMode: modelarts.BillingPrepaid,
					modelarts.AnnotationPeriodType: "2", modelarts.AnnotationPeriodNum: "1"}
				if _, err := c.CreateNodePool(ctx, pool, r); err != nil {
					return err
				}
				_, err := c.DeleteNodePool(ctx, pool, "prepaid")
				return err
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, writeOpts())
			skipBadRequests(e, tc.badInput)
			c := e.client(t, modelarts.Config{Token: e.sim.IssueToken()})
			pool := e.sim.Fleet().Pools[0].Metadata.Name
			before := e.sim.Fleet().NodePools[pool][0]
			checkRejected(t, tc.call(t.Context(), c, pool), tc.sentinel, tc.code, tc.field)
			after := e.sim.Fleet().NodePools[pool][0]
			if after.Spec.Resources.Count != before.Spec.Resources.Count || countsOf(&after) != countsOf(&before) {
				t.Errorf("nodepool-1 changed by a refused write: %+v -> %+v", before.Spec.Resources, after.Spec.Resources)
			}
		})
	}
}
