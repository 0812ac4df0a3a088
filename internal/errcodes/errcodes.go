// Package errcodes is the one list of the extensions.code values the gateway
// answers with, field errors and request errors alike. Clients switch on
// these strings, so they are a public contract: the README's Errors table
// lists exactly these (errcodes_test.go parses it), and gateway code names
// them only through this package.
//
// The values are untyped string constants on purpose: they are stored in and
// compared with gqlerror extensions (map[string]any), where a named string
// type would never compare equal to a plain string.
//
// "HTTP" below is the status of a response that has no data. A field error
// comes with data and a 200; a request error is 400 under
// application/graphql-response+json unless stated, 200 under
// application/json (GraphQL over HTTP). Codes answered before GraphQL runs
// (writeHTTPError) have their status under both media types.
package errcodes

// Field errors: a resolver failed (resolvers.ErrorPresenter, Classify). They
// carry extensions.provider and extensions.backend when a vendor is
// concerned, and come beside the data of everything else.
const (
	// BadUserInput: an argument refused before any upstream call (a
	// malformed ID or cursor, first outside 1..500, start >= end, an
	// unknown enum value or a variable of the wrong type: gqlgen's own
	// argument errors are rewritten to it). extensions.field names the
	// argument when known.
	BadUserInput = "BAD_USER_INPUT"
	// Unauthenticated: the vendor refused the credential (401), or
	// pass-through mode and the caller brought none for that vendor. Also
	// a request without a valid API key (auth.apiKeys): HTTP 401 with
	// WWW-Authenticate, before GraphQL runs.
	Unauthenticated = "UNAUTHENTICATED"
	// Forbidden: the vendor refused the call (403), or a write to a backend
	// configured read-only. Also a browser origin outside
	// cors.allowedOrigins: HTTP 403 before GraphQL runs.
	Forbidden = "FORBIDDEN"
	// NotFound: the vendor does not know the object (404), or an ID names
	// a backend that is not configured.
	NotFound = "NOT_FOUND"
	// Conflict: a mutation refused because the object exists or changed
	// (409, or ModelArts' 400 "already exists").
	Conflict = "CONFLICT"
	// UpstreamError: the vendor answered with an error outside the codes
	// above (5xx other than 502/503/504, a 4xx without a code of its own),
	// or in part (Run:ai 207: extensions.partial, extensions.missing).
	UpstreamError = "UPSTREAM_ERROR"
	// UpstreamUnavailable: the vendor could not be reached, answered
	// 502/503/504, or its circuit breaker is open (no call was sent).
	UpstreamUnavailable = "UPSTREAM_UNAVAILABLE"
	// UpstreamTimeout: the vendor did not answer within its timeout or the
	// request's deadline.
	UpstreamTimeout = "UPSTREAM_TIMEOUT"
	// RateLimited: the vendor answered 429 (after the retries of a GET).
	RateLimited = "RATE_LIMITED"
	// MetricsNotConfigured: a metrics field the backend could answer only
	// with configuration it lacks (a ModelArts backend without its aom:
	// block, where node and node-pool series live). The field is an empty
	// list beside this error, never a silent one.
	MetricsNotConfigured = "METRICS_NOT_CONFIGURED"
	// Internal: anything unexpected. The message is generic; the error is
	// logged. A response that could not be encoded is HTTP 500.
	Internal = "INTERNAL"
)

// Request errors: the operation was refused as a whole, before or instead
// of execution. The response has no data.
const (
	// GraphQLParseFailed: the document does not parse (gqlgen's
	// errcode.ParseFailed; also a document over limits.maxTokens).
	GraphQLParseFailed = "GRAPHQL_PARSE_FAILED"
	// GraphQLValidationFailed: the document does not validate against the
	// schema (gqlgen's errcode.ValidationFailed), an unknown operation
	// name, or introspection while it is off.
	GraphQLValidationFailed = "GRAPHQL_VALIDATION_FAILED"
	// PersistedQueryNotFound: an automatic-persisted-query hash the gateway
	// has not seen; the client sends the document with it (gqlgen's APQ
	// extension sets it; graphql.apq).
	PersistedQueryNotFound = "PERSISTED_QUERY_NOT_FOUND"
	// LimitExceeded: the operation is over a document limit (depth,
	// complexity, aliases, root fields, ...); extensions.limit names it and
	// extensions.max is its value.
	LimitExceeded = "LIMIT_EXCEEDED"
	// OperationNotAllowed: a document outside the allow-list
	// (graphql.allowList). HTTP 403.
	OperationNotAllowed = "OPERATION_NOT_ALLOWED"
	// ErrorsTruncated: the last error of a response that had more than
	// limits.maxErrors errors; it says how many were left out. Not a
	// refusal: the response keeps its data and status.
	ErrorsTruncated = "ERRORS_TRUNCATED"
	// SubscriptionLimit: a subscription refused because its connection
	// (extensions.limit "perConnection", subscriptions.maxPerConnection) or
	// the gateway ("total", subscriptions.maxTotal) has as many open as
	// allowed; extensions.max is the limit. Sent on the stream.
	SubscriptionLimit = "SUBSCRIPTION_LIMIT"
)

// Transport errors: refused by the HTTP layer before GraphQL sees the
// request, with the same status under both media types.
const (
	// BadRequest: not a GraphQL request (malformed JSON, query not a
	// string, variables not an object, a batch, no query, a subscription
	// over plain HTTP). HTTP 400.
	BadRequest = "BAD_REQUEST"
	// PayloadTooLarge: a body or GET query string over limits.maxBodyBytes.
	// HTTP 413.
	PayloadTooLarge = "PAYLOAD_TOO_LARGE"
	// HeadersTooLarge: header fields over 64 KiB. HTTP 431.
	HeadersTooLarge = "REQUEST_HEADER_FIELDS_TOO_LARGE"
	// NotAcceptable: an Accept the gateway cannot answer. HTTP 406.
	NotAcceptable = "NOT_ACCEPTABLE"
	// UnsupportedMediaType: a POST that is not application/json in UTF-8.
	// HTTP 415.
	UnsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE"
	// MethodNotAllowed: a method other than GET and POST, or a mutation by
	// GET. HTTP 405 with Allow.
	MethodNotAllowed = "METHOD_NOT_ALLOWED"
	// Overloaded: no execution slot freed up within limits.queueTimeout
	// (limits.maxConcurrentRequests). HTTP 503 with Retry-After: 1.
	Overloaded = "OVERLOADED"
	// StreamLimit: a websocket or SSE connection over
	// subscriptions.maxStreamsPerClient (extensions.limit
	// "streamsPerClient", HTTP 429) or maxStreams ("streams", HTTP 503);
	// extensions.max is the limit. Retry-After: 1.
	StreamLimit = "STREAM_LIMIT"
	// Unavailable: the request ended (shutdown, the client went away)
	// before the operation produced an answer. HTTP 503.
	Unavailable = "UNAVAILABLE"
)
