// Package runaisim is a Run:ai control-plane simulator (API 2.22, 2.23 or
// 2.24: Options.Version): a real HTTP server speaking the vendor's contract
// (paths, parameters, JSON bodies, error bodies, bearer tokens) over a
// deterministic fleet of clusters, node pools and nodes. Demo mode,
// benchmarks and end-to-end tests stand on it.
//
// Node pools can be written through /api/v1/node-pools (POST, PUT, PATCH,
// DELETE) and the deprecated /v1/k8s/clusters/{clusterId}/node-pools API;
// both change the one fleet the read routes serve. A written pool passes
// through Creating, Updating or Deleting for Options.PhaseDelay, on the
// simulator's clock (poolstate.go).
//
// Every vendor route goes through a simctl.Controller, so requests are
// counted per route template and faults (latency, errors, down, a write
// applied and then answered late or with an error) can be injected at
// runtime through the /_sim control routes.
package runaisim

import (
	"crypto/rand"
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fleetgraph/fleetgraph/backends/simctl"
)

// Options configure a Server. Zero values take the defaults.
type Options struct {
	// Seed makes the fleet and its metrics deterministic. Default 1.
	Seed int64
	// Clusters, PoolsPerCluster and NodesPerPool size the fleet (defaults
	// 2, 3 and 4); a negative value means none. The first pool of each
	// cluster is "default"; with three or more pools the last one is
	// CPU-only.
	Clusters        int
	PoolsPerCluster int
	NodesPerPool    int
	// Latency is added to every vendor request.
	Latency time.Duration
	// RateLimitPerMinute is the per-account limit (0: none): calls beyond
	// it within a minute answer 429 (throttle.go).
	RateLimitPerMinute int
	// ClientID and ClientSecret are the accepted client credentials.
	// Defaults "fleetgraph-demo" and "demo-secret".
	ClientID     string
	ClientSecret string
	// TokenTTL is the lifetime of issued tokens. Default 1h.
	TokenTTL time.Duration
	// Now is the clock for token expiry, telemetry, liveness and node-pool
	// phases. Default time.Now.
	Now func() time.Time
	// PhaseDelay is how long a written node pool stays Creating, Updating
	// or Deleting before it settles (Ready, Empty or Unschedulable; gone
	// after Deleting). Default 2s; negative: the first read after the write
	// sees it settled (the write's own answer still shows the transitional
	// phase, as the vendor's does). Phases follow Now, so a test clock
	// drives them.
	PhaseDelay time.Duration
	// GapEvery makes every n-th sample of each metrics series (n >= 1) a
	// Prometheus gap, as a Prometheus-backed control plane answers for a
	// window without data: the value strings "NaN", "+Inf" and "-Inf" in
	// turn. 0: every sample is a number.
	GapEvery int
	// Version is the control-plane API served: Version222 (default),
	// Version223 or Version224 (version.go). 2.22 answers 404 on the
	// routes added later (the tenant-wide nodes), as the vendor's older
	// release would; New panics on another value (check flags with
	// ParseVersion).
	Version string
}

// Default credentials of the simulator.
const (
	DefaultClientID     = "fleetgraph-demo"
	DefaultClientSecret = "demo-secret"
)

func (o Options) withDefaults() Options {
	def := func(v *int, d int) {
		switch {
		case *v == 0:
			*v = d
		case *v < 0:
			*v = 0
		}
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	def(&o.Clusters, 2)
	def(&o.PoolsPerCluster, 3)
	def(&o.NodesPerPool, 4)
	if o.ClientID == "" {
		o.ClientID = DefaultClientID
	}
	if o.ClientSecret == "" {
		o.ClientSecret = DefaultClientSecret
	}
	if o.TokenTTL <= 0 {
		o.TokenTTL = time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.PhaseDelay == 0 {
		o.PhaseDelay = 2 * time.Second
	}
	v, err := ParseVersion(o.Version)
	if err != nil {
		panic(err)
	}
	o.Version = v
	return o
}

// Server is a simulated Run:ai tenant. It is safe for concurrent use.
type Server struct {
	opts    Options
	ctl     *simctl.Controller
	fleet   *fleet
	handler http.Handler

	signingKey []byte
	tokenSeq   atomic.Int64
	pins       sync.Map // node ID -> allocated GPUs held fixed (SetAllocated)
}

// New builds the fleet and the routes.
func New(opts Options) *Server {
	opts = opts.withDefaults()
	s := &Server{
		opts:       opts,
		fleet:      newFleet(opts),
		signingKey: make([]byte, 32),
	}
	_, _ = rand.Read(s.signingKey) // a fresh key per server: tokens of one simulator do not open another
	s.ctl = simctl.New(writeStatusError, opts.Latency)
	s.ctl.SetThrottle(opts.RateLimitPerMinute, s.account, writeThrottled)

	mux := http.NewServeMux()
	s.ctl.Handle(mux, "POST /api/v1/token", s.grantToken)
	vendor := []struct {
		pattern string
		h       http.HandlerFunc
	}{
		{"GET /api/v1/clusters", s.listClusters},
		{"GET /api/v1/clusters/{clusterUuid}", s.getCluster},
		{"GET /api/v1/clusters/{clusterUuid}/nodes", s.listNodes},
		{"GET /api/v1/clusters/{clusterUuid}/nodes/count", s.countNodes},
		{"GET /api/v1/nodes/telemetry", s.nodeTelemetry},
		{"GET /api/v1/nodes/{nodeId}/metrics", s.nodeMetrics},
		{"GET /api/v1/clusters/{clusterUuid}/nodepools/{nodepoolName}/metrics", s.nodePoolMetrics},
		{"GET /api/v1/clusters/{clusterUuid}/metrics", s.clusterMetrics},
		{"GET /api/v1/node-pools", s.listNodePools},
		{"GET /api/v1/node-pools/count", s.countNodePools},
		{"GET /api/v1/node-pools/{nodepoolId}", s.getNodePool},
		{"POST /api/v1/node-pools", s.createNodePool},
		{"PUT /api/v1/node-pools/{nodepoolId}", s.putNodePool},
		{"PATCH /api/v1/node-pools/{nodepoolId}", s.patchNodePool},
		{"DELETE /api/v1/node-pools/{nodepoolId}", s.deleteNodePool},
		{"GET /v1/k8s/clusters/{clusterId}/node-pools", s.legacyListNodePools},
		{"POST /v1/k8s/clusters/{clusterId}/node-pools", s.legacyCreateNodePool},
		{"PUT /v1/k8s/clusters/{clusterId}/node-pools/{id}", s.legacyUpdateNodePool},
		{"PUT /v1/k8s/clusters/{clusterId}/node-pools/{id}/labels", s.legacyUpdateNodePoolLabels},
		{"DELETE /v1/k8s/clusters/{clusterId}/node-pools/{id}", s.legacyDeleteNodePool},
	}
	for _, v := range vendor {
		s.ctl.Handle(mux, v.pattern, s.authenticated(v.h))
	}
	for _, v := range []struct {
		pattern, since string
		h              http.HandlerFunc
	}{
		{"GET /api/v1/nodes", Version223, s.listTenantNodes},
		{"GET /api/v1/nodes/count", Version223, s.countTenantNodes},
	} {
		s.ctl.Handle(mux, v.pattern, s.from(v.since, s.authenticated(v.h)))
	}
	s.ctl.RegisterControl(mux)
	mux.HandleFunc("GET /_sim/fleet", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Fleet())
	})
	mux.HandleFunc("POST /_sim/token", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"accessToken": s.IssueToken()})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, notFoundRoute)
	})
	s.handler = mux
	return s
}

// Handler returns the vendor routes and the /_sim control routes:
//
//	GET  /_sim/fleet  the fleet snapshot (Fleet as JSON)
//	POST /_sim/token  {"accessToken": ...}, a valid bearer for pass-through demos
//
// plus simctl's /_sim/stats and /_sim/faults.
func (s *Server) Handler() http.Handler { return s.handler }

// Control returns the request counters and fault injection.
func (s *Server) Control() *simctl.Controller { return s.ctl }

// IssueToken returns a bearer the simulator accepts until TokenTTL passes.
func (s *Server) IssueToken() string { return s.issue(s.opts.ClientID) }

// Fleet returns a snapshot of the simulated tenant, in creation order.
func (s *Server) Fleet() Fleet { return s.fleet.snapshot() }

// SetPhaseDelay changes Options.PhaseDelay for later writes; d <= 0 settles
// at the next read. Phases already under way keep their end.
func (s *Server) SetPhaseDelay(d time.Duration) { s.fleet.setPhaseDelay(d) }

func (s *Server) now() time.Time { return s.opts.Now().UTC() }

// errorBody is the vendor's Error schema.
type errorBody struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{Code: status, Message: msg})
}

// writeStatusError is simctl's ErrorWriter: injected faults answer with the
// vendor's body and its usual messages.
func writeStatusError(w http.ResponseWriter, _ *http.Request, status int) {
	writeError(w, status, statusMessage(status))
}

// statusMessage returns the message Run:ai's examples show for status.
func statusMessage(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "Required parameter is missing"
	case http.StatusUnauthorized:
		return "Issuer is not familiar."
	case http.StatusForbidden:
		return "You do not have sufficient permissions."
	case http.StatusNotFound:
		return "Resource id not found."
	case http.StatusInternalServerError:
		return "Something went wrong."
	case http.StatusServiceUnavailable:
		return "Please try again in few minutes."
	}
	return http.StatusText(status)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
