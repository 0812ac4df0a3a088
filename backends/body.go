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
