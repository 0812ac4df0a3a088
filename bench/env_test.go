package bench_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/fleetgraph/fleetgraph/app"
	"github.com/fleetgraph/fleetgraph/backends/modelarts/modelartssim"
	"github.com/fleetgraph/fleetgraph/backends/runai/runaisim"
	"github.com/fleetgraph/fleetgraph/bench/harness"
)

func TestMain(m *testing.M) {
	// The gateway logs a line per request: not what a benchmark measures.
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	os.Exit(m.Run())
}

// inProcess is a gateway (app.Build, the same wiring as the binary) over
// in-process simulators without latency, called through its handler: what
// a query costs the gateway, with the upstream HTTP exchanges on loopback.
type inProcess struct {
	ra    *runaisim.Server
	ma    *modelartssim.Server
	gw    *app.Gateway
	token string // a valid Run:ai bearer (the backend is pass-through)
}

const (
	maProject   = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
	maAccessKey = "DEMOACCESSKEY"
	maSecretKey = "demo-secret-key"
)

// newInProcess builds the 100-node fleet of the load scenarios (2 clusters
// x 5 pools x 10 nodes on each vendor), with a miniredis cache when cached.
func newInProcess(tb testing.TB, cached bool) *inProcess {
	tb.Helper()
	e := &inProcess{
		ra: runaisim.New(runaisim.Options{Clusters: benchFleet.Clusters, PoolsPerCluster: benchFleet.PoolsPerCluster, NodesPerPool: benchFleet.NodesPerPool}),
		ma: modelartssim.New(modelartssim.Options{Pools: benchFleet.Clusters, NodePoolsPerPool: benchFleet.PoolsPerCluster, NodesPerNodePool: benchFleet.NodesPerPool,
			ProjectID: maProject, AccessKey: maAccessKey, SecretKey: maSecretKey}),
	}
	raSrv := httptest.NewServer(e.ra.Handler())
	tb.Cleanup(raSrv.Close)
	maSrv := httptest.NewServer(e.ma.Handler())
	tb.Cleanup(maSrv.Close)
	cfg := &app.Config{
		RunAI: []app.RunAIConfig{{Name: "runai-bench", BaseURL: raSrv.URL, PassThrough: true}},
		ModelArts: []app.ModelArtsConfig{{Name: "modelarts-bench", Endpoint: maSrv.URL, ProjectID: maProject,
			AccessKey: maAccessKey, SecretKey: maSecretKey}},
	}
	if cached {
		mr := miniredis.NewMiniRedis()
		if err := mr.StartAddr("127.0.0.1:0"); err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(mr.Close)
		cfg.Redis.Addrs = []string{mr.Addr()}
	}
	gw, err := app.Build(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = gw.Close() })
	e.gw = gw
	e.token = e.ra.IssueToken()
	return e
}

func (e *inProcess) resetCounters() {
	e.ra.Control().ResetStats()
	e.ma.Control().ResetStats()
}

func (e *inProcess) upstream() int64 { return e.ra.Control().Total() + e.ma.Control().Total() }

// query runs one GraphQL request through the handler and fails on errors.
func (e *inProcess) query(tb testing.TB, body []byte) int {
	req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+e.token)
	rec := httptest.NewRecorder()
	e.gw.Handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || bytes.Contains(rec.Body.Bytes(), []byte(`"errors":`)) {
		tb.Fatalf("HTTP %d: %.500s", rec.Code, rec.Body.String())
	}
	return rec.Body.Len()
}

// benchFleet is the fleet of newInProcess.
var benchFleet = harness.Fleet{Clusters: 2, PoolsPerCluster: 5, NodesPerPool: 10}

// body is q's request body over benchFleet, two hours ago: a range that
// ended long ago stays cached for an hour (MetricsPast) during the benchmark.
func body(q harness.Query) []byte {
	return q.Body(harness.SystemFleetgraph, time.Now().Add(-2*time.Hour).Truncate(time.Hour), benchFleet)
}

// cpuTime is the process's user+system CPU time so far: with the
// simulators in-process it includes their share, but not the time an op
// spends waiting (a loader's batch window, a Redis round trip).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds the CPU time per op since start (see cpuTime).
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime()-start)/float64(time.Microsecond)/float64(b.N), "cpu-us/op")
}
