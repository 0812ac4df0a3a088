package modelartssim

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/fleetgraph/fleetgraph/backends/modelarts"
)

// Fleet is a snapshot of the simulated fleet, deep-copied: pools in listing
// order, and per pool ID its node pools and nodes (in listing order).
type Fleet struct {
	Pools     []modelarts.Pool
	NodePools map[string][]modelarts.NodePool
	Nodes     map[string][]modelarts.Node
}

// Fleet returns a snapshot of the current fleet.
func (s *Server) Fleet() Fleet {
	s.tick()
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := Fleet{NodePools: map[string][]modelarts.NodePool{}, Nodes: map[string][]modelarts.Node{}}
	for _, p := range s.fleet.pools {
		out.Pools = append(out.Pools, clone(p.pool))
		nps := make([]modelarts.NodePool, 0, len(p.nodePools))
		for _, np := range p.nodePools {
			nps = append(nps, clone(np.np))
		}
		out.NodePools[p.pool.Metadata.Name] = nps
		out.Nodes[p.pool.Metadata.Name] = clone(p.nodes)
	}
	return out
}

// clone deep-copies a DTO through JSON (maps and slices included).
func clone[T any](v T) T {
	var out T
	data, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	if err := json.Unmarshal(data, &out); err != nil {
		panic(err)
	}
	return out
}

// fleet is the mutable state; Server.mu guards it.
type fleet struct {
	pools []*poolState
	gen   *gen // names and addresses of nodes created later
}

type poolState struct {
	pool      modelarts.Pool
	flavors   []flavor               // what CreateNodePool may ask for
	network   *modelarts.NodeNetwork // the pool's VPC placement, given to new nodes
	nodePools []*nodePoolState
	nodes     []modelarts.Node // creation order, all node pools
	// changes holds the nodes on their way in or out, by node name.
	changes map[string]nodeChange
}

// nodePoolState is a node pool and what the API keeps beside it.
type nodePoolState struct {
	np modelarts.NodePool
	// annotations are the create/patch annotations (billing). The SDK's
	// NodePool has no metadata.annotations, so reads do not show them.
	annotations map[string]string
	// deletedAt is when DeleteNodePool was called (zero: not deleted); the
	// node pool disappears with its last node.
	deletedAt time.Time
}

// nodeChange is a node's lifecycle in progress: created (Creating, then
// Checking, then Available) or deleted (Deleting, then gone), each step
// lasting Options.PhaseDelay from since.
type nodeChange struct {
	since    time.Time
	deleting bool
}

func (f *fleet) pool(name string) *poolState {
	for _, p := range f.pools {
		if p.pool.Metadata.Name == name {
			return p
		}
	}
	return nil
}

func (p *poolState) nodePool(name string) *nodePoolState {
	for _, np := range p.nodePools {
		if np.np.Metadata.Name == name {
			return np
		}
	}
	return nil
}

func (p *poolState) nodesOf(nodePool string) []modelarts.Node {
	var out []modelarts.Node
	for _, n := range p.nodes {
		if n.NodePoolName() == nodePool {
			out = append(out, n)
		}
	}
	return out
}

// flavor is a node type: allocatable capacity (a bit below the machine, as
// the real API reports) and the accelerator it carries.
type flavor struct {
	name       string
	cpuMilli   int
	memMi      int
	accel      string // resource name, "" for CPU-only
	accelCount int
	os         string
}

var (
	flavorV100   = flavor{"modelarts.bm.gpu.8v100", 71930, 503 * 1024, modelarts.ResourceNvidiaGPU, 8, "EulerOS 2.10"}
	flavorT4     = flavor{"modelarts.vm.gpu.t4u8", 7930, 29 * 1024, modelarts.ResourceNvidiaGPU, 1, "EulerOS 2.10"}
	flavorSnt9   = flavor{"modelarts.bm.npu.arm.8snt9b3.d", 191930, 1516 * 1024, modelarts.ResourceAscendSnt9, 8, "HCE OS 2.0"}
	flavorCPU    = flavor{"modelarts.vm.cpu.4ud", 3920, 6270, "", 0, "EulerOS 2.10"}
	gpuFlavors   = []flavor{flavorV100, flavorT4, flavorCPU, flavorA100}
	ascendFlavor = []flavor{flavorSnt9, flavorCPU}
	zones        = []string{ProjectName + "a", ProjectName + "b", ProjectName + "c"}
)

// flavorA100 is named like 8v100 (the vendor documents no A100 flavor). It
// is the last GPU flavor, so only fleets of four or more node pools per pool
// have it.
var flavorA100 = flavor{"modelarts.bm.gpu.8a100", 191930, 1024 * 1024, modelarts.ResourceNvidiaGPU, 8, "EulerOS 2.10"}

// generate builds the fleet from opts.Seed. Pool i is a GPU pool when i is
// even (V100, T4, CPU, then A100 node pools), an Ascend pool when odd (snt9, CPU). Node
// phases follow the fleet-wide node index: every 9th (from the 5th) is
// Abnormal, every 13th (from the 8th) Creating, the rest Available, so even
// the default fleet of 24 nodes shows each phase.
func generate(opts Options) *fleet {
	rnd := rand.New(rand.NewPCG(uint64(opts.Seed), 0x6d6f64656c617274))
	g := &gen{rnd: rnd, opts: opts, used: map[string]bool{}}
	f := &fleet{gen: g}
	base := time.Date(2025, 3, 3, 8, 0, 0, 0, time.UTC)
	for i := range opts.Pools {
		f.pools = append(f.pools, g.pool(i, base.Add(time.Duration(i)*7*24*time.Hour+g.hours(48))))
	}
	return f
}

type gen struct {
	rnd     *rand.Rand
	opts    Options
	used    map[string]bool // node names
	nodeIdx int             // fleet-wide node counter
}

func (g *gen) hex(n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[g.rnd.IntN(16)]
	}
	return string(b)
}

func (g *gen) uuid() string {
	h := g.hex(32)
	variant := "89ab"[g.rnd.IntN(4)]
	return h[:8] + "-" + h[8:12] + "-4" + h[13:16] + "-" + string(variant) + h[17:20] + "-" + h[20:]
}

func (g *gen) hours(n int) time.Duration {
	return time.Duration(g.rnd.IntN(n*60)) * time.Minute
}

// nodeName is a Kubernetes generateName suffix: five characters from the
// alphabet Kubernetes uses (no vowels, no look-alike digits), unique.
func (g *gen) nodeName() string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	for {
		b := make([]byte, 5)
		for i := range b {
			b[i] = alphabet[g.rnd.IntN(len(alphabet))]
		}
		name := "os-node-created-" + string(b)
		if !g.used[name] {
			g.used[name] = true
			return name
		}
	}
}

func (g *gen) pool(i int, created time.Time) *poolState {
	display := fmt.Sprintf("lite-pool-%d", i+1)
	name := display + "-" + g.hex(32) // 44+ chars: within the 36..63 pool-ID rule
	kind, flavors := "GPU", gpuFlavors
	if i%2 == 1 {
		kind, flavors = "Ascend", ascendFlavor
	}
	network := &modelarts.NodeNetwork{VPC: g.uuid(), Subnet: g.uuid(), SecurityGroups: []string{g.uuid()}}
	p := &poolState{flavors: flavors, network: network, changes: map[string]nodeChange{}, pool: modelarts.Pool{
		APIVersion: "v2", Kind: "Pool",
		Metadata: modelarts.Metadata{
			Name:              name,
			CreationTimestamp: created.Format(time.RFC3339),
			Labels: map[string]string{
				modelarts.LabelPoolName:      display,
				modelarts.LabelWorkspaceID:   "0",
				modelarts.LabelResourceID:    "maos-" + display + "-" + g.hex(5),
				modelarts.LabelTenantProject: g.opts.ProjectID,
				"os.modelarts.pool/biz":      "private",
				"os.modelarts/region":        ProjectName,
				"os.modelarts/create-from":   "console",
			},
			Annotations: map[string]string{
				"os.modelarts/description":  fmt.Sprintf("Simulated %s Lite Cluster pool", kind),
				"os.modelarts/billing.mode": "0",
			},
		},
		Spec: modelarts.PoolSpec{
			Type:             "Dedicate",
			Scope:            []string{"Train", "Infer"},
			ContainerNetwork: &modelarts.PoolContainerNetwork{Mode: "vpc-router"},
			Network:          &modelarts.PoolNetwork{Name: "network-maos-" + g.hex(32)},
		},
		Status: modelarts.PoolStatus{
			Phase: "Running",
			Root:  name,
			Scope: []modelarts.PoolScopeStatus{{ScopeType: "Train", State: "Enabled"}, {ScopeType: "Infer", State: "Enabled"}},
		},
	}}
	if kind == "GPU" {
		p.pool.Spec.Driver = &modelarts.PoolDriver{GPUVersion: "535.54.03", UpdateStrategy: "idle"}
		p.pool.Status.Driver = &modelarts.PoolStatusDriver{GPU: &modelarts.PoolDriverStatus{Version: "535.54.03", State: "Running"}}
	} else {
		p.pool.Spec.Driver = &modelarts.PoolDriver{NPUVersion: "24.1.rc2", UpdateStrategy: "idle"}
		p.pool.Status.Driver = &modelarts.PoolStatusDriver{NPU: &modelarts.PoolDriverStatus{Version: "24.1.rc2", State: "Running"}}
	}
	for j := range g.opts.NodePoolsPerPool {
		fl := flavors[j%len(flavors)]
		npName := fmt.Sprintf("nodepool-%d", j+1)
		np := modelarts.NodePool{APIVersion: "v2", Kind: "NodePool",
			Metadata: modelarts.Metadata{Name: npName},
			Spec: modelarts.NodePoolSpec{Resources: modelarts.PoolResource{
				Flavor: fl.name, Count: g.opts.NodesPerNodePool, MaxCount: g.opts.NodesPerNodePool,
				NodePool: npName, Network: network, OS: &modelarts.OS{Name: fl.os},
			}},
		}
		azCount := map[string]int{}
		for k := range g.opts.NodesPerNodePool {
			n := g.node(p, fl, npName, zones[(j+k)%len(zones)], network, created.Add(time.Hour+g.hours(72)))
			azCount[n.Status.AZ]++
			p.nodes = append(p.nodes, n)
		}
		np.Spec.Resources.AZs = azList(azCount)
		p.nodePools = append(p.nodePools, &nodePoolState{np: np, annotations: map[string]string{modelarts.AnnotationBillingMode: modelarts.BillingPayPerUse}})
	}
	p.recount()
	return p
}

func (g *gen) node(p *poolState, fl flavor, nodePool, az string, network *modelarts.NodeNetwork, created time.Time) modelarts.Node {
	idx := g.nodeIdx
	phase := modelarts.NodeAvailable
	switch {
	case idx%9 == 4:
		phase = modelarts.NodeAbnormal
	case idx%13 == 7:
		phase = modelarts.NodeCreating
	}
	return g.newNode(p, fl, nodePool, az, network, created, phase)
}

// newNode builds the next node of the fleet in the given phase; a node not
// yet running anything has all its capacity available.
func (g *gen) newNode(p *poolState, fl flavor, nodePool, az string, network *modelarts.NodeNetwork, created time.Time, phase string) modelarts.Node {
	idx := g.nodeIdx
	g.nodeIdx++
	name := g.nodeName()
	alloc := fl.resources(fl.cpuMilli, fl.memMi, fl.accelCount)
	avail := alloc
	usedAccel := 0
	if phase != modelarts.NodeCreating {
		usedAccel = g.rnd.IntN(fl.accelCount + 1)
		cpuFree := fl.cpuMilli * (20 + g.rnd.IntN(75)) / 100
		memFree := fl.memMi * (20 + g.rnd.IntN(75)) / 100
		avail = fl.resources(cpuFree, memFree, fl.accelCount-usedAccel)
	}
	n := modelarts.Node{APIVersion: "v2", Kind: "Node",
		Metadata: modelarts.Metadata{
			Name:              name,
			CreationTimestamp: created.Format(time.RFC3339),
			Labels: map[string]string{
				modelarts.LabelNodeCluster:       p.pool.Metadata.Labels[modelarts.LabelPoolName],
				modelarts.LabelNodePool:          nodePool,
				modelarts.LabelNodePoolName:      nodePool,
				"os.modelarts/resource.id":       "maos-node-" + strings.TrimPrefix(name, "os-node-created-"),
				"os.modelarts/tenant.project.id": g.opts.ProjectID,
				"os.modelarts/billing.status":    "0",
			},
		},
		Spec: modelarts.NodeSpec{Flavor: fl.name, OS: &modelarts.OS{Name: fl.os}, HostNetwork: network},
		Status: modelarts.NodeStatus{
			Phase:              phase,
			AZ:                 az,
			PrivateIP:          fmt.Sprintf("192.168.%d.%d", idx/250%256, 10+idx%250),
			Resources:          alloc,
			AvailableResources: avail,
		},
	}
	if fl.accel == modelarts.ResourceAscendSnt9 {
		// NPU occupancy, rightmost bit = card 1.
		n.Metadata.Annotations = map[string]string{
			"os.modelarts/npu-topology-placement": strings.Repeat("0", 16-usedAccel) + strings.Repeat("1", usedAccel),
		}
	}
	return n
}

// resources renders capacities as Kubernetes quantities ("71930m", "503Gi").
func (fl flavor) resources(cpuMilli, memMi, accel int) map[string]string {
	mem := fmt.Sprintf("%dMi", memMi)
	if memMi%1024 == 0 {
		mem = fmt.Sprintf("%dGi", memMi/1024)
	}
	r := map[string]string{modelarts.ResourceCPU: fmt.Sprintf("%dm", cpuMilli), modelarts.ResourceMemory: mem}
	if fl.accel != "" {
		r[fl.accel] = fmt.Sprint(accel)
	}
	return r
}

func azList(counts map[string]int) []modelarts.AZCount {
	var out []modelarts.AZCount
	for az, n := range counts {
		out = append(out, modelarts.AZCount{AZ: az, Count: n})
	}
	slices.SortFunc(out, func(a, b modelarts.AZCount) int { return strings.Compare(a.AZ, b.AZ) })
	return out
}

// recount derives every count from the nodes: node-pool status buckets, the
// pool's spec.resources (per flavor, from the node pools' specs) and its
// status.resources (per state and flavor). Call it after any change.
func (p *poolState) recount() {
	type key struct{ bucket, flavor string }
	poolBuckets := map[key]map[string]int{}
	for _, nps := range p.nodePools {
		np := &nps.np
		buckets := map[string]map[string]int{} // bucket -> az -> count
		for _, n := range p.nodesOf(np.Metadata.Name) {
			b := bucketOf(n.Status.Phase)
			if buckets[b] == nil {
				buckets[b] = map[string]int{}
			}
			buckets[b][n.Status.AZ]++
			k := key{b, n.Spec.Flavor}
			if poolBuckets[k] == nil {
				poolBuckets[k] = map[string]int{}
			}
			poolBuckets[k][n.Status.AZ]++
		}
		count := func(b string) *modelarts.PoolResourceFlavorCount {
			if buckets[b] == nil {
				return nil
			}
			c := flavorCount(np.Spec.Resources.Flavor, buckets[b])
			c.NodePool = np.Metadata.Name
			return &c
		}
		np.Status.Resources = modelarts.NodePoolStatusResources{
			Creating: count("creating"), Available: count("available"),
			Abnormal: count("abnormal"), Deleting: count("deleting"),
		}
	}

	spec := []modelarts.PoolSpecResource{}
	for _, np := range p.nodePools {
		r := np.np.Spec.Resources
		i := slices.IndexFunc(spec, func(s modelarts.PoolSpecResource) bool { return s.Flavor == r.Flavor })
		if i < 0 {
			spec = append(spec, modelarts.PoolSpecResource{Flavor: r.Flavor})
			i = len(spec) - 1
		}
		spec[i].Count += r.Count
		spec[i].MaxCount += r.MaxCount
		spec[i].AZs = mergeAZs(spec[i].AZs, r.AZs)
	}
	p.pool.Spec.Resources = spec

	var res modelarts.PoolStatusResources
	bucketPtr := map[string]*modelarts.FlavorCounts{
		"creating": &res.Creating, "available": &res.Available, "abnormal": &res.Abnormal, "deleting": &res.Deleting,
	}
	keys := make([]key, 0, len(poolBuckets))
	for k := range poolBuckets {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int { return strings.Compare(a.flavor, b.flavor) })
	for _, k := range keys {
		*bucketPtr[k.bucket] = append(*bucketPtr[k.bucket], flavorCount(k.flavor, poolBuckets[k]))
	}
	p.pool.Status.Resources = res
}

// bucketOf maps a node phase onto the four status.resources buckets
// (a self-checking node is not available yet).
func bucketOf(phase string) string {
	switch phase {
	case modelarts.NodeAvailable:
		return "available"
	case modelarts.NodeAbnormal:
		return "abnormal"
	case modelarts.NodeDeleting:
		return "deleting"
	default:
		return "creating"
	}
}

func flavorCount(fl string, azs map[string]int) modelarts.PoolResourceFlavorCount {
	c := modelarts.PoolResourceFlavorCount{Flavor: fl, AZs: azList(azs)}
	for _, n := range azs {
		c.Count += n
	}
	c.MaxCount = c.Count
	return c
}

func mergeAZs(a, b []modelarts.AZCount) []modelarts.AZCount {
	m := map[string]int{}
	for _, x := range append(slices.Clone(a), b...) {
		m[x.AZ] += x.Count
	}
	return azList(m)
}
