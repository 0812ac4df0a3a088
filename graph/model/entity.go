package model

// Cluster, NodePool and Node are federation entities (@key(fields: "id") in
// graph/schema/federation.graphqls): the members of the _Entity union.

func (Cluster) IsEntity()  {}
func (NodePool) IsEntity() {}
func (Node) IsEntity()     {}
