package modelarts_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/backends/modelarts"
	"github.com/fleetgraph/fleetgraph/backends/modelarts/modelartssim"
)

func TestPaging(t *testing.T) {
	t.Parallel()
	// One pool, 3 node pools x 4 nodes = 12 pool nodes.
	opts := modelartssim.Options{Seed: 3, Pools: 1, NodePoolsPerPool: 3, NodesPerNodePool: 4}
	tests := []struct {
		name      string
		pageLimit int
		poolPages int64 // ListPoolNodes calls for 12 nodes
		npPages   int64 // ListNodePoolNodes calls for 4 nodes
	}{
		{"limit 3", 3, 4, 2},
		{"limit 4 divides evenly", 4, 3, 1},
		{"limit 5", 5, 3, 1},
		{"default 500", 0, 1, 1},
		{"limit 1", 1, 12, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, opts)
			c := e.client(t, modelarts.Config{Token: e.sim.IssueToken(), PageLimit: tc.pageLimit})
			f := e.sim.Fleet()
			pool := f.Pools[0].Metadata.Name

			nodes, err := c.ListPoolNodes(t.Context(), pool)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := nodeNames(nodes), nodeNames(f.Nodes[pool]); !slices.Equal(got, want) {
				t.Errorf("ListPoolNodes = %v, want %v", got, want)
			}
			if got := e.sim.Control().Count(modelartssim.RouteListPoolNodes); got != tc.poolPages {
				t.Errorf("ListPoolNodes calls = %d, want %d", got, tc.poolPages)
			}

			nodes, err = c.ListNodePoolNodes(t.Context(), pool, "nodepool-2")
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, n := range f.Nodes[pool] {
				if n.NodePoolName() == "nodepool-2" {
					want = append(want, n.Metadata.Name)
				}
			}
			if got := nodeNames(nodes); !slices.Equal(got, want) {
				t.Errorf("ListNodePoolNodes = %v, want %v", got, want)
			}
			if got := e.sim.Control().Count(modelartssim.RouteListNodePoolNode); got != tc.npPages {
				t.Errorf("ListNodePoolNodes calls = %d, want %d", got, tc.npPages)
			}
		})
	}
}

// TestPagingEnds covers servers that misbehave: a continue token with an
// empty page ends the listing; a repeated token is an error, not a loop.
func TestPagingEnds(t *testing.T) {
	t.Parallel()
	node := `{"apiVersion":"v2","kind":"Node","metadata":{"name":"n1"},"spec":{"flavor":"f"},"status":{"phase":"Available","resources":{"cpu":"1","memory":"1Gi"}}}`
	tests := []struct {
		name    string
		pages   map[string]string // continue value -> body
		want    []string
		wantErr error
	}{
		{
			name: "empty page with token stops",
			pages: map[string]string{
				"":  `{"kind":"NodeList","metadata":{"continue":"a"},"items":[` + node + `]}`,
				"a": `{"kind":"NodeList","metadata":{"continue":"b"},"items":[]}`,
			},
			want: []string{"n1"},
		},
		{
			name: "repeated token",
			pages: map[string]string{
				"":  `{"kind":"NodeList","metadata":{"continue":"a"},"items":[` + node + `]}`,
				"a": `{"kind":"NodeList","metadata":{"continue":"a"},"items":[` + node + `]}`,
			},
			wantErr: backends.ErrUpstream,
		},
		{
			name:    "not JSON",
			pages:   map[string]string{"": `<html>`},
			wantErr: backends.ErrUpstream,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(tc.pages[r.URL.Query().Get("continue")]))
			}))
			t.Cleanup(srv.Close)
			c, err := modelarts.New(modelarts.Config{Name: "m", Endpoint: srv.URL + basePath, ProjectID: "p", Token: "t"})
			if err != nil {
				t.Fatal(err)
			}
			nodes, err := c.ListPoolNodes(t.Context(), "pool")
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := nodeNames(nodes); !slices.Equal(got, tc.want) {
				t.Errorf("nodes = %v, want %v", got, tc.want)
			}
		})
	}
}
