package model

import "time"

// Placement is one place a job fits (Query.placements): one node, or the
// nodes of one node pool. Its nodePool is resolved from its first node.
type Placement struct {
	Provider         Provider
	Nodes            []*Node
	Vendor           string
	Model            string
	FreeAccelerators int
	LeftOver         int
}

// PlacementsUpdate is one event of the placements subscription. Errs are
// reported with the event by the placements field's resolver.
type PlacementsUpdate struct {
	At         time.Time
	Placements []*Placement
	Errs       []error
}
