// Package runai is the REST client for the NVIDIA Run:ai 2.22 control-plane
// API: clusters, nodes, node pools, node metrics and node telemetry.
//
// A Client authenticates either with an application's client credentials
// (it fetches, caches and refreshes the service token itself) or in
// pass-through mode, forwarding the caller's own bearer from the context.
// Every non-2xx answer becomes a *backends.APIError; failures to reach the
// API become *backends.TransportError. The client never retries: retries for
// idempotent calls belong to the layer above it.
package runai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/internal/jsonx"
)

const (
	defaultTimeout  = backends.DefaultTimeout
	defaultPageSize = 500
	maxPageSize     = 500 // the API's own maximum for limit

	// maxErrorBody bounds what is read of an error answer: enough for the
	// vendor's {"code","message","details"}, not enough to hurt.
	maxErrorBody = 64 << 10
	// maxBody bounds a successful answer; a 500-node page is well under 1 MiB.
	maxBody = 64 << 20
)

// Config configures a Client. BaseURL and Name are required, and exactly one
// of client credentials (ClientID and ClientSecret) or PassThrough.
type Config struct {
	// Name is the backend instance name, unique in the gateway
	// (e.g. "runai-prod"). It goes into every error.
	Name string
	// BaseURL is the tenant URL, e.g. https://tenant.run.ai. It may carry a
	// path prefix; API paths are appended to it.
	BaseURL string
	// ClientID and ClientSecret are an application's credentials for the
	// client_credentials grant of POST /api/v1/token.
	ClientID     string
	ClientSecret string
	// PassThrough sends the caller's bearer (backends.CredentialsFrom(ctx)
	// .RunAIBearer) instead of a service token. A call without one fails
	// with backends.ErrNoCredentials before reaching the API.
	PassThrough bool
	// Timeout bounds one exchange with the API (token, request, one
	// re-authentication, decoding). A listing applies it to each page.
	// Default 10s.
	Timeout time.Duration
	// PageSize is the limit sent when following offset/limit pages.
	// Default and maximum 500.
	PageSize int
	// HTTPClient is the client used for every call. The default has its own
	// Transport with MaxIdleConnsPerHost 64, because a gateway sends many
	// concurrent calls to one host. The Client does not own a caller's value.
	HTTPClient *http.Client
	// Observer hears about what the client skipped in an answer instead of
	// failing it (null list items, non-finite samples). Default: nobody.
	Observer backends.Observer
}

// Client calls one Run:ai tenant. It is safe for concurrent use.
type Client struct {
	name     string
	baseURL  string // scheme://host[/prefix], without a trailing slash
	timeout  time.Duration
	pageSize int
	hc       *http.Client
	tokens   *backends.TokenCache // nil in pass-through mode
	observer backends.Observer
}

// New validates cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	if cfg.Name == "" {
		return nil, errors.New("runai: Config.Name is required")
	}
	u, err := backends.ParseEndpoint(cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("runai %s: BaseURL %w", cfg.Name, err)
	}
	hasCreds := cfg.ClientID != "" || cfg.ClientSecret != ""
	switch {
	case cfg.PassThrough && hasCreds:
		return nil, fmt.Errorf("runai %s: set either client credentials or PassThrough, not both", cfg.Name)
	case !cfg.PassThrough && (cfg.ClientID == "" || cfg.ClientSecret == ""):
		return nil, fmt.Errorf("runai %s: ClientID and ClientSecret are required unless PassThrough is set", cfg.Name)
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("runai %s: Timeout must not be negative", cfg.Name)
	}
	if cfg.PageSize < 0 || cfg.PageSize > maxPageSize {
		return nil, fmt.Errorf("runai %s: PageSize must be within 1..%d (0 for the default)", cfg.Name, maxPageSize)
	}
	c := &Client{
		name:     cfg.Name,
		baseURL:  strings.TrimRight(u.String(), "/"),
		timeout:  orDefault(cfg.Timeout, defaultTimeout),
		pageSize: orDefault(cfg.PageSize, defaultPageSize),
		hc:       cfg.HTTPClient,
		observer: cfg.Observer,
	}
	if c.observer == nil {
		c.observer = backends.NopObserver{}
	}
	if c.hc == nil {
		c.hc = defaultHTTPClient()
	}
	if !cfg.PassThrough {
		c.tokens = newTokenCache(c, cfg.ClientID, cfg.ClientSecret)
	}
	return c, nil
}

// orDefault returns v, or def when v is the zero value.
func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func defaultHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 64
	return &http.Client{Transport: t}
}

// Name returns the backend instance name.
func (c *Client) Name() string { return c.name }

// request is one API exchange. route is the path template
// ("/api/v1/clusters/{clusterUuid}/nodes"); args fill its {placeholders} in
// order. The template, not the filled path, goes into errors.
type request struct {
	method string
	route  string
	args   []string
	query  url.Values
	// rawQuery, when set, is the query already encoded, instead of query:
	// a metrics call's (metricsQuery), built without a map.
	rawQuery string
	body     []byte // JSON; nil for none
	// items: the answer holds a list that decodeElems decodes item by item.
	// finish then leaves null items in place, so that paging still counts
	// the positions the server counted; decodeElems skips them.
	items bool
}

// do performs one exchange under the client timeout: authentication, the
// request, one re-authentication on 401 with a service token, the status
// check and decoding into out (when out is non-nil). It returns the 2xx
// status so that callers can tell 207 from 200.
func (c *Client) do(ctx context.Context, req request, out any) (int, error) {
	for _, a := range req.args {
		if a == "" {
			// An empty path parameter addresses another resource
			// (/api/v1/node-pools/ is the listing, /nodes//metrics none).
			return 0, fmt.Errorf("%s %s: %s %s: empty path parameter: %w", backends.RunAI, c.name, req.method, req.route, backends.ErrBadRequest)
		}
	}
	ctx, cancel := context.WithTimeoutCause(ctx, c.timeout, backends.ErrTimeout)
	defer cancel()

	bearer, err := c.bearer(ctx, req.route)
	if err != nil {
		return 0, err
	}
	resp, err := c.send(ctx, req, bearer)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode == http.StatusUnauthorized && c.tokens != nil {
		// The cached service token was revoked or expired early: this is
		// authentication, not a retry policy, so it happens once.
		backends.DrainBody(resp)
		c.tokens.Invalidate(bearer)
		if bearer, err = c.bearer(ctx, req.route); err != nil {
			return 0, err
		}
		if resp, err = c.send(ctx, req, bearer); err != nil {
			return 0, err
		}
	}
	return c.finish(ctx, req, resp, out)
}

// finish checks the status of resp, decodes its body into out (when out is
// non-nil) and closes it.
func (c *Client) finish(ctx context.Context, req request, resp *http.Response, out any) (int, error) {
	defer resp.Body.Close()
	if err := c.checkResponse(req, resp); err != nil {
		return resp.StatusCode, err
	}
	if out == nil {
		backends.DrainBody(resp)
		return resp.StatusCode, nil
	}
	data, err := backends.ReadResponseBody(resp, maxBody)
	if errors.Is(err, backends.ErrBodyTooLarge) {
		return 0, fmt.Errorf("%s %s: %s %s: %w", backends.RunAI, c.name, req.method, req.route, err)
	}
	if err != nil {
		return 0, c.transportError(ctx, req.route, err)
	}
	if d, ok := out.(fastDecoder); ok && d.decodeFast(data) {
		return resp.StatusCode, nil
	}
	// A null list item is no object: decoding it would make a phantom
	// (a node without a name, a zero sample). Skipped at every depth, counted.
	if !req.items {
		data = c.dropNullItems(req, data)
	}
	if err := jsonx.Unmarshal(data, out); err != nil {
		return 0, c.decodeError(req, err)
	}
	return resp.StatusCode, nil
}

// fastDecoder is an answer type with a decoder of its own for the shape the
// vendor usually sends: decodeFast reports false (and leaves the value
// zero) for anything else, which then takes the general path (null items
// dropped, jsonx).
type fastDecoder interface{ decodeFast(data []byte) bool }

// dropNullItems removes the null list items of data, at any depth, and
// counts them.
func (c *Client) dropNullItems(req request, data []byte) []byte {
	data, n := backends.DropNullItems(data)
	if n > 0 {
		c.observer.NullItems(c.name, backends.RouteKind(req.route), n)
	}
	return data
}

// bearer returns the token to send: the caller's in pass-through mode,
// otherwise the cached (or freshly fetched) service token.
func (c *Client) bearer(ctx context.Context, route string) (string, error) {
	if c.tokens != nil {
		return c.tokens.Token(ctx)
	}
	creds, _ := backends.CredentialsFrom(ctx)
	if creds.RunAIBearer == "" {
		return "", fmt.Errorf("%s %s: %s: %w", backends.RunAI, c.name, route, backends.ErrNoCredentials)
	}
	return creds.RunAIBearer, nil
}

// send builds and sends one HTTP request. bearer may be empty (token call).
func (c *Client) send(ctx context.Context, req request, bearer string) (*http.Response, error) {
	ctx = backends.WithRoute(ctx, req.route) // labels the call in the transport's metrics
	u := c.baseURL + expand(req.route, req.args)
	switch {
	case req.rawQuery != "":
		u += "?" + req.rawQuery
	case len(req.query) > 0:
		u += "?" + encodeQuery(req.query)
	}
	var body io.Reader
	if req.body != nil {
		body = bytes.NewReader(req.body)
	}
	hreq, err := http.NewRequestWithContext(ctx, req.method, u, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %s %s: build request: %w", backends.RunAI, c.name, req.method, req.route, err)
	}
	hreq.Header.Set("Accept", "application/json")
	if req.body != nil {
		hreq.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		hreq.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.hc.Do(hreq)
	if err != nil {
		return nil, c.transportError(ctx, req.route, err)
	}
	return resp, nil
}

// expand fills the {placeholders} of route with args, escaped, in order.
func expand(route string, args []string) string {
	if len(args) == 0 {
		return route
	}
	var b strings.Builder
	rest := route
	for _, a := range args {
		i := strings.IndexByte(rest, '{')
		j := strings.IndexByte(rest, '}')
		if i < 0 || j < i {
			break
		}
		b.WriteString(rest[:i])
		b.WriteString(url.PathEscape(a))
		rest = rest[j+1:]
	}
	b.WriteString(rest)
	return b.String()
}

// encodeQuery is q.Encode() (keys sorted, values escaped as
// url.QueryEscape does) with commas kept literal: they delimit
// explode:false arrays (metricType=A,B), as OpenAPI's form style writes
// them. A comma is legal in a query, and a server decodes %2C to the same
// thing.
func encodeQuery(q url.Values) string {
	keys := make([]string, 0, len(q))
	n := 0
	for k, vs := range q {
		keys = append(keys, k)
		for _, v := range vs {
			n += len(k) + len(v) + 2
		}
	}
	slices.Sort(keys)
	b := make([]byte, 0, n+n/4)
	for _, k := range keys {
		for _, v := range q[k] {
			b = appendQueryParam(b, k, v)
		}
	}
	return string(b)
}

// appendQueryParam appends k=v, escaped as encodeQuery does, after an &
// unless b is empty.
func appendQueryParam[T string | []byte](b []byte, k string, v T) []byte {
	if len(b) > 0 {
		b = append(b, '&')
	}
	b = appendQueryEscape(b, k)
	b = append(b, '=')
	return appendQueryEscape(b, v)
}

// appendQueryEscape appends s as url.QueryEscape writes it, except that a
// comma stays a comma.
func appendQueryEscape[T string | []byte](b []byte, s T) []byte {
	const hex = "0123456789ABCDEF"
	for i := range len(s) {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.', c == '~', c == ',':
			b = append(b, c)
		case c == ' ':
			b = append(b, '+')
		default:
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	return b
}

// transportError wraps a failure to reach the API (backends.NewTransportError:
// when ctx is done, its error leads the chain).
func (c *Client) transportError(ctx context.Context, route string, err error) error {
	return backends.NewTransportError(ctx, backends.RunAI, c.name, route, err)
}

func (c *Client) decodeError(req request, err error) error {
	return fmt.Errorf("%s %s: %s %s: decode response: %w", backends.RunAI, c.name, req.method, req.route, err)
}

// errorBody is the vendor's Error schema.
type errorBody struct {
	Code    *int   `json:"code"`
	Message string `json:"message"`
	Details string `json:"details"`
}

// checkResponse turns every non-2xx answer into a *backends.APIError. It
// reads at most maxErrorBody bytes of the body and never echoes a request
// header, so no token reaches an error string.
func (c *Client) checkResponse(req request, resp *http.Response) error {
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return nil
	}
	e := &backends.APIError{
		Backend:    c.name,
		Provider:   backends.RunAI,
		Method:     req.method,
		Route:      req.route,
		Status:     resp.StatusCode,
		RetryAfter: retryAfter(resp.Header.Get("Retry-After"), time.Now()),
		// Run:ai documents no request-id header (upstreams.md A.3: the
		// spec declares no response headers); an ingress or proxy in front
		// of a self-hosted control plane often sets X-Request-Id, and it is
		// what a support case asks for.
		RequestID: backends.RequestID(resp.Header.Get("X-Request-Id")),
	}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody)) // a truncated body still has its status
	var body errorBody
	if json.Unmarshal(data, &body) == nil && (body.Code != nil || body.Message != "") {
		if body.Code != nil {
			e.Code = strconv.Itoa(*body.Code)
		}
		e.Message = body.Message
		if body.Details != "" {
			e.Message = strings.TrimSpace(e.Message + ": " + body.Details)
		}
	} else {
		// Not the vendor's body (a proxy or load balancer answered): keep a
		// short excerpt, it is usually the only clue.
		e.Message = excerpt(data, 200)
	}
	return e
}

// retryAfter is the APIError.RetryAfter of a Retry-After value
// (backends.ParseRetryAfter): 0 when absent, garbage or "now".
func retryAfter(v string, now time.Time) time.Duration {
	d, _ := backends.ParseRetryAfter(v, now)
	return d
}

func excerpt(data []byte, n int) string {
	s := strings.TrimSpace(string(data))
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}
