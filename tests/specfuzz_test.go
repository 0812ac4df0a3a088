package tests

import (
	"encoding/json"
	"hash/fnv"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/fleetgraph/fleetgraph/app"
	"github.com/fleetgraph/fleetgraph/backends/specfuzz"
	"github.com/fleetgraph/fleetgraph/internal/testutil"
)

// The spec-driven fuzz test through the whole gateway: both vendors are
// servers that answer every documented route with a random answer drawn
// from its own 200 schema (backends/specfuzz), and the dashboard's queries
// must come back without an INTERNAL error: no decode failure and no null
// in a non-null field. backends/specfuzz checks each decoder on its own.

// specServer answers each request with an answer of the operation whose
// route it matches, drawn from a seed that depends only on seed and the
// request line (so a failure replays). Pages after the first are empty.
func specServer(t *testing.T, seed uint64, hostile bool, ops []specfuzz.Operation) *httptest.Server {
	t.Helper()
	type route struct {
		method string
		re     *regexp.Regexp
		op     specfuzz.Operation
	}
	var routes []route
	for _, op := range ops {
		if op.Status != "200" || op.Schema == nil {
			continue
		}
		segs := strings.Split(op.Path, "/")
		for i, seg := range segs {
			if strings.HasPrefix(seg, "{") {
				segs[i] = `[^/]+`
			} else {
				segs[i] = regexp.QuoteMeta(seg)
			}
		}
		routes = append(routes, route{op.Method, regexp.MustCompile("^" + strings.Join(segs, "/") + "$"), op})
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		w.Header().Set("Content-Type", "application/json")
		if (q.Get("offset") != "" && q.Get("offset") != "0") || q.Get("continue") != "" {
			w.Write([]byte(`{}`))
			return
		}
		// The most specific template first: /nodes/telemetry before /nodes/{nodeId}.
		var best *route
		for i := range routes {
			rt := &routes[i]
			if rt.method == r.Method && rt.re.MatchString(r.URL.EscapedPath()) && (best == nil || strings.Count(best.op.Path, "{") > strings.Count(rt.op.Path, "{")) {
				best = rt
			}
		}
		if best == nil {
			t.Logf("no route for %s %s", r.Method, r.URL.EscapedPath())
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"code":404,"message":"no such route: ` + r.Method + " " + r.URL.EscapedPath() + `"}`))
			return
		}
		h := fnv.New64a()
		h.Write([]byte(r.Method + " " + r.URL.RequestURI()))
		g := specfuzz.New(seed^h.Sum64(), hostile)
		g.HugeLists = false // dozens of calls per query: the client tests take the huge ones
		body, err := json.Marshal(g.Value(best.op.Schema))
		if err != nil {
			t.Errorf("encode: %v", err)
		}
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestSpecDrivenGateway(t *testing.T) {
	t.Parallel()
	dir := testutil.SharedDir(t)
	raOps, err := specfuzz.Operations(dir, "runai-openapi-2.22.json")
	if err != nil {
		t.Fatal(err)
	}
	maOps, err := specfuzz.Operations(dir, "modelarts-openapi-v2.json")
	if err != nil {
		t.Fatal(err)
	}
	const dashboard = `{
		clusters { id name provider backend state version createdAt raw }
		nodePools(first: 500) { totalCount edges { node { id name provider phase vendorPhase phaseMessage isDefault flavor nodeSelector reportedNodeCount createdAt raw cluster { id name } } } }
		nodes(first: 500) { totalCount edges { node { id name provider status vendorStatus nodePool { id } gpuType gpuCount ip zone flavor createdAt raw
			capacity { cpuCores memoryBytes gpus all { name value quantity } } available { cpuCores memoryBytes gpus } cluster { id } } } }
		fleetSummary { __typename }
		sample: nodes(first: 3, filter: {provider: RUNAI}) { edges { node { id
			metrics(types: [GPU_UTILIZATION, CPU_UTILIZATION], start: "2026-11-25T10:00:00Z", end: "2026-11-25T11:00:00Z") { type labels { key value } points { timestamp value } } } } }
		nodeTelemetry(type: TOTAL_GPUS) { type timestamp value groups { key value name } }
	}`
	seeds := 6
	if n, err := strconv.Atoi(os.Getenv("FLEETGRAPH_SPECFUZZ_SEEDS")); err == nil && n > 0 {
		seeds = n
	} else if testing.Short() {
		seeds = 2
	}
	for seed := range uint64(seeds) {
		hostile := seed%2 == 1
		ra := specServer(t, seed, hostile, raOps)
		ma := specServer(t, seed, hostile, maOps)
		cfg := &app.Config{
			RunAI:     []app.RunAIConfig{{Name: "runai-a", BaseURL: ra.URL, PassThrough: true}},
			ModelArts: []app.ModelArtsConfig{{Name: "modelarts-a", Endpoint: ma.URL, ProjectID: projectID, Token: "fuzz-token"}},
		}
		gw, err := app.Build(cfg)
		if err != nil {
			t.Fatal(err)
		}
		e := &env{gw: newServer(t, gw)}
		r := e.query(t, dashboard, nil, "Authorization", "Bearer fuzz")
		// Every vendor answer is a 200 within its schema: no error at all.
		for _, ge := range r.Errors {
			t.Errorf("seed %d (hostile %v): %v at %v: %s", seed, hostile, ge.Extensions["code"], ge.Path, ge.Message)
		}
		if r.status != http.StatusOK || len(r.Data) < 10 {
			t.Errorf("seed %d: status %d, data %.200s", seed, r.status, r.Data)
		}
		_ = gw.Close()
	}
}
