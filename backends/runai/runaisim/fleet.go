package runaisim

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fleetgraph/fleetgraph/backends/runai"
)

// Fleet is a snapshot of the simulated tenant, in creation order. Tests use
// it to know ids and names; treat it as read-only.
type Fleet struct {
	Clusters  []runai.Cluster
	NodePools []runai.NodePool
	Nodes     []runai.Node
}

const (
	tenantID  = 1001
	poolLabel = "run.ai/node-pool"
	poolOwner = "admin@fleetgraph.example"
)

// epoch is when the simulated fleet was created: fixed, so that every
// timestamp of the fleet depends on the seed only.
var epoch = time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)

// gpuProfile is one kind of GPU node.
type gpuProfile struct {
	gpuType  string
	short    string // pool name stem
	memBytes int64  // per GPU
	counts   []int  // GPUs per node, picked per pool
	nvLink   bool
	cores    int
	mem      int64
}

const gib = int64(1) << 30

var gpuProfiles = []gpuProfile{
	{gpuType: "NVIDIA-H100-80GB-HBM3", short: "h100", memBytes: 80 * gib, counts: []int{8}, nvLink: true, cores: 112, mem: 2048 * gib},
	{gpuType: "NVIDIA-A100-SXM4-80GB", short: "a100", memBytes: 80 * gib, counts: []int{8, 4}, cores: 128, mem: 1024 * gib},
	{gpuType: "Tesla-V100", short: "v100", memBytes: 32 * gib, counts: []int{4, 8}, cores: 64, mem: 512 * gib},
}

// cpuProfile is the node of a CPU-only pool.
var cpuProfile = gpuProfile{short: "cpu", cores: 32, mem: 256 * gib}

// hardware is what a node has; the metric model derives usage from it.
type hardware struct {
	gpus        int
	gpuMemBytes int64 // per GPU
	nvLink      bool
	cores       int
	memBytes    int64
}

type simNode struct {
	dto runai.Node
	hw  hardware
	// labels are the node's Kubernetes labels: poolLabel with the name of
	// the pool it was built for, and the GPU product on GPU nodes. Pools
	// select nodes by them. Never changed after the fleet is built.
	labels map[string]string
}

// gpuProductLabel is the label the NVIDIA GPU operator puts on GPU nodes.
const gpuProductLabel = "nvidia.com/gpu.product"

// fleet is the simulator's state. Handlers copy what they need under mu.
// DTOs are never changed through their pointers (Status, GPUInfo, ...):
// a writer replaces the pointed-to value, so copies handed out stay valid.
// Pool writes live in poolstate.go.
type fleet struct {
	mu       sync.RWMutex
	clusters []runai.Cluster
	pools    []runai.NodePool
	nodes    []simNode

	// Indexes into the slices, for the per-id routes (metrics are called
	// per node, many times). Writers keep them in step with the slices.
	clusterByUUID map[string]int
	nodeByID      map[string]int

	nextPoolID int

	// Transitional phases: due holds, by pool id, when a Creating,
	// Updating or Deleting phase ends; pending is len(due), read without
	// the lock so that readers settle only when something is pending.
	now        func() time.Time
	phaseDelay time.Duration // <= 0: the next read settles
	due        map[string]time.Time
	pending    atomic.Int32
}

// newFleet builds the fleet from opts.Seed alone: the same options give the
// same UUIDs, names, shapes and statuses.
func newFleet(opts Options) *fleet {
	rng := rand.New(rand.NewPCG(uint64(opts.Seed), 0x72756e6169)) // "runai"
	f := &fleet{
		nextPoolID: 1, clusterByUUID: map[string]int{}, nodeByID: map[string]int{},
		now: func() time.Time { return opts.Now().UTC() }, phaseDelay: opts.PhaseDelay, due: map[string]time.Time{},
	}
	for ci := range opts.Clusters {
		created := epoch.Add(time.Duration(ci) * 24 * time.Hour)
		cl := newCluster(rng, ci, created, opts.Version)
		f.clusterByUUID[cl.UUID] = len(f.clusters)
		f.clusters = append(f.clusters, cl)

		used := map[string]int{}
		for pi := range opts.PoolsPerCluster {
			prof := gpuProfiles[(ci+pi)%len(gpuProfiles)]
			if opts.PoolsPerCluster >= 3 && pi == opts.PoolsPerCluster-1 {
				prof = cpuProfile
			}
			name := prof.short
			if pi == 0 {
				name = "default"
			}
			if used[name]++; used[name] > 1 {
				name += "-" + strconv.Itoa(used[name])
			}
			hw := hardware{gpuMemBytes: prof.memBytes, nvLink: prof.nvLink, cores: prof.cores, memBytes: prof.mem}
			if len(prof.counts) > 0 {
				hw.gpus = prof.counts[rng.IntN(len(prof.counts))]
			}
			poolCreated := created.Add(time.Duration(pi+1) * 10 * time.Minute)
			var domain *string
			if prof.nvLink {
				domain = ptr(uuid(rng))
			}

			var names []string
			ready := 0
			for k := range opts.NodesPerPool {
				n := simNode{hw: hw, labels: map[string]string{poolLabel: name}, dto: runai.Node{
					ID:              uuid(rng),
					Name:            fmt.Sprintf("c%d-%s-node-%02d", ci+1, name, k+1),
					ClusterUUID:     cl.UUID,
					NodePool:        name,
					Status:          runai.NodeReady,
					CreatedAt:       poolCreated.Add(time.Duration(k+1) * time.Minute),
					UpdatedAt:       poolCreated.Add(time.Duration(k+1)*time.Minute + 6*time.Hour),
					NvLinkDomainUID: domain,
				}}
				if hw.gpus > 0 {
					n.dto.GPUInfo = &runai.GPUInfo{GPUType: prof.gpuType, GPUCount: hw.gpus}
					n.labels[gpuProductLabel] = prof.gpuType
					n.dto.Taints = []runai.NodeTaint{{Key: "nvidia.com/gpu", Value: "present", Effect: "NoSchedule"}}
				}
				if domain != nil {
					n.dto.NvLinkCliqueID = ptr(fmt.Sprintf("%s.%d", *domain, k/4))
				}
				// A few nodes are down: one in 10 at random, plus the last
				// node of each cluster's second pool, so that every fleet
				// of the default shape has some.
				if rng.IntN(10) == 0 || (pi == 1 && k == opts.NodesPerPool-1) {
					n.dto.Status = runai.NodeNotReady
					n.dto.Conditions = []runai.NodeCondition{{Type: "Ready", Reason: "KubeletNotReady", Message: "container runtime status check may not have completed yet"}}
					n.dto.Taints = append(n.dto.Taints, runai.NodeTaint{Key: "node.kubernetes.io/not-ready", Effect: "NoSchedule"})
				} else {
					ready++
				}
				names = append(names, n.dto.Name)
				f.nodeByID[n.dto.ID] = len(f.nodes)
				f.nodes = append(f.nodes, n)
			}
			f.pools = append(f.pools, f.newPool(cl, name, pi == 0, prof.nvLink, poolCreated, names, ready))
		}
	}
	return f
}

// version is the served API version: the clusters run its release.
func newCluster(rng *rand.Rand, ci int, created time.Time, version string) runai.Cluster {
	name := fmt.Sprintf("cluster-%d", ci+1)
	platforms := []string{"vanilla", "openshift", "eks"}
	seen := created.Add(time.Hour)
	return runai.Cluster{
		UUID:      uuid(rng),
		TenantID:  tenantID,
		Name:      name,
		CreatedAt: created,
		Domain:    ptr(name + ".fleetgraph.example"),
		Version:   ptr(fmt.Sprintf("%s.%d", version, rng.IntN(30))),
		UpdatedAt: &seen,
		Status: &runai.ClusterStatus{
			State: runai.ClusterConnected,
			Conditions: []runai.ClusterCondition{{
				Type: "Available", Status: "True", Reason: "Reconciled", Message: "", LastTransitionTime: seen,
			}},
			Operands: map[string]runai.OperandStatus{
				"scheduler":       {Ready: true},
				"workload-server": {Ready: true},
				"prometheus":      {Ready: true},
			},
			Platform: &runai.ClusterPlatform{
				Type:        ptr(platforms[ci%len(platforms)]),
				KubeVersion: ptr(fmt.Sprintf("v1.3%d.%d", rng.IntN(3), rng.IntN(10))),
			},
			Config: &runai.ClusterConfig{WorkloadOwnershipProtection: ptr(false), SubdomainEnabled: ptr(false)},
			Dependencies: &runai.ClusterDependenciesStatus{
				Required: map[string]runai.ClusterDependencyStatus{
					"nvidia-gpu-operator": {Available: true},
					"prometheus":          {Available: true},
				},
				Optional: map[string]runai.ClusterDependencyStatus{
					"knative": {Available: false, Reason: "not installed"},
				},
			},
		},
	}
}

// newPool builds a pool and takes the next tenant-wide id.
func (f *fleet) newPool(cl runai.Cluster, name string, isDefault, nvLink bool, created time.Time, nodes []string, ready int) runai.NodePool {
	id := strconv.Itoa(f.nextPoolID)
	f.nextPoolID++
	phase, msg := settledPhase(len(nodes), ready)
	placement, optimization := defaultPlacement(), defaultOptimization()
	return runai.NodePool{
		ID:                              id,
		Name:                            name,
		ClusterID:                       cl.UUID,
		ClusterName:                     cl.Name,
		TenantID:                        tenantID,
		LabelKey:                        poolLabel,
		LabelValue:                      name,
		OverProvisioningRatio:           ptr(defaultRatio),
		PlacementStrategy:               placement,
		GPUNetworkAccelerationDetection: ptr(defaultDetection),
		GPUResourceOptimization:         optimization,
		Phase:                           phase,
		PhaseMessage:                    msg,
		Status: &runai.NodePoolStatus{
			LabelKey:                        ptr(poolLabel),
			LabelValue:                      ptr(name),
			PlacementStrategy:               placement,
			GPUNetworkAccelerationDetection: ptr(defaultDetection),
			GPUResourceOptimization:         optimization,
			GPUNetworkAccelerationDetected:  nvLink,
			Nodes:                           nodes,
		},
		IsDefault: isDefault,
		CreatedBy: poolOwner,
		CreatedAt: created,
		UpdatedBy: poolOwner,
		UpdatedAt: created,
	}
}

func (f *fleet) snapshot() Fleet {
	f.settle()
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := Fleet{
		Clusters:  append([]runai.Cluster(nil), f.clusters...),
		NodePools: append([]runai.NodePool(nil), f.pools...),
		Nodes:     make([]runai.Node, len(f.nodes)),
	}
	for i, n := range f.nodes {
		out.Nodes[i] = n.dto
	}
	return out
}

// cluster returns the cluster with uuid.
func (f *fleet) cluster(uuid string) (runai.Cluster, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	i, ok := f.clusterByUUID[uuid]
	if !ok {
		return runai.Cluster{}, false
	}
	return f.clusters[i], true
}

// clusterNodes returns the nodes of a cluster; ok is false for an unknown
// cluster.
func (f *fleet) clusterNodes(uuid string) (nodes []simNode, ok bool) {
	f.settle()
	f.mu.RLock()
	defer f.mu.RUnlock()
	if _, ok = f.clusterByUUID[uuid]; !ok {
		return nil, false
	}
	for _, n := range f.nodes {
		if n.dto.ClusterUUID == uuid {
			nodes = append(nodes, n)
		}
	}
	return nodes, ok
}

// node returns the node with id.
func (f *fleet) node(id string) (simNode, bool) {
	f.settle()
	f.mu.RLock()
	defer f.mu.RUnlock()
	i, ok := f.nodeByID[id]
	if !ok {
		return simNode{}, false
	}
	return f.nodes[i], true
}

// allNodes returns every node.
func (f *fleet) allNodes() []simNode {
	f.settle()
	f.mu.RLock()
	defer f.mu.RUnlock()
	return append([]simNode(nil), f.nodes...)
}

// allClusters returns every cluster.
func (f *fleet) allClusters() []runai.Cluster {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return append([]runai.Cluster(nil), f.clusters...)
}

// clusterNames returns the clusters' names by UUID.
func (f *fleet) clusterNames() map[string]string {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make(map[string]string, len(f.clusters))
	for _, c := range f.clusters {
		out[c.UUID] = c.Name
	}
	return out
}

// hasPool reports whether a pool called name exists in the cluster
// clusterID, or in any cluster when clusterID is empty.
func (f *fleet) hasPool(clusterID, name string) bool {
	f.settle()
	f.mu.RLock()
	defer f.mu.RUnlock()
	for _, p := range f.pools {
		if p.Name == name && (clusterID == "" || p.ClusterID == clusterID) {
			return true
		}
	}
	return false
}

// allPools returns every node pool.
func (f *fleet) allPools() []runai.NodePool {
	f.settle()
	f.mu.RLock()
	defer f.mu.RUnlock()
	return append([]runai.NodePool(nil), f.pools...)
}

// uuid draws a version-4 UUID from rng, so UUIDs follow the seed.
func uuid(rng *rand.Rand) string {
	var b [16]byte
	for i := 0; i < 16; i += 8 {
		v := rng.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func ptr[T any](v T) *T { return &v }

// poolByName returns the pool called name in the cluster clusterID.
func (f *fleet) poolByName(clusterID, name string) (runai.NodePool, bool) {
	f.settle()
	f.mu.RLock()
	defer f.mu.RUnlock()
	for _, p := range f.pools {
		if p.ClusterID == clusterID && p.Name == name {
			return p, true
		}
	}
	return runai.NodePool{}, false
}
