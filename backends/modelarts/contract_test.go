package modelarts_test

import (
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/backends/modelarts"
)

// Answers within the vendor's contract (the OpenAPI document forbids neither
// extra properties nor null items) that the simulator never sends.

type recorder struct {
	mu    sync.Mutex
	nulls map[string]int // backend/kind
}

func (r *recorder) NullItems(backend, kind string, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.nulls[backend+"/"+kind] += n
}

func (r *recorder) DroppedSamples(string, string, int) {}

func (r *recorder) counts() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.nulls)
}

// fakeClient serves h under /prefix and returns a token client for it.
func fakeClient(t *testing.T, h http.HandlerFunc) (*modelarts.Client, *recorder) {
	t.Helper()
	srv := httptest.NewServer(http.StripPrefix("/prefix", h))
	t.Cleanup(srv.Close)
	rec := &recorder{nulls: map[string]int{}}
	c, err := modelarts.New(modelarts.Config{Name: "ma-fake", Endpoint: srv.URL + "/prefix", ProjectID: "p", Token: "t", Observer: rec})
	if err != nil {
		t.Fatal(err)
	}
	return c, rec
}

const (
	maPool     = `{"apiVersion":"v2","kind":"Pool","metadata":{"name":"pool-a","labels":{"os.modelarts/name":"a"}},"spec":{"type":"Dedicate","scope":["Train"],"resources":[{"flavor":"f","count":1}]},"status":{"phase":"Running"}}`
	maNodePool = `{"apiVersion":"v2","kind":"NodePool","metadata":{"name":"np-a"},"spec":{"resources":{"flavor":"f","count":1,"maxCount":1}}}`
	maNode     = `{"apiVersion":"v2","kind":"Node","metadata":{"name":"node-a","labels":{"os.modelarts.node/nodepoolname":"np-a"}},"spec":{"flavor":"f"},"status":{"phase":"Available","resources":{"cpu":"8"}}}`
)

func TestModelArtsIgnoresUnknownKeys(t *testing.T) {
	t.Parallel()
	c, _ := fakeClient(t, func(w http.ResponseWriter, r *http.Request) {
		extra := `"total":1,"next":"x","links":{"self":[1,"a"]}`
		switch {
		case strings.HasSuffix(r.URL.Path, "/nodes"):
			node := strings.Replace(maNode, `"phase"`, `"future":{"a":[null]},"phase"`, 1)
			// Open maps (resources, annotations) with values that are no strings.
			node = strings.Replace(node, `"resources":{"cpu":"8"}`, `"resources":{"cpu":"8","memory":16,"nvidia.com/gpu":{"count":1}},"availableResources":{"cpu":true}`, 1)
			node = strings.Replace(node, `"metadata":{`, `"metadata":{"annotations":{"a":1,"b":null,"c":"x"},`, 1)
			io.WriteString(w, `{"kind":"List",`+extra+`,"items":[`+node+`],"metadata":{"continue":"","total":1}}`)
		case strings.HasSuffix(r.URL.Path, "/nodepools"):
			io.WriteString(w, `{`+extra+`,"items":[`+maNodePool+`]}`)
		default:
			io.WriteString(w, `{`+extra+`,"items":[`+maPool+`],"metadata":{}}`)
		}
	})
	ctx := t.Context()
	if pools, err := c.ListPools(ctx); err != nil || len(pools) != 1 || pools[0].Metadata.Name != "pool-a" {
		t.Fatalf("ListPools: %+v, %v", pools, err)
	}
	if nps, err := c.ListNodePools(ctx, "pool-a"); err != nil || len(nps) != 1 || nps[0].Metadata.Name != "np-a" {
		t.Fatalf("ListNodePools: %+v, %v", nps, err)
	}
	nodes, err := c.ListPoolNodes(ctx, "pool-a")
	if err != nil || len(nodes) != 1 || nodes[0].Metadata.Name != "node-a" {
		t.Fatalf("ListPoolNodes: %+v, %v", nodes, err)
	}
	st, md := nodes[0].Status, nodes[0].Metadata
	if st.Resources["cpu"] != "8" || st.Resources["memory"] != "16" || len(st.Resources) != 2 || st.AvailableResources["cpu"] != "true" ||
		md.Annotations["a"] != "1" || md.Annotations["c"] != "x" || len(md.Annotations) != 2 {
		t.Fatalf("open maps: resources %v, available %v, annotations %v", st.Resources, st.AvailableResources, md.Annotations)
	}
}

func TestModelArtsNullItemsAreSkipped(t *testing.T) {
	t.Parallel()
	c, rec := fakeClient(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/nodes"):
			io.WriteString(w, `{"items":[null,`+maNode+`,null],"metadata":{"continue":""}}`)
		case strings.HasSuffix(r.URL.Path, "/nodepools"):
			io.WriteString(w, `{"items":[null,`+strings.Replace(maNodePool, `"maxCount":1`, `"maxCount":1,"taints":[null,{"key":"k","effect":"NoSchedule"}]`, 1)+`]}`)
		default:
			io.WriteString(w, `{"items":[`+strings.Replace(maPool, `"scope":["Train"]`, `"scope":[null,"Train"]`, 1)+`,null]}`)
		}
	})
	ctx := t.Context()
	pools, err := c.ListPools(ctx)
	if err != nil || len(pools) != 1 || pools[0].Metadata.Name != "pool-a" || len(pools[0].Spec.Scope) != 1 || string(pools[0].Raw) == "null" {
		t.Fatalf("ListPools: %+v, %v; want pool-a alone, one scope", pools, err)
	}
	nps, err := c.ListNodePools(ctx, "pool-a")
	if err != nil || len(nps) != 1 || nps[0].Metadata.Name != "np-a" || len(nps[0].Spec.Resources.Taints) != 1 {
		t.Fatalf("ListNodePools: %+v, %v; want np-a alone, one taint", nps, err)
	}
	nodes, err := c.ListPoolNodes(ctx, "pool-a")
	if err != nil || len(nodes) != 1 || nodes[0].Metadata.Name != "node-a" {
		t.Fatalf("ListPoolNodes: %+v, %v", nodes, err)
	}
	if got, want := rec.counts(), map[string]int{"ma-fake/pools": 2, "ma-fake/nodepools": 2, "ma-fake/nodes": 2}; !maps.Equal(got, want) {
		t.Fatalf("null items %v, want %v", got, want)
	}
}

// TestDuplicateNameIsAConflict: ModelArts answers a node-pool name already in
// use with 400 ModelArts.50004000 "... already exists ..."; the client
// reports it as a conflict, with the vendor's request id.
func TestDuplicateNameIsAConflict(t *testing.T) {
	t.Parallel()
	e := setup(t, writeOpts())
	c := e.client(t, modelarts.Config{Token: e.sim.IssueToken()})
	ctx := t.Context()
	pool := e.sim.Fleet().Pools[0].Metadata.Name
	if _, err := c.CreateNodePool(ctx, pool, t4Pool("twice", 1)); err != nil {
		t.Fatal(err)
	}
	_, err := c.CreateNodePool(ctx, pool, t4Pool("twice", 1))
	ae, ok := errors.AsType[*backends.APIError](err)
	if !ok || !errors.Is(err, backends.ErrConflict) || ae.Status != http.StatusBadRequest || ae.Code != "ModelArts.50004000" {
		t.Fatalf("second create: %v, want a 400 ModelArts.50004000 matching ErrConflict", err)
	}
	ex := e.rec.Exchanges()
	if want := ex[len(ex)-1].RespHeader.Get("X-Request-Id"); want == "" || ae.RequestID != want {
		t.Fatalf("RequestID %q, want the answer's X-Request-Id %q", ae.RequestID, want)
	}
	if modelarts.MaybeApplied(err) {
		t.Fatal("a refused create reported as maybe applied")
	}
	// Any other 400 stays a bad request.
	_, err = c.CreateNodePool(ctx, pool, t4Pool("Bad_Name", 1))
	if errors.Is(err, backends.ErrConflict) || !errors.Is(err, backends.ErrBadRequest) {
		t.Fatalf("bad name: %v, want a bad request, not a conflict", err)
	}
}

func TestRequestIDFromTheBody(t *testing.T) {
	t.Parallel()
	c, _ := fakeClient(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(w, `{"error_msg":"The throttling threshold has been reached","error_code":"APIGW.0308","request_id":"c50619de20b0e70590f57a99dbed044f"}`)
	})
	_, err := c.ListPools(t.Context())
	if ae, ok := errors.AsType[*backends.APIError](err); !ok || ae.RequestID != "c50619de20b0e70590f57a99dbed044f" {
		t.Fatalf("err %v, want the body's request_id", err)
	}
}

func TestItemsWithoutNameAreSkipped(t *testing.T) {
	t.Parallel()
	c, rec := fakeClient(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"items":[{"metadata":{"name":""}},{"kind":"Pool"},`+maPool+`]}`)
	})
	pools, err := c.ListPools(t.Context())
	if err != nil || len(pools) != 1 || pools[0].Metadata.Name != "pool-a" {
		t.Fatalf("ListPools: %+v, %v", pools, err)
	}
	if got := rec.counts(); got["ma-fake/pools"] != 2 {
		t.Fatalf("skipped %v, want 2 pools", got)
	}
}
