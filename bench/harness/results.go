package harness

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Results is what one make target measured: bench/results/<kind>.json.
type Results struct {
	Kind     string        `json:"kind"` // "load", "compare" or "soak"
	Meta     Meta          `json:"meta"`
	Settings Settings      `json:"settings"`
	Runs     []Measurement `json:"runs"`
	Soak     *Soak         `json:"soak,omitempty"`
	Notes    []string      `json:"notes,omitempty"`
}

// Settings are the knobs of a run, as used.
type Settings struct {
	LatencyMs       float64 `json:"latencyMs"`
	Seconds         float64 `json:"seconds"`
	WarmupSeconds   float64 `json:"warmupSeconds"`
	WarmConcurrency int     `json:"warmConcurrency"`
	ColdConcurrency int     `json:"coldConcurrency"`
	Rounds          int     `json:"rounds,omitempty"`
	ScaleRequests   []int   `json:"scaleRequests,omitempty"`
	Fleet           Fleet   `json:"fleet"`
	ScaleFleets     []Fleet `json:"scaleFleets,omitempty"`
	Cache           string  `json:"cache"`
	HiveFork        int     `json:"hiveFork,omitempty"`
	// ResponseTTLSeconds is the TTL of Hive Gateway's response cache;
	// fleetgraph's cache.responses.ttl is its default, the same.
	ResponseTTLSeconds float64 `json:"responseTTLSeconds,omitempty"`
}

// Soak is the outcome of the soak run.
type Soak struct {
	Clients   int     `json:"clients"`
	Seconds   float64 `json:"seconds"`
	ColdEvery int     `json:"coldEvery"`
	// MemoryLimit is the gateway's server.memoryLimit during the soak.
	MemoryLimit string       `json:"memoryLimit,omitempty"`
	Samples     []RSSSample  `json:"samples"`
	Run         *Measurement `json:"run"`
}

// RSSSample is the gateway's resident memory at one instant of the soak.
type RSSSample struct {
	Second float64 `json:"s"`
	RSSMB  float64 `json:"rssMB"`
	CPUSec float64 `json:"cpuS"`
}

// Meta describes the machine and the versions.
type Meta struct {
	Generated string            `json:"generated"`
	Commit    string            `json:"commit"`
	GoVersion string            `json:"go"`
	CPU       string            `json:"cpu"`
	Cores     int               `json:"cores"`
	MemGB     float64           `json:"memGB"`
	Kernel    string            `json:"kernel"`
	LoadAvg   string            `json:"loadAvgAtStart"`
	Node      string            `json:"node,omitempty"`
	Packages  map[string]string `json:"packages,omitempty"`
	Redis     string            `json:"redis"`
	Vegeta    string            `json:"vegeta"`
}

// VegetaVersion is the load library's module version (go.mod).
const VegetaVersion = "github.com/tsenart/vegeta/v12 v12.13.0"

// ReadMeta describes this machine and the repository at root.
func ReadMeta(root string) Meta {
	m := Meta{
		Generated: time.Now().UTC().Format(time.RFC3339),
		GoVersion: runtime.Version(),
		Cores:     runtime.NumCPU(),
		Kernel:    readTrim("/proc/sys/kernel/osrelease"),
		LoadAvg:   readTrim("/proc/loadavg"),
		Vegeta:    VegetaVersion,
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				m.MemGB = float64(atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))) / (1 << 20)
			}
		}
	}
	cmd := exec.Command("git", "describe", "--always", "--dirty")
	cmd.Dir = root
	if out, err := cmd.Output(); err == nil {
		m.Commit = strings.TrimSpace(string(out))
	}
	return m
}

func readTrim(path string) string {
	b, _ := os.ReadFile(path)
	return strings.TrimSpace(string(b))
}

// Save writes r to dir/<kind>.json.
func (r *Results) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, r.Kind+".json"), append(b, '\n'), 0o644)
}

// LoadResults reads dir/<kind>.json; nil when there is none.
func LoadResults(dir, kind string) (*Results, error) {
	b, err := os.ReadFile(filepath.Join(dir, kind+".json"))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var r Results
	return &r, json.Unmarshal(b, &r)
}
