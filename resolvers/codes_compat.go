package resolvers

import "github.com/fleetgraph/fleetgraph/internal/errcodes"

// Deprecated: the field codes under their old names, for code written
// before internal/errcodes (validate.go and errors_test.go, both being
// reworked in another change as this lands). New code uses errcodes; this
// file goes once nothing names these.
const (
	CodeBadUserInput        = errcodes.BadUserInput
	CodeUnauthenticated     = errcodes.Unauthenticated
	CodeForbidden           = errcodes.Forbidden
	CodeNotFound            = errcodes.NotFound
	CodeConflict            = errcodes.Conflict
	CodeUpstreamError       = errcodes.UpstreamError
	CodeUpstreamUnavailable = errcodes.UpstreamUnavailable
	CodeUpstreamTimeout     = errcodes.UpstreamTimeout
	CodeRateLimited         = errcodes.RateLimited
	CodeInternal            = errcodes.Internal
)
