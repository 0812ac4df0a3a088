package modelarts

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fleetgraph/fleetgraph/backends"
)

// checkResponse turns a non-2xx answer into a *backends.APIError and closes
// its body; a 2xx answer is left open for the caller. It understands the three
// error shapes met behind a ModelArts endpoint: ModelArts and API Gateway
// {"error_code","error_msg"}, the generic {"code","message"} the SDK also
// accepts, and IAM's {"error":{"code","message"}}.
func (c *Client) checkResponse(resp *http.Response, method, route string) error {
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	defer resp.Body.Close()
	data, _ := readBody(resp, maxErrorBytes) // a truncated or unreadable body still yields the status
	code, msg := parseErrorBody(data)
	return &backends.APIError{
		Backend:    c.cfg.Name,
		Provider:   backends.ModelArts,
		Method:     method,
		Route:      route,
		Status:     resp.StatusCode,
		Code:       code,
		Message:    msg,
		RetryAfter: retryAfter(resp.Header.Get("Retry-After"), c.now()),
	}
}

type errorBody struct {
	ErrorCode string          `json:"error_code"`
	ErrorMsg  string          `json:"error_msg"`
	Code      json.RawMessage `json:"code"`
	Message   string          `json:"message"`
	Error     *struct {
		Code    json.RawMessage `json:"code"`
		Message string          `json:"message"`
	} `json:"error"`
}

func parseErrorBody(data []byte) (code, msg string) {
	var b errorBody
	if err := json.Unmarshal(data, &b); err != nil {
		return "", plainText(data)
	}
	switch {
	case b.ErrorCode != "" || b.ErrorMsg != "":
		return b.ErrorCode, b.ErrorMsg
	case b.Error != nil:
		return rawCode(b.Error.Code), b.Error.Message
	default:
		return rawCode(b.Code), b.Message
	}
}

// rawCode renders a code that may be a JSON string or number.
func rawCode(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(bytes.TrimSpace(raw))
}

// plainText keeps a short, printable excerpt of a non-JSON error body (a
// proxy's HTML page, say) so the error still says something.
func plainText(data []byte) string {
	s := strings.TrimSpace(string(data))
	if s == "" || !utf8.ValidString(s) || strings.HasPrefix(s, "<") {
		return ""
	}
	if len(s) > 200 {
		s = strings.ToValidUTF8(s[:200], "")
	}
	return s
}

// retryAfter reads Retry-After as seconds or an HTTP date. ModelArts does not
// document it; a proxy in front may send it.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
