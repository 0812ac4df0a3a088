package backends

import (
	"errors"
	"fmt"
	"io"
	"net/http"
)

// MaxDrain bounds what DrainBody reads of an answer nobody reads, to keep its
// connection: beyond that a new connection costs less than reading on.
const MaxDrain = 64 << 10

// ErrBodyTooLarge: an answer was longer than the reader's limit. ReadBody
// wraps it; each client decides what the failure means to its callers.
var ErrBodyTooLarge = errors.New("response body too large")

// DrainBody reads up to MaxDrain of resp's body and closes it, so that the
// connection can be reused. A nil resp is allowed.
func DrainBody(resp *http.Response) {
	if resp == nil || resp.Body == nil {
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, MaxDrain))
	_ = resp.Body.Close()
}

// ReadBody reads at most limit bytes of r. A longer body is an error wrapping
// ErrBodyTooLarge, not a silently truncated answer that would decode as
// something else. It does not close r.
func ReadBody(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrBodyTooLarge, limit)
	}
	return data, nil
}

// ReadResponseBody is ReadBody of resp's body, read into one buffer of the
// announced Content-Length when there is one within limit (io.ReadAll
// would start at 512 bytes and grow it four or five times for a metrics
// answer, one per node of a cold dashboard). It does not close the body.
func ReadResponseBody(resp *http.Response, limit int64) ([]byte, error) {
	n := resp.ContentLength
	if n <= 0 || n > limit {
		return ReadBody(resp.Body, limit)
	}
	// One byte more than announced: a body longer than its length is read
	// on, as ReadBody would, and fails past limit.
	buf := make([]byte, n, n+1)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		return nil, err
	}
	// The byte more: at EOF (the usual case) nothing else is allocated.
	k, err := io.ReadFull(resp.Body, buf[n:n+1])
	if k == 0 && (err == io.EOF || err == io.ErrUnexpectedEOF) {
		return buf, nil
	}
	if err != nil && k == 0 {
		return nil, err
	}
	buf = buf[:n+int64(k)]
	if n+1 > limit {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrBodyTooLarge, limit)
	}
	rest, err := ReadBody(resp.Body, limit-n-1)
	if errors.Is(err, ErrBodyTooLarge) {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrBodyTooLarge, limit)
	}
	if err != nil {
		return nil, err
	}
	return append(buf, rest...), nil
}
