package runaisim_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetgraph/fleetgraph/backends/runai/runaisim"
	"github.com/fleetgraph/fleetgraph/internal/testutil"
)

// check says how much of an exchange the OpenAPI document must accept.
type check int

const (
	checkAll      check = iota // request and response
	checkResponse              // a deliberately invalid request; the answer must still be in the document
	checkNothing               // the document does not declare this answer (noted in the test)
	checkRequest               // a valid request whose answer the document does not declare (noted in the test)
)

// harness is a simulator behind a recorder; every exchange is validated
// against the Run:ai OpenAPI document when the test ends.
type harness struct {
	sim   *runaisim.Server
	srv   *httptest.Server
	rec   *testutil.Recorder
	token string

	mu     sync.Mutex
	checks map[int]check // by exchange index; checkAll when absent
}

func newHarness(t *testing.T, opts runaisim.Options) *harness {
	t.Helper()
	sim := runaisim.New(opts)
	h := &harness{sim: sim, rec: &testutil.Recorder{Next: sim.Handler()}, checks: map[int]check{}}
	h.srv = httptest.NewServer(h.rec)
	t.Cleanup(h.srv.Close)
	h.token = sim.IssueToken()
	spec := testutil.LoadSpec(t, "runai-openapi-2.22.json")
	t.Cleanup(func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		for i, ex := range h.rec.Exchanges() {
			if strings.HasPrefix(ex.Path, "/_sim/") {
				continue
			}
			switch h.checks[i] {
			case checkNothing:
				continue
			case checkResponse:
				ex.SkipRequest = true
			case checkRequest:
				ex.Status = 0
			}
			if err := spec.Validate(ex); err != nil {
				t.Errorf("exchange %d breaks the OpenAPI document: %v\nbody: %s", i, err, excerpt(ex.RespBody))
			}
		}
	})
	return h
}

func excerpt(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "…"
	}
	return string(b)
}

// get calls path with the harness token and returns status and body.
func (h *harness) get(t *testing.T, path string, c check) (int, []byte) {
	t.Helper()
	return h.do(t, http.MethodGet, path, "", h.token, c)
}

func (h *harness) do(t *testing.T, method, path, body, token string, c check) (int, []byte) {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, h.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if c != checkAll {
		h.checks[len(h.rec.Exchanges())-1] = c
	}
	return resp.StatusCode, data
}

// getJSON calls path, requires status want and decodes the body into v.
func (h *harness) getJSON(t *testing.T, path string, want int, v any) {
	t.Helper()
	status, body := h.get(t, path, checkAll)
	if status != want {
		t.Fatalf("GET %s: status %d, want %d: %s", path, status, want, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, body)
	}
}

// errorBody is the vendor's Error schema.
type errorBody struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func decodeError(t *testing.T, body []byte) errorBody {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	return e
}

// clock is a settable time source shared by a test and the simulator.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
