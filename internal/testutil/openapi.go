// Package testutil holds test helpers shared by the backend and end-to-end
// tests: locating ../shared and validating HTTP exchanges against the vendors'
// OpenAPI documents.
package testutil

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// SharedDir returns the shared/ folder that sits beside the repository (or
// $FLEETGRAPH_SHARED). It fails the test when it cannot be found: the
// contract tests must not silently skip.
func SharedDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("FLEETGRAPH_SHARED"); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			shared := filepath.Join(dir, "..", "shared")
			if _, err := os.Stat(shared); err != nil {
				t.Fatalf("shared/ not found beside the repository at %s (set FLEETGRAPH_SHARED): %v", shared, err)
			}
			return shared
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// Spec validates requests and responses against one OpenAPI document.
type Spec struct {
	doc    *openapi3.T
	router routers.Router
}

var (
	specMu    sync.Mutex
	specCache = map[string]*Spec{}
)

// LoadSpec loads ../shared/<file> (cached per process).
func LoadSpec(t testing.TB, file string) *Spec {
	t.Helper()
	path := filepath.Join(SharedDir(t), file)
	specMu.Lock()
	defer specMu.Unlock()
	if s, ok := specCache[path]; ok {
		return s
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(path)
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	// Route on path only: the documents name the vendors' public hosts.
	doc.Servers = openapi3.Servers{{URL: "http://upstream"}}
	// Examples are not validated: the documents copy the vendors' own
	// verbatim, defects included (runai-openapi-delta.json's labels
	// example is a string, upstreams-2.md d.6).
	router, err := legacy.NewRouter(doc, openapi3.DisableExamplesValidation())
	if err != nil {
		t.Fatalf("router for %s: %v", path, err)
	}
	s := &Spec{doc: doc, router: router}
	specCache[path] = s
	return s
}

// Exchange is one recorded HTTP request and its answer. Path is relative to
// the API root (any base path of the test server already stripped).
type Exchange struct {
	Method      string
	Path        string
	RawQuery    string
	Header      http.Header
	Body        []byte
	Status      int
	RespHeader  http.Header
	RespBody    []byte
	SkipRequest bool // validate only the response
}

// authenticate accepts a security requirement when the header it names is
// present; it does not check the credential itself (the simulators do).
func authenticate(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	req := in.RequestValidationInput.Request
	scheme := in.SecurityScheme
	switch {
	case scheme.Type == "http" && strings.EqualFold(scheme.Scheme, "bearer"):
		if in.RequestValidationInput.Route.Operation.OperationID == "grant_token" || req.URL.Path == "/api/v1/token" {
			return nil // real servers serve the token call without a bearer
		}
		if !strings.HasPrefix(req.Header.Get("Authorization"), "Bearer ") {
			return fmt.Errorf("missing bearer token")
		}
	case scheme.Type == "apiKey" && scheme.In == "header":
		if req.Header.Get(scheme.Name) == "" {
			return fmt.Errorf("missing header %s", scheme.Name)
		}
	}
	return nil
}

// Validate checks ex against the document: the request (path, params, body,
// security) unless SkipRequest, and the response status and body.
func (s *Spec) Validate(ex Exchange) error {
	u := &url.URL{Scheme: "http", Host: "upstream", Path: ex.Path, RawQuery: ex.RawQuery}
	req, err := http.NewRequest(ex.Method, u.String(), bytes.NewReader(ex.Body))
	if err != nil {
		return err
	}
	for k, v := range ex.Header {
		req.Header[k] = v
	}
	route, params, err := s.router.FindRoute(req)
	if err != nil {
		return fmt.Errorf("%s %s: no such operation in the document: %w", ex.Method, ex.Path, err)
	}
	opts := &openapi3filter.Options{AuthenticationFunc: authenticate, IncludeResponseStatus: true, MultiError: true}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	ctx := context.Background()
	if !ex.SkipRequest {
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			return fmt.Errorf("request %s %s?%s: %w", ex.Method, ex.Path, ex.RawQuery, err)
		}
	}
	if ex.Status == 0 {
		return nil
	}
	hdr := ex.RespHeader
	if hdr == nil {
		hdr = http.Header{}
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: ex.Status, Header: hdr,
		Body: io.NopCloser(bytes.NewReader(ex.RespBody)), Options: opts,
	}
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		return fmt.Errorf("response %d to %s %s: %w", ex.Status, ex.Method, ex.Path, err)
	}
	return nil
}

// Recorder is an http.Handler middleware that records every exchange, for
// validating what a client sent and what a simulator answered.
type Recorder struct {
	Next        http.Handler
	StripPrefix string

	mu        sync.Mutex
	done      *sync.Cond // signalled when an exchange is recorded
	inFlight  int
	exchanges []Exchange
}

// ServeHTTP records the request and the response, then returns the response.
func (r *Recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.inFlight++
	r.mu.Unlock()
	body, _ := io.ReadAll(req.Body)
	req.Body = io.NopCloser(bytes.NewReader(body))
	rw := &recordingWriter{ResponseWriter: w, status: http.StatusOK}
	r.Next.ServeHTTP(rw, req)
	r.mu.Lock()
	r.exchanges = append(r.exchanges, Exchange{
		Method: req.Method, Path: strings.TrimPrefix(req.URL.Path, r.StripPrefix), RawQuery: req.URL.RawQuery,
		Header: req.Header.Clone(), Body: body, Status: rw.status, RespHeader: rw.Header().Clone(), RespBody: rw.buf.Bytes(),
	})
	r.inFlight--
	r.cond().Broadcast()
	r.mu.Unlock()
}

// Exchanges returns what was recorded so far, once every request that
// reached the recorder is recorded: a client can read a whole response
// (its length known) before the handler has returned, and a test that
// asks for the last exchange right after its call must find that call.
func (r *Recorder) Exchanges() []Exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	for r.inFlight > 0 {
		r.cond().Wait()
	}
	return append([]Exchange(nil), r.exchanges...)
}

// cond is r's condition, made on first use (r.mu held).
func (r *Recorder) cond() *sync.Cond {
	if r.done == nil {
		r.done = sync.NewCond(&r.mu)
	}
	return r.done
}

type recordingWriter struct {
	http.ResponseWriter
	status int
	buf    bytes.Buffer
}

func (w *recordingWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}
func (w *recordingWriter) Write(p []byte) (int, error) {
	w.buf.Write(p)
	return w.ResponseWriter.Write(p)
}
