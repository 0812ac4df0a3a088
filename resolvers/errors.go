package resolvers

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"syscall"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/backends/budget"
	"github.com/fleetgraph/fleetgraph/backends/resilience"
	"github.com/fleetgraph/fleetgraph/fleet"
	"github.com/fleetgraph/fleetgraph/internal/errcodes"
)

// InputError is an argument the gateway refuses before any upstream call.
type InputError = fleet.InputError

func inputErrorf(field, format string, args ...any) error {
	return &InputError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// Classify returns the extensions.code (an errcodes field code) for err and the provider it concerns
// ("" when none).
func Classify(err error) (code string, provider backends.Provider) {
	var be *fleet.BackendError
	if errors.As(err, &be) {
		provider = be.Provider
	}
	var api *backends.APIError
	if errors.As(err, &api) && provider == "" {
		provider = api.Provider
	}
	var tr *backends.TransportError
	isTransport := errors.As(err, &tr)
	if isTransport && provider == "" {
		provider = tr.Provider
	}
	var in *InputError
	var partial *backends.PartialError
	switch {
	case errors.As(err, &in):
		return errcodes.BadUserInput, provider
	case errors.Is(err, fleet.ErrMetricsNotConfigured):
		return errcodes.MetricsNotConfigured, provider
	case errors.Is(err, backends.ErrNoCredentials), errors.Is(err, backends.ErrUnauthorized):
		return errcodes.Unauthenticated, provider
	case errors.Is(err, backends.ErrForbidden), errors.Is(err, fleet.ErrReadOnly):
		return errcodes.Forbidden, provider
	case errors.Is(err, backends.ErrNotFound):
		return errcodes.NotFound, provider
	case errors.Is(err, backends.ErrConflict):
		return errcodes.Conflict, provider
	case errors.Is(err, backends.ErrRateLimited):
		return errcodes.RateLimited, provider
	case errors.Is(err, context.DeadlineExceeded), isTransport && tr.Timeout:
		return errcodes.UpstreamTimeout, provider
	case isTransport, errors.Is(err, backends.ErrUnavailable):
		return errcodes.UpstreamUnavailable, provider
	case errors.As(err, &partial), api != nil:
		return errcodes.UpstreamError, provider
	case be != nil:
		return errcodes.UpstreamError, provider
	}
	return errcodes.Internal, provider
}

// ErrorPresenter is the one place errors become GraphQL errors: a stable
// extensions.code, extensions.provider when a backend is concerned, and a
// generic message for anything unexpected (logged, never shown).
func ErrorPresenter(ctx context.Context, err error) *gqlerror.Error {
	var gqlErr *gqlerror.Error
	if errors.As(err, &gqlErr) && gqlErr.Err == nil {
		// Already a GraphQL error (parsing, validation, or built by us).
		return gqlErr
	}
	presented := graphql.DefaultErrorPresenter(ctx, err)
	code, provider := Classify(err)
	ext := map[string]any{"code": code}
	if provider != "" {
		ext["provider"] = string(provider)
	}
	var be *fleet.BackendError
	if errors.As(err, &be) {
		ext["backend"] = be.Backend
	}
	var in *InputError
	if errors.As(err, &in) {
		ext["field"] = in.Field
	}
	var partial *backends.PartialError
	if errors.As(err, &partial) {
		ext["partial"] = true
		ext["missing"] = partial.Missing
	}
	var we *fleet.WriteError
	if errors.As(err, &we) {
		ext["outcome"] = we.Outcome
	}
	if ra := retryAfter(err); ra > 0 {
		ext["retryAfterSeconds"] = int(math.Ceil(ra.Seconds()))
	}
	var api *backends.APIError
	if errors.As(err, &api) {
		ext["status"] = api.Status
		if api.Code != "" {
			ext["vendorCode"] = api.Code
		}
		if api.RequestID != "" {
			// The vendor's id of the exchange (ModelArts X-Request-Id), for
			// a support case with the vendor.
			ext["requestId"] = api.RequestID
		}
	}
	switch {
	case code == errcodes.Internal:
		slog.ErrorContext(ctx, "internal error", "err", err, "path", presented.Path.String())
		presented.Message = "internal error"
	case in == nil && (provider != "" || be != nil):
		// The whole chain (vendor URL, address, route) is for the operator;
		// input errors are the gateway's own words.
		slog.WarnContext(ctx, "upstream error", "code", code, "err", err, "path", presented.Path.String())
		presented.Message = clientMessage(err, code, provider, presented.Message)
	}
	presented.Extensions = ext
	return presented
}

// clientMessage is what a client is told of a backend's failure: which
// backend and what went wrong, never the vendor's host:port, path or query
// string, which err.Error() carries (url.Error quotes the whole URL,
// net.OpError the address, the backends' errors their route).
func clientMessage(err error, code string, provider backends.Provider, fallback string) string {
	who := backendName(err, provider)
	var tr *backends.TransportError
	var api *backends.APIError
	var partial *backends.PartialError
	var bud *budget.Error
	switch {
	case errors.Is(err, resilience.ErrBreakerOpen):
		return who + " is unavailable: its circuit breaker is open after repeated failures"
	case errors.As(err, &bud):
		return fmt.Sprintf("%s: the upstream budget (%.3g calls/s to the vendor account) has no room for a %s call now; retry in %ds",
			who, bud.Limit.PerSecond, bud.Class, int(math.Ceil(bud.RetryAfter.Seconds())))
	case errors.As(err, &partial):
		return fmt.Sprintf("%s answered in part: %v missing", who, partial.Missing)
	case errors.As(err, &api):
		msg := api.Message
		if msg == "" {
			msg = http.StatusText(api.Status)
		}
		// Run:ai's error body repeats the status as its code.
		if api.Code != "" && api.Code != strconv.Itoa(api.Status) {
			return fmt.Sprintf("%s answered %d %s: %s", who, api.Status, api.Code, scrub(msg))
		}
		return fmt.Sprintf("%s answered %d: %s", who, api.Status, scrub(msg))
	case code == errcodes.UpstreamTimeout:
		return who + " did not answer in time"
	case errors.As(err, &tr):
		return who + " could not be reached: " + transportReason(tr.Err)
	}
	return scrub(fallback)
}

func backendName(err error, provider backends.Provider) string {
	name := ""
	var be *fleet.BackendError
	var api *backends.APIError
	var tr *backends.TransportError
	var partial *backends.PartialError
	switch {
	case errors.As(err, &be):
		name = be.Backend
	case errors.As(err, &api):
		name = api.Backend
	case errors.As(err, &tr):
		name = tr.Backend
	case errors.As(err, &partial):
		name = partial.Backend
	}
	vendor := map[backends.Provider]string{backends.RunAI: "Run:ai", backends.ModelArts: "ModelArts"}[provider]
	switch {
	case vendor == "":
		return "backend " + name
	case name == "":
		return vendor
	}
	return vendor + " backend " + name
}

// transportReason names a transport failure without its addresses.
func transportReason(err error) string {
	var dns *net.DNSError
	var cert *tls.CertificateVerificationError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "connection reset"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "host unreachable"
	case errors.As(err, &dns):
		return "name not resolved"
	case errors.As(err, &cert):
		return "TLS certificate not trusted"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed before the answer"
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return "timed out"
	}
	return "transport error"
}

// leakPatterns match what must not reach a client in a message that came
// from a vendor or a wrapped error: URLs, IP addresses and host:port pairs,
// absolute paths.
var leakPatterns = []*regexp.Regexp{
	regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.-]*://[^\s"'<>]+`),
	regexp.MustCompile(`\[[0-9a-fA-F:.]+\](:\d+)?`),
	regexp.MustCompile(`\b\d{1,3}(\.\d{1,3}){3}(:\d+)?\b`),
	regexp.MustCompile(`\b[a-zA-Z0-9-]+(\.[a-zA-Z0-9-]+)*:\d{2,5}\b`),
	regexp.MustCompile(`(^|[\s"'(=])/[^\s"')]*`),
}

// scrub replaces URLs, addresses and paths in msg.
func scrub(msg string) string {
	for i, re := range leakPatterns {
		repl := "[redacted]"
		if i == len(leakPatterns)-1 {
			repl = "${1}[path]"
		}
		msg = re.ReplaceAllString(msg, repl)
	}
	return msg
}

// addErrors reports per-backend failures of a fan-out beside the data of the
// backends that answered.
func addErrors(ctx context.Context, errs []error) {
	for _, err := range errs {
		graphql.AddError(ctx, err)
	}
}

// UserInputCodes rewrites the codes of gqlgen's own argument errors (an
// unknown enum value, a variable of the wrong type) to BAD_USER_INPUT, so a
// client sees one code for every bad argument whoever caught it.
func UserInputCodes(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if resp == nil {
		return resp
	}
	for _, e := range resp.Errors {
		if e.Extensions == nil || e.Extensions["code"] != errcodes.GraphQLValidationFailed {
			continue
		}
		isVariable := len(e.Path) > 0 && fmt.Sprint(e.Path[0]) == "variable"
		if isVariable || e.Rule == "ValuesOfCorrectType" {
			e.Extensions["code"] = errcodes.BadUserInput
		}
	}
	return resp
}

// partialData keeps data that came with an error (a 207 partial success):
// the error is reported beside the field instead of nulling it.
func partialData[T any](ctx context.Context, data []T, err error) ([]T, error) {
	if err != nil && data != nil {
		graphql.AddError(ctx, err)
		return data, nil
	}
	return data, err
}

// retryAfter is when a rate-limited call may be tried again: the upstream
// budget's estimate, or the vendor's Retry-After; 0 when neither says.
func retryAfter(err error) time.Duration {
	var bud *budget.Error
	var api *backends.APIError
	switch {
	case errors.As(err, &bud):
		return bud.RetryAfter
	case errors.As(err, &api) && api.Status == http.StatusTooManyRequests:
		return api.RetryAfter
	}
	return 0
}
