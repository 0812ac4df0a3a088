package accel_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/fleetgraph/fleetgraph/backends/modelarts/modelartssim"
	"github.com/fleetgraph/fleetgraph/backends/runai/runaisim"
	"github.com/fleetgraph/fleetgraph/internal/accel"
	"github.com/fleetgraph/fleetgraph/internal/testutil"
)

const gib = float64(1 << 30)

// TestTable is the mapping of every string the simulators and the vendors'
// documents use, and a few the families must catch.
func TestTable(t *testing.T) {
	t.Parallel()
	c := accel.Default()
	cases := []struct {
		raw, vendor, model string
		memGiB             float64 // 0: null
	}{
		// Run:ai gpuType: the simulator's three, the vendor document's examples.
		{"NVIDIA-H100-80GB-HBM3", "NVIDIA", "H100", 80},
		{"NVIDIA-A100-SXM4-80GB", "NVIDIA", "A100", 80},
		{"Tesla-V100", "NVIDIA", "V100", 0},
		// ModelArts flavors (simulator and vendor examples) and resource names.
		{"modelarts.bm.gpu.8v100", "NVIDIA", "V100", 0},
		{"modelarts.vm.gpu.t4u8", "NVIDIA", "T4", 16},
		{"modelarts.bm.gpu.8a100", "NVIDIA", "A100", 0},
		{"modelarts.bm.npu.arm.8snt9b3.d", "HUAWEI", "ASCEND_910B", 0},
		{"modelarts.bm.gpu.v100NV32", "NVIDIA", "V100", 32},
		{"huawei.com/ascend-snt9", "HUAWEI", "ASCEND_910", 0},
		{"huawei.com/ascend-snt3", "HUAWEI", "ASCEND_310", 0},
		{"nvidia.com/gpu", "NVIDIA", "UNKNOWN", 0},
		// Case and blanks do not matter for names.
		{" tesla-v100 ", "NVIDIA", "V100", 0},
		// Families: strings the table does not list.
		{"NVIDIA-A100-SXM4-40GB", "NVIDIA", "A100", 40},
		{"NVIDIA-A100-PCIE-40GB-MIG-1g.5gb", "NVIDIA", "A100", 0},
		{"NVIDIA-A10G", "NVIDIA", "A10", 0},
		{"NVIDIA-L40S", "NVIDIA", "L40S", 0},
		{"NVIDIA-L4", "NVIDIA", "L4", 0},
		{"NVIDIA-H200", "NVIDIA", "H200", 0},
		{"Tesla-V100-SXM2-16GB", "NVIDIA", "V100", 16},
		{"Tesla-T4", "NVIDIA", "T4", 16},
		{"modelarts.vm.gpu.v100", "NVIDIA", "V100", 0},
		{"modelarts.bm.npu.arm.8snt9b.d", "HUAWEI", "ASCEND_910B", 0},
		{"modelarts.bm.d910.xlarge.1", "HUAWEI", "ASCEND_910", 0},
		{"NVIDIA-GeForce-RTX-4090", "NVIDIA", "UNKNOWN", 0},
		// Unknown: the raw string is kept by the caller, the model is UNKNOWN.
		{"Cambricon-MLU370", "UNKNOWN", "UNKNOWN", 0},
		{"", "UNKNOWN", "UNKNOWN", 0},
		{"modelarts.vm.cpu.4ud", "UNKNOWN", "UNKNOWN", 0},
	}
	for _, tc := range cases {
		got := c.Lookup(tc.raw)
		if got.Vendor != tc.vendor || got.Model != tc.model {
			t.Errorf("Lookup(%q) = %s %s, want %s %s", tc.raw, got.Vendor, got.Model, tc.vendor, tc.model)
		}
		switch {
		case tc.memGiB == 0 && got.MemoryBytes != nil:
			t.Errorf("Lookup(%q).MemoryBytes = %v, want null", tc.raw, *got.MemoryBytes)
		case tc.memGiB != 0 && (got.MemoryBytes == nil || *got.MemoryBytes != tc.memGiB*gib):
			t.Errorf("Lookup(%q).MemoryBytes = %v, want %v GiB", tc.raw, got.MemoryBytes, tc.memGiB)
		}
	}
}

// TestEverySimulatorTypeIsKnown: no GPU or NPU type a simulator serves maps to
// UNKNOWN (a new simulator profile needs a table row).
func TestEverySimulatorTypeIsKnown(t *testing.T) {
	t.Parallel()
	c := accel.Default()
	seen := map[string]bool{}
	for _, n := range runaisim.New(runaisim.Options{Clusters: 3, PoolsPerCluster: 4, NodesPerPool: 1}).Fleet().Nodes {
		if n.GPUInfo != nil {
			seen[n.GPUInfo.GPUType] = true
		}
	}
	for _, fl := range modelartssim.Flavors() {
		if fl.Accelerator != "" {
			seen[fl.Name] = true
			seen[fl.Accelerator] = true
		}
	}
	if len(seen) < 9 {
		t.Fatalf("found only %d type strings in the simulators: %v", len(seen), seen)
	}
	for raw := range seen {
		if info := c.Lookup(raw); info.Vendor == accel.Unknown {
			t.Errorf("simulator type %q maps to no vendor", raw)
		}
		if info := c.Lookup(raw); info.Model == accel.Unknown && raw != "nvidia.com/gpu" {
			t.Errorf("simulator type %q maps to model UNKNOWN", raw)
		}
	}
}

// TestEveryDocumentedTypeIsKnown scans the vendors' documents in ../shared for
// GPU type strings and accelerator flavors: each must map to a model.
func TestEveryDocumentedTypeIsKnown(t *testing.T) {
	t.Parallel()
	c := accel.Default()
	files, err := filepath.Glob(filepath.Join(testutil.SharedDir(t), "*"))
	if err != nil {
		t.Fatal(err)
	}
	gpuType := regexp.MustCompile(`\b(NVIDIA|Tesla)-[A-Za-z0-9]+(-[A-Za-z0-9]+)*`)
	flavor := regexp.MustCompile(`modelarts\.(vm|bm)\.[a-z0-9]+(\.[A-Za-z0-9]+)*`)
	found := map[string]bool{}
	for _, f := range files {
		if st, err := os.Stat(f); err != nil || st.IsDir() {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range gpuType.FindAllString(string(data), -1) {
			found[m] = true
		}
		for _, m := range flavor.FindAllString(string(data), -1) {
			if strings.Contains(m, ".gpu.") || strings.Contains(m, ".npu.") {
				found[m] = true
			}
		}
	}
	// The documents' own examples must be among what was found.
	for _, want := range []string{"Tesla-V100", "NVIDIA-A100-SXM4-80GB", "modelarts.vm.gpu.t4u8"} {
		if !found[want] {
			t.Errorf("%q not found in the documents: the scan is broken", want)
		}
	}
	for raw := range found {
		if raw == "nvidia-gpu-operator" || strings.EqualFold(raw, "NVIDIA-gpu-operator") {
			continue // a component name, not a GPU
		}
		if info := c.Lookup(raw); info.Model == accel.Unknown {
			t.Errorf("documented type %q maps to model UNKNOWN", raw)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"unknown key":     "accelerators:\n  - names: [a]\n    vendor: NVIDIA\n    model: A100\n    colour: red\n",
		"names+pattern":   "accelerators:\n  - names: [a]\n    pattern: b\n    vendor: NVIDIA\n    model: A100\n",
		"neither":         "accelerators:\n  - vendor: NVIDIA\n    model: A100\n",
		"bad pattern":     "accelerators:\n  - pattern: '('\n    vendor: NVIDIA\n    model: A100\n",
		"lower model":     "accelerators:\n  - names: [a]\n    vendor: NVIDIA\n    model: a100\n",
		"duplicate name":  "accelerators:\n  - names: [a]\n    vendor: NVIDIA\n    model: A100\n  - names: [A]\n    vendor: NVIDIA\n    model: V100\n",
		"negative memory": "accelerators:\n  - names: [a]\n    vendor: NVIDIA\n    model: A100\n    memoryBytes: -1\n",
	}
	for name, doc := range cases {
		if _, err := accel.Parse([]byte(doc)); err == nil {
			t.Errorf("%s: Parse accepted\n%s", name, doc)
		}
	}
}

func TestKnownValues(t *testing.T) {
	t.Parallel()
	c := accel.Default()
	for _, m := range []string{"A100", "V100", "H100", "T4", "ASCEND_910B", "UNKNOWN"} {
		if !slices.Contains(c.Models(), m) {
			t.Errorf("Models() lacks %s: %v", m, c.Models())
		}
	}
	if got, ok := c.KnownModel("a100"); !ok || got != "A100" {
		t.Errorf(`KnownModel("a100") = %q, %v`, got, ok)
	}
	if _, ok := c.KnownModel("B300X"); ok {
		t.Error("KnownModel accepted B300X")
	}
	if got, ok := c.KnownVendor("huawei"); !ok || got != "HUAWEI" {
		t.Errorf(`KnownVendor("huawei") = %q, %v`, got, ok)
	}
}
