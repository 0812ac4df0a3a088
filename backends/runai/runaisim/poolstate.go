package runaisim

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/fleetgraph/fleetgraph/backends/runai"
)

// Pool writes. The node-pool API and the deprecated /v1/k8s API both write
// through these methods, so a pool written through either is seen by both,
// by the nodes listing (a node's nodePool) and by metrics and telemetry.
//
// Membership follows labels, as in Run:ai: a node belongs to the first
// non-default pool of its cluster (in creation order) whose labelKey has
// the value labelValue among the node's labels, else to the cluster's
// default pool. Two pools may select the same label; the older one keeps
// the nodes, the newer one stays Empty (the vendor's rule for this case is
// not documented). The seeded nodes carry run.ai/node-pool=<their pool> and,
// on GPU nodes, nvidia.com/gpu.product=<GPU type>: a new pool selecting
// run.ai/node-pool=default takes the default pool's nodes, for instance.
//
// Phases follow the clock, not timers: a write records when its Creating,
// Updating or Deleting phase ends (Options.PhaseDelay), and every reader
// settles what is due first. No goroutine outlives a request, and a test
// clock (Options.Now) drives the phases.

// apiError is a write the API refuses: the status and message of its body.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func refuse(status int, format string, args ...any) error {
	return &apiError{status: status, msg: fmt.Sprintf(format, args...)}
}

var errPoolNotFound = &apiError{status: http.StatusNotFound, msg: statusMessage(http.StatusNotFound)}

func (f *fleet) setPhaseDelay(d time.Duration) {
	f.mu.Lock()
	f.phaseDelay = d
	f.mu.Unlock()
}

// settle applies the phase ends that are due. Readers of pools and nodes
// call it before taking the read lock.
func (f *fleet) settle() {
	if f.pending.Load() == 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.settleLocked()
}

// settleLocked ends the due phases: a Deleting pool goes, the others take
// the phase their nodes give them. Writers call it first too, so that a
// write never meets a pool whose end is past (a name still taken, say).
func (f *fleet) settleLocked() {
	now := f.now()
	settled := map[string]bool{}
	for id, end := range f.due {
		if !now.Before(end) {
			settled[id] = true
			delete(f.due, id)
		}
	}
	if len(settled) == 0 {
		return
	}
	f.pending.Store(int32(len(f.due)))
	// In place: readers hold copies, never this backing array.
	f.pools = slices.DeleteFunc(f.pools, func(p runai.NodePool) bool {
		return settled[p.ID] && p.Phase == runai.PoolDeleting
	})
	f.reconcile(settled)
}

// begin puts p in a transitional phase that ends PhaseDelay from now.
func (f *fleet) begin(p *runai.NodePool, phase string) {
	p.Phase, p.PhaseMessage = phase, ""
	f.due[p.ID] = f.now().Add(max(f.phaseDelay, 0))
	f.pending.Store(int32(len(f.due)))
}

// poolIndex returns the index of pool id, in cluster clusterID unless that
// is empty; -1 when there is none.
func (f *fleet) poolIndex(clusterID, id string) int {
	return slices.IndexFunc(f.pools, func(p runai.NodePool) bool {
		return p.ID == id && (clusterID == "" || p.ClusterID == clusterID)
	})
}

// createPool adds p, whose name, cluster and settings the caller has set
// and validated. The fleet sets the rest: id, cluster name, tenant, phase
// Creating, who and when. A cluster UUID that is not the tenant's is a 400:
// the request names it in its body, and the operation declares no 404 (the
// deprecated API, which has the cluster in its path, answers 404 first).
func (f *fleet) createPool(p runai.NodePool, by string) (runai.NodePool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.settleLocked()
	ci, ok := f.clusterByUUID[p.ClusterID]
	if !ok {
		return runai.NodePool{}, refuse(http.StatusBadRequest, "Bad request - clusterId %s is not a cluster of this tenant", p.ClusterID)
	}
	cl := f.clusters[ci]
	// A pool being deleted still holds its name until it is gone.
	if slices.ContainsFunc(f.pools, func(q runai.NodePool) bool { return q.ClusterID == cl.UUID && q.Name == p.Name }) {
		return runai.NodePool{}, refuse(http.StatusConflict, "Node pool %s already exists in cluster %s", p.Name, cl.Name)
	}
	now := f.now()
	p.ID = strconv.Itoa(f.nextPoolID)
	f.nextPoolID++
	p.ClusterName, p.TenantID, p.IsDefault = cl.Name, tenantID, false
	p.CreatedBy, p.CreatedAt, p.UpdatedBy, p.UpdatedAt = by, now, by, now
	p.DeletedBy, p.DeletedAt, p.Status = "", nil, nil
	f.begin(&p, runai.PoolCreating)
	f.pools = append(f.pools, p)
	f.reconcile(map[string]bool{p.ID: true})
	return f.pools[len(f.pools)-1], nil
}

// updatePool applies change to a copy of pool id (in cluster clusterID
// unless that is empty), puts it in phase Updating and stores it. change
// must replace pointed-to values, never write through them.
func (f *fleet) updatePool(clusterID, id, by string, change func(*runai.NodePool)) (runai.NodePool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.settleLocked()
	i := f.poolIndex(clusterID, id)
	if i < 0 {
		return runai.NodePool{}, errPoolNotFound
	}
	p := f.pools[i]
	if p.Phase == runai.PoolDeleting {
		return runai.NodePool{}, refuse(http.StatusBadRequest, "Bad request - node pool %s is being deleted", p.Name)
	}
	change(&p)
	p.UpdatedBy, p.UpdatedAt = by, f.now()
	f.begin(&p, runai.PoolUpdating)
	f.pools[i] = p
	f.reconcile(map[string]bool{p.ID: true})
	return f.pools[i], nil
}

// deletePool puts pool id in phase Deleting; it goes PhaseDelay later.
// Deleting a pool already Deleting succeeds again and keeps the end under
// way: the vendor answers 202 "accepted", and a client that lost the first
// answer must be able to ask again. The default pool cannot go: it holds
// every node no other pool selects.
func (f *fleet) deletePool(clusterID, id, by string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.settleLocked()
	i := f.poolIndex(clusterID, id)
	if i < 0 {
		return errPoolNotFound
	}
	p := f.pools[i]
	switch {
	case p.IsDefault:
		return refuse(http.StatusBadRequest, "Bad request - the default node pool of cluster %s cannot be deleted", p.ClusterName)
	case p.Phase == runai.PoolDeleting:
		return nil
	}
	now := f.now()
	p.DeletedBy, p.DeletedAt = by, &now
	f.begin(&p, runai.PoolDeleting)
	f.pools[i] = p
	return nil
}

// reconcile assigns every node to its pool and brings the pools' status and
// settled phase in line. Pools in dirty were written or settled; another
// pool is rewritten only when its nodes changed, so an untouched pool stays
// exactly as it was built.
func (f *fleet) reconcile(dirty map[string]bool) {
	members := make([][]int, len(f.pools))
	for ni := range f.nodes {
		n := &f.nodes[ni] // a value in the slice; no DTO pointer is written through
		n.dto.NodePool = ""
		if owner := f.owner(n); owner >= 0 {
			n.dto.NodePool = f.pools[owner].Name
			members[owner] = append(members[owner], ni)
		}
	}
	for pi, p := range f.pools {
		var names []string
		ready, nvLink := 0, false
		for _, ni := range members[pi] {
			n := f.nodes[ni]
			names = append(names, n.dto.Name)
			if n.dto.Status == runai.NodeReady {
				ready++
			}
			nvLink = nvLink || n.hw.nvLink
		}
		var had []string
		if p.Status != nil {
			had = p.Status.Nodes
		}
		if !dirty[p.ID] && slices.Equal(names, had) {
			continue
		}
		p.Status = syncedStatus(p, names, nvLink)
		if _, busy := f.due[p.ID]; !busy {
			p.Phase, p.PhaseMessage = settledPhase(len(names), ready)
		}
		f.pools[pi] = p
	}
}

// owner returns the index of the pool n belongs to, -1 for none.
func (f *fleet) owner(n *simNode) int {
	def := -1
	for pi, p := range f.pools {
		switch {
		case p.ClusterID != n.dto.ClusterUUID:
		case p.IsDefault:
			if def < 0 {
				def = pi
			}
		default:
			if v, ok := n.labels[p.LabelKey]; ok && v == p.LabelValue {
				return pi
			}
		}
	}
	return def
}

// syncedStatus is what the cluster reports for p once synced: its settings
// and its nodes.
func syncedStatus(p runai.NodePool, nodes []string, nvLink bool) *runai.NodePoolStatus {
	detected := nvLink
	switch deref(p.GPUNetworkAccelerationDetection) {
	case "Use":
		detected = true
	case "DontUse":
		detected = false
	}
	return &runai.NodePoolStatus{
		LabelKey:                        ptr(p.LabelKey),
		LabelValue:                      ptr(p.LabelValue),
		OverProvisioningRatio:           p.OverProvisioningRatio,
		PlacementStrategy:               p.PlacementStrategy,
		GPUNetworkAccelerationLabelKey:  p.GPUNetworkAccelerationLabelKey,
		GPUNetworkAccelerationDetection: p.GPUNetworkAccelerationDetection,
		GPUResourceOptimization:         p.GPUResourceOptimization,
		GPUNetworkAccelerationDetected:  detected,
		Nodes:                           nodes,
	}
}

// settledPhase is the phase of a pool no write is under way on.
func settledPhase(nodes, ready int) (phase, msg string) {
	switch {
	case nodes == 0:
		return runai.PoolEmpty, ""
	case ready == 0:
		return runai.PoolUnschedulable, "all nodes are down"
	}
	return runai.PoolReady, ""
}
