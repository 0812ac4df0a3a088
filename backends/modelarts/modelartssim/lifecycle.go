package modelartssim

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/fleetgraph/fleetgraph/backends/modelarts"
)

// Node lifecycles of the writes. The real API answers a write at once and
// works afterwards (upstreams.md B.9): new nodes go Creating -> Checking ->
// Available, removed nodes Deleting -> gone, and a node pool's only state is
// its per-bucket counts. Here each step lasts Options.PhaseDelay, measured on
// Options.Now, and is applied lazily by tick before each vendor request.

// tick applies every lifecycle step that is due now.
func (s *Server) tick() {
	s.mu.RLock()
	busy := false
	for _, p := range s.fleet.pools {
		if len(p.changes) > 0 || slices.ContainsFunc(p.nodePools, func(np *nodePoolState) bool { return !np.deletedAt.IsZero() }) {
			busy = true
			break
		}
	}
	s.mu.RUnlock()
	if !busy {
		return
	}
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.fleet.pools {
		if p.advance(now, s.opts.PhaseDelay) {
			p.recount()
		}
	}
}

// phaseAt is where a change started at since stands at now: the node's
// phase, or gone for a deleted node whose time is up. done: no further step.
func (c nodeChange) phaseAt(now time.Time, step time.Duration) (phase string, gone, done bool) {
	elapsed := now.Sub(c.since)
	if step < 0 {
		step = 0
	}
	if c.deleting {
		if elapsed < step {
			return modelarts.NodeDeleting, false, false
		}
		return "", true, true
	}
	switch {
	case elapsed < step:
		return modelarts.NodeCreating, false, false
	case elapsed < 2*step:
		return modelarts.NodeChecking, false, false
	}
	return modelarts.NodeAvailable, false, true
}

// advance applies the steps due at now; it reports whether anything changed.
// The caller holds the write lock and recounts.
func (p *poolState) advance(now time.Time, step time.Duration) bool {
	changed := false
	if len(p.changes) > 0 {
		kept := make([]modelarts.Node, 0, len(p.nodes))
		for _, n := range p.nodes {
			c, ok := p.changes[n.Metadata.Name]
			if !ok {
				kept = append(kept, n)
				continue
			}
			phase, gone, done := c.phaseAt(now, step)
			if done {
				delete(p.changes, n.Metadata.Name)
			}
			if gone {
				changed = true
				continue
			}
			if n.Status.Phase != phase {
				n.Status.Phase = phase
				changed = true
			}
			kept = append(kept, n)
		}
		p.nodes = kept
	}
	// A deleted node pool goes with its last node, and not before one step
	// (so that an empty one is seen deleting too).
	nps := make([]*nodePoolState, 0, len(p.nodePools))
	for _, np := range p.nodePools {
		if !np.deletedAt.IsZero() && now.Sub(np.deletedAt) >= max(step, 0) && len(p.nodesOf(np.np.Metadata.Name)) == 0 {
			changed = true
			continue
		}
		nps = append(nps, np)
	}
	p.nodePools = nps
	return changed
}

// liveNodes are a node pool's nodes that are not on their way out, by AZ.
func (p *poolState) liveNodes(nodePool string) map[string][]int {
	out := map[string][]int{}
	for i, n := range p.nodes {
		if n.NodePoolName() == nodePool && n.Status.Phase != modelarts.NodeDeleting {
			out[n.Status.AZ] = append(out[n.Status.AZ], i)
		}
	}
	return out
}

// scale brings the node pool to count live nodes: to the per-AZ counts of azs
// when given, else adding to the emptiest AZ and removing from the fullest.
// It then sets spec.resources.azs from the live nodes.
func (s *Server) scale(p *poolState, np *nodePoolState, count int, azs []modelarts.AZCount, now time.Time) {
	name := np.np.Metadata.Name
	fl, _ := p.flavor(np.np.Spec.Resources.Flavor)
	if azs != nil {
		want := map[string]int{}
		for _, a := range azs {
			want[a.AZ] = a.Count
		}
		for az, idx := range p.liveNodes(name) {
			for range len(idx) - want[az] {
				s.removeNode(p, name, az, now)
			}
		}
		live := p.liveNodes(name)
		for _, a := range azs {
			for range a.Count - len(live[a.AZ]) {
				s.addNode(p, np, fl, a.AZ, now)
			}
		}
	} else {
		for {
			live := p.liveNodes(name)
			total := 0
			for _, idx := range live {
				total += len(idx)
			}
			if total == count {
				break
			}
			if total < count {
				s.addNode(p, np, fl, emptiestAZ(live), now)
			} else {
				s.removeNode(p, name, fullestAZ(live), now)
			}
		}
	}
	spread := map[string]int{}
	for az, idx := range p.liveNodes(name) {
		spread[az] = len(idx)
	}
	np.np.Spec.Resources.AZs = azList(spread)
}

// emptiestAZ is the zone with the fewest live nodes (ties: the first zone).
func emptiestAZ(live map[string][]int) string {
	best := zones[0]
	for _, az := range zones {
		if len(live[az]) < len(live[best]) {
			best = az
		}
	}
	return best
}

// fullestAZ is the AZ with the most live nodes (ties: the first by name), ""
// when there is none.
func fullestAZ(live map[string][]int) string {
	best := ""
	for _, az := range slices.Sorted(maps.Keys(live)) {
		if len(live[az]) > len(live[best]) {
			best = az
		}
	}
	return best
}

func (s *Server) addNode(p *poolState, np *nodePoolState, fl flavor, az string, now time.Time) {
	r := np.np.Spec.Resources
	network := p.network
	if r.Network != nil {
		network = r.Network
	}
	n := s.fleet.gen.newNode(p, fl, np.np.Metadata.Name, az, network, now, modelarts.NodeCreating)
	if r.OS != nil {
		n.Spec.OS = r.OS
	}
	n.Spec.ExtendParams = r.ExtendParams
	p.nodes = append(p.nodes, n)
	p.changes[n.Metadata.Name] = nodeChange{since: now}
}

// removeNode starts deleting one live node of the node pool in az: an
// abnormal one first, then one not yet available, then the newest.
func (s *Server) removeNode(p *poolState, nodePool, az string, now time.Time) {
	idx := p.liveNodes(nodePool)[az]
	if len(idx) == 0 {
		return
	}
	rank := func(i int) int {
		switch p.nodes[i].Status.Phase {
		case modelarts.NodeAbnormal:
			return 0
		case modelarts.NodeAvailable:
			return 2
		}
		return 1
	}
	victim := slices.MaxFunc(idx, func(a, b int) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return rb - ra // lower rank wins
		}
		return a - b // newer (later) wins
	})
	p.deleteNode(victim, now)
}

func (p *poolState) deleteNode(i int, now time.Time) {
	p.nodes[i].Status.Phase = modelarts.NodeDeleting
	p.changes[p.nodes[i].Metadata.Name] = nodeChange{since: now, deleting: true}
}

// flavor returns a flavor the pool offers.
func (p *poolState) flavor(name string) (flavor, bool) {
	i := slices.IndexFunc(p.flavors, func(f flavor) bool { return f.name == name })
	if i < 0 {
		return flavor{}, false
	}
	return p.flavors[i], true
}

func (p *poolState) flavorNames() string {
	names := make([]string, len(p.flavors))
	for i, f := range p.flavors {
		names[i] = f.name
	}
	return strings.Join(names, ", ")
}
