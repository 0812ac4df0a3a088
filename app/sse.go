package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/fleetgraph/fleetgraph/internal/errcodes"
)

// sseTransport is GraphQL over Server-Sent Events (the "distinct
// connections" mode of graphql-sse: a POST with Accept: text/event-stream,
// answered with "next" events and one "complete"). It replaces gqlgen's
// transport.SSE, which
//
//   - left its keep-alive goroutine running after the handler returned: a
//     subscriber that stopped reading and then hung up made it flush a
//     finished response, a nil-pointer panic that took the process down;
//   - logged an undecodable body whole (variables included) through the
//     standard logger, and answered it with a "data" key;
//   - read the body after the server's read deadline had been cleared for
//     the stream, so a trickled body held a connection for ever.
//
// Here every write goes through one sseStream, which refuses writes once the
// handler is done, and the keep-alive goroutine is waited for before the
// handler returns. The body is read (bounded by httpGate) under the server's
// readTimeout, and only then is the read deadline cleared. Each write must
// complete within writeTimeout: a subscriber that stops reading for longer
// is dropped, its subscription ended.
type sseTransport struct {
	keepAlive    time.Duration // a ": ping" comment after this long without an event (0: none)
	writeTimeout time.Duration // bound on each write (0: none)
	logger       *slog.Logger
}

var _ graphql.Transport = sseTransport{}

func (sseTransport) Supports(r *http.Request) bool {
	if !strings.Contains(r.Header.Get("Accept"), "text/event-stream") || r.Method != http.MethodPost {
		return false
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == mediaJSON
}

// maxLoggedError bounds what a refused request puts in the log.
const maxLoggedError = 200

func (t sseTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	start := graphql.Now()
	params, status, err := readParams(r)
	if err != nil {
		code := paramsErrorCode(status)
		// The error names what was wrong, never the body: the variables
		// may hold anything.
		t.logger.WarnContext(r.Context(), "SSE request refused", "status", status, "code", code,
			"err", truncate(err.Error(), maxLoggedError))
		writeHTTPError(w, mediaJSON, status, code, err.Error())
		return
	}
	rc := http.NewResponseController(w)
	// The whole body is in: from here on the stream may outlive the
	// server's readTimeout (it reads nothing more).
	_ = rc.SetReadDeadline(time.Time{})
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}

	ctx, cancel := context.WithCancel(r.Context())
	s := &sseStream{w: w, rc: rc, timeout: t.writeTimeout, cancel: cancel, logger: t.logger}
	var keepAlive sync.WaitGroup
	defer func() {
		cancel()
		keepAlive.Wait()
		s.end()
	}()

	oc, opErr := exec.CreateOperationContext(ctx, params)
	ctx = graphql.WithOperationContext(ctx, oc)
	if st := statsFrom(ctx); st != nil {
		kind := ""
		if oc != nil && oc.Operation != nil {
			kind = string(oc.Operation.Operation)
		}
		st.setOperation(operationName(oc), kind)
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: pass events on as they come
	if s.write(":\n\n") != nil {
		return
	}
	if t.keepAlive > 0 {
		kctx := ctx
		keepAlive.Go(func() { s.keepAlive(kctx, t.keepAlive) })
	}
	if opErr != nil {
		if s.event(exec.DispatchError(ctx, opErr)) == nil {
			_ = s.write("event: complete\n\n")
		}
		return
	}
	responses, dctx := exec.DispatchOperation(ctx, oc)
	for {
		resp := responses(dctx)
		if resp == nil {
			break
		}
		if s.event(resp) != nil {
			return
		}
	}
	_ = s.write("event: complete\n\n")
}

// sseStream serialises the writes of one SSE response.
type sseStream struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	cancel  context.CancelFunc // ends the operation when the subscriber is gone
	logger  *slog.Logger

	mu   sync.Mutex
	err  error // set by the first failed write, or when the handler ends
	last time.Time
}

var errStreamEnded = errors.New("SSE stream ended")

func (s *sseStream) write(text string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if s.timeout > 0 {
		_ = s.rc.SetWriteDeadline(time.Now().Add(s.timeout))
	}
	_, err := s.w.Write([]byte(text))
	if err == nil {
		err = s.rc.Flush()
	}
	if err != nil {
		s.err = err
		s.cancel()
	}
	s.last = time.Now()
	return err
}

func (s *sseStream) event(resp *graphql.Response) error {
	b, err := json.Marshal(resp)
	if err != nil {
		return err
	}
	return s.write("event: next\ndata: " + string(b) + "\n\n")
}

// keepAlive sends a comment when nothing was written for interval, until
// ctx ends. It runs in its own goroutine: a panic is logged, not fatal.
func (s *sseStream) keepAlive(ctx context.Context, interval time.Duration) {
	defer recoverGoroutine(ctx, s.logger, "sse keep-alive")
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		s.mu.Lock()
		idle := time.Since(s.last) >= interval
		s.mu.Unlock()
		if idle && s.write(": ping\n\n") != nil {
			return
		}
	}
}

// end refuses every later write; the handler is returning.
func (s *sseStream) end() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil && s.timeout > 0 {
		// The connection may serve another request (keep-alive).
		_ = s.rc.SetWriteDeadline(time.Time{})
	}
	s.err = errStreamEnded
}

// recoverGoroutine logs a panic of a goroutine the request path started
// instead of letting it end the process.
func recoverGoroutine(ctx context.Context, logger *slog.Logger, what string) {
	if p := recover(); p != nil {
		logger.ErrorContext(ctx, "panic recovered", "in", what, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
	}
}

// recoverResolver is gqlgen's recover function: a resolver's panic is
// logged through the gateway's logger (gqlgen's default prints it to stderr,
// outside the JSON log) and answered as an INTERNAL error at its field.
func recoverResolver(logger *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		logger.ErrorContext(ctx, "panic recovered", "in", "resolver", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		return &gqlerror.Error{Message: "internal error", Extensions: map[string]any{"code": errcodes.Internal}}
	}
}
