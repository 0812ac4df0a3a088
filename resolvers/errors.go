package resolvers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/fleet"
)

// The stable values of extensions.code. Clients switch on these.
const (
	CodeBadUserInput        = "BAD_USER_INPUT"
	CodeUnauthenticated     = "UNAUTHENTICATED"
	CodeForbidden           = "FORBIDDEN"
	CodeNotFound            = "NOT_FOUND"
	CodeConflict            = "CONFLICT"
	CodeUpstreamError       = "UPSTREAM_ERROR"
	CodeUpstreamUnavailable = "UPSTREAM_UNAVAILABLE"
	CodeUpstreamTimeout     = "UPSTREAM_TIMEOUT"
	CodeRateLimited         = "RATE_LIMITED"
	CodeInternal            = "INTERNAL"
)

// InputError is an argument the gateway refuses before any upstream call.
type InputError = fleet.InputError

func inputErrorf(field, format string, args ...any) error {
	return &InputError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// Classify returns the extensions.code for err and the provider it concerns
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
		return CodeBadUserInput, provider
	case errors.Is(err, backends.ErrNoCredentials), errors.Is(err, backends.ErrUnauthorized):
		return CodeUnauthenticated, provider
	case errors.Is(err, backends.ErrForbidden), errors.Is(err, fleet.ErrReadOnly):
		return CodeForbidden, provider
	case errors.Is(err, backends.ErrNotFound):
		return CodeNotFound, provider
	case errors.Is(err, backends.ErrConflict):
		return CodeConflict, provider
	case errors.Is(err, backends.ErrRateLimited):
		return CodeRateLimited, provider
	case errors.Is(err, context.DeadlineExceeded), isTransport && tr.Timeout:
		return CodeUpstreamTimeout, provider
	case isTransport, errors.Is(err, backends.ErrUnavailable):
		return CodeUpstreamUnavailable, provider
	case errors.As(err, &partial), api != nil:
		return CodeUpstreamError, provider
	case be != nil:
		return CodeUpstreamError, provider
	}
	return CodeInternal, provider
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
	if code == CodeInternal {
		slog.ErrorContext(ctx, "internal error", "err", err, "path", presented.Path.String())
		presented.Message = "internal error"
	}
	presented.Extensions = ext
	return presented
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
		if e.Extensions == nil || e.Extensions["code"] != "GRAPHQL_VALIDATION_FAILED" {
			continue
		}
		isVariable := len(e.Path) > 0 && fmt.Sprint(e.Path[0]) == "variable"
		if isVariable || e.Rule == "ValuesOfCorrectType" {
			e.Extensions["code"] = CodeBadUserInput
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
