// Package backends holds what every vendor client shares: the typed upstream
// error, its sentinels, the caller credentials that pass-through mode
// forwards, and the HTTP pieces every client uses the same way: the one
// Retry-After rule (ParseRetryAfter), bounded body reads and draining
// (ReadBody, DrainBody), transport-error wrapping (NewTransportError) and the
// single-flight token cache (TokenCache). Vendor DTOs, routes, auth and error
// bodies live in the vendor sub-packages.
package backends

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// DefaultTimeout bounds one vendor call of a client configured with no
// timeout of its own (every client's Config.Timeout).
const DefaultTimeout = 10 * time.Second

// Provider names a vendor. The values match the GraphQL Provider enum.
type Provider string

const (
	RunAI     Provider = "RUNAI"
	ModelArts Provider = "MODELARTS"
)

// Sentinels that *APIError matches with errors.Is.
var (
	ErrBadRequest   = errors.New("bad request")
	ErrUnauthorized = errors.New("unauthorized")
	ErrForbidden    = errors.New("forbidden")
	ErrNotFound     = errors.New("not found")
	ErrConflict     = errors.New("conflict")
	ErrRateLimited  = errors.New("rate limited")
	ErrUnavailable  = errors.New("upstream unavailable")
	ErrUpstream     = errors.New("upstream error")
	// ErrTimeout is the cause of a vendor client's own per-call deadline
	// (context.WithTimeoutCause), so that layers below can tell the backend
	// being slow (counts against its breaker) from the caller giving up.
	ErrTimeout = errors.New("upstream call timed out")
	// ErrNoCredentials: pass-through mode and the caller brought no credential
	// for this vendor. Returned before any upstream call.
	ErrNoCredentials = errors.New("no credentials for this backend")
)

// APIError is a non-2xx answer from a vendor API. Message is the vendor's own
// text (never a token or signature); Code is the vendor code when the body had
// one ("ModelArts.50015001", "APIGW.0301"; for Run:ai the numeric code).
type APIError struct {
	Backend    string
	Provider   Provider
	Method     string
	Route      string // path template, e.g. /api/v1/clusters/{clusterUuid}/nodes
	Status     int
	Code       string
	Message    string
	RetryAfter time.Duration
	// RequestID is the vendor's id of the exchange, for a support case
	// (ModelArts and API Gateway: the X-Request-Id header, else the body's
	// request_id). Empty when the vendor sent none.
	RequestID string
	// Exists: the vendor refused the request because the resource already
	// exists, whatever the status (ModelArts answers a duplicate name with
	// a 400). It matches ErrConflict.
	Exists bool
}

func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	if e.Code != "" {
		return fmt.Sprintf("%s %s: %s %s: %d %s: %s", e.Provider, e.Backend, e.Method, e.Route, e.Status, e.Code, msg)
	}
	return fmt.Sprintf("%s %s: %s %s: %d: %s", e.Provider, e.Backend, e.Method, e.Route, e.Status, msg)
}

// Is maps the HTTP status onto the sentinels.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrBadRequest:
		return e.Status == http.StatusBadRequest || e.Status == http.StatusUnprocessableEntity
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized
	case ErrForbidden:
		return e.Status == http.StatusForbidden
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrConflict:
		return e.Status == http.StatusConflict || e.Exists
	case ErrRateLimited:
		return e.Status == http.StatusTooManyRequests
	case ErrUnavailable:
		return e.Status == http.StatusServiceUnavailable || e.Status == http.StatusBadGateway || e.Status == http.StatusGatewayTimeout
	case ErrUpstream:
		return e.Status >= 500
	}
	return false
}

// PartialError reports a 2xx answer that carried only part of what was asked
// (Run:ai metrics answer 207 "Partial success"). The data returned beside it
// is valid and should be shown.
type PartialError struct {
	Backend  string
	Provider Provider
	Route    string
	Missing  []string // what was asked and not returned, e.g. metric types
}

func (e *PartialError) Error() string {
	return fmt.Sprintf("%s %s: %s: partial success, missing %v", e.Provider, e.Backend, e.Route, e.Missing)
}

// TransportError is a failure to reach the backend at all (dial, reset,
// client timeout). Timeout tells a deadline apart from a broken connection.
type TransportError struct {
	Backend  string
	Provider Provider
	Route    string
	Timeout  bool
	Err      error
}

func (e *TransportError) Error() string {
	return fmt.Sprintf("%s %s: %s: %v", e.Provider, e.Backend, e.Route, e.Err)
}

func (e *TransportError) Unwrap() error { return e.Err }

// Credentials are what a caller presented, forwarded in pass-through mode.
// Each field reaches only backends of its own vendor.
type Credentials struct {
	RunAIBearer        string // from "Authorization: Bearer ..."
	ModelArtsAuthToken string // from "X-Auth-Token"
}

type credentialsKey struct{}

// WithCredentials returns ctx carrying the caller's credentials.
func WithCredentials(ctx context.Context, c Credentials) context.Context {
	return context.WithValue(ctx, credentialsKey{}, c)
}

// CredentialsFrom returns the caller's credentials carried by ctx.
func CredentialsFrom(ctx context.Context) (Credentials, bool) {
	c, ok := ctx.Value(credentialsKey{}).(Credentials)
	return c, ok
}

type routeKey struct{}

// WithRoute tags ctx with the route template of the vendor call it carries
// ("/api/v1/clusters/{clusterUuid}/nodes"), so that transport layers
// (metrics, breakers, retries) can label a call without parsing its URL.
func WithRoute(ctx context.Context, route string) context.Context {
	return context.WithValue(ctx, routeKey{}, route)
}

// RouteFrom returns the route template set by WithRoute, or "".
func RouteFrom(ctx context.Context) string {
	r, _ := ctx.Value(routeKey{}).(string)
	return r
}
