package modelartssim_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fleetgraph/fleetgraph/backends/modelarts"
	"github.com/fleetgraph/fleetgraph/backends/modelarts/modelartssim"
	"github.com/fleetgraph/fleetgraph/internal/testutil"
)

// send makes a write; auth is "token" or "aksk" (signed over body at t0).
// tamper, when set, replaces the body after signing.
func (h *harness) send(t *testing.T, method, path, auth, contentType, body, tamper string) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, h.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	switch auth {
	case "token":
		req.Header.Set("X-Auth-Token", h.sim.IssueToken())
	case "aksk":
		req.Header.Set("Host", req.URL.Host)
		if err := modelarts.Sign(req, []byte(body), modelartssim.DefaultAccessKey, modelartssim.DefaultSecretKey, t0); err != nil {
			t.Fatal(err)
		}
	}
	if tamper != "" {
		req.Body = io.NopCloser(strings.NewReader(tamper))
		req.ContentLength = int64(len(tamper))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: out}
}

const jsonUTF8 = "application/json;charset=UTF-8"

func TestWriteRequestsOnTheWire(t *testing.T) {
	t.Parallel()
	h := start(t, modelartssim.Options{Seed: 5, Pools: 2, NodePoolsPerPool: 1, NodesPerNodePool: 1})
	f := h.sim.Fleet()
	gpu, ascend := f.Pools[0].Metadata.Name, f.Pools[1].Metadata.Name
	nodepools := func(pool string) string { return "/v2/" + h.sim.ProjectID() + "/pools/" + pool + "/nodepools" }
	body := func(name, resources string) string {
		return `{"apiVersion":"v2","kind":"NodePool","metadata":{"name":"` + name + `"},"spec":{"resources":` + resources + `}}`
	}
	tests := []struct {
		name, method, path, auth, contentType, body, tamper string

		status   int
		code     string
		msg      string // in error_msg, or in the success body
		badInput bool   // the request breaks the document on purpose
	}{
		{name: "count not an integer", method: "POST", path: nodepools(gpu), body: body("np-a", `{"flavor":"modelarts.vm.gpu.t4u8","count":1.5,"maxCount":2}`),
			status: 400, code: "ModelArts.50004000", msg: "spec.resources.count: must be an integer", badInput: true},
		{name: "count a string", method: "POST", path: nodepools(gpu), body: body("np-a", `{"flavor":"modelarts.vm.gpu.t4u8","count":"2","maxCount":2}`),
			status: 400, code: "ModelArts.50004000", msg: "spec.resources.count: must be an integer", badInput: true},
		{name: "not JSON", method: "POST", path: nodepools(gpu), body: `{"apiVersion":`,
			status: 400, code: "ModelArts.50004000", msg: "not valid JSON", badInput: true},
		{name: "not a JSON content type", method: "POST", path: nodepools(gpu), contentType: "text/plain", body: body("np-a", `{"flavor":"modelarts.vm.gpu.t4u8","count":1,"maxCount":1}`),
			status: 400, code: "ModelArts.50004000", msg: "Content-Type", badInput: true},
		{name: "no apiVersion", method: "POST", path: nodepools(gpu), body: `{"kind":"NodePool","metadata":{"name":"np-a"},"spec":{"resources":{"flavor":"modelarts.vm.gpu.t4u8","count":1,"maxCount":1}}}`,
			status: 400, code: "ModelArts.50004000", msg: "apiVersion is required", badInput: true},
		{name: "no spec", method: "POST", path: nodepools(gpu), body: `{"apiVersion":"v2","kind":"NodePool","metadata":{"name":"np-a"}}`,
			status: 400, code: "ModelArts.50004000", msg: "spec.resources is required"},
		{name: "no count", method: "POST", path: nodepools(gpu), body: body("np-a", `{"flavor":"modelarts.vm.gpu.t4u8","maxCount":1}`),
			status: 400, code: "ModelArts.50004000", msg: "spec.resources.count is required", badInput: true},
		{name: "count too large", method: "POST", path: nodepools(gpu), body: body("np-a", `{"flavor":"modelarts.vm.gpu.t4u8","count":100000,"maxCount":100000}`),
			status: 400, code: "ModelArts.50004000", msg: "spec.resources.count"},
		{name: "no maxCount: it defaults to count", method: "POST", path: nodepools(gpu), body: body("np-b", `{"flavor":"modelarts.vm.gpu.t4u8","count":2}`),
			status: 200, msg: `"count":2,"maxCount":2`, badInput: true},
		{name: "Ascend flavor in an Ascend pool, AK/SK", method: "POST", path: nodepools(ascend), auth: "aksk",
			body:   body("npu-a", `{"flavor":"modelarts.bm.npu.arm.8snt9b3.d","count":1,"maxCount":1,"extendParams":{"runtime":"containerd"}}`),
			status: 200, msg: `"flavor":"modelarts.bm.npu.arm.8snt9b3.d"`},
		{name: "body changed after signing", method: "POST", path: nodepools(ascend), auth: "aksk",
			body:   body("npu-b", `{"flavor":"modelarts.bm.npu.arm.8snt9b3.d","count":1,"maxCount":1}`),
			tamper: body("npu-b", `{"flavor":"modelarts.bm.npu.arm.8snt9b3.d","count":9,"maxCount":9}`),
			status: 401, code: "APIGW.0301", msg: "verify aksk signature fail"},
		{name: "merge-patch content type", method: "PATCH", path: nodepools(gpu) + "/nodepool-1", contentType: "application/merge-patch+json",
			body: `{"spec":{"resources":{"flavor":"modelarts.bm.gpu.8v100","count":2,"maxCount":2}}}`, status: 200, msg: `"count":2`},
		{name: "patch without spec", method: "PATCH", path: nodepools(gpu) + "/nodepool-1", body: `{"metadata":{}}`,
			status: 400, code: "ModelArts.50004000", msg: "spec.resources is required", badInput: true},
		{name: "patch without flavor", method: "PATCH", path: nodepools(gpu) + "/nodepool-1", body: `{"spec":{"resources":{"count":2,"maxCount":2}}}`,
			status: 400, code: "ModelArts.0101", msg: "Invalid Argument. spec.resources.flavor is required", badInput: true},
		{name: "patch without count", method: "PATCH", path: nodepools(gpu) + "/nodepool-1", body: `{"spec":{"resources":{"flavor":"modelarts.bm.gpu.8v100","maxCount":2}}}`,
			status: 400, code: "ModelArts.0101", msg: "spec.resources.count is required", badInput: true},
		{name: "patch without maxCount", method: "PATCH", path: nodepools(gpu) + "/nodepool-1", body: `{"spec":{"resources":{"flavor":"modelarts.bm.gpu.8v100","count":2}}}`,
			status: 400, code: "ModelArts.0101", msg: "spec.resources.maxCount is required", badInput: true},
		{name: "create, data volume without volumeGroup", method: "POST", path: nodepools(gpu),
			body:   body("np-v", `{"flavor":"modelarts.vm.gpu.t4u8","count":1,"maxCount":1,"dataVolumes":[{"volumeType":"SSD","size":"100"}]}`),
			status: 400, code: "ModelArts.0101", msg: "spec.resources.dataVolumes[0].extendParams.volumeGroup is required", badInput: true},
		{name: "patch, data volume with an empty volumeGroup", method: "PATCH", path: nodepools(gpu) + "/nodepool-1",
			body:   `{"spec":{"resources":{"flavor":"modelarts.bm.gpu.8v100","count":2,"maxCount":2,"dataVolumes":[{"volumeType":"SSD","size":"100","extendParams":{"volumeGroup":""}}]}}}`,
			status: 400, code: "ModelArts.0101", msg: "spec.resources.dataVolumes[0].extendParams.volumeGroup is required"},
		{name: "create, data volume with an unknown volumeGroup", method: "POST", path: nodepools(gpu),
			body:   body("np-v", `{"flavor":"modelarts.vm.gpu.t4u8","count":1,"maxCount":1,"dataVolumes":[{"volumeType":"SSD","size":"100","extendParams":{"volumeGroup":"vg-other"}}]}`),
			status: 400, code: "ModelArts.50004000", msg: "volumeGroup: \\\"vg-other\\\" must be vgpaas"},
		{name: "create, data volume with volumeGroup", method: "POST", path: nodepools(gpu),
			body:   body("np-v", `{"flavor":"modelarts.vm.gpu.t4u8","count":1,"maxCount":1,"dataVolumes":[{"volumeType":"SSD","size":"100","extendParams":{"volumeGroup":"vguser1"}}]}`),
			status: 200, msg: `"volumeGroup":"vguser1"`},
		{name: "patch, maxCount not an integer", method: "PATCH", path: nodepools(gpu) + "/nodepool-1", body: `{"spec":{"resources":{"flavor":"modelarts.bm.gpu.8v100","count":2,"maxCount":true}}}`,
			status: 400, code: "ModelArts.50004000", msg: "spec.resources.maxCount", badInput: true},
	}
	spec := testutil.LoadSpec(t, "modelarts-openapi-v2.json")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			auth, ct := tc.auth, tc.contentType
			if auth == "" {
				auth = "token"
			}
			if ct == "" {
				ct = jsonUTF8
			}
			a := h.send(t, tc.method, tc.path, auth, ct, tc.body, tc.tamper)
			if a.status != tc.status || a.errorCode(t) != tc.code || !bytes.Contains(a.body, []byte(tc.msg)) {
				t.Fatalf("%d %s, want %d %q containing %q", a.status, a.body, tc.status, tc.code, tc.msg)
			}
			ex := h.rec.Exchanges()
			last := ex[len(ex)-1]
			last.SkipRequest = tc.badInput
			if err := spec.Validate(last); err != nil {
				t.Errorf("OpenAPI: %v", err)
			}
		})
	}
	checkConsistent(t, h.sim.Fleet())

	stats := h.sim.Control().Stats()
	for _, route := range []string{
		"POST /v2/{project_id}/pools/{pool_name}/nodepools",
		"PATCH /v2/{project_id}/pools/{pool_name}/nodepools/{nodepool_name}",
	} {
		if stats[route] == 0 {
			t.Errorf("no counter under %q: %v", route, stats)
		}
	}
}

// TestImmediatePhases: a negative PhaseDelay applies every step at once.
func TestImmediatePhases(t *testing.T) {
	t.Parallel()
	h := start(t, modelartssim.Options{Pools: 1, NodePoolsPerPool: 1, NodesPerNodePool: 1, PhaseDelay: -1})
	pool := h.sim.Fleet().Pools[0].Metadata.Name
	path := "/v2/" + h.sim.ProjectID() + "/pools/" + pool + "/nodepools"
	create := `{"apiVersion":"v2","kind":"NodePool","metadata":{"name":"now"},"spec":{"resources":{"flavor":"modelarts.vm.cpu.4ud","count":3,"maxCount":3}}}`
	if a := h.send(t, "POST", path, "token", jsonUTF8, create, ""); a.status != 200 {
		t.Fatalf("create: %d %s", a.status, a.body)
	}
	if got := phasesOf(h.sim.Fleet(), pool, "now"); got[modelarts.NodeAvailable] != 3 || len(got) != 1 {
		t.Errorf("after create: %v, want 3 Available", got)
	}
	if a := h.send(t, "PATCH", path+"/now", "token", jsonUTF8, `{"spec":{"resources":{"flavor":"modelarts.vm.cpu.4ud","count":1,"maxCount":1}}}`, ""); a.status != 200 {
		t.Fatalf("patch: %d %s", a.status, a.body)
	}
	if got := phasesOf(h.sim.Fleet(), pool, "now"); got[modelarts.NodeAvailable] != 1 || len(got) != 1 {
		t.Errorf("after scale-down: %v, want 1 Available", got)
	}
	a := h.send(t, "DELETE", path+"/now", "token", "", "", "")
	var np modelarts.NodePool
	if err := json.Unmarshal(a.body, &np); a.status != 200 || err != nil || np.Status.Resources.Deleting == nil {
		t.Fatalf("delete: %d %s", a.status, a.body)
	}
	f := h.sim.Fleet()
	if len(f.NodePools[pool]) != 1 || len(f.Nodes[pool]) != 1 {
		t.Errorf("after delete: %d node pools, %d nodes; want the seeded 1 and 1", len(f.NodePools[pool]), len(f.Nodes[pool]))
	}
	checkConsistent(t, f)
}

// TestPhasesFollowTheClock walks a create through its steps on a settable
// clock, with the pool-level counts in step.
func TestPhasesFollowTheClock(t *testing.T) {
	t.Parallel()
	clk := &fixedClock{t: t0}
	h := start(t, modelartssim.Options{Pools: 1, NodePoolsPerPool: 1, NodesPerNodePool: 1, Now: clk.Now, PhaseDelay: time.Minute})
	pool := h.sim.Fleet().Pools[0].Metadata.Name
	path := "/v2/" + h.sim.ProjectID() + "/pools/" + pool + "/nodepools"
	create := `{"apiVersion":"v2","kind":"NodePool","metadata":{"name":"later"},"spec":{"resources":{"flavor":"modelarts.vm.cpu.4ud","count":2,"maxCount":2}}}`
	if a := h.send(t, "POST", path, "token", jsonUTF8, create, ""); a.status != 200 {
		t.Fatalf("create: %d %s", a.status, a.body)
	}
	for _, step := range []struct {
		at    time.Duration
		phase string
	}{{0, modelarts.NodeCreating}, {59 * time.Second, modelarts.NodeCreating}, {time.Minute, modelarts.NodeChecking}, {2 * time.Minute, modelarts.NodeAvailable}} {
		clk.mu.Lock()
		clk.t = t0.Add(step.at)
		clk.mu.Unlock()
		f := h.sim.Fleet()
		if got := phasesOf(f, pool, "later"); got[step.phase] != 2 {
			t.Errorf("at +%v: %v, want 2 %s", step.at, got, step.phase)
		}
		checkConsistent(t, f)
	}
	if a := h.send(t, "DELETE", path+"/later", "token", "", "", ""); a.status != 200 {
		t.Fatalf("delete: %d %s", a.status, a.body)
	}
	if got := phasesOf(h.sim.Fleet(), pool, "later"); got[modelarts.NodeDeleting] != 2 {
		t.Errorf("after delete: %v, want 2 Deleting", got)
	}
	clk.mu.Lock()
	clk.t = clk.t.Add(time.Minute)
	clk.mu.Unlock()
	if f := h.sim.Fleet(); len(f.NodePools[pool]) != 1 || len(f.Nodes[pool]) != 1 {
		t.Errorf("a minute after delete: %d node pools, %d nodes; want 1 and 1", len(f.NodePools[pool]), len(f.Nodes[pool]))
	}
}

func phasesOf(f modelartssim.Fleet, pool, nodePool string) map[string]int {
	out := map[string]int{}
	for _, n := range nodesOf(f, pool, nodePool) {
		out[n.Status.Phase]++
	}
	return out
}

// checkConsistent: the pool's spec.resources add up the node pools' specs,
// and every status.resources count (pool and node pool) adds up the nodes.
func checkConsistent(t *testing.T, f modelartssim.Fleet) {
	t.Helper()
	for _, p := range f.Pools {
		name := p.Metadata.Name
		spec, want := 0, 0
		for _, r := range p.Spec.Resources {
			spec += r.Count
		}
		for _, np := range f.NodePools[name] {
			want += np.Spec.Resources.Count
			live := 0
			for ph, n := range phasesOf(f, name, np.Metadata.Name) {
				if ph != modelarts.NodeDeleting {
					live += n
				}
			}
			st := np.Status.Resources
			total := 0
			for _, b := range []*modelarts.PoolResourceFlavorCount{st.Creating, st.Available, st.Abnormal, st.Deleting} {
				if b != nil {
					total += b.Count
				}
			}
			if n := len(nodesOf(f, name, np.Metadata.Name)); total != n {
				t.Errorf("node pool %s: status counts %d nodes, %d exist", np.Metadata.Name, total, n)
			}
			if st.Deleting == nil && live != np.Spec.Resources.Count {
				t.Errorf("node pool %s: %d live nodes, spec.count %d", np.Metadata.Name, live, np.Spec.Resources.Count)
			}
		}
		if spec != want {
			t.Errorf("pool %s: spec.resources count %d, node pools %d", name, spec, want)
		}
		st := p.Status.Resources
		if got := st.Available.Total() + st.Abnormal.Total() + st.Creating.Total() + st.Deleting.Total(); got != len(f.Nodes[name]) {
			t.Errorf("pool %s: status.resources %d, %d nodes", name, got, len(f.Nodes[name]))
		}
	}
}

func nodesOf(f modelartssim.Fleet, pool, nodePool string) []modelarts.Node {
	var out []modelarts.Node
	for _, n := range f.Nodes[pool] {
		if n.NodePoolName() == nodePool {
			out = append(out, n)
		}
	}
	return out
}
