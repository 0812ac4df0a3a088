package fasttransport_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/backends/fasttransport"
)

// TestRoundTripCarriesTheRequestAndTheAnswer: method, escaped path, query
// and headers reach the server as the client wrote them, and status, headers
// and body come back as net/http would give them.
func TestRoundTripCarriesTheRequestAndTheAnswer(t *testing.T) {
	t.Parallel()
	type seen struct {
		method, rawPath, query, auth, host, multi string
	}
	got := make(chan seen, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- seen{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Get("Authorization"), r.Host,
			strings.Join(r.Header.Values("X-Multi"), ",")}
		w.Header().Add("X-Answer", "one")
		w.Header().Add("X-Answer", "two")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	defer srv.Close()
	tr := fasttransport.New(fasttransport.Options{Fallback: &recorder{}})
	defer tr.CloseIdleConnections()

	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet,
		srv.URL+"/api/v1/nodes/a%2Fb/metrics?start=2026-12-02T10%3A00%3A00Z&x=1", nil)
	req.Header.Set("Authorization", "Bearer tok")
	req.Header.Add("X-Multi", "a")
	req.Header.Add("X-Multi", "b")
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	data, err := backends.ReadResponseBody(resp, 1<<20)
	_ = resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	want := seen{http.MethodGet, "/api/v1/nodes/a%2Fb/metrics", "start=2026-12-02T10%3A00%3A00Z&x=1", "Bearer tok",
		strings.TrimPrefix(srv.URL, "http://"), "a,b"}
	if s := <-got; s != want {
		t.Errorf("server saw %+v, want %+v", s, want)
	}
	if resp.StatusCode != http.StatusAccepted || resp.Status != "202 Accepted" || resp.ProtoMajor != 1 {
		t.Errorf("status %d %q proto %d", resp.StatusCode, resp.Status, resp.ProtoMajor)
	}
	if v := resp.Header.Values("X-Answer"); strings.Join(v, ",") != "one,two" {
		t.Errorf("X-Answer %q, want one,two", v)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if string(data) != `{"ok":true}` || resp.ContentLength != int64(len(data)) {
		t.Errorf("body %q, ContentLength %d", data, resp.ContentLength)
	}
}

// TestWritesGoThroughNetHTTP: a write, or any request with a body, is sent by
// the fallback (net/http notices a closed kept-alive connection before it
// sends; fasthttp would find out by failing a send it must not repeat). A GET
// is not.
func TestWritesGoThroughNetHTTP(t *testing.T) {
	t.Parallel()
	var direct atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { direct.Add(1) }))
	defer srv.Close()
	fb := &recorder{}
	tr := fasttransport.New(fasttransport.Options{Fallback: fb})
	defer tr.CloseIdleConnections()
	for _, c := range []struct {
		method string
		body   io.Reader
	}{{http.MethodPatch, strings.NewReader("{}")}, {http.MethodPost, strings.NewReader("{}")}, {http.MethodDelete, nil},
		{http.MethodPut, strings.NewReader("{}")}, {http.MethodGet, strings.NewReader("q")}, {http.MethodGet, nil}} {
		req, _ := http.NewRequestWithContext(t.Context(), c.method, srv.URL+"/x", c.body)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatalf("%s: %v", c.method, err)
		}
		_ = resp.Body.Close()
	}
	if fb.calls.Load() != 5 || direct.Load() != 1 {
		t.Errorf("fallback %d, fasthttp %d; want 5 and 1 (only the GET without a body)", fb.calls.Load(), direct.Load())
	}
}

// TestBodyLongerThanTheLimit: the body read fails with ErrBodyTooLarge, as
// the clients' own limit would fail it; a body of exactly the limit reads.
func TestBodyLongerThanTheLimit(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, strings.Repeat("x", len(r.URL.Query().Get("n"))))
	}))
	defer srv.Close()
	tr := fasttransport.New(fasttransport.Options{MaxBody: 10})
	defer tr.CloseIdleConnections()
	for n, wantErr := range map[int]bool{10: false, 11: true, 5000: true} {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/?n="+strings.Repeat("n", n), nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		data, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if got := errors.Is(err, backends.ErrBodyTooLarge); got != wantErr {
			t.Errorf("%d bytes: read %d, err %v; want ErrBodyTooLarge: %v", n, len(data), err, wantErr)
		}
	}
}

// TestAWriteIsNeverRetried: a connection closed before the answer fails a
// write after one request (through the default fallback, net/http); a GET is
// sent once more, as net/http does for a kept-alive connection that turned
// out closed.
func TestAWriteIsNeverRetried(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	}))
	defer srv.Close()
	tr := fasttransport.New(fasttransport.Options{})
	defer tr.CloseIdleConnections()
	for method, want := range map[string]int32{http.MethodPatch: 1, http.MethodPost: 1, http.MethodDelete: 1, http.MethodGet: 2} {
		calls.Store(0)
		req, _ := http.NewRequestWithContext(t.Context(), method, srv.URL+"/x", strings.NewReader("{}"))
		if method == http.MethodGet {
			req.Body = nil
		}
		if resp, err := tr.RoundTrip(req); err == nil {
			_ = resp.Body.Close()
			t.Fatalf("%s: no error from a closed connection", method)
		}
		if got := calls.Load(); got != want {
			t.Errorf("%s: server saw %d requests, want %d", method, got, want)
		}
	}
}

// TestTheContextDeadlineEndsTheCall: a server that never answers fails the
// call at the context's deadline with an error that is the deadline's.
func TestTheContextDeadlineEndsTheCall(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer srv.Close()
	defer close(release)
	tr := fasttransport.New(fasttransport.Options{})
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/stall", nil)
	resp, err := tr.RoundTrip(req)
	if err == nil {
		_ = resp.Body.Close()
		t.Fatal("no error from a server that never answered")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err %v, want context.DeadlineExceeded", err)
	}
	var ne interface{ Timeout() bool }
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("err %v is not a timeout", err)
	}
}

// TestADoneContextSendsNothing: a request whose context is over is not sent.
func TestADoneContextSendsNothing(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { calls.Add(1) }))
	defer srv.Close()
	tr := fasttransport.New(fasttransport.Options{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	if _, err := tr.RoundTrip(req); !errors.Is(err, context.Canceled) {
		t.Errorf("err %v, want context.Canceled", err)
	}
	if calls.Load() != 0 {
		t.Errorf("server saw %d requests, want 0", calls.Load())
	}
}

// recorder is a fallback RoundTripper that answers 204 and counts.
type recorder struct{ calls atomic.Int32 }

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.calls.Add(1)
	return &http.Response{StatusCode: http.StatusNoContent, Body: http.NoBody, Request: req, Header: http.Header{}}, nil
}

// TestProxiedRequestsGoToTheFallback: fasthttp does not speak to proxies;
// what Proxy sends through one, and other schemes, go to net/http.
func TestProxiedRequestsGoToTheFallback(t *testing.T) {
	t.Parallel()
	var direct atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { direct.Add(1) }))
	defer srv.Close()
	fb := &recorder{}
	proxied := "/via-proxy"
	tr := fasttransport.New(fasttransport.Options{Fallback: fb, Proxy: func(r *http.Request) (*url.URL, error) {
		if r.URL.Path == proxied {
			return url.Parse("http://proxy.invalid:3128")
		}
		return nil, nil
	}})
	defer tr.CloseIdleConnections()
	for _, path := range []string{"/direct", proxied} {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+path, nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
	}
	if direct.Load() != 1 || fb.calls.Load() != 1 {
		t.Errorf("direct %d, fallback %d; want 1 and 1", direct.Load(), fb.calls.Load())
	}
}

// TestAClosedBodyIsNotRead: Close returns the answer to fasthttp's pool, so
// a read after it must fail rather than see another answer's bytes.
func TestAClosedBodyIsNotRead(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "body") }))
	defer srv.Close()
	tr := fasttransport.New(fasttransport.Options{})
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	_ = resp.Body.Close() // twice is fine
	if n, err := resp.Body.Read(make([]byte, 4)); n != 0 || err == nil {
		t.Errorf("read after close: %d bytes, err %v", n, err)
	}
}

// TestHTTPS: a TLS server is reached with the configured roots, and refused
// without them (the system's roots do not hold httptest's certificate).
func TestHTTPS(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "tls") }))
	defer srv.Close()
	trusting := fasttransport.New(fasttransport.Options{TLSConfig: srv.Client().Transport.(*http.Transport).TLSClientConfig})
	defer trusting.CloseIdleConnections()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
	resp, err := trusting.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if string(data) != "tls" {
		t.Errorf("body %q", data)
	}
	req, _ = http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
	if resp, err := fasttransport.New(fasttransport.Options{}).RoundTrip(req); err == nil {
		_ = resp.Body.Close()
		t.Error("an unknown certificate was accepted")
	}
}

// TestAConnectionTheServerClosedIsNotAnError: a GET sent on a kept-alive
// connection the server has closed meanwhile (its idle timeout is shorter
// than ours) is sent again on a new one and answers.
func TestAConnectionTheServerClosedIsNotAnError(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		_, _ = io.WriteString(w, "ok")
	}))
	srv.Config.IdleTimeout = 20 * time.Millisecond
	srv.Start()
	defer srv.Close()
	tr := fasttransport.New(fasttransport.Options{})
	defer tr.CloseIdleConnections()
	get := func() error {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			return err
		}
		data, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err == nil && string(data) != "ok" {
			t.Errorf("body %q", data)
		}
		return err
	}
	if err := get(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the server closes the idle connection meanwhile
	if err := get(); err != nil {
		t.Fatalf("GET after the server closed the kept-alive connection: %v", err)
	}
	if calls.Load() != 2 {
		t.Errorf("server answered %d requests, want 2", calls.Load())
	}
}
