package modelartssim_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetgraph/fleetgraph/backends/modelarts"
	"github.com/fleetgraph/fleetgraph/backends/modelarts/modelartssim"
	"github.com/fleetgraph/fleetgraph/backends/simctl"
	"github.com/fleetgraph/fleetgraph/internal/testutil"
)

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

type fixedClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fixedClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

type harness struct {
	sim *modelartssim.Server
	srv *httptest.Server
	rec *testutil.Recorder
}

func start(t *testing.T, opts modelartssim.Options) *harness {
	t.Helper()
	if opts.Now == nil {
		opts.Now = (&fixedClock{t: t0}).Now
	}
	sim := modelartssim.New(opts)
	rec := &testutil.Recorder{Next: sim.Handler()}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	return &harness{sim: sim, srv: srv, rec: rec}
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) errorCode(t *testing.T) string {
	t.Helper()
	var e struct {
		Code string `json:"error_code"`
	}
	_ = json.Unmarshal(a.body, &e)
	return e.Code
}

// get sends a request; auth is "token" (a fresh X-Auth-Token), "aksk" (signed
// with the default keys at t0), or "" for none.
func (h *harness) get(t *testing.T, path, auth string, mod ...func(*http.Request)) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, h.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	switch auth {
	case "token":
		req.Header.Set("X-Auth-Token", h.sim.IssueToken())
	case "aksk":
		req.Header.Set("Host", req.URL.Host)
		if err := modelarts.Sign(req, nil, modelartssim.DefaultAccessKey, modelartssim.DefaultSecretKey, t0); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range mod {
		m(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: body}
}

var (
	poolNameRE = regexp.MustCompile(`^[a-z][a-z0-9-]*[a-z0-9]$`)
	nodeNameRE = regexp.MustCompile(`^os-node-created-[bcdfghjklmnpqrstvwxz2456789]{5}$`)
	ipRE       = regexp.MustCompile(`^192\.168\.\d{1,3}\.\d{1,3}$`)
)

func TestFleetIsDeterministicAndConsistent(t *testing.T) {
	t.Parallel()
	opts := modelartssim.Options{Seed: 42, Now: time.Now}
	a, b := modelartssim.New(opts).Fleet(), modelartssim.New(opts).Fleet()
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed, different fleets")
	}
	if c := modelartssim.New(modelartssim.Options{Seed: 43}).Fleet(); c.Pools[0].Metadata.Name == a.Pools[0].Metadata.Name {
		t.Error("different seeds, same pool name")
	}
	if len(a.Pools) != 2 {
		t.Fatalf("%d pools, want the default 2", len(a.Pools))
	}

	phases := map[string]int{}
	accels := map[string]bool{}
	names := map[string]bool{}
	for _, p := range a.Pools {
		name := p.Metadata.Name
		if n := len(name); n < 36 || n > 63 || !poolNameRE.MatchString(name) {
			t.Errorf("pool name %q breaks the 36..63 pool-ID rule", name)
		}
		if p.Metadata.Labels[modelarts.LabelPoolName] == "" || p.Spec.Type != "Dedicate" {
			t.Errorf("pool %s: labels %v type %q", name, p.Metadata.Labels, p.Spec.Type)
		}
		nps := a.NodePools[name]
		if len(nps) != 3 {
			t.Errorf("pool %s: %d node pools, want 3", name, len(nps))
		}
		specTotal := 0
		for _, r := range p.Spec.Resources {
			specTotal += r.Count
		}
		if specTotal != len(a.Nodes[name]) {
			t.Errorf("pool %s: spec.resources count %d, %d nodes", name, specTotal, len(a.Nodes[name]))
		}
		st := p.Status.Resources
		if got := st.Available.Total() + st.Abnormal.Total() + st.Creating.Total() + st.Deleting.Total(); got != len(a.Nodes[name]) {
			t.Errorf("pool %s: status.resources count %d, %d nodes", name, got, len(a.Nodes[name]))
		}
		for _, np := range nps {
			byPhase := map[string]int{}
			for _, n := range a.Nodes[name] {
				if n.NodePoolName() == np.Metadata.Name {
					byPhase[n.Status.Phase]++
					if n.Spec.Flavor != np.Spec.Resources.Flavor {
						t.Errorf("node %s flavor %s in node pool of %s", n.Metadata.Name, n.Spec.Flavor, np.Spec.Resources.Flavor)
					}
				}
			}
			r := np.Status.Resources
			for phase, bucket := range map[string]*modelarts.PoolResourceFlavorCount{
				modelarts.NodeAvailable: r.Available, modelarts.NodeAbnormal: r.Abnormal, modelarts.NodeCreating: r.Creating,
			} {
				got := 0
				if bucket != nil {
					got = bucket.Count
				}
				if got != byPhase[phase] {
					t.Errorf("node pool %s/%s: %s bucket %d, %d nodes", name, np.Metadata.Name, phase, got, byPhase[phase])
				}
			}
			if np.Spec.Resources.Count != 4 {
				t.Errorf("node pool %s spec.count = %d", np.Metadata.Name, np.Spec.Resources.Count)
			}
		}
		for _, n := range a.Nodes[name] {
			if !nodeNameRE.MatchString(n.Metadata.Name) || names[n.Metadata.Name] {
				t.Errorf("node name %q: malformed or duplicate", n.Metadata.Name)
			}
			names[n.Metadata.Name] = true
			phases[n.Status.Phase]++
			if !ipRE.MatchString(n.Status.PrivateIP) || n.Status.AZ == "" || n.Metadata.Labels[modelarts.LabelNodePool] == "" {
				t.Errorf("node %s: ip %q az %q labels %v", n.Metadata.Name, n.Status.PrivateIP, n.Status.AZ, n.Metadata.Labels)
			}
			for k := range n.Status.Resources {
				accels[k] = true
				if n.Status.AvailableResources[k] == "" {
					t.Errorf("node %s: availableResources lacks %s", n.Metadata.Name, k)
				}
			}
		}
	}
	for _, ph := range []string{modelarts.NodeAvailable, modelarts.NodeAbnormal, modelarts.NodeCreating} {
		if phases[ph] == 0 {
			t.Errorf("no %s node in the default fleet: %v", ph, phases)
		}
	}
	if phases[modelarts.NodeAvailable] <= phases[modelarts.NodeAbnormal]+phases[modelarts.NodeCreating] {
		t.Errorf("most nodes should be Available: %v", phases)
	}
	for _, r := range []string{modelarts.ResourceNvidiaGPU, modelarts.ResourceAscendSnt9, modelarts.ResourceCPU, modelarts.ResourceMemory} {
		if !accels[r] {
			t.Errorf("no node reports %s", r)
		}
	}
}

// TestAnswersMatchOpenAPI drives every route, successes and errors, and
// validates each exchange against the document.
func TestAnswersMatchOpenAPI(t *testing.T) {
	t.Parallel()
	h := start(t, modelartssim.Options{Seed: 1})
	f := h.sim.Fleet()
	pid := h.sim.ProjectID()
	pool := f.Pools[1].Metadata.Name
	pools := "/v2/" + pid + "/pools"
	tests := []struct {
		name     string
		path     string
		auth     string
		mod      func(*http.Request)
		status   int
		code     string
		badInput bool // the request itself breaks the document: validate the answer only
	}{
		{name: "list pools", path: pools, auth: "token", status: 200},
		{name: "list pools, AK/SK", path: pools, auth: "aksk", status: 200},
		{name: "list pools, filters", path: pools + "?workspaceId=0&status=created&labelSelector=os.modelarts%2Fname%3Dlite-pool-2", auth: "token", status: 200},
		{name: "show pool", path: pools + "/" + pool, auth: "token", status: 200},
		{name: "list node pools", path: pools + "/" + pool + "/nodepools", auth: "token", status: 200},
		{name: "show node pool", path: pools + "/" + pool + "/nodepools/nodepool-1", auth: "token", status: 200},
		{name: "node-pool nodes, all", path: pools + "/" + pool + "/nodepools/nodepool-2/nodes", auth: "token", status: 200},
		{name: "node-pool nodes, page", path: pools + "/" + pool + "/nodepools/nodepool-2/nodes?limit=1", auth: "token", status: 200},
		{name: "pool nodes, page", path: pools + "/" + pool + "/nodes?limit=5", auth: "aksk", status: 200},
		{name: "pool nodes, limit 0", path: pools + "/" + pool + "/nodes?limit=0", auth: "token", status: 200},
		{name: "unknown pool", path: pools + "/lite-pool-9-00000000000000000000000000000000", auth: "token", status: 404, code: "ModelArts.50015001"},
		{name: "unknown node pool", path: pools + "/" + pool + "/nodepools/nodepool-9", auth: "token", status: 404, code: "ModelArts.50015001"},
		{name: "limit above 500", path: pools + "/" + pool + "/nodes?limit=501", auth: "token", status: 400, code: "ModelArts.50004000", badInput: true},
		{name: "limit not a number", path: pools + "/" + pool + "/nodepools/nodepool-1/nodes?limit=ten", auth: "token", status: 400, code: "ModelArts.50004000", badInput: true},
		{name: "foreign continue", path: pools + "/" + pool + "/nodes?continue=bm9wZXwx", auth: "token", status: 400, code: "ModelArts.50004000"},
		{name: "bad status filter", path: pools + "?status=running", auth: "token", status: 400, code: "ModelArts.50004000", badInput: true},
		{name: "no credentials", path: pools, status: 401, code: "APIGW.0301", badInput: true},
		{name: "bad token", path: pools, mod: func(r *http.Request) { r.Header.Set("X-Auth-Token", "MIIforged") }, status: 401, code: "APIGW.0301"},
		{name: "other project", path: "/v2/ffffffffffffffffffffffffffffffff/pools", auth: "token", status: 403, code: "ModelArts.0210"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := h.get(t, tc.path, tc.auth, func(r *http.Request) {
				if tc.mod != nil {
					tc.mod(r)
				}
			})
			if a.status != tc.status || a.errorCode(t) != tc.code {
				t.Fatalf("%s: %d %s, want %d %q", tc.path, a.status, a.body, tc.status, tc.code)
			}
			if a.header.Get("X-Request-Id") == "" {
				t.Error("no X-Request-Id")
			}
			if strings.HasPrefix(tc.code, "APIGW.") && !strings.Contains(string(a.body), `"request_id":"`+a.header.Get("X-Request-Id")+`"`) {
				t.Errorf("gateway error without its request_id: %s", a.body)
			}
			ex := h.rec.Exchanges()
			last := ex[len(ex)-1]
			last.SkipRequest = tc.badInput
			if err := testutil.LoadSpec(t, "modelarts-openapi-v2.json").Validate(last); err != nil {
				t.Errorf("OpenAPI: %v", err)
			}
		})
	}

	t.Run("throttled", func(t *testing.T) {
		h := start(t, modelartssim.Options{})
		if err := h.sim.Control().SetFaults(simctl.Faults{ErrorRate: 1, ErrorStatus: 429}); err != nil {
			t.Fatal(err)
		}
		a := h.get(t, "/v2/"+h.sim.ProjectID()+"/pools", "token")
		if a.status != 429 || a.errorCode(t) != "APIGW.0308" {
			t.Fatalf("%d %s", a.status, a.body)
		}
		ex := h.rec.Exchanges()
		if err := testutil.LoadSpec(t, "modelarts-openapi-v2.json").Validate(ex[len(ex)-1]); err != nil {
			t.Errorf("OpenAPI: %v", err)
		}
	})
}

func TestPagingTokens(t *testing.T) {
	t.Parallel()
	h := start(t, modelartssim.Options{Pools: 1, NodePoolsPerPool: 2, NodesPerNodePool: 5})
	pool := h.sim.Fleet().Pools[0].Metadata.Name
	path := "/v2/" + h.sim.ProjectID() + "/pools/" + pool + "/nodes?limit=4"
	type meta struct {
		Continue  string `json:"continue"`
		Remaining *int64 `json:"remainingItemCount"`
	}
	var seen []string
	var remaining []int64
	cont := ""
	for page := 0; ; page++ {
		p := path
		if cont != "" {
			p += "&continue=" + cont
		}
		a := h.get(t, p, "token")
		if a.status != 200 {
			t.Fatalf("page %d: %d %s", page, a.status, a.body)
		}
		var body struct {
			Metadata json.RawMessage   `json:"metadata"`
			Items    []json.RawMessage `json:"items"`
		}
		if err := json.Unmarshal(a.body, &body); err != nil {
			t.Fatal(err)
		}
		var m meta
		_ = json.Unmarshal(body.Metadata, &m)
		for _, it := range body.Items {
			var n modelarts.Node
			_ = json.Unmarshal(it, &n)
			seen = append(seen, n.Metadata.Name)
		}
		if m.Continue == "" {
			if string(body.Metadata) != "{}" {
				t.Errorf("last page metadata = %s, want {}", body.Metadata)
			}
			break
		}
		remaining = append(remaining, *m.Remaining)
		cont = m.Continue
	}
	if len(seen) != 10 || !reflect.DeepEqual(remaining, []int64{6, 2}) {
		t.Errorf("seen %d nodes, remainingItemCount %v; want 10 and [6 2]", len(seen), remaining)
	}
}

func TestIAMTokens(t *testing.T) {
	t.Parallel()
	h := start(t, modelartssim.Options{})
	body := func(user, pass, project string) string {
		return `{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"` + user + `","password":"` + pass +
			`","domain":{"name":"demo-domain"}}}},"scope":{"project":{"name":"` + project + `"}}}}`
	}
	tests := []struct {
		name, query, body string
		status            int
		catalog           bool
	}{
		{name: "password token", body: body("fleetgraph-demo", "demo-password", "cn-north-4"), status: 201, catalog: true},
		{name: "nocatalog", query: "?nocatalog=true", body: body("fleetgraph-demo", "demo-password", "cn-north-4"), status: 201},
		{name: "wrong password", body: body("fleetgraph-demo", "nope", "cn-north-4"), status: 401},
		{name: "wrong project", body: body("fleetgraph-demo", "demo-password", "eu-west-0"), status: 400},
		{name: "not JSON", body: "{", status: 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Post(h.srv.URL+"/v3/auth/tokens"+tc.query, "application/json;charset=utf8", strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var out struct {
				Token map[string]json.RawMessage `json:"token"`
				Error *struct {
					Code    int    `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if tc.status != 201 {
				if out.Error == nil || out.Error.Code != tc.status || out.Error.Message == "" {
					t.Errorf("IAM error body = %+v", out.Error)
				}
				return
			}
			tok := resp.Header.Get("X-Subject-Token")
			for _, k := range []string{"expires_at", "issued_at", "methods", "project", "user", "roles"} {
				if out.Token[k] == nil {
					t.Errorf("token body lacks %s", k)
				}
			}
			if _, ok := out.Token["catalog"]; ok != tc.catalog {
				t.Errorf("catalog present = %v, want %v", ok, tc.catalog)
			}
			var exp string
			_ = json.Unmarshal(out.Token["expires_at"], &exp)
			if want := t0.Add(24 * time.Hour).Format("2006-01-02T15:04:05.000000Z"); exp != want {
				t.Errorf("expires_at = %s, want %s", exp, want)
			}
			a := h.get(t, "/v2/"+h.sim.ProjectID()+"/pools", "", func(r *http.Request) { r.Header.Set("X-Auth-Token", tok) })
			if a.status != 200 {
				t.Errorf("issued token refused: %d %s", a.status, a.body)
			}
		})
	}
}

func TestTokenExpiry(t *testing.T) {
	t.Parallel()
	clk := &fixedClock{t: t0}
	h := start(t, modelartssim.Options{Now: clk.Now})
	tok := h.sim.IssueToken()
	path := "/v2/" + h.sim.ProjectID() + "/pools"
	withTok := func(r *http.Request) { r.Header.Set("X-Auth-Token", tok) }
	clk.mu.Lock()
	clk.t = t0.Add(24*time.Hour - time.Second)
	clk.mu.Unlock()
	if a := h.get(t, path, "", withTok); a.status != 200 {
		t.Fatalf("token refused before expiry: %d", a.status)
	}
	clk.mu.Lock()
	clk.t = t0.Add(24 * time.Hour)
	clk.mu.Unlock()
	if a := h.get(t, path, "", withTok); a.status != 401 || !strings.Contains(string(a.body), "token expired") {
		t.Fatalf("expired token: %d %s", a.status, a.body)
	}
}

func TestAKSKVerification(t *testing.T) {
	t.Parallel()
	h := start(t, modelartssim.Options{})
	path := "/v2/" + h.sim.ProjectID() + "/pools?workspaceId=0"
	sign := func(at time.Time, sk string) func(*http.Request) {
		return func(r *http.Request) {
			r.Header.Set("Host", r.URL.Host)
			if err := modelarts.Sign(r, nil, modelartssim.DefaultAccessKey, sk, at); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name   string
		mod    func(*http.Request)
		status int
		msg    string
	}{
		{name: "valid", mod: sign(t0, modelartssim.DefaultSecretKey), status: 200},
		{name: "valid at +14 min skew", mod: sign(t0.Add(14*time.Minute), modelartssim.DefaultSecretKey), status: 200},
		{name: "date 16 min old", mod: sign(t0.Add(-16*time.Minute), modelartssim.DefaultSecretKey), status: 401, msg: "signature expired"},
		{name: "wrong secret", mod: sign(t0, "other"), status: 401, msg: "verify aksk signature fail"},
		{name: "query changed after signing", mod: func(r *http.Request) {
			sign(t0, modelartssim.DefaultSecretKey)(r)
			r.URL.RawQuery = "workspaceId=1"
		}, status: 401, msg: "verify aksk signature fail"},
		{name: "unknown access key", mod: func(r *http.Request) {
			if err := modelarts.Sign(r, nil, "OTHERAK", modelartssim.DefaultSecretKey, t0); err != nil {
				t.Fatal(err)
			}
		}, status: 401, msg: "verify aksk signature fail"},
		{name: "x-sdk-date not signed", mod: func(r *http.Request) {
			sign(t0, modelartssim.DefaultSecretKey)(r)
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "host;x-sdk-date", "host", 1))
		}, status: 401, msg: "x-sdk-date must be a signed header"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := h.get(t, path, "", tc.mod)
			if a.status != tc.status || !strings.Contains(string(a.body), tc.msg) {
				t.Fatalf("%d %s, want %d containing %q", a.status, a.body, tc.status, tc.msg)
			}
			if tc.status == 401 && a.errorCode(t) != "APIGW.0301" {
				t.Errorf("code %q", a.errorCode(t))
			}
		})
	}
}

func TestControlAndUnknownRoutes(t *testing.T) {
	t.Parallel()
	h := start(t, modelartssim.Options{})
	h.get(t, "/v2/"+h.sim.ProjectID()+"/pools", "token")
	a := h.get(t, "/_sim/stats", "")
	var stats struct {
		Requests map[string]int64 `json:"requests"`
	}
	if err := json.Unmarshal(a.body, &stats); err != nil || stats.Requests[modelartssim.RouteListPools] != 1 {
		t.Errorf("stats %s (%v)", a.body, err)
	}
	a = h.get(t, "/v1/nope", "token")
	if a.status != 404 || a.errorCode(t) != "APIGW.0101" || a.header.Get("X-Request-Id") == "" {
		t.Errorf("unknown route: %d %s", a.status, a.body)
	}
}
