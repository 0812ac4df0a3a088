package specfuzz_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/backends/modelarts"
	"github.com/fleetgraph/fleetgraph/backends/runai"
	"github.com/fleetgraph/fleetgraph/backends/specfuzz"
	"github.com/fleetgraph/fleetgraph/internal/testutil"
)

// The spec-driven fuzz test: for every operation of the four vendor
// documents that a client decodes, random answers drawn from the
// operation's own 2xx schema (gen) go through the real client against an
// httptest server. Each must decode without a panic and without an error
// (the server answers 2xx, so any error is a decoding failure: INTERNAL or
// UPSTREAM_ERROR to a GraphQL client), and the decoded items must be
// exactly the non-null items sent, each with its identifying fields filled.
//
// Not covered, because no client decodes them yet: grant_token (the token
// exchange is tested on its own) and ModelArts ShowPoolStatistics. The
// pool-monitor cases are in monitor_test.go, those of the Run:ai operations
// after 2.22 (get_tenant_nodes, count_tenant_nodes, get_cluster_metrics) in
// runai_delta_test.go; each file's init adds them to cases and takes them
// out of uncovered.

var specFiles = []string{"runai-openapi-2.22.json", "runai-openapi-delta.json", "modelarts-openapi-v2.json", "modelarts-openapi-monitor.json"}

// uncovered are the operations with a 2xx body that no client decodes.
var uncovered = map[string]bool{
	"runai-openapi-delta.json get_tenant_nodes":             true,
	"runai-openapi-delta.json count_tenant_nodes":           true,
	"runai-openapi-delta.json get_cluster_metrics":          true,
	"runai-openapi-2.22.json grant_token":                   true,
	"modelarts-openapi-monitor.json ShowPoolMonitor":        true,
	"modelarts-openapi-monitor.json ShowPoolRuntimeMetrics": true,
	"modelarts-openapi-monitor.json ShowPoolStatistics":     true,
	"modelarts-openapi-v2.json BatchDeletePoolNodes":        true, // no client method
	"runai-openapi-2.22.json createNodePool":                true, // 201 without a body
	"runai-openapi-2.22.json deleteNodePool":                true, // 202 without a body
	"runai-openapi-2.22.json updateNodePool":                true, // 202 without a body
	"runai-openapi-2.22.json updateNodePoolLabels":          true, // 202 without a body
}

// call runs one client method; got is what it returned.
type call func(ctx context.Context, ra *runai.Client, ma *modelarts.Client) (got any, err error)

// check compares what the client decoded with the document it was sent.
type check func(t *testing.T, sent any, got any)

type fuzzCase struct {
	call  call
	check check
}

var (
	start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	end   = start.Add(time.Hour)
	mopts = runai.MetricsOptions{Types: []string{"GPU_UTILIZATION"}, Start: start, End: end}
)

// cases maps operationId to the client call that decodes its answer.
var cases = map[string]fuzzCase{
	// Run:ai
	"get_clusters": {func(ctx context.Context, ra *runai.Client, _ *modelarts.Client) (any, error) {
		return ra.ListClusters(ctx)
	},
		func(t *testing.T, sent, got any) {
			checkItems(t, sent, got.([]runai.Cluster), func(c runai.Cluster) []any { return []any{"uuid", c.UUID, "name", c.Name} }, "uuid")
		}},
	"get_cluster_by_uuid": {func(ctx context.Context, ra *runai.Client, _ *modelarts.Client) (any, error) {
		return ra.GetCluster(ctx, "c")
	},
		func(t *testing.T, sent, got any) {
			c := got.(*runai.Cluster)
			checkFields(t, sent, "uuid", c.UUID, "name", c.Name)
		}},
	"get_nodes": {func(ctx context.Context, ra *runai.Client, _ *modelarts.Client) (any, error) {
		return ra.ListNodes(ctx, "c", nil)
	},
		func(t *testing.T, sent, got any) {
			checkItems(t, member(sent, "nodes"), got.([]runai.Node), func(n runai.Node) []any {
				return []any{"name", n.Name, "status", n.Status, "nodePool", n.NodePool, "clusterUuid", n.ClusterUUID}
			}, "name")
		}},
	"count_nodes": {func(ctx context.Context, ra *runai.Client, _ *modelarts.Client) (any, error) {
		return ra.CountNodes(ctx, "c", nil)
	},
		func(t *testing.T, sent, got any) { checkCount(t, sent, got.(int64)) }},
	"count_nodepools": {func(ctx context.Context, ra *runai.Client, _ *modelarts.Client) (any, error) {
		return ra.CountNodePools(ctx, nil)
	},
		func(t *testing.T, sent, got any) { checkCount(t, sent, got.(int64)) }},
	"get_nodepools": {func(ctx context.Context, ra *runai.Client, _ *modelarts.Client) (any, error) {
		return ra.ListNodePools(ctx, nil)
	},
		func(t *testing.T, sent, got any) {
			checkItems(t, member(sent, "nodepools"), got.([]runai.NodePool), func(p runai.NodePool) []any {
				return []any{"id", p.ID, "name", p.Name, "clusterId", p.ClusterID}
			}, "id", "name")
		}},
	"get_nodepool": {func(ctx context.Context, ra *runai.Client, _ *modelarts.Client) (any, error) {
		return ra.GetNodePool(ctx, "1")
	}, checkRunAIPool},
	"create_nodepool": {func(ctx context.Context, ra *runai.Client, _ *modelarts.Client) (any, error) {
		return ra.CreateNodePool(ctx, runai.NodePoolCreateFields{Name: "p", LabelKey: "k", LabelValue: "v", ClusterID: "c"})
	}, checkRunAIPool},
	"update_nodepool": {func(ctx context.Context, ra *runai.Client, _ *modelarts.Client) (any, error) {
		return ra.UpdateNodePool(ctx, "1", runai.NodePoolUpdateFields{})
	}, checkRunAIPool},
	"patch_nodepool": {func(ctx context.Context, ra *runai.Client, _ *modelarts.Client) (any, error) {
		return ra.PatchNodePool(ctx, "1", runai.NodePoolUpdateFields{})
	}, checkRunAIPool},
	"delete_nodepool": {func(ctx context.Context, ra *runai.Client, _ *modelarts.Client) (any, error) {
		return ra.DeleteNodePool(ctx, "1")
	},
		func(*testing.T, any, any) {}},
	"getNodePools": {func(ctx context.Context, ra *runai.Client, _ *modelarts.Client) (any, error) {
		return ra.LegacyListNodePools(ctx, "c")
	},
		func(t *testing.T, sent, got any) {
			checkItems(t, sent, got.([]runai.LegacyNodePool), func(p runai.LegacyNodePool) []any { return []any{"name", p.Name, "clusterId", p.ClusterID} }, "name")
		}},
	"get_node_metrics": {func(ctx context.Context, ra *runai.Client, _ *modelarts.Client) (any, error) {
		return partialOK(ra.NodeMetrics(ctx, "n", mopts))
	},
		checkMetrics},
	"get_nodepool_metrics": {func(ctx context.Context, ra *runai.Client, _ *modelarts.Client) (any, error) {
		return partialOK(ra.NodePoolMetrics(ctx, "c", "p", mopts))
	}, checkMetrics},
	"get_node_telemetry": {func(ctx context.Context, ra *runai.Client, _ *modelarts.Client) (any, error) {
		return ra.NodeTelemetry(ctx, runai.TelemetryOptions{Type: "TOTAL_GPUS"})
	}, func(t *testing.T, sent, got any) {
		tel := got.(*runai.TelemetryResponse)
		var want int
		for _, v := range list(member(sent, "values")) {
			if v != nil && finite(member(v, "value")) {
				want++
			}
		}
		if len(tel.Values) != want {
			t.Errorf("%d telemetry values, want the %d finite ones", len(tel.Values), want)
		}
	}},

	// ModelArts
	"ListPools": {func(ctx context.Context, _ *runai.Client, ma *modelarts.Client) (any, error) {
		return ma.ListPools(ctx)
	},
		func(t *testing.T, sent, got any) {
			checkItems(t, member(sent, "items"), got.([]modelarts.Pool), func(p modelarts.Pool) []any { return []any{"metadata.name", p.Metadata.Name} }, "metadata.name")
		}},
	"ShowPool": {func(ctx context.Context, _ *runai.Client, ma *modelarts.Client) (any, error) {
		return ma.GetPool(ctx, "p")
	},
		func(t *testing.T, sent, got any) {
			checkFields(t, sent, "metadata.name", got.(*modelarts.Pool).Metadata.Name)
		}},
	"ListNodePools": {func(ctx context.Context, _ *runai.Client, ma *modelarts.Client) (any, error) {
		return ma.ListNodePools(ctx, "p")
	},
		func(t *testing.T, sent, got any) {
			checkItems(t, member(sent, "items"), got.([]modelarts.NodePool), func(p modelarts.NodePool) []any {
				return []any{"metadata.name", p.Metadata.Name, "spec.resources.flavor", p.Spec.Resources.Flavor}
			}, "metadata.name")
		}},
	"ShowNodePool": {func(ctx context.Context, _ *runai.Client, ma *modelarts.Client) (any, error) {
		return ma.GetNodePool(ctx, "p", "np")
	}, checkMANodePool},
	"CreateNodePool": {func(ctx context.Context, _ *runai.Client, ma *modelarts.Client) (any, error) {
		return ma.CreateNodePool(ctx, "p", modelarts.CreateNodePoolRequest{Metadata: modelarts.CreateNodePoolMetadata{Name: "np"}})
	}, checkMANodePool},
	"PatchNodePool": {func(ctx context.Context, _ *runai.Client, ma *modelarts.Client) (any, error) {
		return ma.PatchNodePool(ctx, "p", "np", modelarts.PatchNodePoolRequest{})
	}, func(t *testing.T, sent, got any) {
		// The answer may leave metadata.name out; the client fills it.
		np := got.(*modelarts.NodePool)
		if np.Metadata.Name == "" {
			t.Errorf("PatchNodePool: no metadata.name")
		}
		checkFields(t, sent, "spec.resources.flavor", np.Spec.Resources.Flavor)
	}},
	"DeleteNodePool": {func(ctx context.Context, _ *runai.Client, ma *modelarts.Client) (any, error) {
		return ma.DeleteNodePool(ctx, "p", "np")
	}, checkMANodePool},
	"ListNodePoolNodes": {func(ctx context.Context, _ *runai.Client, ma *modelarts.Client) (any, error) {
		return ma.ListNodePoolNodes(ctx, "p", "np")
	}, checkMANodes},
	"ListPoolNodes": {func(ctx context.Context, _ *runai.Client, ma *modelarts.Client) (any, error) {
		return ma.ListPoolNodes(ctx, "p")
	}, checkMANodes},
}

func checkRunAIPool(t *testing.T, sent, got any) {
	p := got.(*runai.NodePool)
	checkFields(t, sent, "id", p.ID, "name", p.Name, "clusterId", p.ClusterID)
	checkFilled(t, "node pool", sent, p)
}

func checkMANodePool(t *testing.T, sent, got any) {
	np := got.(*modelarts.NodePool)
	checkFields(t, sent, "metadata.name", np.Metadata.Name, "spec.resources.flavor", np.Spec.Resources.Flavor)
	checkFilled(t, "node pool", sent, np)
}

func checkMANodes(t *testing.T, sent, got any) {
	checkItems(t, member(sent, "items"), got.([]modelarts.Node), func(n modelarts.Node) []any {
		return []any{"metadata.name", n.Metadata.Name, "status.phase", n.Status.Phase}
	}, "metadata.name")
}

func checkMetrics(t *testing.T, sent, got any) {
	resp := got.(*runai.MetricsResponse)
	var want []any
	for _, m := range list(member(sent, "measurements")) {
		if m != nil {
			want = append(want, m)
		}
	}
	if len(resp.Measurements) != len(want) {
		t.Fatalf("%d measurements, want the %d non-null sent", len(resp.Measurements), len(want))
	}
	for i, m := range want {
		got := resp.Measurements[i]
		checkFields(t, m, "type", got.Type)
		finiteN := 0
		for _, v := range list(member(m, "values")) {
			if v != nil && finite(member(v, "value")) {
				finiteN++
			}
		}
		if len(got.Values) != finiteN {
			t.Errorf("measurement %d: %d samples, want the %d finite ones sent", i, len(got.Values), finiteN)
		}
		for _, s := range got.Values {
			if math.IsNaN(s.Value) || math.IsInf(s.Value, 0) {
				t.Errorf("measurement %d: non-finite sample %v kept", i, s.Value)
			}
		}
	}
}

// partialOK treats a 207's PartialError as success: the data is valid.
func partialOK(resp *runai.MetricsResponse, err error) (any, error) {
	var partial *backends.PartialError
	if errors.As(err, &partial) {
		err = nil
	}
	return resp, err
}

// member reads a dotted path of a decoded document; nil when absent.
func member(v any, path string) any {
	for key := range strings.SplitSeq(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[key]
	}
	return v
}

func list(v any) []any { l, _ := v.([]any); return l }

// finite is the client's rule for a sample value: a decimal string or a JSON
// number, finite.
func finite(v any) bool {
	switch x := v.(type) {
	case float64:
		return !math.IsInf(x, 0) && !math.IsNaN(x)
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return err == nil && !math.IsInf(f, 0) && !math.IsNaN(f)
	}
	return false
}

// checkFields checks pairs of (dotted path, decoded value): a string sent
// at the path must come back unchanged.
func checkFields(t *testing.T, sent any, pairs ...any) {
	t.Helper()
	for i := 0; i+1 < len(pairs); i += 2 {
		path := pairs[i].(string)
		if want, ok := member(sent, path).(string); ok && pairs[i+1] != want {
			t.Errorf("%s: decoded %q, sent %q", path, pairs[i+1], want)
		}
	}
}

// checkItems checks that items are the non-null elements of sent, in order,
// each with its fields (see checkFields) and every modelled field filled
// (see checkFilled).
//
// identity names the members an item must have (non-empty strings) to be
// kept: the clients skip an item nothing could address, like a null one.
func checkItems[T any](t *testing.T, sent any, items []T, fields func(T) []any, identity ...string) {
	t.Helper()
	var want []any
	for _, e := range list(sent) {
		keep := e != nil
		for _, path := range identity {
			if s, _ := member(e, path).(string); s == "" {
				keep = false
			}
		}
		if keep {
			want = append(want, e)
		}
	}
	if len(items) != len(want) {
		t.Fatalf("%d items decoded, %d non-null items sent", len(items), len(want))
	}
	for i, it := range items {
		checkFields(t, want[i], fields(it)...)
		checkFilled(t, fmt.Sprintf("item %d", i), want[i], it)
	}
}

// checkFilled checks that every field the DTO models carries what was sent:
// dto is encoded back with its own json tags and compared with sent member
// by member, where both have the member. A null sent may decode to
// anything (a zero value); a list must come back as its non-null items; a
// member whose shape the DTO deliberately changes (an object bucket read as
// a list) is skipped.
func checkFilled(t *testing.T, path string, sent, dto any) {
	t.Helper()
	data, err := json.Marshal(dto)
	if err != nil {
		t.Fatalf("%s: encode the decoded value: %v", path, err)
	}
	var back any
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	compareFilled(t, path, sent, back)
}

func compareFilled(t *testing.T, path string, sent, back any) {
	t.Helper()
	switch s := sent.(type) {
	case nil:
	case map[string]any:
		b, ok := back.(map[string]any)
		if !ok {
			return
		}
		for k, bv := range b {
			if sv, ok := s[k]; ok {
				compareFilled(t, path+"."+k, sv, bv)
			}
		}
	case []any:
		b, ok := back.([]any)
		if !ok {
			return
		}
		var kept []any
		for _, e := range s {
			if e != nil {
				kept = append(kept, e)
			}
		}
		if len(b) != len(kept) {
			t.Errorf("%s: %d items decoded, %d non-null sent", path, len(b), len(kept))
			return
		}
		for i := range b {
			compareFilled(t, fmt.Sprintf("%s[%d]", path, i), kept[i], b[i])
		}
	case string:
		if b, ok := back.(string); ok && b != s && !sameInstant(s, b) {
			t.Errorf("%s: decoded %q, sent %q", path, b, s)
		}
	case float64, bool:
		if fmt.Sprint(back) != fmt.Sprint(s) {
			if _, isString := back.(string); !isString { // StringMap keeps a number as text
				t.Errorf("%s: decoded %v, sent %v", path, back, s)
			} else if back != strconv.FormatFloat(asFloat(s), 'f', -1, 64) && back != fmt.Sprint(s) {
				t.Errorf("%s: decoded %v, sent %v", path, back, s)
			}
		}
	}
}

func asFloat(v any) float64 { f, _ := v.(float64); return f }

// sameInstant: a timestamp may come back in another spelling (RFC 3339,
// or the space-separated UTC form of the vendor's examples).
func sameInstant(a, b string) bool {
	parse := func(s string) (time.Time, error) {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t, nil
		}
		return time.Parse("2006-01-02 15:04:05", s)
	}
	ta, errA := parse(a)
	tb, errB := parse(b)
	return errA == nil && errB == nil && ta.Equal(tb)
}

var (
	opsOnce sync.Once
	ops     []specfuzz.Operation
	opsErr  error
)

func loadOperations(t testing.TB) []specfuzz.Operation {
	t.Helper()
	dir := testutil.SharedDir(t)
	opsOnce.Do(func() { ops, opsErr = specfuzz.Operations(dir, specFiles...) })
	if opsErr != nil {
		t.Fatal(opsErr)
	}
	return ops
}

// fuzzServer answers every request with the current body and status. A
// request for a further page (a Run:ai offset, a ModelArts continue token)
// gets an empty answer, so that the paging clients stop.
type fuzzServer struct {
	mu     sync.Mutex
	status int
	body   []byte
	srv    *httptest.Server
}

func newFuzzServer(t testing.TB) *fuzzServer {
	fs := &fuzzServer{}
	fs.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fs.mu.Lock()
		status, body := fs.status, fs.body
		fs.mu.Unlock()
		q := r.URL.Query()
		if (q.Get("offset") != "" && q.Get("offset") != "0") || q.Get("continue") != "" {
			body = []byte(`{}`)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		if status != http.StatusNoContent {
			w.Write(body)
		}
	}))
	t.Cleanup(fs.srv.Close)
	return fs
}

func (fs *fuzzServer) set(status int, body []byte) {
	fs.mu.Lock()
	fs.status, fs.body = status, body
	fs.mu.Unlock()
}

func clients(t testing.TB, base string) (*runai.Client, *modelarts.Client) {
	ra, err := runai.New(runai.Config{Name: "runai-fuzz", BaseURL: base + "/runai", PassThrough: true})
	if err != nil {
		t.Fatal(err)
	}
	ma, err := modelarts.New(modelarts.Config{Name: "ma-fuzz", Endpoint: base + "/ma", ProjectID: "p", Token: "t"})
	if err != nil {
		t.Fatal(err)
	}
	return ra, ma
}

// runOne draws one answer for op from seed and checks the client on it.
func runOne(t *testing.T, fs *fuzzServer, ra *runai.Client, ma *modelarts.Client, op specfuzz.Operation, seed uint64, hostile bool) {
	t.Helper()
	c := cases[op.ID]
	var sent any
	body := []byte(nil)
	if op.Schema != nil {
		sent = specfuzz.New(seed, hostile).Value(op.Schema)
		var err error
		if body, err = json.Marshal(sent); err != nil {
			t.Fatal(err)
		}
	}
	status, _ := strconv.Atoi(op.Status)
	fs.set(status, body)
	ctx := backends.WithCredentials(t.Context(), backends.Credentials{RunAIBearer: "fuzz"})
	defer func() {
		if p := recover(); p != nil {
			t.Fatalf("%s %s seed %d (hostile %v): panic: %v\nbody: %.2000s", op.File, op.ID, seed, hostile, p, body)
		}
	}()
	got, err := c.call(ctx, ra, ma)
	if err != nil {
		t.Fatalf("%s %s %s seed %d (hostile %v): %v\nbody: %.2000s", op.File, op.ID, op.Status, seed, hostile, err, body)
	}
	if sent != nil {
		c.check(t, sent, got)
		if t.Failed() {
			t.Logf("%s %s seed %d (hostile %v), body: %.2000s", op.File, op.ID, seed, hostile, body)
		}
	}
}

// seedsPerOperation bounds the run in make test; FLEETGRAPH_SPECFUZZ_SEEDS
// raises it for a longer run.
func seedsPerOperation() int {
	if n, err := strconv.Atoi(os.Getenv("FLEETGRAPH_SPECFUZZ_SEEDS")); err == nil && n > 0 {
		return n
	}
	if testing.Short() {
		return 5
	}
	return 12 // ~8 s for the 34 answers under -race on 2 cores
}

func TestSpecDrivenDecoders(t *testing.T) {
	t.Parallel()
	var covered, skipped []string
	for _, op := range loadOperations(t) {
		name := op.File + " " + op.ID
		if _, ok := cases[op.ID]; !ok {
			if !uncovered[name] {
				t.Errorf("%s (%s): no fuzz case and not listed as uncovered", name, op.Status)
			}
			skipped = append(skipped, name)
			continue
		}
		covered = append(covered, name+" "+op.Status)
		t.Run(op.File+"/"+op.ID+"/"+op.Status, func(t *testing.T) {
			t.Parallel()
			fs := newFuzzServer(t)
			ra, ma := clients(t, fs.srv.URL)
			for seed := range uint64(seedsPerOperation()) {
				runOne(t, fs, ra, ma, op, seed, seed%2 == 1)
				if t.Failed() {
					return
				}
			}
		})
	}
	t.Logf("covered: %d operation answers; uncovered (no decoder): %s", len(covered), strings.Join(skipped, ", "))
}

// FuzzSpecDrivenDecoders is the same check under go test -fuzz: the fuzzer
// picks the operation, the seed and the mode.
func FuzzSpecDrivenDecoders(f *testing.F) {
	f.Add(uint16(0), uint64(1), false)
	f.Add(uint16(3), uint64(7), true)
	all := loadOperations(f)
	var covered []specfuzz.Operation
	for _, op := range all {
		if _, ok := cases[op.ID]; ok {
			covered = append(covered, op)
		}
	}
	fs := newFuzzServer(f)
	ra, ma := clients(f, fs.srv.URL)
	f.Fuzz(func(t *testing.T, opIndex uint16, seed uint64, hostile bool) {
		runOne(t, fs, ra, ma, covered[int(opIndex)%len(covered)], seed, hostile)
	})
}

func checkCount(t *testing.T, sent any, got int64) {
	t.Helper()
	if want, ok := member(sent, "count").(float64); ok && float64(got) != want {
		t.Errorf("count %d, sent %v", got, want)
	}
}
