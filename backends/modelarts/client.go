// Package modelarts is the REST client for the Huawei Cloud ModelArts v2
// resource-pool API (/v2/{project_id}/pools...): pools, node pools and their
// nodes, the surface shared by ModelArts Standard dedicated pools and Lite
// Cluster pools. It authenticates with a static X-Auth-Token, an IAM password
// token (cached and refreshed), AK/SK SDK-HMAC-SHA256 signing, or the caller's
// own token (pass-through).
//
// Every non-2xx answer becomes a *backends.APIError; a failure to reach the
// API becomes a *backends.TransportError. The client never retries: a layer
// above it owns retries and breakers. The one exception is the documented
// IAM case: a 401 on an IAM token drops the token, fetches a new one and
// repeats the call once, since a token invalidated upstream (password change,
// permission change) is otherwise unrecoverable until its 24 h run out; it
// applies to writes too, since API Gateway answered before ModelArts saw the
// request. Writes are otherwise sent exactly once (see MaybeApplied).
//
// Decisions where the upstream documentation is silent or contradictory
// (upstreams.md C.2):
//   - Paging: both node lists send limit (Config.PageLimit) and follow
//     metadata.continue until it is empty or a page has no items. Terraform
//     says ListNodePoolNodes ignores paging and answers everything at once;
//     following the token is correct either way.
//   - A pool's status.resources buckets are decoded from an object or an
//     array (FlavorCounts); node-pool buckets are single objects.
//   - Query keys are lower-cased in the canonical request, like the current Go
//     SDK; this client only sends lower-case keys, so both readings agree.
//   - Node-pool writes send Content-Type application/json;charset=UTF-8 (the
//     SDK's; the PatchNodePool page names application/merge-patch+json), and
//     a PATCH carries only the fields that change (PoolResourcePatch).
package modelarts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/fleetgraph/fleetgraph/backends"
)

const (
	defaultTimeout   = backends.DefaultTimeout
	defaultPageLimit = 500
	maxPageLimit     = 500      // ListPoolNodes accepts 0..500
	maxBodyBytes     = 64 << 20 // a 500-node page is ~1 MB; this only stops a runaway body
	maxErrorBytes    = 64 << 10 // error bodies are small; never read more
	userAgent        = "fleetgraph"
	iamRoute         = "/v3/auth/tokens"
)

// Config configures one ModelArts backend instance. Exactly one auth mode
// must be set: Token, IAM, AccessKey+SecretKey, or PassThrough.
type Config struct {
	// Name identifies the instance in the gateway and in errors, e.g.
	// "modelarts-cn-north-4". Required.
	Name string
	// Endpoint is the API root: https://modelarts.{region}.myhuaweicloud.com,
	// or a simulator such as http://127.0.0.1:9402. It may carry a path
	// prefix. Required.
	Endpoint string
	// ProjectID is the {project_id} of every path. Required.
	ProjectID string

	// Token is a static X-Auth-Token.
	Token string
	// IAM fetches a project-scoped password token from IAM and renews it.
	IAM *IAMConfig
	// AccessKey and SecretKey sign every request (SDK-HMAC-SHA256).
	AccessKey, SecretKey string
	// PassThrough sends the caller's token,
	// backends.CredentialsFrom(ctx).ModelArtsAuthToken, as X-Auth-Token. A
	// caller without one gets an error wrapping backends.ErrNoCredentials and
	// no upstream call is made.
	PassThrough bool

	// Timeout bounds each call (each page of a paged list, each IAM call).
	// Default 10s.
	Timeout time.Duration
	// PageLimit is the node-list page size, 1..500. Default 500.
	PageLimit int
	// HTTPClient is used for every call; the caller keeps ownership. Default:
	// a client that does not follow redirects (a redirect would carry
	// X-Auth-Token to wherever it points).
	HTTPClient *http.Client
	// Observer hears about what the client skipped in an answer instead of
	// failing it (null list items). Default: nobody.
	Observer backends.Observer
}

type authMode int

const (
	authToken authMode = iota
	authIAM
	authAKSK
	authPassThrough
)

// Client talks to one ModelArts endpoint and project. It is safe for
// concurrent use.
type Client struct {
	cfg   Config
	base  *url.URL
	hc    *http.Client
	mode  authMode
	iam   *backends.TokenCache // IAM mode only
	now   func() time.Time     // tests move the clock
	limit int

	observer backends.Observer
}

// New validates cfg and returns a client. It makes no network call.
func New(cfg Config) (*Client, error) {
	if cfg.Name == "" {
		return nil, errors.New("modelarts: Config.Name is required")
	}
	fail := func(format string, args ...any) (*Client, error) {
		return nil, fmt.Errorf("modelarts %s: "+format, append([]any{cfg.Name}, args...)...)
	}
	base, err := backends.ParseEndpoint(cfg.Endpoint)
	if err != nil {
		return fail("Endpoint: %v", err)
	}
	if cfg.ProjectID == "" {
		return fail("ProjectID is required")
	}
	c := &Client{cfg: cfg, base: base, hc: cfg.HTTPClient, now: time.Now, limit: cfg.PageLimit, observer: cfg.Observer}
	if c.observer == nil {
		c.observer = backends.NopObserver{}
	}
	modes := 0
	if cfg.Token != "" {
		modes++
		c.mode = authToken
	}
	if cfg.IAM != nil {
		modes++
		c.mode = authIAM
	}
	if cfg.AccessKey != "" || cfg.SecretKey != "" {
		if cfg.AccessKey == "" || cfg.SecretKey == "" {
			return fail("AccessKey and SecretKey go together")
		}
		modes++
		c.mode = authAKSK
	}
	if cfg.PassThrough {
		modes++
		c.mode = authPassThrough
	}
	if modes != 1 {
		return fail("exactly one auth mode is required (Token, IAM, AccessKey/SecretKey or PassThrough), got %d", modes)
	}
	if c.mode == authIAM {
		if c.iam, err = newIAMCache(c, *cfg.IAM); err != nil {
			return fail("IAM: %v", err)
		}
	}
	if cfg.Timeout < 0 {
		return fail("Timeout must not be negative")
	}
	if cfg.Timeout == 0 {
		c.cfg.Timeout = defaultTimeout
	}
	if c.iam != nil {
		c.iam.Timeout = c.cfg.Timeout // set before the default was known
	}
	switch {
	case c.limit == 0:
		c.limit = defaultPageLimit
	case c.limit < 0 || c.limit > maxPageLimit:
		return fail("PageLimit must be within 1..%d, got %d", maxPageLimit, c.limit)
	}
	if c.hc == nil {
		c.hc = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	return c, nil
}

// Name returns the instance name from Config.Name.
func (c *Client) Name() string { return c.cfg.Name }

// ProjectID returns the project ID every path is built with.
func (c *Client) ProjectID() string { return c.cfg.ProjectID }

// expand fills route's placeholders: the first is the project ID, the others
// take args in order. Every value is path-escaped.
func (c *Client) expand(route string, args ...string) string {
	vals := append([]string{c.cfg.ProjectID}, args...)
	var b strings.Builder
	rest := route
	for i := 0; ; i++ {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			b.WriteString(rest)
			return b.String()
		}
		end := strings.IndexByte(rest[open:], '}') + open
		b.WriteString(rest[:open])
		b.WriteString(url.PathEscape(vals[i]))
		rest = rest[end+1:]
	}
}

// get performs one GET and returns the 2xx body. route is the path template
// (it names the call in errors); args fill its placeholders after project_id.
func (c *Client) get(ctx context.Context, route string, query url.Values, args ...string) ([]byte, error) {
	return c.do(ctx, http.MethodGet, route, query, nil, args...)
}

func (c *Client) do(ctx context.Context, method, route string, query url.Values, body []byte, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, c.cfg.Timeout, backends.ErrTimeout)
	defer cancel()
	ctx = backends.WithRoute(ctx, route) // labels the call in the transport's metrics
	path := c.expand(route, args...)
	for attempt := 0; ; attempt++ {
		token, err := c.credential(ctx)
		if err != nil {
			return nil, err
		}
		req, err := c.newRequest(ctx, method, path, query, body, token)
		if err != nil {
			return nil, err
		}
		resp, err := c.hc.Do(req)
		if err != nil {
			return nil, c.transportError(ctx, route, err)
		}
		if resp.StatusCode == http.StatusUnauthorized && c.mode == authIAM && attempt == 0 {
			// The token was revoked upstream before its expiry: renew once.
			backends.DrainBody(resp)
			c.iam.Invalidate(token)
			continue
		}
		if err := c.checkResponse(resp, method, route); err != nil {
			return nil, err
		}
		data, err := readBody(resp, maxBodyBytes)
		if err != nil {
			return nil, c.transportError(ctx, route, err)
		}
		// A null list item is no object: decoding it would make a phantom
		// pool or node (no name, raw null). Skipped at every depth, counted.
		// ModelArts pages by continue token, so no position count is lost.
		data, nulls := backends.DropNullItems(data)
		if nulls > 0 {
			c.observer.NullItems(c.cfg.Name, backends.RouteKind(route), nulls)
		}
		return data, nil
	}
}

// credential returns the X-Auth-Token of this call ("" for AK/SK).
func (c *Client) credential(ctx context.Context) (string, error) {
	switch c.mode {
	case authToken:
		return c.cfg.Token, nil
	case authIAM:
		return c.iam.Token(ctx)
	case authPassThrough:
		cred, _ := backends.CredentialsFrom(ctx)
		if cred.ModelArtsAuthToken == "" {
			return "", fmt.Errorf("%s %s: caller sent no X-Auth-Token: %w", backends.ModelArts, c.cfg.Name, backends.ErrNoCredentials)
		}
		return cred.ModelArtsAuthToken, nil
	}
	return "", nil
}

func (c *Client) newRequest(ctx context.Context, method, path string, query url.Values, body []byte, token string) (*http.Request, error) {
	u := *c.base
	u.Path = c.base.Path + mustUnescape(path)
	u.RawPath = c.base.EscapedPath() + path
	u.RawQuery = query.Encode()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: build request: %w", backends.ModelArts, c.cfg.Name, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", contentTypeJSON)
	}
	switch c.mode {
	case authAKSK:
		req.Header.Set("Host", req.URL.Host) // so that Sign covers it; net/http sends req.Host
		req.Header.Set("X-Project-Id", c.cfg.ProjectID)
		if err := Sign(req, body, c.cfg.AccessKey, c.cfg.SecretKey, c.now()); err != nil {
			return nil, fmt.Errorf("%s %s: %w", backends.ModelArts, c.cfg.Name, err)
		}
	default:
		req.Header.Set("X-Auth-Token", token)
	}
	// Set after signing: proxies may rewrite these, so they stay unsigned.
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("Accept", "application/json")
	return req, nil
}

func mustUnescape(p string) string {
	s, err := url.PathUnescape(p)
	if err != nil {
		return p
	}
	return s
}

// transportError reports a failed round trip (backends.NewTransportError:
// when ctx is done, its error leads the chain).
func (c *Client) transportError(ctx context.Context, route string, err error) error {
	return backends.NewTransportError(ctx, backends.ModelArts, c.cfg.Name, route, err)
}

// readBody reads and closes resp's body, at most limit bytes of it.
func readBody(resp *http.Response, limit int64) ([]byte, error) {
	defer resp.Body.Close()
	return backends.ReadResponseBody(resp, limit)
}
