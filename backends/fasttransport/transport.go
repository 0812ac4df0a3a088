// Package fasttransport is an http.RoundTripper on valyala/fasthttp's
// client: the base transport under every backend's resilience.Transport.
//
// It exists for the cold path. A cold dashboard makes one vendor call per
// node, and net/http's transport costs this machine 0.14–0.16 ms of CPU per
// call (two goroutines per connection, a request and response value graph
// per call, a select per call); fasthttp's client makes the same calls for
// 0.07 ms (bench: "net/http alone" against "fasthttp alone" in a 1 000-node
// cold dashboard). Everything above the base transport (retries, breaker,
// budget, metrics, the clients) still speaks net/http types, so the swap
// is invisible to them and to tests that use httptest servers.
//
// What goes to net/http instead (the fallback transport):
//   - Writes, and any request with a body: they are rare (node-pool
//     mutations), and net/http notices that the server closed a kept-alive
//     connection before it sends on it. fasthttp finds out by failing the
//     send, and a write that may have reached the server must not be sent
//     again.
//   - Proxies: a request that http.ProxyFromEnvironment sends through a
//     proxy, and any scheme other than http and https, so HTTPS_PROXY and
//     NO_PROXY behave as before.
//
// What it does not do:
//   - HTTP/2: fasthttp speaks HTTP/1.1, which both vendors' APIs serve.
//   - Cancellation before the deadline: fasthttp ends a call at its
//     deadline (the request context's, which every vendor call has) but
//     cannot abort it earlier. A request whose context is cancelled without
//     a deadline passing waits for the answer or the deadline. A context
//     with no deadline gets DefaultTimeout.
//   - Transparent gzip: no Accept-Encoding is added, so the vendor answers
//     uncompressed, as it does for any client that does not ask.
//
// Retries inside fasthttp are limited to what net/http does on its own: a
// GET or HEAD whose kept-alive connection turned out to be closed is sent
// once more. Connections idle for DefaultIdleTimeout are closed, below the
// 60 s after which common load balancers drop them, so that this is rare.
package fasttransport

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/fleetgraph/fleetgraph/backends"
)

// Defaults of Options.
const (
	// DefaultMaxConnsPerHost bounds the connections to one host. Beyond it a
	// call waits for one of them (up to its deadline) instead of dialling.
	DefaultMaxConnsPerHost = 1024
	// DefaultIdleTimeout closes a kept-alive connection nobody used for that
	// long. fasthttp has no reader watching an idle connection, so it cannot
	// tell one the server or a load balancer closed until it sends on it;
	// fasthttp's cleaner may take up to twice this, still under the 60 s
	// idle timeout of common load balancers (ELB, ALB, nginx's 75 s).
	DefaultIdleTimeout = 20 * time.Second
	// DefaultMaxBody is the longest answer read into memory: past it the
	// body reads fail with backends.ErrBodyTooLarge (the clients' own limit
	// is the same 64 MiB).
	DefaultMaxBody = 64 << 20
	// DefaultTimeout ends a call whose context has no deadline.
	DefaultTimeout = 2 * time.Minute
)

// Options configure a Transport. The zero value is the defaults.
type Options struct {
	MaxConnsPerHost int
	IdleTimeout     time.Duration
	MaxBody         int
	// Fallback sends what fasthttp does not: writes and requests with a body,
	// proxied requests and schemes other than http and https. Nil: a clone
	// of http.DefaultTransport with TLSConfig.
	Fallback http.RoundTripper
	// Proxy says which requests go through a proxy. Nil:
	// http.ProxyFromEnvironment.
	Proxy func(*http.Request) (*url.URL, error)
	// TLSConfig is the HTTPS client's; nil: the system's roots (and
	// SSL_CERT_FILE), as net/http's default.
	TLSConfig *tls.Config
}

// Transport is an http.RoundTripper over a fasthttp.Client. It is safe for
// concurrent use; build one per backend and share it.
type Transport struct {
	c        *fasthttp.Client
	fallback http.RoundTripper
	proxy    func(*http.Request) (*url.URL, error)
	maxBody  int
}

// New returns a Transport with opts.
func New(opts Options) *Transport {
	if opts.MaxConnsPerHost <= 0 {
		opts.MaxConnsPerHost = DefaultMaxConnsPerHost
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = DefaultMaxBody
	}
	if opts.Fallback == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 64
		if opts.TLSConfig != nil {
			tr.TLSClientConfig = opts.TLSConfig.Clone()
		}
		opts.Fallback = tr
	}
	if opts.Proxy == nil {
		opts.Proxy = http.ProxyFromEnvironment
	}
	t := &Transport{fallback: opts.Fallback, proxy: opts.Proxy, maxBody: opts.MaxBody}
	t.c = &fasthttp.Client{
		TLSConfig:           opts.TLSConfig,
		MaxConnsPerHost:     opts.MaxConnsPerHost,
		MaxIdleConnDuration: opts.IdleTimeout,
		// A call beyond MaxConnsPerHost waits for a connection, as net/http's
		// MaxConnsPerHost makes it; the call's own deadline bounds the wait.
		MaxConnWaitTimeout:  DefaultTimeout,
		MaxResponseBodySize: opts.MaxBody, // longer: ErrBodyTooLarge
		ReadBufferSize:      16 << 10,     // also the longest response header
		// Paths are sent as the clients escaped them (a node ID with %2F in
		// it stays one segment).
		DisablePathNormalizing:    true,
		NoDefaultUserAgentHeader:  true,
		MaxIdemponentCallAttempts: 2,
		RetryIfErr:                retryIfErr,
	}
	return t
}

// retryIfErr sends a GET or HEAD once more when its kept-alive connection was
// closed under it (what net/http retries on its own), and nothing else.
func retryIfErr(req *fasthttp.Request, attempts int, err error) (resetTimeout, retry bool) {
	if attempts > 1 || !(req.Header.IsGet() || req.Header.IsHead()) {
		return false, false
	}
	return false, errors.Is(err, fasthttp.ErrConnectionClosed) || errors.Is(err, io.EOF)
}

// CloseIdleConnections closes the kept-alive connections of both transports.
func (t *Transport) CloseIdleConnections() {
	t.c.CloseIdleConnections()
	if c, ok := t.fallback.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// RoundTrip sends r. A request with a body goes to the fallback, which
// closes it; the answer's body must be closed by the caller (which returns
// its buffers to fasthttp).
func (t *Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL == nil || (r.URL.Scheme != "http" && r.URL.Scheme != "https") ||
		(r.Method != http.MethodGet && r.Method != http.MethodHead) || (r.Body != nil && r.Body != http.NoBody) {
		return t.fallback.RoundTrip(r)
	}
	if p, err := t.proxy(r); err != nil || p != nil {
		return t.fallback.RoundTrip(r)
	}
	ctx := r.Context()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	build(req, r)
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(DefaultTimeout)
	}
	resp := fasthttp.AcquireResponse()
	err := t.c.DoDeadline(req, resp, deadline)
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		// The status and headers came; the body is what failed. The caller
		// reads it and gets the same error its own limit would give.
		out := t.response(r, resp, errBody{fmt.Errorf("%w: more than %d bytes", backends.ErrBodyTooLarge, t.maxBody)})
		out.ContentLength = -1
		fasthttp.ReleaseResponse(resp)
		return out, nil
	case err != nil:
		fasthttp.ReleaseResponse(resp)
		return nil, classify(ctx, err)
	}
	b := &body{resp: resp}
	b.r.Reset(resp.Body())
	return t.response(r, resp, b), nil
}

// classify makes a fasthttp error say what net/http's would: a call that
// reached its deadline is context.DeadlineExceeded (fasthttp's own timer may
// fire a moment before the context's), a dial that timed out is a timeout.
func classify(ctx context.Context, err error) error {
	switch {
	case errors.Is(err, fasthttp.ErrTimeout):
		if cerr := ctx.Err(); cerr != nil {
			return fmt.Errorf("%w: %w", cerr, err)
		}
		return fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
	case errors.Is(err, fasthttp.ErrDialTimeout), errors.Is(err, fasthttp.ErrTLSHandshakeTimeout):
		return timeoutError{err}
	}
	return err
}

// timeoutError is err, a timeout (net.Error's Timeout).
type timeoutError struct{ error }

func (timeoutError) Timeout() bool   { return true }
func (e timeoutError) Unwrap() error { return e.error }

// build fills req from r, a GET or HEAD without a body.
func build(req *fasthttp.Request, r *http.Request) {
	req.Header.SetMethod(r.Method)
	req.URI().DisablePathNormalizing = true
	req.SetRequestURI(r.URL.String())
	host := r.Host
	if host == "" {
		host = r.URL.Host
	}
	req.Header.SetHost(host)
	req.UseHostHeader = r.Host != "" && r.Host != r.URL.Host
	for k, vs := range r.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
}

// response is resp as net/http's answer to r, with body b.
func (t *Transport) response(r *http.Request, resp *fasthttp.Response, b io.ReadCloser) *http.Response {
	h := make(http.Header, resp.Header.Len())
	for k, v := range resp.Header.All() {
		key := string(k)
		h[key] = append(h[key], string(v))
	}
	code := resp.StatusCode()
	out := &http.Response{
		Status:        fmt.Sprintf("%d %s", code, http.StatusText(code)),
		StatusCode:    code,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          b,
		ContentLength: int64(len(resp.Body())),
		Request:       r,
	}
	if r.Method == http.MethodHead {
		out.ContentLength = int64(resp.Header.ContentLength())
	}
	return out
}

// body reads a fasthttp answer's buffered body and returns the answer to
// fasthttp's pool when closed.
type body struct {
	mu     sync.Mutex
	resp   *fasthttp.Response
	r      bytes.Reader
	closed bool
}

func (b *body) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, errReadAfterClose
	}
	return b.r.Read(p)
}

func (b *body) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		b.closed = true
		b.r.Reset(nil)
		fasthttp.ReleaseResponse(b.resp)
		b.resp = nil
	}
	return nil
}

var errReadAfterClose = errors.New("fasttransport: read on closed response body")

// errBody is a body whose reads fail with err.
type errBody struct{ err error }

func (e errBody) Read([]byte) (int, error) { return 0, e.err }
func (errBody) Close() error               { return nil }
