package app

import (
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// cgroupMemoryMax is where a container's memory limit is read (cgroup v2).
var cgroupMemoryMax = "/sys/fs/cgroup/memory.max"

// memoryLimit is the Go soft memory limit the gateway should run with, and
// where it comes from: GOMEMLIMIT (applied by the runtime already) wins,
// then server.memoryLimit, then 90% of the container's memory limit. 0: none.
func (c *Config) memoryLimit() (int64, string, error) {
	if v := os.Getenv("GOMEMLIMIT"); v != "" {
		return debug.SetMemoryLimit(-1), "GOMEMLIMIT", nil
	}
	if s := c.Server.MemoryLimit; s != "" {
		q, err := resource.ParseQuantity(s)
		if err != nil || q.Sign() <= 0 {
			return 0, "", fmt.Errorf("config: server.memoryLimit %q: want a size such as 100Mi or 1Gi", s)
		}
		return q.Value(), "server.memoryLimit", nil
	}
	raw, err := os.ReadFile(cgroupMemoryMax)
	if err != nil {
		return 0, "", nil
	}
	v := strings.TrimSpace(string(raw))
	n, err := strconv.ParseInt(v, 10, 64)
	if v == "max" || err != nil || n <= 0 || n == math.MaxInt64 {
		return 0, "", nil
	}
	return n / 10 * 9, "90% of the container's memory limit (" + cgroupMemoryMax + ")", nil
}

// ApplyMemoryLimit sets the Go soft memory limit (see Config.memoryLimit):
// the garbage collector then works harder as the process nears it, instead
// of letting the heap double under load. It returns the limit and its
// source for the start-up log; 0 when there is none.
func (c *Config) ApplyMemoryLimit() (int64, string, error) {
	n, src, err := c.memoryLimit()
	if err != nil || n == 0 {
		return 0, "", err
	}
	debug.SetMemoryLimit(n)
	return n, src, nil
}
