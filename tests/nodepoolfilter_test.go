package tests

import (
	"testing"
)

// NodePool.nodes(filter: {nodePoolId}) names another node pool: no nodes.
// ModelArts node pools of different resource pools share names
// (nodepool-1 in each), and the check compared only the node-pool name, so
// a filter for one pool's nodepool-1 answered the other's nodes.
func TestNodePoolNodesFilteredByAnotherPool(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	var data struct {
		NodePools struct {
			Edges []struct {
				Node struct {
					ID, Name, Provider string
					Cluster            struct{ ID string }
				}
			}
		}
	}
	e.query(t, `{ nodePools(filter: {provider: MODELARTS}) { edges { node { id name provider cluster { id } } } } }`, nil).mustData(t, &data)
	byName := map[string][]string{} // node-pool name -> IDs, one per resource pool
	for _, edge := range data.NodePools.Edges {
		byName[edge.Node.Name] = append(byName[edge.Node.Name], edge.Node.ID)
	}
	var a, b string
	for _, ids := range byName {
		if len(ids) >= 2 {
			a, b = ids[0], ids[1]
			break
		}
	}
	if a == "" {
		t.Fatalf("no node-pool name in two ModelArts resource pools: %v", byName)
	}
	var got struct {
		NodePool struct {
			Self  struct{ TotalCount int }
			Other struct{ TotalCount int }
		}
	}
	e.query(t, `query($a: ID!, $b: ID!) { nodePool(id: $a) {
		self: nodes(filter: {nodePoolId: $a}) { totalCount }
		other: nodes(filter: {nodePoolId: $b}) { totalCount } } }`, map[string]any{"a": a, "b": b}).mustData(t, &got)
	if got.NodePool.Self.TotalCount == 0 {
		t.Fatal("the pool's own filter gives no nodes")
	}
	if got.NodePool.Other.TotalCount != 0 {
		t.Fatalf("a filter for the same-named node pool of another resource pool gives %d nodes, want 0", got.NodePool.Other.TotalCount)
	}
}
