// Package modelartssim is a Huawei Cloud ModelArts v2 resource-pool API
// simulator: a real HTTP server speaking the vendor's contract
// (../shared/modelarts-openapi-v2.json) for the demo, benchmarks and
// end-to-end tests. It serves the read API of pools, node pools and nodes
// (k8s-style continue/limit paging), node-pool writes (create, patch,
// delete; asynchronous like the real API, see Options.PhaseDelay), an IAM
// token endpoint
// (POST /v3/auth/tokens), pool monitoring (ShowPoolMonitor,
// ShowPoolRuntimeMetrics) and a subset of AOM's query_range with series
// derived from the fleet (monitor.go, aom.go, series.go), and the shared
// /_sim control routes (request counters, fault injection).
//
// Every vendor route authenticates like API Gateway: an X-Auth-Token issued
// by this simulator's IAM and not expired, or an SDK-HMAC-SHA256 AK/SK
// signature checked with modelarts' exported signer over the headers the
// client declared. Failures answer 401 APIGW.0301; a path project ID other
// than the simulator's answers 403 ModelArts.0210. Every response carries
// X-Request-Id.
//
// The fleet is generated deterministically from Options.Seed and held behind
// a mutex; the write endpoints change it and every read sees the change.
package modelartssim

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/fleetgraph/fleetgraph/backends/modelarts"
	"github.com/fleetgraph/fleetgraph/backends/simctl"
)

// Defaults of Options.
const (
	DefaultProjectID = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
	// ProjectName is the project (region) name IAM accepts in scope.project.name.
	ProjectName      = "cn-north-4"
	DefaultUsername  = "fleetgraph-demo"
	DefaultPassword  = "demo-password"
	DefaultDomain    = "demo-domain"
	DefaultAccessKey = "DEMOACCESSKEY"
	DefaultSecretKey = "demo-secret-key"
)

// Options configures a simulator. Zero values take the documented defaults.
type Options struct {
	// Seed makes the fleet (names, phases, usage) reproducible.
	Seed int64
	// Pools is the number of pools (default 2): even ones are GPU pools,
	// odd ones Ascend pools.
	Pools int
	// NodePoolsPerPool is the number of node pools per pool (default 3).
	NodePoolsPerPool int
	// NodesPerNodePool is the number of nodes per node pool (default 4).
	NodesPerNodePool int
	// Latency is added to every vendor request (simctl base latency).
	Latency time.Duration
	// RateLimitPerMinute is API Gateway's per-user limit (0: none): calls
	// beyond it within a minute answer 429 APIG.0308 (throttle.go). AOM
	// counts its own calls, IAM none.
	RateLimitPerMinute int
	// ProjectID is the only project the simulator serves. Default
	// DefaultProjectID.
	ProjectID string
	// Username, Password and Domain are the IAM credentials accepted.
	// Defaults DefaultUsername, DefaultPassword, DefaultDomain.
	Username, Password, Domain string
	// AccessKey and SecretKey are the AK/SK pair accepted. Defaults
	// DefaultAccessKey, DefaultSecretKey.
	AccessKey, SecretKey string
	// Now is the simulator's clock (token expiry, X-Sdk-Date skew, node
	// lifecycles). Default time.Now.
	Now func() time.Time
	// PhaseDelay is how long each lifecycle step of a node added or removed
	// by a write lasts: Creating, then Checking, then Available; Deleting,
	// then gone (a deleted node pool goes with its nodes). Default 2s;
	// negative: every step is immediate.
	PhaseDelay time.Duration
}

// DefaultPhaseDelay is the default Options.PhaseDelay.
const DefaultPhaseDelay = 2 * time.Second

func (o *Options) defaults() {
	def := func(p *int, v int) {
		if *p <= 0 {
			*p = v
		}
	}
	def(&o.Pools, 2)
	def(&o.NodePoolsPerPool, 3)
	def(&o.NodesPerNodePool, 4)
	defStr := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	defStr(&o.ProjectID, DefaultProjectID)
	defStr(&o.Username, DefaultUsername)
	defStr(&o.Password, DefaultPassword)
	defStr(&o.Domain, DefaultDomain)
	defStr(&o.AccessKey, DefaultAccessKey)
	defStr(&o.SecretKey, DefaultSecretKey)
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.PhaseDelay == 0 {
		o.PhaseDelay = DefaultPhaseDelay
	}
}

// Route keys (simctl counters and fault routes): "METHOD template".
const (
	RouteIAMTokens        = "POST /v3/auth/tokens"
	RouteListPools        = "GET " + modelarts.RoutePools
	RouteShowPool         = "GET " + modelarts.RoutePool
	RouteListNodePools    = "GET " + modelarts.RouteNodePools
	RouteShowNodePool     = "GET " + modelarts.RouteNodePool
	RouteListNodePoolNode = "GET " + modelarts.RouteNodePoolNodes
	RouteListPoolNodes    = "GET " + modelarts.RoutePoolNodes
	RouteCreateNodePool   = "POST " + modelarts.RouteNodePools
	RoutePatchNodePool    = "PATCH " + modelarts.RouteNodePool
	RouteDeleteNodePool   = "DELETE " + modelarts.RouteNodePool
)

// Server is one simulated ModelArts endpoint (with its IAM). Safe for
// concurrent use.
type Server struct {
	opts    Options
	ctl     *simctl.Controller
	handler http.Handler
	secret  []byte // signs issued tokens: another instance cannot decrypt them

	mu    sync.RWMutex // guards fleet
	fleet *fleet
}

// New builds a simulator; it does not listen. Serve Handler().
func New(opts Options) *Server {
	opts.defaults()
	s := &Server{opts: opts, secret: make([]byte, 32)}
	_, _ = rand.Read(s.secret)
	s.fleet = generate(opts)
	s.ctl = simctl.New(s.writeFault, opts.Latency)
	s.ctl.SetThrottle(opts.RateLimitPerMinute, s.apigAccount, writeThrottled)

	mux := http.NewServeMux()
	s.ctl.Handle(mux, RouteIAMTokens, s.handleIAMTokens)
	s.ctl.Handle(mux, RouteListPools, s.vendor(s.handleListPools))
	s.ctl.Handle(mux, RouteShowPool, s.vendor(s.handleShowPool))
	s.ctl.Handle(mux, RouteListNodePools, s.vendor(s.handleListNodePools))
	s.ctl.Handle(mux, RouteShowNodePool, s.vendor(s.handleShowNodePool))
	s.ctl.Handle(mux, RouteListNodePoolNode, s.vendor(s.handleListNodePoolNodes))
	s.ctl.Handle(mux, RouteListPoolNodes, s.vendor(s.handleListPoolNodes))
	s.ctl.Handle(mux, RouteCreateNodePool, s.vendor(s.handleCreateNodePool))
	s.ctl.Handle(mux, RoutePatchNodePool, s.vendor(s.handlePatchNodePool))
	s.ctl.Handle(mux, RouteDeleteNodePool, s.vendor(s.handleDeleteNodePool))
	s.registerMonitoring(mux) // pool monitor, runtime metrics, AOM query_range (monitor.go)
	s.ctl.RegisterControl(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "APIGW.0101", "The API does not exist or has not been published in the environment", true)
	})
	s.handler = withRequestID(mux)
	return s
}

// Handler serves the vendor routes, the IAM route and /_sim.
func (s *Server) Handler() http.Handler { return s.handler }

// Control is the simulator's counters and faults.
func (s *Server) Control() *simctl.Controller { return s.ctl }

// ProjectID is the project the simulator serves.
func (s *Server) ProjectID() string { return s.opts.ProjectID }

// vendor puts API Gateway's checks in front of a ModelArts handler, and
// brings the node lifecycles up to the clock first.
func (s *Server) vendor(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.authorize(w, r) {
			s.tick()
			h(w, r)
		}
	}
}

func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		w.Header().Set("X-Request-Id", hex.EncodeToString(b))
		next.ServeHTTP(w, r)
	})
}

// writeFault is the simctl error writer: the body a real endpoint would give
// for an injected status.
func (s *Server) writeFault(w http.ResponseWriter, r *http.Request, status int) {
	if r.URL.Path == "/v3/auth/tokens" {
		writeIAMError(w, status, http.StatusText(status))
		return
	}
	if isAOM(r) {
		s.writeAOMFault(w, status)
		return
	}
	switch {
	case status == http.StatusTooManyRequests:
		// API Gateway throttling; the exact text is not published.
		writeError(w, status, "APIGW.0308", "The throttling threshold has been reached: policy user over ratelimit", true)
	case status == http.StatusServiceUnavailable:
		writeError(w, status, "ModelArts.6101", "The system is busy now. Please try again later.", false)
	case status == http.StatusUnauthorized:
		writeError(w, status, "APIGW.0301", "Incorrect IAM authentication information: decrypt token fail", true)
	case status == http.StatusForbidden:
		writeError(w, status, "ModelArts.0108", "You are not authorized to perform the operation.", false)
	case status == http.StatusNotFound:
		writeError(w, status, "ModelArts.50015001", "pool not found", false)
	case status >= 500:
		writeError(w, status, "ModelArts.0010", "Internal error.", false)
	default:
		writeError(w, status, "ModelArts.0101", "Invalid Argument.", false)
	}
}

// apiError is the ModelArts / API Gateway error body.
type apiError struct {
	ErrorCode string `json:"error_code"`
	ErrorMsg  string `json:"error_msg"`
	RequestID string `json:"request_id,omitempty"`
}

// writeError answers {"error_code","error_msg"}; gateway errors (APIGW.*)
// also carry request_id, as API Gateway's own bodies do.
func writeError(w http.ResponseWriter, status int, code, msg string, gateway bool) {
	body := apiError{ErrorCode: code, ErrorMsg: msg}
	if gateway {
		body.RequestID = w.Header().Get("X-Request-Id")
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(data)
}
