package modelartssim

import (
	"fmt"
	"strconv"
)

// FlavorInfo describes one flavor the simulator's pools offer.
type FlavorInfo struct {
	Name string
	// Accelerator is the resource name of its accelerators
	// (nvidia.com/gpu, huawei.com/ascend-snt9); "" for CPU flavors.
	Accelerator      string
	AcceleratorCount int
}

// Flavors lists every flavor of the simulator's GPU and Ascend pools (the
// accelerator catalogue's tests check that each maps to a model).
func Flavors() []FlavorInfo {
	var out []FlavorInfo
	for _, fl := range append(append([]flavor(nil), gpuFlavors...), ascendFlavor...) {
		if !containsFlavor(out, fl.name) {
			out = append(out, FlavorInfo{Name: fl.name, Accelerator: fl.accel, AcceleratorCount: fl.accelCount})
		}
	}
	return out
}

func containsFlavor(list []FlavorInfo, name string) bool {
	for _, f := range list {
		if f.Name == name {
			return true
		}
	}
	return false
}

// SetAllocated makes workloads hold used accelerators of the node called
// name: its status.availableResources then shows the rest (resources minus
// used), from the next read on. It is how tests give nodes known
// allocations; the generated fleet draws them at random. An error when no
// node has that name, the node has no accelerators, or used is out of
// 0..its count.
func (s *Server) SetAllocated(name string, used int) error {
	s.tick()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.fleet.pools {
		for i := range p.nodes {
			n := &p.nodes[i]
			if n.Metadata.Name != name {
				continue
			}
			fl, ok := p.flavor(n.Spec.Flavor)
			if !ok || fl.accel == "" {
				return fmt.Errorf("node %s has no accelerators", name)
			}
			if used < 0 || used > fl.accelCount {
				return fmt.Errorf("node %s: %d used accelerators is outside 0..%d", name, used, fl.accelCount)
			}
			avail := make(map[string]string, len(n.Status.AvailableResources))
			for k, v := range n.Status.AvailableResources {
				avail[k] = v
			}
			avail[fl.accel] = strconv.Itoa(fl.accelCount - used)
			n.Status.AvailableResources = avail // replaced, never changed in place: snapshots share it
			return nil
		}
	}
	return fmt.Errorf("no node %s", name)
}
