package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/fleetgraph/fleetgraph/internal/errcodes"
)

// GraphQL over HTTP (https://graphql.github.io/graphql-over-http/draft/),
// SHOULDs included. gqlgen's own GET and POST transports answer 422 for
// document errors, always include "data", and allow no Accept negotiation;
// this transport and the httpGate middleware before it replace them.
//
//   - Accept: application/graphql-response+json and application/json (with
//     q-values; */* and a missing header mean application/graphql-response+json,
//     as the spec says from 2025 on); anything else: 406.
//   - A request error (unparseable or invalid document, unknown operation,
//     bad variables, a refused argument, a limit): no "data" key; 400 under
//     application/graphql-response+json (401/403 for auth refusals), 200 under
//     application/json. Field errors: 200 with data.
//   - A request that is not well-formed (bad JSON, wrong parameter types, no
//     query): 400 under both. Body over limits.maxBodyBytes: 413. POST other
//     than application/json (utf-8): 415. GET runs queries only: 405.
const (
	mediaGraphQLResponse = "application/graphql-response+json"
	mediaJSON            = "application/json"
)

type mediaKey struct{}

// responseMedia is the media type negotiated by httpGate.
func responseMedia(ctx context.Context) string {
	if m, ok := ctx.Value(mediaKey{}).(string); ok {
		return m
	}
	return mediaGraphQLResponse
}

// negotiate picks the response media type from Accept: of
// application/graphql-response+json and application/json, the one with the
// highest q; on a tie a type named outright beats one reached through */* or
// application/*, and graphql-response+json beats json. "" when neither is
// acceptable (q=0 excludes a type even when a wildcard would admit it).
func negotiate(accept []string) string {
	if strings.TrimSpace(strings.Join(accept, "")) == "" {
		return mediaGraphQLResponse
	}
	explicit := map[string]float64{}
	wildcard := -1.0
	for _, header := range accept {
		for part := range strings.SplitSeq(header, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			q := 1.0
			if v, ok := params["q"]; ok {
				if q, err = strconv.ParseFloat(v, 64); err != nil || q < 0 || q > 1 {
					continue
				}
			}
			if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
				continue
			}
			switch mt {
			case mediaGraphQLResponse, mediaJSON:
				explicit[mt] = max(explicit[mt], q)
			case "application/*", "*/*":
				wildcard = max(wildcard, q)
			}
		}
	}
	best, bestQ, bestExplicit := "", 0.0, false
	for _, m := range []string{mediaGraphQLResponse, mediaJSON} {
		q, named := explicit[m]
		if !named {
			q = wildcard
		}
		if q <= 0 {
			continue
		}
		if q > bestQ || (q == bestQ && named && !bestExplicit) {
			best, bestQ, bestExplicit = m, q, named
		}
	}
	return best
}

// wantsEventStream: an SSE subscription request (gqlgen's SSE transport).
func wantsEventStream(r *http.Request) bool {
	return r.Method == http.MethodPost && strings.Contains(r.Header.Get("Accept"), "text/event-stream")
}

// isUpgrade: a websocket handshake.
func isUpgrade(r *http.Request) bool { return r.Header.Get("Upgrade") != "" }

// httpGate refuses what is not a GraphQL-over-HTTP request before any
// GraphQL work: methods, Accept, Content-Type, body size.
func httpGate(maxBody int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isUpgrade(r) && r.Method == http.MethodGet {
			next.ServeHTTP(w, r)
			return
		}
		media := negotiate(r.Header.Values("Accept"))
		if headerBytes(r.Header) > maxHeaderFieldBytes {
			writeHTTPError(w, orJSON(media), http.StatusRequestHeaderFieldsTooLarge, errcodes.HeadersTooLarge,
				fmt.Sprintf("the request headers are larger than %d bytes", maxHeaderFieldBytes))
			return
		}
		switch r.Method {
		case http.MethodGet, http.MethodPost:
		case http.MethodOptions:
			w.Header().Set("Allow", "GET, POST, OPTIONS")
			w.WriteHeader(http.StatusNoContent)
			return
		default:
			w.Header().Set("Allow", "GET, POST, OPTIONS")
			writeHTTPError(w, orJSON(media), http.StatusMethodNotAllowed, errcodes.MethodNotAllowed, r.Method+" is not allowed: send GraphQL with POST (or GET for queries)")
			return
		}
		stream := wantsEventStream(r)
		if media == "" && !stream {
			writeHTTPError(w, mediaJSON, http.StatusNotAcceptable, errcodes.NotAcceptable,
				"Accept names no media type this gateway answers with: application/graphql-response+json or application/json")
			return
		}
		if r.Method == http.MethodPost {
			if msg := checkContentType(r.Header.Get("Content-Type")); msg != "" {
				writeHTTPError(w, orJSON(media), http.StatusUnsupportedMediaType, errcodes.UnsupportedMediaType, msg)
				return
			}
			raw := r.Body
			if r.ContentLength > maxBody {
				lingerOn(w)
				writeHTTPError(w, orJSON(media), http.StatusRequestEntityTooLarge, errcodes.PayloadTooLarge, tooLarge(maxBody))
				drain(w, raw)
				return
			}
			lb := &limitedBody{ReadCloser: raw, w: w, left: maxBody, limit: maxBody}
			r.Body = lb
			defer func() {
				if lb.hit {
					drain(w, raw)
				}
			}()
		} else if int64(len(r.URL.RawQuery)) > maxBody {
			writeHTTPError(w, orJSON(media), http.StatusRequestEntityTooLarge, errcodes.PayloadTooLarge, tooLarge(maxBody))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), mediaKey{}, orJSON(media))))
	})
}

// A body refused as too large is read and discarded after the 413, up to
// maxDrain bytes for at most drainTimeout (a lingering close). Without it
// the connection closed with the body unread, and a client that writes its
// whole request before reading (Python's urllib, any client without
// Expect: 100-continue) got a connection reset instead of the 413.
const (
	maxDrain     = 16 << 20
	drainTimeout = 5 * time.Second
)

// lingerOn prepares w for reading the body after the response: the
// connection closes after it, and net/http neither discards nor refuses the
// rest of the body when the 413's header is written (full duplex).
func lingerOn(w http.ResponseWriter) {
	w.Header().Set("Connection", "close")
	_ = http.NewResponseController(w).EnableFullDuplex() // HTTP/2 is full duplex already
}

// drain sends the response written so far, then reads and discards the
// rest of body (see maxDrain).
func drain(w http.ResponseWriter, body io.Reader) {
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	_ = rc.SetReadDeadline(time.Now().Add(drainTimeout))
	_, _ = io.CopyN(io.Discard, body, maxDrain)
}

// limitedBody is http.MaxBytesReader for a body without a Content-Length:
// past limit bytes it fails with *http.MaxBytesError, and it prepares the
// lingering close (MaxBytesReader's own signal to net/http does not pass
// through the response wrappers, and would close without draining).
type limitedBody struct {
	io.ReadCloser
	w           http.ResponseWriter
	left, limit int64
	hit         bool
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.hit {
		return 0, &http.MaxBytesError{Limit: b.limit}
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.ReadCloser.Read(p)
	if int64(n) <= b.left {
		b.left -= int64(n)
		return n, err
	}
	n = int(b.left)
	b.left, b.hit = 0, true
	lingerOn(b.w)
	return n, &http.MaxBytesError{Limit: b.limit}
}

// maxHeaderBytes is the http.Server's bound on the request line and
// headers: room for a GET whose query string is as large as a body may be,
// so that one over limits.maxBodyBytes reaches httpGate and gets the JSON
// 413 instead of net/http's plain-text 431. Beyond it net/http still
// answers 431.
func maxHeaderBytes(maxBody int64) int {
	return int(min(maxBody, 64<<20)) + 64<<10
}

// maxHeaderFieldBytes bounds the header fields of a GraphQL request; the
// http.Server admits more (maxHeaderBytes), for the query string of a GET.
const maxHeaderFieldBytes = 64 << 10

func headerBytes(h http.Header) int {
	n := 0
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(v) + 4 // ": " and CRLF
		}
	}
	return n
}

func orJSON(media string) string {
	if media == "" {
		return mediaJSON
	}
	return media
}

func tooLarge(n int64) string {
	return fmt.Sprintf("request body is larger than the limit of %d bytes (limits.maxBodyBytes)", n)
}

// checkContentType accepts application/json in UTF-8 only ("" when fine).
func checkContentType(ct string) string {
	if ct == "" {
		return "POST needs Content-Type: application/json"
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != mediaJSON {
		return fmt.Sprintf("Content-Type %q is not supported: send application/json", ct)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return fmt.Sprintf("charset %q is not supported: send UTF-8", cs)
	}
	return ""
}

// wireResponse is a GraphQL response; Data is left out when the operation
// was not executed (a request error), as the spec requires.
type wireResponse struct {
	Errors     gqlerror.List   `json:"errors,omitempty"`
	Data       json.RawMessage `json:"data,omitempty"`
	Extensions map[string]any  `json:"extensions,omitempty"`
}

func writeResponse(w http.ResponseWriter, media string, status int, resp *graphql.Response) {
	if resp.Data == nil {
		// Every error carries a code: gqlgen's own request errors (a
		// persisted-query hash that does not match, ...) have none.
		for _, e := range resp.Errors {
			if e.Extensions == nil {
				e.Extensions = map[string]any{}
			}
			if _, ok := e.Extensions["code"]; !ok {
				e.Extensions["code"] = errcodes.BadRequest
			}
		}
	}
	parts, err := encodeResponse(resp)
	if err != nil {
		status = http.StatusInternalServerError
		parts = [][]byte{[]byte(`{"errors":[{"message":"internal error: the response could not be encoded","extensions":{"code":"` + errcodes.Internal + `"}}]}`)}
	}
	size := 0
	for _, p := range parts {
		size += len(p)
	}
	w.Header().Set("Content-Type", media+"; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(size))
	w.WriteHeader(status)
	for _, p := range parts {
		_, _ = w.Write(p)
	}
}

// encodeResponse is json.Marshal(wireResponse{...}) in pieces, without
// re-validating and compacting the data or copying it into one buffer:
// gqlgen wrote it, so it is compact JSON already, and on a large answer
// that second pass cost about a tenth of the CPU (and the copy, its size in
// memory per request in flight).
func encodeResponse(resp *graphql.Response) ([][]byte, error) {
	if len(resp.Data) == 0 {
		body, err := json.Marshal(wireResponse{Errors: resp.Errors, Extensions: resp.Extensions})
		return [][]byte{body}, err
	}
	head := []byte{'{'}
	if len(resp.Errors) > 0 {
		errs, err := json.Marshal(resp.Errors)
		if err != nil {
			return nil, err
		}
		head = append(append(append(head, `"errors":`...), errs...), ',')
	}
	head = append(head, `"data":`...)
	tail := []byte{}
	if len(resp.Extensions) > 0 {
		ext, err := json.Marshal(resp.Extensions)
		if err != nil {
			return nil, err
		}
		tail = append(append(tail, `,"extensions":`...), ext...)
	}
	return [][]byte{head, resp.Data, append(tail, '}')}, nil
}

// writeHTTPError answers a request refused before GraphQL with a GraphQL
// shaped body.
func writeHTTPError(w http.ResponseWriter, media string, status int, code, msg string) {
	writeResponse(w, media, status, &graphql.Response{Errors: gqlerror.List{{Message: msg, Extensions: map[string]any{"code": code}}}})
}

// requestErrorStatus is the status of a response without data.
func requestErrorStatus(media string, errs gqlerror.List) int {
	if media == mediaJSON {
		return http.StatusOK
	}
	for _, e := range errs {
		switch e.Extensions["code"] {
		case errcodes.Unauthenticated:
			return http.StatusUnauthorized
		case errcodes.OperationNotAllowed, errcodes.Forbidden:
			return http.StatusForbidden
		}
	}
	return http.StatusBadRequest
}

// graphQLHTTP is the GET and POST transport (see the comment at the top).
type graphQLHTTP struct {
	stats func(context.Context) *requestStats
}

var _ graphql.Transport = graphQLHTTP{}

func (graphQLHTTP) Supports(r *http.Request) bool {
	return (r.Method == http.MethodGet || r.Method == http.MethodPost) && !isUpgrade(r)
}

func (t graphQLHTTP) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx := r.Context()
	media := responseMedia(ctx)
	start := graphql.Now()
	params, status, err := readParams(r)
	if err != nil {
		writeHTTPError(w, media, status, paramsErrorCode(status), err.Error())
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	if s := statsFrom(ctx); s != nil {
		s.setOperation(params.OperationName, "")
	}
	oc, errs := exec.CreateOperationContext(ctx, params)
	if errs != nil {
		resp := exec.DispatchError(graphql.WithOperationContext(ctx, oc), errs)
		writeResponse(w, media, requestErrorStatus(media, resp.Errors), resp)
		return
	}
	kind := oc.Operation.Operation
	if s := statsFrom(ctx); s != nil {
		s.setOperation(operationName(oc), string(kind))
	}
	if r.Method == http.MethodGet && kind != ast.Query {
		w.Header().Set("Allow", "POST")
		writeHTTPError(w, media, http.StatusMethodNotAllowed, errcodes.MethodNotAllowed, "GET runs queries only: send "+string(kind)+"s with POST")
		return
	}
	if kind == ast.Subscription {
		resp := exec.DispatchError(graphql.WithOperationContext(ctx, oc), gqlerror.List{{
			Message:    "subscriptions need a websocket (graphql-transport-ws) or Server-Sent Events (Accept: text/event-stream)",
			Extensions: map[string]any{"code": errcodes.BadRequest},
		}})
		writeResponse(w, media, requestErrorStatus(media, resp.Errors), resp)
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, oc)
	resp := responses(ctx)
	if resp == nil {
		writeHTTPError(w, media, http.StatusServiceUnavailable, errcodes.Unavailable, "the request ended before it was answered")
		return
	}
	status = http.StatusOK
	if resp.Data == nil {
		status = requestErrorStatus(media, resp.Errors)
	}
	writeResponse(w, media, status, resp)
}

// operationName is the operation's name for logs and spans, truncated.
func operationName(oc *graphql.OperationContext) string {
	if oc.OperationName != "" {
		return truncate(oc.OperationName, maxLoggedName)
	}
	if oc.Operation != nil {
		return truncate(oc.Operation.Name, maxLoggedName)
	}
	return ""
}

// rawRequest is the JSON body of a POST, parameters kept raw to check their
// types: the spec wants 400 for a query that is not a string, variables
// that are not an object, and so on.
type rawRequest struct {
	Query         json.RawMessage `json:"query"`
	OperationName json.RawMessage `json:"operationName"`
	Variables     json.RawMessage `json:"variables"`
	Extensions    json.RawMessage `json:"extensions"`
}

// paramsErrorCode is the extensions.code of a request whose parameters
// readParams refused with status.
func paramsErrorCode(status int) string {
	if status == http.StatusRequestEntityTooLarge {
		return errcodes.PayloadTooLarge
	}
	return errcodes.BadRequest
}

func readParams(r *http.Request) (*graphql.RawParams, int, error) {
	p := &graphql.RawParams{}
	if r.Method == http.MethodGet {
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			return nil, http.StatusBadRequest, fmt.Errorf("the query string is malformed: %w", err)
		}
		p.Query, p.OperationName = q.Get("query"), q.Get("operationName")
		if v := q.Get("variables"); v != "" {
			if err := decodeObject([]byte(v), &p.Variables); err != nil {
				return nil, http.StatusBadRequest, fmt.Errorf("variables: %w", err)
			}
		}
		if v := q.Get("extensions"); v != "" {
			if err := decodeObject([]byte(v), &p.Extensions); err != nil {
				return nil, http.StatusBadRequest, fmt.Errorf("extensions: %w", err)
			}
		}
	} else {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				return nil, http.StatusRequestEntityTooLarge, errors.New(tooLarge(tooBig.Limit))
			}
			return nil, http.StatusBadRequest, fmt.Errorf("the request body could not be read: %w", err)
		}
		var raw rawRequest
		if err := decodeObject(body, &raw); err != nil {
			return nil, http.StatusBadRequest, fmt.Errorf("the body is not a JSON object: %w", err)
		}
		for _, f := range []struct {
			name string
			raw  json.RawMessage
			dst  any
		}{{"query", raw.Query, &p.Query}, {"operationName", raw.OperationName, &p.OperationName}} {
			if isNull(f.raw) {
				continue
			}
			if err := json.Unmarshal(f.raw, f.dst); err != nil {
				return nil, http.StatusBadRequest, fmt.Errorf("%s must be a string", f.name)
			}
		}
		for _, f := range []struct {
			name string
			raw  json.RawMessage
			dst  *map[string]any
		}{{"variables", raw.Variables, &p.Variables}, {"extensions", raw.Extensions, &p.Extensions}} {
			if isNull(f.raw) {
				continue
			}
			if err := decodeObject(f.raw, f.dst); err != nil {
				return nil, http.StatusBadRequest, fmt.Errorf("%s must be an object", f.name)
			}
		}
	}
	if p.Query == "" && persistedHash(p.Extensions) == "" {
		return nil, http.StatusBadRequest, errNoQuery
	}
	return p, 0, nil
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(bytes.TrimSpace(raw)) == "null"
}

// decodeObject decodes one JSON object (numbers kept exact) and nothing
// after it.
func decodeObject(b []byte, v any) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return errors.New("want a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("unexpected data after the JSON object")
	}
	return nil
}
