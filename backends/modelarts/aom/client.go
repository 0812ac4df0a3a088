// Package aom is the client of Huawei Cloud AOM's Prometheus-compatible
// query API, where ModelArts node time series live: the ModelArts v2 API
// has no node or node-pool metrics (upstreams-2.md a.1, a.5). The gateway
// uses it for a ModelArts backend's optional aom: block.
//
// Decisions where the sources are silent or unsure (upstreams-2.md a.5 and
// unknown 8):
//   - Endpoint and path: https://aom.{region}.myhuaweicloud.com (Config.
//     Endpoint, which may carry a path prefix, e.g. a simulator's) and
//     GET /v1/{project_id}/aom/api/v1/query_range with the project of the
//     ModelArts backend. The path names no Prometheus instance; it is
//     assumed to read Prometheus_AOM_Default, where the ModelArts metric
//     collector reports by default.
//   - GET, not the documented POST of the same fields: a GET is what the
//     resilience transport may retry, and the gateway's queries are short
//     (a pool's node addresses are the longest part).
//   - Parameters: start and end as integral Unix seconds, step as integral
//     seconds ("60"). The documents type all three as seconds; the doc
//     example's "15s" is Prometheus' duration form of the same value, and
//     Prometheus accepts both.
//   - Auth: the ModelArts backend's own (Config.Auth is its client): the same
//     X-Auth-Token, IAM token cache or AK/SK signature. A 401 on an IAM
//     token renews it and repeats the call once, as the ModelArts client
//     does. IAM action aom:metric:list is needed besides ModelArts'.
//   - Answers: 200 {status, data} with data as in the Prometheus HTTP API
//     ({resultType: "matrix", result: [{metric, values: [[t, "v"]]}]}; the
//     documents only say "object"). A "vector" answer (a proxy that
//     evaluates instant queries) is read as one point per series; scalar
//     and string answers are refused. status "error" in a 2xx is refused.
//     Errors: {status, errorType, error} (400, 403, 422, 503), or API
//     Gateway's {error_code, error_msg} (401, 429).
//   - Node metric names and label names are not published (the ma_node_*
//     table is missing from every stored source): see DefaultQueries for
//     what the defaults assume and how to replace them.
//
// Every non-2xx answer becomes a *backends.APIError (Provider ModelArts,
// Route the AOM route); a failure to reach AOM a *backends.TransportError.
// The client does not retry: give it its own resilience transport through
// Config.HTTPClient, so that a failing AOM does not open the ModelArts
// backend's breaker.
package aom

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/fleetgraph/fleetgraph/backends"
)

// RouteQueryRange is the range-query route; it names the call in errors,
// metrics and simulator counters.
const RouteQueryRange = "/v1/{project_id}/aom/api/v1/query_range"

// MaxPoints is Prometheus' limit of points per series of a range query
// (query_range refuses more than 11 000 with 400 bad_data); QueryRange
// checks it before calling.
const MaxPoints = 11000

const (
	defaultTimeout = backends.DefaultTimeout
	maxBodyBytes   = 64 << 20
	maxErrorBytes  = 64 << 10
	userAgent      = "fleetgraph"
)

// Authorizer authenticates a request as the ModelArts backend does;
// *modelarts.Client implements it.
type Authorizer interface {
	// Authorize sets the credential headers of req (signing it with body
	// in AK/SK mode) and returns the token it used ("" when signing).
	Authorize(ctx context.Context, req *http.Request, body []byte) (string, error)
	// Reauthorize drops a token refused with 401 and reports whether a new
	// one may be fetched (IAM).
	Reauthorize(token string) bool
}

// Config configures the AOM client of one ModelArts backend.
type Config struct {
	// Name is the ModelArts backend's name: it labels errors and Observer
	// counts. Required.
	Name string
	// Endpoint is the AOM root, https://aom.{region}.myhuaweicloud.com, or
	// a simulator; it may carry a path prefix. Required.
	Endpoint string
	// ProjectID is the {project_id} of the path: the ModelArts backend's.
	// Required.
	ProjectID string
	// Auth authenticates every call: the ModelArts backend's client.
	// Required.
	Auth Authorizer
	// Timeout bounds each call. Default 10s.
	Timeout time.Duration
	// HTTPClient is used for every call; the caller keeps ownership.
	// Default: a client that does not follow redirects (a redirect would
	// carry X-Auth-Token to wherever it points).
	HTTPClient *http.Client
	// Observer hears about skipped null items and dropped samples (kind
	// "query_range"). Default: nobody.
	Observer backends.Observer
}

// Client queries one AOM endpoint for one project. Safe for concurrent use.
type Client struct {
	cfg      Config
	base     *url.URL
	hc       *http.Client
	observer backends.Observer
	now      func() time.Time
}

// New validates cfg and returns a client. It makes no network call.
func New(cfg Config) (*Client, error) {
	if cfg.Name == "" {
		return nil, errors.New("aom: Config.Name is required")
	}
	fail := func(format string, args ...any) (*Client, error) {
		return nil, fmt.Errorf("aom %s: "+format, append([]any{cfg.Name}, args...)...)
	}
	base, err := backends.ParseEndpoint(cfg.Endpoint)
	if err != nil {
		return fail("Endpoint: %v", err)
	}
	switch {
	case cfg.ProjectID == "":
		return fail("ProjectID is required")
	case cfg.Auth == nil:
		return fail("Auth is required")
	case cfg.Timeout < 0:
		return fail("Timeout must not be negative")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = defaultTimeout
	}
	c := &Client{cfg: cfg, base: base, hc: cfg.HTTPClient, observer: cfg.Observer, now: time.Now}
	if c.hc == nil {
		c.hc = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if c.observer == nil {
		c.observer = backends.NopObserver{}
	}
	return c, nil
}

// Name returns Config.Name.
func (c *Client) Name() string { return c.cfg.Name }

// Series is one series of a range query: its labels and its points.
type Series struct {
	// Metric is the series' label set (with __name__ when the query kept
	// it); empty, not nil, when the answer had none.
	Metric map[string]string
	Points []Point // in the order sent (ascending time in Prometheus)
}

// Point is one sample.
type Point struct {
	Time  time.Time
	Value float64
}

// Result is a range-query answer.
type Result struct {
	Series []Series
	// Warnings are the answer's warnings (Prometheus: e.g. a partial
	// answer from a remote store); nil when none.
	Warnings []string
}

// QueryRange evaluates promql over [start, end] every step and returns the
// matrix. Arguments are checked before any call (a non-empty query,
// start not after end, step at least one second, at most MaxPoints
// points); a refused one wraps backends.ErrBadRequest.
//
// A sample whose value is not a finite number ("NaN", "+Inf", "-Inf": what
// Prometheus answers for a division by zero or an empty window) or whose
// time does not parse is dropped and counted (Observer.DroppedSamples,
// kind "query_range"); a null series is skipped and counted (NullItems).
func (c *Client) QueryRange(ctx context.Context, promql string, start, end time.Time, step time.Duration) (*Result, error) {
	if err := checkRange(promql, start, end, step); err != nil {
		return nil, fmt.Errorf("%s %s: GET %s: %w: %s", backends.ModelArts, c.cfg.Name, RouteQueryRange, backends.ErrBadRequest, err)
	}
	q := url.Values{
		"query": {promql},
		"start": {strconv.FormatInt(start.Unix(), 10)},
		"end":   {strconv.FormatInt(end.Unix(), 10)},
		"step":  {strconv.FormatInt(int64(step/time.Second), 10)},
	}
	data, err := c.get(ctx, RouteQueryRange, q, nil)
	if err != nil {
		return nil, err
	}
	res, dropped, err := decodeQueryRange(data)
	if err != nil {
		return nil, fmt.Errorf("%s %s: GET %s: decode response: %w (%w)", backends.ModelArts, c.cfg.Name, RouteQueryRange, backends.ErrUpstream, err)
	}
	if dropped > 0 {
		c.observer.DroppedSamples(c.cfg.Name, backends.RouteKind(RouteQueryRange), dropped)
	}
	return res, nil
}

func checkRange(promql string, start, end time.Time, step time.Duration) error {
	switch {
	case strings.TrimSpace(promql) == "":
		return errors.New("empty query")
	case start.IsZero() || end.IsZero():
		return errors.New("start and end are required")
	case end.Before(start):
		return errors.New("end is before start")
	case step < time.Second:
		return fmt.Errorf("step must be at least 1s, got %v", step)
	}
	if points := int64(end.Unix()-start.Unix())/int64(step/time.Second) + 1; points > MaxPoints {
		return fmt.Errorf("%d points per series at a step of %v, more than %d", points, step, MaxPoints)
	}
	return nil
}

// get performs one GET of route; vars fill its placeholders besides
// {project_id} (path-escaped).
func (c *Client) get(ctx context.Context, route string, query url.Values, vars map[string]string) ([]byte, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, c.cfg.Timeout, backends.ErrTimeout)
	defer cancel()
	ctx = backends.WithRoute(ctx, route)
	u := *c.base
	raw := strings.ReplaceAll(route, "{project_id}", url.PathEscape(c.cfg.ProjectID))
	for k, v := range vars {
		raw = strings.ReplaceAll(raw, "{"+k+"}", url.PathEscape(v))
	}
	u.RawPath = c.base.EscapedPath() + raw
	u.Path, _ = url.PathUnescape(u.RawPath)
	u.RawQuery = query.Encode()
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return nil, fmt.Errorf("%s %s: build request: %w", backends.ModelArts, c.cfg.Name, err)
		}
		token, err := c.cfg.Auth.Authorize(ctx, req, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("User-Agent", userAgent) // after signing: proxies may rewrite these
		req.Header.Set("Accept", "application/json")
		resp, err := c.hc.Do(req)
		if err != nil {
			return nil, c.transportError(ctx, route, err)
		}
		if resp.StatusCode == http.StatusUnauthorized && attempt == 0 && c.cfg.Auth.Reauthorize(token) {
			// An IAM token revoked upstream before its expiry: renew once.
			backends.DrainBody(resp)
			continue
		}
		if err := c.checkResponse(resp, route); err != nil {
			return nil, err
		}
		data, err := readBody(resp, maxBodyBytes)
		if err != nil {
			return nil, c.transportError(ctx, route, err)
		}
		data, nulls := backends.DropNullItems(data)
		if nulls > 0 {
			c.observer.NullItems(c.cfg.Name, backends.RouteKind(route), nulls)
		}
		return data, nil
	}
}

// transportError reports a failed round trip the way every vendor client
// does (backends.NewTransportError: ctx's error first when it is done).
func (c *Client) transportError(ctx context.Context, route string, err error) error {
	return backends.NewTransportError(ctx, backends.ModelArts, c.cfg.Name, route, err)
}

func readBody(resp *http.Response, limit int64) ([]byte, error) {
	defer resp.Body.Close()
	return backends.ReadBody(resp.Body, limit)
}

// checkResponse turns a non-2xx answer into a *backends.APIError. Code is
// AOM's errorType ("bad_data", "execution", "unavailable") or API
// Gateway's error_code ("APIGW.0301", "APIG.0308").
func (c *Client) checkResponse(resp *http.Response, route string) error {
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	data, _ := readBody(resp, maxErrorBytes) // a truncated or unreadable body still yields the status
	var b struct {
		ErrorType string `json:"errorType"`
		Error     string `json:"error"`
		ErrorCode string `json:"error_code"`
		ErrorMsg  string `json:"error_msg"`
		RequestID string `json:"request_id"`
	}
	_ = json.Unmarshal(data, &b)
	code, msg := b.ErrorType, b.Error
	if b.ErrorCode != "" || b.ErrorMsg != "" {
		code, msg = b.ErrorCode, b.ErrorMsg
	}
	reqID := b.RequestID
	if h := resp.Header.Get("X-Request-Id"); h != "" {
		reqID = h // API Gateway returns it for all valid requests
	}
	// Retry-After is documented nowhere (upstreams-2.md c); a proxy may send it.
	ra, _ := backends.ParseRetryAfter(resp.Header.Get("Retry-After"), c.now())
	return &backends.APIError{Backend: c.cfg.Name, Provider: backends.ModelArts, Method: http.MethodGet, Route: route,
		Status: resp.StatusCode, Code: code, Message: msg, RetryAfter: ra, RequestID: backends.RequestID(reqID)}
}

type wireAnswer struct {
	Status    string   `json:"status"`
	ErrorType string   `json:"errorType"`
	Error     string   `json:"error"`
	Warnings  []string `json:"warnings"`
	Data      *struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]json.RawMessage `json:"metric"`
			Values []json.RawMessage          `json:"values"`
			Value  json.RawMessage            `json:"value"`
		} `json:"result"`
	} `json:"data"`
}

func decodeQueryRange(data []byte) (*Result, int, error) {
	var w wireAnswer
	if err := json.Unmarshal(data, &w); err != nil {
		return nil, 0, err
	}
	if w.Status == "error" {
		return nil, 0, fmt.Errorf("status error: %s: %s", w.ErrorType, w.Error)
	}
	res := &Result{Warnings: w.Warnings, Series: []Series{}}
	if w.Data == nil {
		return res, 0, nil
	}
	vector := false
	switch w.Data.ResultType {
	case "matrix", "":
	case "vector":
		vector = true
	default:
		return nil, 0, fmt.Errorf("resultType %q is no range answer", w.Data.ResultType)
	}
	dropped := 0
	for _, r := range w.Data.Result {
		s := Series{Metric: labels(r.Metric)}
		raw := r.Values
		if vector && len(r.Value) > 0 {
			raw = []json.RawMessage{r.Value}
		}
		s.Points = make([]Point, 0, len(raw))
		for _, v := range raw {
			p, ok := decodePoint(v)
			if !ok {
				dropped++
				continue
			}
			s.Points = append(s.Points, p)
		}
		res.Series = append(res.Series, s)
	}
	return res, dropped, nil
}

// labels keeps string label values; another value (a proxy's number) keeps
// its JSON text, and null, objects and arrays are left out.
func labels(raw map[string]json.RawMessage) map[string]string {
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		v = bytes.TrimSpace(v)
		switch {
		case len(v) == 0 || v[0] == '{' || v[0] == '[' || string(v) == "null":
		case v[0] == '"':
			var s string
			if json.Unmarshal(v, &s) == nil {
				out[k] = s
			}
		default:
			out[k] = string(v)
		}
	}
	return out
}

// decodePoint reads [<unix seconds>, "<value>"]: the time a number (or a
// decimal string), the value a decimal string (or a number). Not ok when
// either is missing or not finite.
func decodePoint(raw json.RawMessage) (Point, bool) {
	var pair []json.RawMessage
	if json.Unmarshal(raw, &pair) != nil || len(pair) != 2 {
		return Point{}, false
	}
	ts, ok := number(pair[0])
	if !ok || ts < 0 || ts > 1<<40 {
		return Point{}, false
	}
	v, ok := number(pair[1])
	if !ok {
		return Point{}, false
	}
	sec, frac := math.Modf(ts)
	return Point{Time: time.Unix(int64(sec), int64(math.Round(frac*1e3))*1e6).UTC(), Value: v}, true
}

func number(raw json.RawMessage) (float64, bool) {
	s := string(bytes.TrimSpace(raw))
	if strings.HasPrefix(s, `"`) {
		if json.Unmarshal(raw, &s) != nil {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}
