package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Not parallel: it points cgroupMemoryMax at temporary files.
func TestMemoryLimitSources(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	os.Unsetenv("GOMEMLIMIT")
	dir := t.TempDir()
	old := cgroupMemoryMax
	t.Cleanup(func() { cgroupMemoryMax = old })
	write := func(v string) {
		cgroupMemoryMax = filepath.Join(dir, "memory.max")
		if err := os.WriteFile(cgroupMemoryMax, []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name, config, cgroup string
		want                 int64
		from                 string
	}{
		{"config", "80Mi", "1073741824\n", 80 << 20, "server.memoryLimit"},
		{"container", "", "1073741824\n", 1073741824 / 10 * 9, "container"},
		{"unlimited container", "", "max\n", 0, ""},
		{"no cgroup file", "", "", 0, ""},
	} {
		if c.cgroup == "" {
			cgroupMemoryMax = filepath.Join(dir, "absent")
		} else {
			write(c.cgroup)
		}
		cfg := &Config{Server: ServerConfig{MemoryLimit: c.config}}
		n, from, err := cfg.memoryLimit()
		if err != nil || n != c.want || !strings.Contains(from, c.from) {
			t.Errorf("%s: %d from %q (%v); want %d from %q", c.name, n, from, err, c.want, c.from)
		}
	}
	for _, bad := range []string{"lots", "-5Mi", "0"} {
		cfg := &Config{Server: ServerConfig{MemoryLimit: bad}}
		if err := cfg.validateServer(); err == nil || !strings.Contains(err.Error(), "server.memoryLimit") {
			t.Errorf("memoryLimit %q: error %v, want one naming server.memoryLimit", bad, err)
		}
	}
}

// The whole-response cache's default budget is a tenth of the memory
// limit when that is under 320 MiB, else 32 MiB; a configured one stands.
func TestResponseCacheBudgetFollowsTheMemoryLimit(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	for limit, want := range map[string]int{"": 32 << 20, "80Mi": 8 << 20, "1Gi": 32 << 20} {
		c := &Config{}
		c.Server.MemoryLimit = limit
		if got := defaultResponseBytes(c); got != want && (limit != "" || !containerLimited()) {
			t.Errorf("memoryLimit %q: default response budget %d, want %d", limit, got, want)
		}
	}
}

// containerLimited says whether this process runs under a cgroup memory
// limit (then an unset server.memoryLimit takes 90% of it).
func containerLimited() bool {
	n, _, _ := (&Config{}).memoryLimit()
	return n > 0
}
