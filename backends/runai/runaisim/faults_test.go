package runaisim_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/fleetgraph/fleetgraph/backends/runai/runaisim"
	"github.com/fleetgraph/fleetgraph/backends/simctl"
)

func TestFaultsAndCounters(t *testing.T) {
	t.Parallel()
	h := newHarness(t, runaisim.Options{})
	ctl := h.sim.Control()
	cl := h.sim.Fleet().Clusters[0].UUID

	h.get(t, "/api/v1/clusters", checkAll)
	h.get(t, "/api/v1/clusters/"+cl+"/nodes", checkAll)
	h.get(t, "/api/v1/clusters/"+cl+"/nodes", checkAll)
	if got := ctl.Count("GET /api/v1/clusters/{clusterUuid}/nodes"); got != 2 {
		t.Fatalf("nodes route counted %d, want 2 (keyed by template)", got)
	}

	status, body := h.do(t, http.MethodPost, "/_sim/faults", `{"down":true}`, "", checkAll)
	if status != 200 {
		t.Fatalf("POST /_sim/faults: %d %s", status, body)
	}
	status, body = h.get(t, "/api/v1/clusters", checkAll)
	if e := decodeError(t, body); status != 503 || e.Code != 503 || e.Message != "Please try again in few minutes." {
		t.Fatalf("down: %d %+v", status, e)
	}
	// The token call is a vendor route too: down means down.
	status, _ = h.do(t, http.MethodPost, "/api/v1/token", `{"grantType":"client_credentials","clientID":"fleetgraph-demo","clientSecret":"demo-secret"}`, "", checkAll)
	if status != 503 {
		t.Fatalf("token call while down: %d", status)
	}
	ctl.ClearFaults()

	if err := ctl.SetFaults(simctl.Faults{ErrorRate: 1, ErrorStatus: 500, Routes: []string{"GET /api/v1/clusters"}}); err != nil {
		t.Fatal(err)
	}
	if status, _ := h.get(t, "/api/v1/clusters", checkAll); status != 500 {
		t.Fatalf("error rate 1 on the route: %d", status)
	}
	if status, _ := h.get(t, "/api/v1/clusters/"+cl, checkAll); status != 200 {
		t.Fatalf("a route outside the fault: %d", status)
	}
	ctl.ClearFaults()
}

func TestLatencyOption(t *testing.T) {
	t.Parallel()
	h := newHarness(t, runaisim.Options{Latency: 30 * time.Millisecond})
	start := time.Now()
	h.get(t, "/api/v1/clusters", checkAll)
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Fatalf("answered in %v, before the 30ms latency", d)
	}
}
