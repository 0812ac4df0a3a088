package tests

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"

	"github.com/fleetgraph/fleetgraph/backends/modelarts"
)

// A ModelArts node pool's nodes are its resource pool's listing filtered on
// the node-pool name label (graph_test.go counts the calls). A vendor
// answer without that label cannot be filtered: each node pool's own
// listing answers, and the node pool's metrics still aggregate its nodes.

var poolNodesPath = regexp.MustCompile(`^/v2/[^/]+/pools/[^/]+/nodes$`)

// withoutNodePoolNameLabel deletes os.modelarts.node/nodepoolname from the
// nodes of every resource-pool node listing.
func withoutNodePoolNameLabel(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || !poolNodesPath.MatchString(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		var body map[string]any
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &body) != nil {
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
			return
		}
		items, _ := body["items"].([]any)
		for _, it := range items {
			md, _ := it.(map[string]any)["metadata"].(map[string]any)
			if labels, ok := md["labels"].(map[string]any); ok {
				delete(labels, modelarts.LabelNodePoolName)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(body)
	})
}

func TestModelArtsNodePoolsWithoutTheNameLabelListTheirOwnNodes(t *testing.T) {
	t.Parallel()
	const q = `query($s: DateTime!, $e: DateTime!) { clusters(provider: MODELARTS) { nodePools { name
		nodes(first: 500) { totalCount edges { node { name ip nodePool { name } } } }
		metrics(types: [GPU_UTILIZATION], start: $s, end: $e, samples: 12) { type points { value } } } } }`
	type answer struct {
		Clusters []struct {
			NodePools []struct {
				Name  string
				Nodes struct {
					TotalCount int
					Edges      []struct {
						Node struct {
							Name     string
							NodePool *struct{ Name string }
						}
					}
				}
				Metrics []maSeries
			}
		}
	}
	vars := map[string]any{"s": aomStart, "e": aomEnd}
	var labelled, unlabelled answer
	plain := newEnv(t, envOptions{})
	plain.query(t, q, vars).mustData(t, &labelled)
	bare := newEnv(t, envOptions{wrapModelArts: withoutNodePoolNameLabel})
	bare.resetCounters()
	bare.query(t, q, vars).mustData(t, &unlabelled)

	pools, points := 0, 0
	for ci, c := range unlabelled.Clusters {
		for pi, np := range c.NodePools {
			pools++
			want := labelled.Clusters[ci].NodePools[pi]
			if np.Name != want.Name || np.Nodes.TotalCount != want.Nodes.TotalCount || np.Nodes.TotalCount == 0 {
				t.Errorf("node pool %s: %d nodes, want %s's %d", np.Name, np.Nodes.TotalCount, want.Name, want.Nodes.TotalCount)
			}
			for _, edge := range np.Nodes.Edges {
				if edge.Node.NodePool == nil || edge.Node.NodePool.Name != np.Name {
					t.Errorf("node %s of %s: nodePool %+v", edge.Node.Name, np.Name, edge.Node.NodePool)
				}
			}
			if len(np.Metrics) != 1 || len(want.Metrics) != 1 || len(np.Metrics[0].Points) != len(want.Metrics[0].Points) {
				t.Errorf("node pool %s: metrics %+v, want %+v", np.Name, np.Metrics, want.Metrics)
			}
			points += len(np.Metrics[0].Points)
		}
	}
	if pools < 2 || points == 0 {
		t.Fatalf("%d node pools, %d GPU_UTILIZATION points", pools, points)
	}
	if got := bare.ma.Control().Count(maNPNodes); got != int64(pools) {
		t.Errorf("node-pool node listings %d, want one per node pool (%d)", got, pools)
	}
}
