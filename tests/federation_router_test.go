package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fleetgraph composed into a supergraph and served by a real router.
// tests/testdata/federation/package.json pins the npm packages: the test
// installs them into its node_modules/ (git-ignored) once, about 1.5 min
// cold, then reuses them.

const federationDir = "testdata/federation"

// npmInstall installs the pinned packages unless they already are. Without
// npm the test skips, or fails under CI (.ci/run's image has npm).
func npmInstall(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("npm"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("npm not found (CI is set, so this fails): the federation tests install @theguild/federation-composition and Hive Gateway with it")
		}
		t.Skip("npm not found: the federation composition and router tests need Node.js and npm")
	}
	dir, err := filepath.Abs(federationDir)
	if err != nil {
		t.Fatal(err)
	}
	var pkg struct{ Dependencies map[string]string }
	raw, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil || json.Unmarshal(raw, &pkg) != nil {
		t.Fatalf("read %s/package.json: %v", dir, err)
	}
	installMu.Lock()
	defer installMu.Unlock()
	for name, want := range pkg.Dependencies {
		var got struct{ Version string }
		b, err := os.ReadFile(filepath.Join(dir, "node_modules", name, "package.json"))
		if err != nil || json.Unmarshal(b, &got) != nil || got.Version != want {
			t.Logf("npm install into %s/node_modules (%s %s missing)", dir, name, want)
			cmd := exec.Command("npm", "install", "--no-audit", "--no-fund", "--no-package-lock", "--loglevel=error")
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("npm install: %v\n%s", err, out)
			}
			break
		}
	}
	return dir
}

var installMu sync.Mutex

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startNode runs a Node.js program of dir in its own process group, stopped
// (the group, by its id) when the test ends; its output goes to the test
// log when the test fails.
func startNode(t *testing.T, dir, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(dir, name), args...)
	if strings.HasSuffix(name, ".mjs") {
		cmd = exec.Command("node", append([]string{filepath.Join(dir, name)}, args...)...)
	}
	cmd.Dir = dir
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() {
		_ = syscall.Kill(-pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", name, out.String())
		}
	})
}

// postJSON posts a GraphQL request and decodes the answer into v.
func postJSON(t *testing.T, url, query string, vars map[string]any, v any) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s answered %d %s", url, resp.StatusCode, raw)
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not come up", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func getJSON(url string, v any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}

type composition struct {
	Errors, Hints []struct{ Message, Code string }
	SupergraphSDL string `json:"supergraphSdl"`
}

// compose composes the subgraphs ({name, url, sdl}) with
// @theguild/federation-composition.
func compose(t *testing.T, dir string, subgraphs []map[string]string) composition {
	t.Helper()
	in := filepath.Join(t.TempDir(), "subgraphs.json")
	raw, _ := json.Marshal(subgraphs)
	if err := os.WriteFile(in, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", filepath.Join(dir, "compose.mjs"), in)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("compose.mjs: %v %s", err, out)
	}
	var c composition
	if err := json.Unmarshal(out, &c); err != nil {
		t.Fatalf("compose.mjs: %v: %s", err, out)
	}
	return c
}

// fleetgraphTypes are the type names of fleetgraph's schema, to tell a
// composition hint about them from one about the other subgraph.
func fleetgraphTypes(t *testing.T, e *env) []string {
	t.Helper()
	var d struct {
		Schema struct{ Types []struct{ Name string } } `json:"__schema"`
	}
	e.query(t, `{ __schema { types { name } } }`, nil).mustData(t, &d)
	var out []string
	for _, ty := range d.Schema.Types {
		if !strings.HasPrefix(ty.Name, "__") {
			out = append(out, ty.Name)
		}
	}
	return out
}

type routerFleet struct {
	e        *env
	dir      string
	teamsURL string
	router   string
	nodes    []struct{ ID, Name, Status string }
	owners   map[string]string
}

// newRouterFleet composes fleetgraph (over the simulators) with the team
// directory and starts Hive Gateway on the supergraph.
func newRouterFleet(t *testing.T) *routerFleet {
	t.Helper()
	dir := npmInstall(t)
	f := &routerFleet{e: newEnv(t, envOptions{configure: federated}), dir: dir, owners: map[string]string{}}
	var list struct {
		Nodes struct {
			Edges []struct {
				Node struct{ ID, Name, Status string }
			}
		}
	}
	f.e.query(t, `{ nodes(first: 200) { edges { node { id name status } } } }`, nil).mustData(t, &list)
	for i, n := range list.Nodes.Edges {
		f.nodes = append(f.nodes, n.Node)
		if i%5 != 4 { // every fifth node has no owner: a null beside the others
			f.owners[n.Node.ID] = []string{"ml-platform", "vision", "speech"}[i%3]
		}
	}
	ownersFile := filepath.Join(t.TempDir(), "owners.json")
	raw, _ := json.Marshal(f.owners)
	if err := os.WriteFile(ownersFile, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	teamsPort := freePort(t)
	f.teamsURL = "http://127.0.0.1:" + strconv.Itoa(teamsPort)
	startNode(t, dir, "teams.mjs", strconv.Itoa(teamsPort), ownersFile)
	waitFor(t, "the team directory", func() bool { return getJSON(f.teamsURL+"/stats", &map[string]any{}) == nil })

	var fg, teams struct {
		Data struct {
			Service struct{ SDL string } `json:"_service"`
		}
	}
	postJSON(t, f.e.gw.URL+"/graphql", `{ _service { sdl } }`, nil, &fg)
	postJSON(t, f.teamsURL+"/graphql", `{ _service { sdl } }`, nil, &teams)
	c := compose(t, dir, []map[string]string{
		{"name": "fleetgraph", "url": f.e.gw.URL + "/graphql", "sdl": fg.Data.Service.SDL},
		{"name": "teams", "url": f.teamsURL + "/graphql", "sdl": teams.Data.Service.SDL},
	})
	for _, e := range c.Errors {
		t.Errorf("composition error %s: %s", e.Code, e.Message)
	}
	types := fleetgraphTypes(t, f.e)
	for _, h := range c.Hints {
		if slices.ContainsFunc(types, func(name string) bool {
			return strings.Contains(h.Message, `"`+name+`"`) || strings.Contains(h.Message, name+".")
		}) {
			t.Errorf("composition hint about fleetgraph's types %s: %s", h.Code, h.Message)
		} else {
			t.Logf("composition hint %s: %s", h.Code, h.Message)
		}
	}
	if t.Failed() || c.SupergraphSDL == "" {
		t.FailNow()
	}
	// The cost directives reach the supergraph, where demand control reads them.
	for _, want := range []string{`@cost(weight: 1)`, `@listSize(`, `join__type(graph: FLEETGRAPH, key: "id")`} {
		if !strings.Contains(c.SupergraphSDL, want) {
			t.Errorf("the supergraph lacks %s", want)
		}
	}
	supergraph := filepath.Join(t.TempDir(), "supergraph.graphql")
	if err := os.WriteFile(supergraph, []byte(c.SupergraphSDL), 0o600); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	f.router = "http://127.0.0.1:" + strconv.Itoa(port) + "/graphql"
	startNode(t, dir, "node_modules/.bin/hive-gateway", "supergraph", supergraph, "--host", "127.0.0.1", "--port", strconv.Itoa(port))
	waitFor(t, "Hive Gateway", func() bool {
		var r struct{ Data map[string]any }
		body := strings.NewReader(`{"query":"{ __typename }"}`)
		resp, err := http.Post(f.router, "application/json", body)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return json.NewDecoder(resp.Body).Decode(&r) == nil && r.Data != nil
	})
	return f
}

func (f *routerFleet) teamsStats(t *testing.T) (calls, reps int) {
	t.Helper()
	var s struct{ EntityCalls, Representations int }
	if err := getJSON(f.teamsURL+"/stats", &s); err != nil {
		t.Fatal(err)
	}
	return s.EntityCalls, s.Representations
}

// TestSupergraphThroughHiveGateway: the served SDL composes with a second
// subgraph that extends Node, without an error or a hint about fleetgraph's
// types, and Hive Gateway answers queries joining both: fleetgraph makes
// the calls the same query makes on it alone, and the team directory's
// entity call is one batch.
func TestSupergraphThroughHiveGateway(t *testing.T) {
	f := newRouterFleet(t)
	e := f.e
	// The minimum: what fleetgraph itself makes for the node list.
	e.warm(t)
	var direct map[string]any
	postJSON(t, e.gw.URL+"/graphql", `{ nodes(first: 200) { edges { node { id name } } } }`, nil, &direct)
	minimum := e.stats()
	if minimum["GET /api/v1/clusters/{clusterUuid}/nodes"] == 0 || minimum["modelarts GET /v2/{project_id}/pools/{pool_name}/nodes"] == 0 {
		t.Fatalf("the node list made %v: no node listing to compare with", minimum)
	}
	e.resetCounters()

	// fleetgraph -> teams: every node's owner.
	var joined struct {
		Data struct {
			Nodes struct {
				Edges []struct {
					Node struct {
						ID, Name string
						Owner    *struct{ Name, Email string }
					}
				}
			}
		}
		Errors []map[string]any
	}
	postJSON(t, f.router, `{ nodes(first: 200) { edges { node { id name owner { name email } } } } }`, nil, &joined)
	if len(joined.Errors) > 0 || len(joined.Data.Nodes.Edges) != len(f.nodes) {
		t.Fatalf("through the router: %d nodes (want %d), errors %v", len(joined.Data.Nodes.Edges), len(f.nodes), joined.Errors)
	}
	for i, n := range joined.Data.Nodes.Edges {
		owner, has := f.owners[n.Node.ID]
		switch {
		case n.Node.ID != f.nodes[i].ID || n.Node.Name != f.nodes[i].Name:
			t.Errorf("node %d: %+v, want %+v", i, n.Node, f.nodes[i])
		case has && (n.Node.Owner == nil || n.Node.Owner.Name != owner || n.Node.Owner.Email != owner+"@example.com"):
			t.Errorf("node %s: owner %+v, want %s", n.Node.Name, n.Node.Owner, owner)
		case !has && n.Node.Owner != nil:
			t.Errorf("node %s: owner %+v, want null", n.Node.Name, n.Node.Owner)
		}
	}
	if got := e.stats(); !maps.Equal(got, minimum) {
		t.Errorf("fleetgraph under the router made %v, alone %v", got, minimum)
	}
	if calls, reps := f.teamsStats(t); calls != 1 || reps != len(f.nodes) {
		t.Errorf("the team directory got %d _entities calls for %d representations, want 1 for %d", calls, reps, len(f.nodes))
	}

	// teams -> fleetgraph: every team's nodes, resolved by fleetgraph's
	// _entities in one batch: its node listings, nothing per node.
	e.resetCounters()
	var teams struct {
		Data struct {
			Teams []struct {
				Name  string
				Nodes []struct{ ID, Name, Status string }
			}
		}
		Errors []map[string]any
	}
	postJSON(t, f.router, `{ teams { name nodes { id name status } } }`, nil, &teams)
	if len(teams.Errors) > 0 || len(teams.Data.Teams) != 3 {
		t.Fatalf("teams through the router: %+v", teams)
	}
	byID := map[string]struct{ ID, Name, Status string }{}
	for _, n := range f.nodes {
		byID[n.ID] = n
	}
	count := 0
	for _, tm := range teams.Data.Teams {
		for _, n := range tm.Nodes {
			count++
			if n != byID[n.ID] || f.owners[n.ID] != tm.Name {
				t.Errorf("team %s: node %+v, want %+v owned by %s", tm.Name, n, byID[n.ID], f.owners[n.ID])
			}
		}
	}
	if count != len(f.owners) {
		t.Errorf("%d nodes in teams, want %d", count, len(f.owners))
	}
	listings := maps.Clone(minimum)
	delete(listings, "GET /api/v1/clusters") // an ID names its cluster: no cluster listing
	delete(listings, "modelarts GET /v2/{project_id}/pools")
	if got := e.stats(); !maps.Equal(got, listings) {
		t.Errorf("%d node entities through the router made %v, want the node listings %v", count, got, listings)
	}

	// Demand control (gateway.config.mjs: maxCost 5000) prices fleetgraph's
	// fields by the vendor calls of the served directives: Hive Gateway's
	// estimate is fleetgraph's own, and 10 metrics fields on 500 nodes
	// (5 002 calls) are refused before any.
	end := time.Now().UTC().Truncate(time.Minute)
	vars := map[string]any{"s": end.Add(-time.Hour).Format(time.RFC3339), "e": end.Format(time.RFC3339)}
	metrics := `query($s: DateTime!, $e: DateTime!) { nodes(first: 50) { edges { node { name
	  metrics(types: [GPU_UTILIZATION], start: $s, end: $e, samples: 5) { type } } } } }`
	var priced struct {
		Extensions struct{ Cost struct{ Estimated int } }
	}
	postJSON(t, f.router, metrics, vars, &priced)
	own := e.post(t, metrics, vars, "X-Fleetgraph-Cost", "true").json["extensions"].(map[string]any)["cost"].(map[string]any)
	if priced.Extensions.Cost.Estimated != 52 || own["estimatedUpstreamCalls"] != float64(52) {
		t.Errorf("estimates: Hive Gateway %d, fleetgraph %v; want 52 both (nodes 2 + 50 metrics)", priced.Extensions.Cost.Estimated, own["estimatedUpstreamCalls"])
	}
	var fields []string
	for i := range 10 {
		fields = append(fields, fmt.Sprintf("m%d: metrics(types: [GPU_UTILIZATION], start: $s, end: $e) { type }", i))
	}
	e.resetCounters()
	var refused struct {
		Data   any
		Errors []struct{ Message string }
	}
	postJSON(t, f.router, `query($s: DateTime!, $e: DateTime!) { nodes(first: 500) { edges { node { `+strings.Join(fields, " ")+` } } } }`, vars, &refused)
	if len(refused.Errors) == 0 || !strings.Contains(refused.Errors[0].Message, "5002") || e.upstreamCalls() != 0 {
		t.Errorf("an operation of 5002 estimated calls through the router: %+v, %d upstream calls; want refused, none", refused, e.upstreamCalls())
	}
}
