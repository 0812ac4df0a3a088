package modelarts

import (
	"bytes"
	"encoding/json"
	"net/http"
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
	code, msg, reqID := parseErrorBody(data)
	if h := resp.Header.Get("X-Request-Id"); h != "" {
		// API Gateway returns it "for all valid requests" (upstreams-2.md c).
		reqID = h
	}
	return &backends.APIError{
		Backend:    c.cfg.Name,
		Provider:   backends.ModelArts,
		Method:     method,
		Route:      route,
		Status:     resp.StatusCode,
		Code:       code,
		Message:    msg,
		RetryAfter: retryAfter(resp.Header.Get("Retry-After"), c.now()),
		RequestID:  backends.RequestID(reqID),
		Exists:     alreadyExists(resp.StatusCode, msg),
	}
}

// alreadyExists tells a refusal because the resource exists. The sources
// document no ModelArts code for it: no 409 anywhere, and body problems,
// a duplicate node-pool name among them, come as 400 ModelArts.50004000
// "Bad request. ..." (upstreams.md B.4). Decision: a 409, or a 400 whose
// message says "already exist(s)" (any code: the text is the only stable
// signal), is a conflict. A 400 for anything else stays a bad request.
func alreadyExists(status int, msg string) bool {
	switch status {
	case http.StatusConflict:
		return true
	case http.StatusBadRequest:
		return strings.Contains(strings.ToLower(msg), "already exist")
	}
	return false
}

type errorBody struct {
	ErrorCode string          `json:"error_code"`
	ErrorMsg  string          `json:"error_msg"`
	RequestID string          `json:"request_id"` // API Gateway's own bodies
	Code      json.RawMessage `json:"code"`
	Message   string          `json:"message"`
	Error     *struct {
		Code    json.RawMessage `json:"code"`
		Message string          `json:"message"`
	} `json:"error"`
}

func parseErrorBody(data []byte) (code, msg, requestID string) {
	var b errorBody
	if err := json.Unmarshal(data, &b); err != nil {
		return "", plainText(data), ""
	}
	switch {
	case b.ErrorCode != "" || b.ErrorMsg != "":
		return b.ErrorCode, b.ErrorMsg, b.RequestID
	case b.Error != nil:
		return rawCode(b.Error.Code), b.Error.Message, b.RequestID
	default:
		return rawCode(b.Code), b.Message, b.RequestID
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

// retryAfter is the APIError.RetryAfter of a Retry-After value
// (backends.ParseRetryAfter): 0 when absent, garbage or "now". ModelArts
// does not document the header; a proxy in front may send it.
func retryAfter(v string, now time.Time) time.Duration {
	d, _ := backends.ParseRetryAfter(v, now)
	return d
}
