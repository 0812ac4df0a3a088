package runaisim

import "fmt"

// SetAllocated holds the GPUs workloads have on the node called name at
// gpus, whatever the time, instead of the usage model's steps: telemetry
// (ALLOCATED_GPUS, FREE_GPUS, ...) and metrics follow it from the next
// request on. A node that is not Ready still has none allocated, as in the
// model. It is how tests give nodes known allocations. An error when no
// node has that name or gpus is outside 0..its GPU count.
func (s *Server) SetAllocated(name string, gpus int) error {
	for _, n := range s.fleet.allNodes() {
		if n.dto.Name != name {
			continue
		}
		if gpus < 0 || gpus > n.hw.gpus {
			return fmt.Errorf("node %s: %d allocated GPUs is outside 0..%d", name, gpus, n.hw.gpus)
		}
		s.pins.Store(n.dto.ID, gpus)
		return nil
	}
	return fmt.Errorf("no node %s", name)
}
